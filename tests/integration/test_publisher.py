"""The publisher against a real Mosquitto, a real SQLite outbox and real subscribers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.aggregation.records import ClosedInterval
from agent.config.mqtt import MqttConfig
from agent.mqtt.inbox import OVERHEAD_BYTES, Inbox, Received
from agent.mqtt.publisher import Publisher
from agent.mqtt.topics import Topics
from agent.store.database import Store
from tests.integration.conftest import Broker
from tests.integration.mosquitto import retained_messages

REPO = Path(__file__).resolve().parents[2]
TOPICS = Topics("footfall/t/d1")
INTERVAL_TOPIC = TOPICS.interval("door")
# Sixty days of 15 min intervals for one sensor, as after a long broker outage.
BACKLOG = 5760
INTERVAL_S = 900.0
FIRST_START = 1_790_000_100.0


class Listener:
    """A clean-session subscriber at QoS 0.

    At QoS 0 the broker writes each message to this socket before it acknowledges the publisher, so a message
    the publisher saw acknowledged cannot be waiting in a broker queue (lost if the broker stops without
    persistence) instead of being on its way here.
    """

    def __init__(self, broker: Broker, topic: str, client_id: str) -> None:
        self._lock = threading.Lock()
        self._messages: list[tuple[str, bytes, bool]] = []
        subscribed = threading.Event()
        self.client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id=client_id)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: subscribed.set()
        self.client.connect(broker.host, broker.port, keepalive=60)
        self.client.loop_start()
        self.client.subscribe(topic, qos=0)
        assert subscribed.wait(5), f"{client_id} could not subscribe to {topic}"

    def _on_message(self, client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._messages.append((msg.topic, bytes(msg.payload), bool(msg.retain)))

    def messages(self) -> list[tuple[str, bytes, bool]]:
        with self._lock:
            return list(self._messages)

    def ids(self) -> list[int]:
        return [json.loads(payload)["id"] for topic, payload, _ in self.messages() if topic == INTERVAL_TOPIC]

    def statuses(self) -> list[tuple[bytes, bool]]:
        return [(payload, retain) for topic, payload, retain in self.messages() if topic == TOPICS.status]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def mqtt_config(broker: Broker, **overrides: object) -> MqttConfig:
    settings: dict[str, object] = {
        "host": broker.host,
        "port": broker.port,
        "keepalive": 5,
        "reconnect_min": 0.2,
        "reconnect_max": 1,
    }
    settings.update(overrides)
    return MqttConfig(**settings)


def close_intervals(store: Store, first: int, count: int) -> None:
    """Commit intervals number `first`.. the way the agent does (one transaction), each payload carrying its number."""
    records = []
    for i in range(first, first + count):
        start = FIRST_START + i * INTERVAL_S
        interval = ClosedInterval("door", start, start + INTERVAL_S, 3, 2, 1, 3 * i, 2 * i, INTERVAL_S, 0, 0, 0)
        records.append((interval, INTERVAL_TOPIC, json.dumps({"id": i, "start_ts": start}).encode()))
    store.commit_close(records, {})


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "data", retention_days=90, max_bytes=256 * 1024 * 1024)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def subscribe(broker: Broker) -> Iterator[Callable[[str, str], Listener]]:
    made: list[Listener] = []

    def make(topic: str, client_id: str) -> Listener:
        made.append(Listener(broker, topic, client_id))
        return made[-1]

    yield make
    for listener in made:
        listener.close()


@pytest.fixture
def publisher(broker: Broker, store: Store) -> Iterator[Callable[..., Publisher]]:
    made: list[Publisher] = []

    def make(transient_limit: int = 256, **overrides: object) -> Publisher:
        pub = Publisher(mqtt_config(broker, **overrides), f"pub-{len(made)}", TOPICS.status, store, transient_limit)
        made.append(pub)
        return pub

    yield make
    for pub in made:
        pub.stop(2.0)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_backlog_is_delivered_in_order_exactly_once_and_then_deleted(
    store: Store, subscribe: Callable[[str, str], Listener], publisher: Callable[..., Publisher], protocol: str
) -> None:
    close_intervals(store, 0, BACKLOG)
    sub = subscribe(INTERVAL_TOPIC, "backlog-sub")
    pub = publisher(protocol=protocol)
    pub.start()
    wait_for(lambda: store.outbox_stats()[0] == 0, 30, "the outbox to drain")
    wait_for(lambda: len(sub.ids()) >= BACKLOG, 10, "the subscriber to get the backlog")
    time.sleep(0.2)
    assert sub.ids() == list(range(BACKLOG))
    stats = pub.stats()
    assert stats.connected and stats.sent == BACKLOG and stats.acked == BACKLOG and stats.reconnects == 0


def test_rows_stay_in_the_outbox_until_the_broker_acknowledges_them(
    broker: Broker, store: Store, subscribe: Callable[[str, str], Listener], publisher: Callable[..., Publisher]
) -> None:
    sub = subscribe(INTERVAL_TOPIC, "ack-sub")
    pub = publisher(max_inflight=5)
    pub.start()
    wait_for(lambda: pub.connected, 5, "the publisher to connect")
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGSTOP)  # the broker still holds the connection but answers nothing
    try:
        close_intervals(store, 0, 50)
        pub.wake()
        wait_for(lambda: pub.stats().sent >= 5, 5, "the first window to be sent")
        time.sleep(0.5)
        stats = pub.stats()
        assert (stats.sent, stats.acked, stats.inflight) == (5, 0, 5), "sent beyond max_inflight or acked early"
        assert store.outbox_stats()[0] == 50, "a row left the outbox before its PUBACK"
    finally:
        broker.proc.send_signal(signal.SIGCONT)
    wait_for(lambda: store.outbox_stats()[0] == 0, 10, "the outbox to drain")
    wait_for(lambda: len(sub.ids()) >= 50, 5, "the subscriber to get everything")
    assert sub.ids() == list(range(50))
    assert pub.stats().acked == 50


def test_broker_outage_mid_backlog_loses_nothing_and_keeps_order(
    broker: Broker, store: Store, subscribe: Callable[[str, str], Listener], publisher: Callable[..., Publisher]
) -> None:
    close_intervals(store, 0, BACKLOG)
    before = subscribe(INTERVAL_TOPIC, "outage-before")
    # A fixed retry period (0.9 to 1 s with jitter) leaves a window after a failed attempt in which the test
    # can restart the broker and subscribe again before the publisher is back.
    pub = publisher(max_inflight=10, reconnect_min=1, reconnect_max=1)
    pub.start()
    wait_for(lambda: pub.stats().sent >= 300, 10, "part of the backlog to be sent")
    broker.stop()
    assert store.outbox_stats()[0] > 0, "the backlog was gone before the outage; nothing was tested"
    close_intervals(store, BACKLOG, 100)  # new intervals close while the broker is away
    pub.wake()
    failures = pub.stats().connect_failures
    wait_for(lambda: pub.stats().connect_failures > failures, 5, "a failed reconnection attempt")
    assert not pub.connected and pub.stats().last_error
    broker.start()
    after = subscribe(INTERVAL_TOPIC, "outage-after")
    assert not pub.connected, "the publisher came back before the test could subscribe again"
    wait_for(lambda: store.outbox_stats() == (0, None), 20, "the outbox to drain after the outage")
    total = BACKLOG + 100
    wait_for(lambda: len(set(before.ids() + after.ids())) >= total, 10, "everything to arrive")
    first_seen = list(dict.fromkeys(before.ids() + after.ids()))
    assert first_seen == list(range(total)), "lost or reordered after deduplication by id"
    stats = pub.stats()
    assert stats.connected and stats.reconnects == 1 and stats.acked == total


def test_status_is_retained_online_while_connected_and_offline_after_stop(
    store: Store, subscribe: Callable[[str, str], Listener], publisher: Callable[..., Publisher]
) -> None:
    pub = publisher()
    pub.start()
    wait_for(lambda: pub.connected, 5, "the publisher to connect")
    live = subscribe(TOPICS.status, "status-live")
    wait_for(lambda: live.statuses() == [(b"online", True)], 5, "a retained online status")
    pub.stop(2.0)
    assert not pub.running and not pub.connected
    wait_for(lambda: live.statuses()[-1:] == [(b"offline", False)], 5, "offline to be published on stop")
    later = subscribe(TOPICS.status, "status-later")
    wait_for(lambda: later.statuses() == [(b"offline", True)], 5, "a retained offline status")


PUBLISHER_PROCESS = """
import sys, time
from pathlib import Path
from agent.config.mqtt import MqttConfig
from agent.mqtt.publisher import Publisher
from agent.store.database import Store

port, status, data = int(sys.argv[1]), sys.argv[2], Path(sys.argv[3])
pub = Publisher(MqttConfig(host="127.0.0.1", port=port, keepalive=5), "doomed", status, Store(data, 90, 1 << 30))
pub.start()
while not pub.connected:
    time.sleep(0.01)
print("connected", flush=True)
time.sleep(60)
"""


def test_last_will_marks_a_killed_publisher_offline(
    broker: Broker, tmp_path: Path, subscribe: Callable[[str, str], Listener]
) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", PUBLISHER_PROCESS, str(broker.port), TOPICS.status, str(tmp_path / "killed")],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"connected\n"
        live = subscribe(TOPICS.status, "will-live")
        wait_for(lambda: live.statuses() == [(b"online", True)], 5, "a retained online status")
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)
        wait_for(lambda: live.statuses()[-1:] == [(b"offline", False)], 5, "the last will")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    later = subscribe(TOPICS.status, "will-later")
    wait_for(lambda: later.statuses() == [(b"offline", True)], 5, "a retained offline status from the will")


def test_transient_messages_are_bounded_dropping_the_oldest(
    subscribe: Callable[[str, str], Listener], publisher: Callable[..., Publisher]
) -> None:
    live_topic = f"{TOPICS.prefix}/live"
    pub = publisher(transient_limit=5)
    for i in range(12):
        pub.publish_transient(live_topic, str(i).encode(), retain=False)
    assert pub.stats().dropped_transient == 7
    sub = subscribe(live_topic, "transient-sub")
    pub.start()
    wait_for(lambda: len(sub.messages()) >= 5, 5, "the queued transient messages")
    pub.publish_transient(live_topic, b"latest", retain=True, qos=1)
    wait_for(lambda: len(sub.messages()) >= 6, 5, "a transient message sent while connected")
    assert [payload for _, payload, _ in sub.messages()] == [b"7", b"8", b"9", b"10", b"11", b"latest"]
    later = subscribe(live_topic, "transient-later")
    wait_for(lambda: later.messages() == [(live_topic, b"latest", True)], 5, "the retained transient message")
    assert pub.stats().sent == 0, "transient messages must not count as outbox traffic"


def test_retained_messages_keep_only_the_latest_value_per_topic(
    broker: Broker, publisher: Callable[..., Publisher]
) -> None:
    pub = publisher()
    for i in range(500):  # far more than the transient queue holds: nothing is dropped, the latest wins
        pub.publish_retained(f"{TOPICS.prefix}/config/{i % 300}", f"{i}".encode())
    pub.publish_retained(f"{TOPICS.prefix}/config/7", b"")
    pub.start()
    expected = {f"{TOPICS.prefix}/config/{i % 300}": f"{i}".encode() for i in range(500)}
    del expected[f"{TOPICS.prefix}/config/7"]  # an empty retained message deletes the retained one
    wait_for(
        lambda: retained_messages(broker, f"{TOPICS.prefix}/config/#", settle=0.2) == expected,
        10,
        "every retained topic with its latest value",
    )
    assert pub.stats().dropped_transient == 0


def test_subscriptions_are_renewed_after_a_reconnect_and_deliver_to_the_queue(
    broker: Broker, publisher: Callable[..., Publisher]
) -> None:
    commands = f"{TOPICS.prefix}/command"

    def send(topic: str, payload: bytes, retain: bool = False) -> None:
        sender = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="command-sender")
        sender.connect(broker.host, broker.port, keepalive=5)
        sender.loop_start()
        try:
            sender.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)
        finally:
            sender.disconnect()
            sender.loop_stop()

    send(f"{TOPICS.prefix}/retained-cmd", b"old", retain=True)
    pub = publisher()
    pub.subscribe(commands, qos=1)
    pub.start()
    wait_for(lambda: pub.connections == 1, 5, "the first connection")
    pub.subscribe(f"{TOPICS.prefix}/retained-cmd", qos=1)  # added while connected
    wait_for(lambda: any(m.retain for m in pub.received()), 5, "the retained message on a new subscription")
    time.sleep(0.3)  # the SUBACK of the command subscription is certainly back
    send(commands, b"one")
    got: list[bytes] = []
    wait_for(lambda: got.extend(m.payload for m in pub.received()) or b"one" in got, 5, "the first command")
    broker.stop()
    broker.start()
    wait_for(lambda: pub.connections == 2, 10, "the reconnection")
    time.sleep(0.3)
    send(commands, b"two")
    wait_for(lambda: got.extend(m.payload for m in pub.received()) or b"two" in got, 5, "a command after reconnect")
    pub.unsubscribe(commands)
    time.sleep(0.3)
    send(commands, b"three")
    time.sleep(0.5)
    got.extend(m.payload for m in pub.received())
    assert b"three" not in got and got.count(b"one") == 1 and got.count(b"two") == 1


def test_received_messages_are_bounded_in_bytes_and_overflow_is_marked_not_lost(broker: Broker, store: Store) -> None:
    topic = f"{TOPICS.prefix}/command"
    room = 5 * (len(topic) + 1 + OVERHEAD_BYTES)
    inbox = Inbox(max_bytes=room)
    pub = Publisher(mqtt_config(broker), "pub-incoming", TOPICS.status, store, inbox=inbox)
    pub.subscribe(topic, qos=1)
    pub.start()
    sender = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="incoming-sender")
    try:
        wait_for(lambda: pub.connections == 1, 5, "the connection")
        time.sleep(0.3)  # the subscription is in place
        sender.connect(broker.host, broker.port, keepalive=5)
        sender.loop_start()
        for i in range(10):
            sender.publish(topic, str(i).encode(), qos=1).wait_for_publish(5)
        wait_for(lambda: len(inbox) == 10, 5, "every message, kept or marked")
        got: list[Received] = pub.received()
        assert [(m.payload, m.overflow) for m in got] == [(str(i).encode(), i >= 5) for i in range(10)]
        assert pub.stats().dropped_incoming == 0
    finally:
        sender.disconnect()
        sender.loop_stop()
        pub.stop(2.0)


def test_stop_returns_in_time_when_the_broker_is_gone(broker: Broker, publisher: Callable[..., Publisher]) -> None:
    pub = publisher()
    pub.start()
    wait_for(lambda: pub.connected, 5, "the publisher to connect")
    broker.stop()
    wait_for(lambda: pub.stats().connect_failures >= 1, 5, "a failed reconnection attempt")
    began = time.monotonic()
    pub.stop(1.0)
    assert time.monotonic() - began < 1.5
    assert not pub.running


def test_stop_returns_in_time_when_the_broker_hangs(
    broker: Broker, store: Store, publisher: Callable[..., Publisher]
) -> None:
    pub = publisher(max_inflight=3)
    pub.start()
    wait_for(lambda: pub.connected, 5, "the publisher to connect")
    assert broker.proc is not None
    broker.proc.send_signal(signal.SIGSTOP)
    try:
        close_intervals(store, 0, 10)
        pub.wake()
        wait_for(lambda: pub.stats().sent == 3, 5, "a window sent into the hung broker")
        began = time.monotonic()
        pub.stop(1.0)
        assert time.monotonic() - began < 1.5
        assert not pub.running
    finally:
        broker.proc.send_signal(signal.SIGCONT)
    assert store.outbox_stats()[0] == 10, "unacknowledged rows must survive the stop"
