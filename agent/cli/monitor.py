"""`footfall-agent monitor`: the fleet view of `agent.mqtt.monitor` fed by a real MQTT subscription and redrawn
in place on a terminal; `--once N` prints one plain snapshot after N seconds for scripts.
"""

from __future__ import annotations

import argparse
import os
import ssl
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from agent.mqtt.monitor import Fleet, render


@dataclass(frozen=True)
class Connection:
    host: str
    port: int
    username: str | None
    password: str | None
    tls: bool
    ca_file: str | None
    root: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", "-c", type=Path, help="read broker settings and the topic root from an agent config"
    )
    parser.add_argument("--host", help="broker host (default localhost)")
    parser.add_argument("--port", type=int, help="broker port (default 1883, 8883 with --tls)")
    parser.add_argument("--root", help="topic root the agents publish under (default footfall)")
    parser.add_argument("--username", help="broker user name")
    parser.add_argument(
        "--password-file", type=Path, help="file holding the broker password (or set FOOTFALL_MQTT_PASSWORD)"
    )
    parser.add_argument("--tls", action="store_true", help="connect with TLS (system CAs unless --ca-file)")
    parser.add_argument("--ca-file", type=Path, help="CA certificate of the broker")
    parser.add_argument(
        "--device", action="append", metavar="PATTERN", help="only devices whose <site>/<device> matches (repeatable)"
    )
    parser.add_argument("--once", type=float, metavar="SECONDS", help="collect for SECONDS, print one snapshot, exit")
    parser.add_argument("--refresh", type=float, default=1.0, metavar="SECONDS", help="redraw period (default 1)")


def _connection(args: argparse.Namespace) -> Connection:
    host, port, username, password, tls, ca_file, root = "localhost", None, None, None, False, None, "footfall"
    if args.config is not None:
        from agent.config.loader import load_config

        cfg = load_config(args.config)
        mqtt = cfg.mqtt
        host, port, username, password = mqtt.host, mqtt.effective_port(), mqtt.username, mqtt.resolved_password()
        tls = mqtt.tls is not None
        ca_file = str(mqtt.tls.ca_file) if mqtt.tls is not None and mqtt.tls.ca_file is not None else None
        root = topic_root(mqtt.topic_prefix)
    if args.host:
        host = args.host
    if args.username:
        username = args.username
    if args.password_file is not None:
        password = args.password_file.read_text().rstrip("\r\n")
    elif os.environ.get("FOOTFALL_MQTT_PASSWORD") and password is None:
        password = os.environ["FOOTFALL_MQTT_PASSWORD"]
    tls = tls or args.tls or args.ca_file is not None
    if args.ca_file is not None:
        ca_file = str(args.ca_file)
    if args.root:
        root = args.root.strip("/")
    if args.port:
        port = args.port
    return Connection(host, port or (8883 if tls else 1883), username, password, tls, ca_file, root)


def topic_root(template: str) -> str:
    """The fixed part of a topic prefix template: `footfall/{site}/{device}` -> `footfall`."""
    head = template.split("{", 1)[0].rstrip("/")
    return head or template.rstrip("/")


def run(args: argparse.Namespace) -> int:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    try:
        conn = _connection(args)
    except Exception as exc:  # noqa: BLE001 - ConfigError or an unreadable password file: say so and stop
        print(f"monitor: {exc}", file=sys.stderr)
        return 2
    fleet = Fleet(conn.root, args.device)
    lock = threading.Lock()
    changed = threading.Event()
    connected = threading.Event()

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if not reason.is_failure:
            client.subscribe(f"{conn.root}/#", qos=1)
            connected.set()

    def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        with lock:
            if fleet.apply(msg.topic, bytes(msg.payload), time.time()):
                changed.set()

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=f"footfall-monitor-{os.getpid()}",
        clean_session=True,
    )
    client.on_connect = on_connect
    client.on_message = on_message
    client.reconnect_delay_set(1, 10)
    if conn.username is not None:
        client.username_pw_set(conn.username, conn.password)
    if conn.tls:
        client.tls_set(ca_certs=conn.ca_file, cert_reqs=ssl.CERT_REQUIRED)
    where = f"{conn.host}:{conn.port}"
    try:
        client.connect(conn.host, conn.port, keepalive=30)
    except (OSError, ssl.SSLError) as exc:
        print(f"monitor: cannot connect to {where}: {exc}", file=sys.stderr)
        return 1
    client.loop_start()
    header = f"{where} {conn.root}/#"
    try:
        if args.once is not None:
            if not connected.wait(min(10.0, max(args.once, 1.0))):
                print(f"monitor: {where} did not accept the connection", file=sys.stderr)
                return 1
            time.sleep(max(0.0, args.once))
            with lock:
                lines = render(fleet, time.time(), header)
            print("\n".join(lines), flush=True)
            return 0
        return _live(fleet, lock, changed, header, max(0.2, args.refresh), sys.stdout)
    except KeyboardInterrupt:
        return 0
    finally:
        client.disconnect()
        client.loop_stop()


def _live(
    fleet: Fleet, lock: threading.Lock, changed: threading.Event, header: str, refresh: float, out: TextIO
) -> int:
    """Redraw in place on a terminal; elsewhere print a fresh snapshot whenever something changed."""
    tty = out.isatty()
    if tty:
        out.write("\x1b[?25l\x1b[2J")
    try:
        while True:
            with lock:
                lines = render(fleet, time.time(), header, colour=tty)
                changed.clear()
            if tty:
                out.write("\x1b[H" + "".join(f"{line}\x1b[K\n" for line in lines) + "\x1b[J")
            else:
                out.write("\n".join(lines) + "\n\n")
            out.flush()
            if tty:
                time.sleep(refresh)
            else:
                changed.wait()
                time.sleep(refresh)
    finally:
        if tty:
            out.write("\x1b[?25h\n")
            out.flush()
