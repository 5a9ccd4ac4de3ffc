// Page settings. `footfall-agent dashboard --broker URL` serves its own version of this file with the
// broker URL and topic filter filled in; opened from disk, the page starts with these (none).
window.FOOTFALL_CONFIG = {};
