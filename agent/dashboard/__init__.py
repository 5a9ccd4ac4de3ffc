"""The fleet dashboard: a static page that reads the agents' MQTT topic tree over WebSockets.

Nothing runs on a server but the broker: `static/` is plain HTML, CSS and JavaScript with its third-party
libraries vendored, so it can be served by any web server, by `footfall-agent dashboard`, or opened as a file.
"""
