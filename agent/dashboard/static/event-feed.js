/* The feeds of anomaly and fault events: the fleet-wide one, and the open site's. */
(function (F) {
  'use strict';

  const { localTime, offsetLabel, num, fmt } = F.format;
  const { $, el } = F.dom;
  const { FEED_MAX } = F.fleet;
  const ui = F.ui;

  function eventItem(entry) {
    const { d, doc } = entry;
    const off = d.offset;
    const when = localTime(num(doc.phase === 'end' && doc.end_ts ? doc.end_ts : doc.start_ts), off, true);
    const what = doc.kind === 'fault' ? `fault ${doc.fault}` : 'traffic anomaly';
    const peak = doc.peak_z === null || doc.peak_z === undefined ? '' :
      ` · peak z ${doc.peak_z > 0 ? '+' : ''}${doc.peak_z} (${fmt(doc.peak_count, 0)} vs ${fmt(doc.peak_expected, 1)} expected)`;
    const li = el('li', { class: `${doc.kind} phase-${doc.phase}`, 'data-event-id': doc.id },
      el('span', { class: 'when', text: `${when} ${offsetLabel(off)}` }),
      el('b', { text: `${d.site}/${d.device}/${doc.sensor}` }),
      ` ${doc.metric}: ${what} ${doc.phase === 'start' ? 'started' : 'ended'}`,
      ` · ${doc.intervals} interval${doc.intervals === 1 ? '' : 's'}${peak}`);
    return li;
  }

  /** Show the events received since the last frame. */
  function renderEvents() {
    const items = ui.newEvents.splice(0);
    for (const entry of items) {
      ui.fleetFeed.prepend(eventItem(entry));
      if (ui.view === 'site' && entry.d.site === ui.siteOpen) $('site-feed').prepend(eventItem(entry));
    }
    while (ui.fleetFeed.childElementCount > FEED_MAX) ui.fleetFeed.lastElementChild.remove();
  }

  F.eventFeed = { eventItem, renderEvents };
})(window.Footfall = window.Footfall || {});
