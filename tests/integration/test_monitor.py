"""`monitor --once` against a real Mosquitto: retained state of several agents plus live intervals."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from agent.aggregation.records import ClosedInterval
from agent.cli import monitor
from agent.mqtt.discovery import LastInterval, SensorState
from agent.mqtt.payloads import interval_payload
from agent.mqtt.topics import Topics
from agent.runtime.health import SourceReport, StoreReadings, SystemReadings, health_payload
from tests.integration.conftest import Broker, free_port

TZ = ZoneInfo("Europe/Berlin")
NOW = 1774771200.0
DOOR1 = Topics.for_device("footfall/{site}/{device}", "store-042", "door-1")
DOOR2 = Topics.for_device("footfall/{site}/{device}", "store-042", "door-2")


def publisher(broker: Broker) -> mqtt.Client:
    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, client_id="monitor-test-pub")
    client.connect(broker.host, broker.port, keepalive=5)
    client.loop_start()
    return client


def publish(client: mqtt.Client, topic: str, payload: bytes, retain: bool) -> None:
    client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    monitor.add_arguments(parser)
    return parser.parse_args(list(argv))


def retained_fleet(client: mqtt.Client) -> None:
    publish(client, DOOR1.status, b"online", retain=True)
    health = health_payload(
        now=NOW,
        started=NOW - 60,
        tz=TZ,
        site="store-042",
        device="door-1",
        version="0.1.0",
        sources={"entrance": SourceReport(state="up")},
        system=SystemReadings(loadavg=(0.5, 0.4, 0.3), cpu_count=4),
        store=StoreReadings(used_bytes=4096, files_bytes=8192, max_bytes=1 << 28, filesystem_free_bytes=1 << 30),
        outbox_depth=0,
        outbox_oldest=None,
        mqtt=None,
    )
    publish(client, f"{DOOR1.prefix}/health", health.to_json(), retain=True)
    state = SensorState(
        site="store-042",
        device="door-1",
        sensor="entrance",
        ts=NOW,
        at="2026-03-29T10:00:00+02:00",
        source_up=True,
        occupancy=11,
        day_start="2026-03-29T04:00:00+02:00",
        ins_today=400,
        outs_today=389,
        last_interval=LastInterval(
            start="2026-03-29T09:45:00+02:00", end="2026-03-29T10:00:00+02:00", ins=42, outs=39, coverage=1.0
        ),
        z=0.5,
    )
    publish(client, f"{DOOR1.prefix}/sensors/entrance/state", state.model_dump_json().encode(), retain=True)
    publish(client, DOOR2.status, b"offline", retain=True)


@pytest.fixture
def viewer_in_berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The monitor shows times in the viewer's zone: this process's, set to the devices' zone here."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_once_prints_a_snapshot_of_retained_and_live_messages(
    broker: Broker, capsys: pytest.CaptureFixture[str], viewer_in_berlin: None
) -> None:
    client = publisher(broker)
    stop = threading.Event()
    live = (
        interval_payload(
            ClosedInterval("side", NOW, NOW + 900, 7, 3, 4, 107, 103, 900.0, 0, 0, 0), "store-042", "door-2", TZ
        )
        .model_dump_json()
        .encode()
    )

    def keep_publishing_live_intervals() -> None:
        while not stop.wait(0.2):
            publish(client, DOOR2.interval("side"), live, retain=False)

    try:
        retained_fleet(client)
        thread = threading.Thread(target=keep_publishing_live_intervals, daemon=True)
        thread.start()
        assert monitor.run(parse("--host", broker.host, "--port", str(broker.port), "--once", "1.5")) == 0
        stop.set()
        thread.join(5)
        out = capsys.readouterr().out
        assert f"{broker.host}:{broker.port} footfall/#" in out and "2 devices" in out
        door1, door2 = out.split("store-042/door-1")[1].split("store-042/door-2")
        assert "ONLINE" in door1 and "up 1m00s" in door1 and "load 0.50" in door1
        assert door1.split("entrance")[1].split()[:7] == ["up", "09:45-10:00", "42", "39", "11", "400/389", "+0.5"]
        assert "OFFLINE" in door2
        assert door2.split("side")[1].split()[:5] == ["-", "10:00-10:15", "7", "3", "4"], "the live interval is missing"

        assert (
            monitor.run(
                parse("--host", broker.host, "--port", str(broker.port), "--once", "0.5", "--device", "*/door-2")
            )
            == 0
        )
        filtered = capsys.readouterr().out
        assert "1 device " in filtered and "door-1" not in filtered and "store-042/door-2" in filtered
    finally:
        stop.set()
        client.loop_stop()
        client.disconnect()


def test_unreachable_broker_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert monitor.run(parse("--host", "127.0.0.1", "--port", str(port), "--once", "0.5")) == 1
    assert f"cannot connect to 127.0.0.1:{port}" in capsys.readouterr().err
