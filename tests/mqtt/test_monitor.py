"""The monitor's picture of a fleet, built from agent messages, and the table it draws (no broker)."""

from __future__ import annotations

import json
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.aggregation.records import ClosedInterval
from agent.cli.monitor import topic_root
from agent.mqtt.discovery import LastInterval, SensorState
from agent.mqtt.monitor import Fleet, classify, render
from agent.mqtt.payloads import interval_payload
from agent.runtime.health import MqttReport, SourceReport, StoreReadings, SystemReadings, health_payload

TZ = ZoneInfo("Europe/Berlin")
NOW = 1774771200.0  # 2026-03-29T10:00:00+02:00
ROOT = "footfall"
DOOR1 = "footfall/store-042/door-1"
DOOR2 = "footfall/store-042/door-2"


def closed(sensor: str, start: float, ins: int, outs: int, occupancy: int, coverage_s: float = 900.0) -> ClosedInterval:
    return ClosedInterval(sensor, start, start + 900, ins, outs, occupancy, 1000 + ins, 990 + outs, coverage_s, 0, 0, 0)


def interval_message(c: ClosedInterval) -> bytes:
    return interval_payload(c, "store-042", "door-1", TZ).model_dump_json().encode()


def health_message(sources: dict[str, SourceReport], depth: int = 0) -> bytes:
    return health_payload(
        now=NOW,
        started=NOW - 7200,
        tz=TZ,
        site="store-042",
        device="door-1",
        version="0.1.0",
        sources=sources,
        system=SystemReadings(
            loadavg=(0.17, 0.1, 0.05), cpu_count=4, temperatures_c={"cpu-thermal": 48.2}, throttled=0x1
        ),
        store=StoreReadings(
            used_bytes=1 << 20, files_bytes=2 << 20, max_bytes=256 << 20, filesystem_free_bytes=1 << 30
        ),
        outbox_depth=depth,
        outbox_oldest=NOW - 300 if depth else None,
        mqtt=MqttReport(connected=True, reconnects=0, connect_failures=0),
    ).to_json()


def state_message(sensor: str, **overrides: object) -> bytes:
    values: dict[str, object] = {
        "site": "store-042",
        "device": "door-1",
        "sensor": sensor,
        "ts": NOW,
        "at": "2026-03-29T10:00:00+02:00",
        "source_up": True,
        "occupancy": 11,
        "day_start": "2026-03-29T04:00:00+02:00",
        "ins_today": 400,
        "outs_today": 389,
        "last_interval": LastInterval(
            start="2026-03-29T09:45:00+02:00", end="2026-03-29T10:00:00+02:00", ins=42, outs=39, coverage=1.0
        ),
        "z": -1.25,
    }
    values.update(overrides)
    return SensorState(**values).model_dump_json().encode()  # type: ignore[arg-type]


def test_topics_are_classified_by_their_leaf() -> None:
    assert classify(f"{DOOR1}/status", ROOT) == (DOOR1, "status", None)
    assert classify(f"{DOOR1}/health", ROOT) == (DOOR1, "health", None)
    assert classify(f"{DOOR1}/sensors/entrance/interval", ROOT) == (DOOR1, "interval", "entrance")
    assert classify(f"{DOOR1}/sensors/entrance/state", ROOT) == (DOOR1, "state", "entrance")
    assert classify(f"{DOOR1}/command/response", ROOT) is None
    assert classify("homeassistant/status", ROOT) is None
    assert classify("footfallx/a/b/status", ROOT) is None
    assert classify(f"{DOOR1}/sensors/a/b/interval", ROOT) is None, "sensor ids have no slash"
    assert topic_root("footfall/{site}/{device}") == "footfall"
    assert topic_root("shops/eu/{site}/counters/{device}") == "shops/eu"
    assert topic_root("single/box") == "single/box"


def test_fleet_and_table_from_a_realistic_message_stream() -> None:
    fleet = Fleet(ROOT)
    stream = [
        (f"{DOOR1}/status", b"online"),
        (
            f"{DOOR1}/health",
            health_message(
                {
                    "entrance": SourceReport(state="up"),
                    "side": SourceReport(state="down", reason="device vanished"),
                },
                depth=3,
            ),
        ),
        (f"{DOOR1}/sensors/entrance/state", state_message("entrance", anomaly=True)),
        (f"{DOOR1}/sensors/side/interval", interval_message(closed("side", NOW - 900, 0, 0, 0, coverage_s=450.0))),
        (f"{DOOR1}/sensors/side/interval", interval_message(closed("side", NOW - 1800, 5, 5, 2))),
        (f"{DOOR2}/status", b"offline"),
        (f"{DOOR2}/health", b"not json"),
        (f"{DOOR1}/command", b'{"id": "1", "command": "health"}'),
    ]
    changed = [fleet.apply(topic, payload, NOW + 10) for topic, payload in stream]
    assert changed == [True, True, True, True, True, True, False, False]
    assert fleet.ignored == 1
    side = fleet.devices[DOOR1].sensors["side"]
    assert side.interval is not None and side.interval["ins"] == 0, "an older replayed interval replaced a newer one"

    text = "\n".join(render(fleet, NOW + 20, "broker:1883", tz=TZ))
    assert "2 devices" in text and "\x1b[" not in text and "10:00:20 CEST" in text
    door1, door2 = text.split("store-042/door-1")[1].split("store-042/door-2")
    assert "ONLINE" in door1 and "OFFLINE" in door2 and "no health report yet" in door2
    assert "up 2h00m" in door1 and "load 0.17" in door1 and "48.2°C" in door1 and "UNDER-VOLTAGE" in door1
    assert "outbox 3 (oldest 5m00s)" in door1 and "health 20s ago" in door1, "aged from its ts, not from arrival"
    rows = {line.split()[0]: line for line in door1.splitlines() if line.startswith("  ") and "SENSOR" not in line}
    assert rows["entrance"].split()[:9] == [
        "entrance",
        "up",
        "09:45-10:00",
        "42",
        "39",
        "11",
        "400/389",
        "-1.2",
        "ANOMALY",
    ]
    assert rows["side"].split()[:6] == ["side", "down", "09:45-10:00", "0", "0", "0"]
    assert "DOWN device vanished" in rows["side"] and "coverage 50%" in rows["side"]

    coloured = "\n".join(render(fleet, NOW + 20, "broker:1883", colour=True, tz=TZ))
    assert "\x1b[32mONLINE" in coloured and "\x1b[31mOFFLINE" in coloured


def test_stale_health_and_device_filter() -> None:
    fleet = Fleet(ROOT, ["store-042/door-2"])
    assert not fleet.apply(f"{DOOR1}/status", b"online", NOW)
    assert fleet.apply(f"{DOOR2}/status", b"online", NOW)
    assert fleet.apply(f"{DOOR2}/health", health_message({"entrance": SourceReport(state="up")}), NOW)
    assert list(fleet.devices) == [DOOR2]
    text = "\n".join(render(fleet, NOW + 600, ""))
    assert "health 10m00s ago" in text
    assert "\x1b[31mhealth 10m00s ago" in "\n".join(render(fleet, NOW + 600, "", colour=True))


def test_an_offline_device_shows_its_sources_unknown_and_its_last_health_as_old() -> None:
    """The retained state and health of a device that went away still say `up`: they are its last word."""
    fleet = Fleet(ROOT)
    fleet.apply(f"{DOOR1}/health", health_message({"entrance": SourceReport(state="up")}), NOW + 3600)
    fleet.apply(f"{DOOR1}/sensors/entrance/state", state_message("entrance"), NOW + 3600)
    fleet.apply(f"{DOOR1}/status", b"offline", NOW + 3600)
    text = "\n".join(render(fleet, NOW + 3600, "", tz=TZ))
    row = next(line for line in text.splitlines() if line.strip().startswith("entrance"))
    assert row.split()[:3] == ["entrance", "-", "09:45-10:00"] and "DOWN" not in row
    assert "OFFLINE" in text and "health 1h00m ago" in text, "the report is an hour old though it just arrived"


def test_every_time_on_the_screen_is_in_the_viewers_zone() -> None:
    """A device in Berlin seen from New York: its interval and the clock both in New York time, the zone named."""
    fleet = Fleet(ROOT)
    fleet.apply(f"{DOOR1}/sensors/entrance/state", state_message("entrance"), NOW)
    text = "\n".join(render(fleet, NOW + 20, "", tz=ZoneInfo("America/New_York")))
    assert "04:00:20 EDT" in text.splitlines()[0]
    row = next(line for line in text.splitlines() if line.strip().startswith("entrance"))
    assert row.split()[2] == "03:45-04:00"


def test_empty_fleet_says_it_is_waiting(tmp_path: Path) -> None:
    assert "waiting for agents" in "\n".join(render(Fleet(ROOT), NOW, ""))
    assert json.loads(state_message("x"))["sensor"] == "x"
