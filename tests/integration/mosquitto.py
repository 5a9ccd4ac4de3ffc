"""A real Mosquitto broker on loopback and a real subscriber, for tests and benchmarks."""

from __future__ import annotations

import getpass
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Protocol


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


class Endpoint(Protocol):
    """Where a broker listens."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...


class Broker:
    """A real mosquitto process on 127.0.0.1 that a test can stop and start again on the same port.

    Persistence is on, so a subscriber's persistent session (and its queued QoS 1 messages) survives
    a restart, as on a production broker.
    """

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            # mosquitto started as root drops to the `mosquitto` user, which could not write the test's
            # directory; staying the current user keeps persistence working.
            f"user {getpass.getuser()}\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            "max_queued_messages 100000\n"
            "log_dest stderr\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def start(self) -> None:
        if shutil.which("mosquitto") is None:
            raise RuntimeError("mosquitto is not installed (apt-get install -y mosquitto)")
        log = open(self.workdir / "mosquitto.log", "ab")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(self.conf)], stdout=log, stderr=log)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


class Subscriber:
    """A real paho subscriber with a persistent session, collecting every message it receives."""

    def __init__(
        self,
        broker: Endpoint,
        topic: str,
        client_id: str = "test-subscriber",
        *,
        username: str | None = None,
        password: str | None = None,
        ca: Path | None = None,
    ) -> None:
        """`broker` is anything with a host and a port; `username`, `password` and `ca` for a secured one."""
        import ssl

        import paho.mqtt.client as mqtt

        self.topic = topic
        self.messages: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,
        )
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.reconnect_delay_set(0.1, 0.5)
        if username is not None:
            self.client.username_pw_set(username, password)
        if ca is not None:
            self.client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
        self.client.connect(broker.host, broker.port, keepalive=5)
        self.client.loop_start()
        self.wait_for(lambda: self.client.is_connected(), 10)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:  # type: ignore[no-untyped-def]
        client.subscribe(self.topic, qos=1)

    def _on_message(self, client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def snapshot(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self.messages)

    def json_payloads(self, suffix: str = "/interval") -> list[dict]:
        import json

        return [json.loads(p) for t, p, _ in self.snapshot() if t.endswith(suffix)]

    @staticmethod
    def wait_for(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(0.05)
        return bool(predicate())

    def close(self) -> None:
        self.client.disconnect()  # before loop_stop, which otherwise waits out the network loop's select()
        self.client.loop_stop()


def retained_messages(broker: Broker, topic: str, settle: float = 0.5, timeout: float = 10.0) -> dict[str, bytes]:
    """What a client connecting now gets for `topic`: the retained messages, by topic.

    Collects until nothing new arrived for `settle` seconds (retained messages come in one burst after
    the subscription), so an empty result means there is nothing retained, not that it came late.
    """
    import paho.mqtt.client as mqtt

    got: dict[str, bytes] = {}
    last = [time.monotonic()]
    subscribed = threading.Event()
    lock = threading.Lock()

    def on_message(client, userdata, msg) -> None:  # type: ignore[no-untyped-def]
        if msg.retain:
            with lock:
                got[msg.topic] = bytes(msg.payload)
                last[0] = time.monotonic()

    client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, clean_session=True)
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    try:
        client.subscribe(topic, qos=1)
        if not subscribed.wait(5):
            raise TimeoutError(f"could not subscribe to {topic}")
        last[0] = time.monotonic()
        deadline = time.monotonic() + timeout
        while time.monotonic() - last[0] < settle and time.monotonic() < deadline:
            time.sleep(0.05)
        with lock:
            return dict(got)
    finally:
        client.disconnect()  # before loop_stop, which otherwise waits out the network loop's select()
        client.loop_stop()
