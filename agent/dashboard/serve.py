"""The file server of the fleet dashboard: its static files, and the `config.js` that carries the settings.

The page talks to the broker itself (MQTT over WebSockets); this server only hands out files, so it has
nothing to secure and binds to 127.0.0.1 unless told otherwise. The one file it makes up is `config.js`,
which carries the `--broker` URL and topic filter into the page's connection form. Pure standard library:
an operator can as well copy `--print-path` to any web server.
"""

from __future__ import annotations

import json
import socket
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

STATIC_DIR = Path(__file__).resolve().with_name("static")
DEFAULT_PORT = 8080
DEFAULT_FILTER = "footfall/#"

# The page loads only its own files and talks only to a WebSocket broker; uPlot sets inline styles, and MQTT.js
# runs its keepalive timer in a worker made from a blob (timers of a background tab are throttled).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


def broker_url(text: str) -> str:
    """The broker URL as the page needs it: `ws://` or `wss://` with a host; ValueError naming what is wrong."""
    parts = urlsplit(text.strip())
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(
            f"broker URL {text!r}: use ws://HOST:PORT or wss://HOST:PORT (the broker's WebSocket listener)"
        )
    if not parts.hostname:
        raise ValueError(f"broker URL {text!r}: no host")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError as exc:
        raise ValueError(f"broker URL {text!r}: {exc}") from None
    return text.strip()


def topic_filter(text: str) -> str:
    """An MQTT subscription filter: `#` only as the last level, `+` only as a whole level."""
    levels = text.split("/")
    if not text or any(("#" in level and (level != "#" or i != len(levels) - 1)) for i, level in enumerate(levels)):
        raise ValueError(f"topic filter {text!r}: '#' may only stand alone as the last level")
    if any("+" in level and level != "+" for level in levels):
        raise ValueError(f"topic filter {text!r}: '+' may only stand alone as a level")
    return text


def config_script(broker: str | None, topics: str, connect: bool) -> bytes:
    """The generated `config.js`: settings as JSON, with `<` escaped so no value can close the script."""
    settings: dict[str, Any] = {"filter": topics, "connect": connect}
    if broker is not None:
        settings["broker"] = broker
    body = json.dumps(settings).replace("<", "\\u003c")
    return f"window.FOOTFALL_CONFIG = {body};\n".encode()


class DashboardHandler(SimpleHTTPRequestHandler):
    """Static files from `STATIC_DIR` plus the generated `config.js`; no directory listings."""

    config_js = b"window.FOOTFALL_CONFIG = {};\n"
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript; charset=utf-8",
        ".css": "text/css; charset=utf-8",
        ".html": "text/html; charset=utf-8",
        ".md": "text/plain; charset=utf-8",
        ".LICENSE": "text/plain; charset=utf-8",
    }

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        if urlsplit(self.path).path == "/config.js":
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "text/javascript; charset=utf-8")
            self.send_header("Content-Length", str(len(self.config_js)))
            self.end_headers()
            self.wfile.write(self.config_js)
            return
        super().do_GET()

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        super().end_headers()

    def list_directory(self, path: str | Path) -> None:  # type: ignore[override]
        self.send_error(HTTPStatus.NOT_FOUND, "no directory listings")
        return None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's parameter name
        """Quiet: a page load is a dozen requests, none of which an operator needs to see."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True


class _Server6(_Server):
    address_family = socket.AF_INET6


def make_server(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    broker: str | None = None,
    topics: str = DEFAULT_FILTER,
    connect: bool = False,
) -> ThreadingHTTPServer:
    """A server bound to `host`:`port` (0: any free port), not yet serving."""
    handler = type("Handler", (DashboardHandler,), {"config_js": config_script(broker, topics, connect)})
    server_class = _Server6 if ":" in host else _Server
    return server_class((host, port), partial(handler, directory=str(STATIC_DIR)))


def server_url(server: ThreadingHTTPServer) -> str:
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else str(host)
    return f"http://{shown}:{port}/"
