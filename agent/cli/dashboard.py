"""`footfall-agent dashboard`: serve the fleet dashboard's static files on this machine, or say where they are."""

from __future__ import annotations

import argparse
import signal
import sys

from agent.dashboard.serve import (
    DEFAULT_FILTER,
    DEFAULT_PORT,
    STATIC_DIR,
    broker_url,
    make_server,
    server_url,
    topic_filter,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Serve the fleet dashboard (a static page that connects to the broker's WebSocket listener by itself) "
        "on this machine, or print where its files are to serve them elsewhere."
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to listen on (default {DEFAULT_PORT}; 0: any free port)"
    )
    parser.add_argument(
        "--broker", metavar="URL", help="broker WebSocket URL filled into the page, e.g. ws://host:9001"
    )
    parser.add_argument(
        "--filter", default=DEFAULT_FILTER, metavar="TOPICS", help=f"topic filter (default {DEFAULT_FILTER})"
    )
    parser.add_argument(
        "--connect",
        action="store_true",
        help="connect as soon as the page opens (a wall screen with an anonymous read-only broker user)",
    )
    parser.add_argument("--print-path", action="store_true", help="print the directory of the page's files and exit")


def run(args: argparse.Namespace) -> int:
    if args.print_path:
        print(STATIC_DIR)
        return 0
    try:
        broker = None if args.broker is None else broker_url(args.broker)
        topics = topic_filter(args.filter)
    except ValueError as exc:
        print(f"dashboard: {exc}", file=sys.stderr)
        return 2
    try:
        server = make_server(args.host, args.port, broker, topics, args.connect)
    except OSError as exc:
        print(f"dashboard: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    print(f"footfall dashboard on {server_url(server)} (files in {STATIC_DIR}); Ctrl-C to stop", flush=True)

    def on_term(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
