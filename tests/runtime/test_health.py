"""Health readings from the real kernel interfaces, and the report assembled from readings."""

from __future__ import annotations

import json
import os
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.runtime.health import (
    ClockReadings,
    HealthPayload,
    MqttReport,
    SourceReport,
    StoreFaults,
    StoreReadings,
    SystemReadings,
    cpu_temperature,
    health_payload,
    read_loadavg,
    read_rss,
    read_store,
    read_system,
    read_temperatures,
    read_throttled,
    status_line,
    throttling,
)
from agent.store.database import Store

TZ = ZoneInfo("Europe/Berlin")
NOW = 1774771200.0  # 2026-03-29T10:00:00+02:00


def test_this_machine_reports_load_and_memory() -> None:
    load = read_loadavg()
    assert load is not None and all(v >= 0 for v in load)
    rss = read_rss()
    assert rss is not None and rss > 1024 * 1024, "a Python process has more than 1 MiB resident"
    system = read_system()
    assert system.loadavg is not None and system.cpu_count == os.cpu_count()
    if not Path("/sys/devices/platform/soc/soc:firmware/get_throttled").exists():
        assert system.throttled is None


def test_thermal_zones_read_in_sysfs_format(tmp_path: Path) -> None:
    thermal = tmp_path / "sys/class/thermal"
    for zone, kind, millideg in (("thermal_zone0", "cpu-thermal", "48312"), ("thermal_zone1", "gpu-thermal", "51000")):
        (thermal / zone).mkdir(parents=True)
        (thermal / zone / "type").write_text(kind + "\n")
        (thermal / zone / "temp").write_text(millideg + "\n")
    (thermal / "thermal_zone2").mkdir()
    (thermal / "thermal_zone2" / "type").write_text("broken\n")
    (thermal / "cooling_device0").mkdir()
    temps = read_temperatures(thermal)
    assert temps == {"cpu-thermal": 48.3, "gpu-thermal": 51.0}
    assert cpu_temperature(temps) == 48.3, "the CPU's own zone, not the hottest"
    assert cpu_temperature({"acpitz": 40.0, "nvme": 55.0}) == 55.0
    assert cpu_temperature({}) is None
    assert read_temperatures(tmp_path / "nothing") == {}
    assert read_system(tmp_path).temperatures_c == temps


def test_raspberry_pi_throttling_word(tmp_path: Path) -> None:
    path = tmp_path / "get_throttled"
    path.write_text("50005\n")
    assert read_throttled(path) == 0x50005
    path.write_text("0x0\n")
    assert read_throttled(path) == 0
    assert read_throttled(tmp_path / "absent") is None
    flags = throttling(0x50005)
    assert flags is not None
    assert flags.raw == "0x50005"
    assert flags.under_voltage and flags.throttled and not flags.frequency_capped
    assert flags.under_voltage_occurred and flags.throttled_occurred and not flags.soft_temperature_limit_occurred
    assert throttling(None) is None


def test_store_footprint_of_a_real_database(tmp_path: Path) -> None:
    store = Store(tmp_path / "data", retention_days=90, max_bytes=256 * 1024 * 1024)
    try:
        store.enqueue("t", b"x" * 1000)
        readings = read_store(store.directory, store.size_bytes(), 256 * 1024 * 1024)
    finally:
        store.close()
    assert readings.files_bytes >= readings.used_bytes > 0
    assert readings.filesystem_free_bytes is not None and readings.filesystem_free_bytes > 0
    assert read_store(tmp_path / "missing", 0, 1).filesystem_free_bytes is None


def report(
    system: SystemReadings,
    depth: int = 0,
    oldest: float | None = None,
    mqtt: MqttReport | None = None,
    faults: StoreFaults | None = None,
    clock: ClockReadings | None = None,
) -> HealthPayload:
    return health_payload(
        now=NOW,
        started=NOW - 3725.0,
        tz=TZ,
        site="store-042",
        device="door-1",
        version="1.2.3",
        sources={
            "entrance": SourceReport(state="up", since="2026-03-29T08:58:00+02:00", rejected_lines=2),
            "side": SourceReport(state="down", since="2026-03-29T09:30:00+02:00", reason="device vanished"),
        },
        system=system,
        store=StoreReadings(
            used_bytes=1 << 20, files_bytes=3 << 20, max_bytes=256 << 20, filesystem_free_bytes=10 << 30
        ),
        outbox_depth=depth,
        outbox_oldest=oldest,
        mqtt=mqtt,
        faults=faults,
        clock=clock,
    )


def test_report_leaves_out_what_the_platform_cannot_tell() -> None:
    bare = json.loads(report(SystemReadings(loadavg=(0.5, 0.25, 0.125), cpu_count=4, rss_bytes=30 << 20)).to_json())
    assert bare["at"] == "2026-03-29T10:00:00+02:00"
    assert bare["started"] == "2026-03-29T08:57:55+02:00" and bare["uptime_s"] == 3725.0
    assert bare["system"] == {"load_1m": 0.5, "load_5m": 0.25, "load_15m": 0.125, "cpu_count": 4, "rss_bytes": 30 << 20}
    assert "mqtt" not in bare
    assert bare["outbox"] == {"depth": 0}
    assert bare["store"]["used_ratio"] == round(1 / 256, 4)
    assert bare["sources"]["side"] == {
        "state": "down",
        "since": "2026-03-29T09:30:00+02:00",
        "reason": "device vanished",
        "rejected_lines": 0,
    }
    pi = json.loads(
        report(
            SystemReadings(
                loadavg=(1.0, 1.0, 1.0), cpu_count=4, temperatures_c={"cpu-thermal": 61.2}, throttled=0x50000
            ),
            depth=7,
            oldest=NOW - 90.0,
            mqtt=MqttReport(connected=False, reconnects=2, connect_failures=5, last_error="connection refused"),
        ).to_json()
    )
    assert pi["system"]["cpu_temperature_c"] == 61.2
    assert pi["system"]["throttling"]["under_voltage_occurred"] and not pi["system"]["throttling"]["under_voltage"]
    assert pi["outbox"] == {"depth": 7, "oldest_age_s": 90.0}
    assert pi["mqtt"]["connected"] is False
    assert HealthPayload.model_validate(pi).outbox.depth == 7


def test_status_line_summarises_sources_mqtt_and_backlog() -> None:
    quiet = report(SystemReadings())
    assert status_line(quiet) == "1/2 sources up (down: side), mqtt disabled, outbox 0"
    busy = report(
        SystemReadings(),
        depth=40,
        oldest=NOW - 600.0,
        mqtt=MqttReport(connected=False, reconnects=0, connect_failures=3),
    )
    assert status_line(busy) == "1/2 sources up (down: side), mqtt disconnected, outbox 40 (oldest 10 min)"
    assert "\n" not in status_line(busy)


def test_store_faults_and_clock_steps_are_reported_only_when_they_happened() -> None:
    healthy = json.loads(report(SystemReadings()).to_json())
    assert set(healthy["store"]) == {"used_bytes", "files_bytes", "max_bytes", "used_ratio", "filesystem_free_bytes"}
    assert "clock" not in healthy
    faults = StoreFaults(
        disk_full_since=NOW - 60,
        held_intervals=60,
        recovered_at=NOW - 3600,
        recovered_reason="integrity check failed",
        recovered_to="footfall.db.broken-20260329T070000Z",
    )
    troubled = report(SystemReadings(), faults=faults, clock=ClockReadings(-3600.0, NOW - 10, 3590.0))
    doc = json.loads(troubled.to_json())
    assert doc["store"]["disk_full"] is True and doc["store"]["held_intervals"] == 60
    assert doc["store"]["disk_full_since"] == "2026-03-29T09:59:00+02:00"
    assert doc["store"]["recovered"]["moved_to"] == "footfall.db.broken-20260329T070000Z"
    assert doc["clock"] == {"last_step_s": -3600.0, "last_step_at": "2026-03-29T09:59:50+02:00", "behind_s": 3590.0}
    line = status_line(troubled)
    assert "DISK FULL: 60 interval(s) waiting in memory" in line and "store replaced" in line and "catching up" in line
