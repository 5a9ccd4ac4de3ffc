"""The health report: is this box, and every source on it, fit to count? Published retained every minute.

Readings come from the kernel's text interfaces (`/proc/loadavg`, `/proc/self/statm`, thermal zones, the
Raspberry Pi firmware's throttling flags); each reader returns None or nothing when the platform lacks the
file, and the report then leaves the field out rather than inventing a value. `health_payload()` assembles
the report from readings passed in, so it is tested without the machine it runs on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.aggregation.clock import local_iso

SCHEMA_VERSION = 1
PERIOD_S = 60.0

THROTTLED_PATH = Path("sys/devices/platform/soc/soc:firmware/get_throttled")
THERMAL_DIR = Path("sys/class/thermal")

# Zone types that are the CPU's own sensor, in order of preference, on Raspberry Pi and common x86 boards.
_CPU_ZONE = re.compile(r"cpu|x86_pkg_temp|soc|coretemp|k10temp", re.I)

# Bits of the Raspberry Pi firmware's throttling word (`vcgencmd get_throttled`).
_THROTTLE_BITS = {
    "under_voltage": 0,
    "frequency_capped": 1,
    "throttled": 2,
    "soft_temperature_limit": 3,
    "under_voltage_occurred": 16,
    "frequency_capped_occurred": 17,
    "throttled_occurred": 18,
    "soft_temperature_limit_occurred": 19,
}


class SourceReport(BaseModel):
    """One source as the agent last saw it."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    state: Literal["up", "down"] = Field(title="State", description="Whether the source is delivering data.")
    since: str | None = Field(None, title="Since", description="When it entered this state, ISO-8601 local time.")
    reason: str | None = Field(None, title="Reason", description="Why it is down (last error), if it is.")
    rejected_lines: int = Field(0, ge=0, title="Rejected lines", description="Garbage skipped since start.")
    fps: float | None = Field(
        None,
        ge=0,
        title="Frames per second",
        description="Camera sources: frames analysed per second, over the last 50 analysed frames.",
    )
    latency_ms: float | None = Field(
        None,
        ge=0,
        title="Latency",
        description="Camera sources: capture-to-count latency in milliseconds (median of the last 50 analysed frames).",
    )
    inference_ms: float | None = Field(
        None,
        ge=0,
        title="Inference time",
        description="Camera sources: person detector time per frame in "
        "milliseconds (median of the last 50 analysed frames).",
    )
    frames: int | None = Field(
        None,
        ge=0,
        title="Frames analysed",
        description="Camera sources: frames analysed since the source "
        "started (at agent start, or when a reload changed the sensor).",
    )
    dropped_frames: int | None = Field(
        None,
        ge=0,
        title="Dropped frames",
        description="Camera sources: frames the camera delivered that a newer "
        "one replaced before they could be analysed, since the source started. A camera faster than `fps` "
        "drops frames by design; a growing share at a low analysed fps means the device cannot keep up.",
    )
    dropped_frames_recent: int | None = Field(
        None,
        ge=0,
        title="Dropped frames recently",
        description="Camera sources: frames dropped while the last 50 frames were analysed (the window of `fps`).",
    )


class Throttling(BaseModel):
    """Raspberry Pi firmware flags: a brown-out or an overheating CPU explains missed counts and restarts."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    raw: str = Field(title="Raw", description="The firmware's flag word in hex, as `vcgencmd get_throttled` shows it.")
    under_voltage: bool
    frequency_capped: bool
    throttled: bool
    soft_temperature_limit: bool
    under_voltage_occurred: bool
    frequency_capped_occurred: bool
    throttled_occurred: bool
    soft_temperature_limit_occurred: bool


class SystemReport(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    load_1m: float | None = Field(None, title="Load 1 min", description="Run-queue average over 1 minute.")
    load_5m: float | None = Field(None, title="Load 5 min", description="Run-queue average over 5 minutes.")
    load_15m: float | None = Field(None, title="Load 15 min", description="Run-queue average over 15 minutes.")
    cpu_count: int | None = Field(None, title="CPUs", description="CPUs available, to read the load against.")
    cpu_temperature_c: float | None = Field(
        None, title="CPU temperature", description="Degrees Celsius; absent where the platform has no sensor."
    )
    temperatures_c: dict[str, float] | None = Field(
        None, title="Temperatures", description="Every thermal zone by its type, degrees Celsius."
    )
    throttling: Throttling | None = Field(
        None, title="Throttling", description="Raspberry Pi firmware flags; absent on other platforms."
    )
    rss_bytes: int | None = Field(None, ge=0, title="Memory", description="Resident memory of the agent process.")


class StoreRecovery(BaseModel):
    """A damaged store that was moved aside and replaced by a fresh one."""

    model_config = ConfigDict(extra="forbid")

    at: str = Field(title="When", description="When the damage was found, ISO-8601 local time.")
    reason: str = Field(title="Reason", description="What was wrong (SQLite's integrity check or error).")
    moved_to: str | None = Field(
        None, title="Moved to", description="File name the damaged database was renamed to, beside the new one."
    )


class StoreReport(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    used_bytes: int = Field(ge=0, title="Used", description="Bytes in use in the database (the budgeted figure).")
    files_bytes: int = Field(ge=0, title="On disk", description="Database, WAL and shared-memory files together.")
    max_bytes: int = Field(ge=0, title="Budget", description="`store.max_bytes`.")
    used_ratio: float = Field(ge=0, title="Budget used", description="used_bytes / max_bytes.")
    filesystem_free_bytes: int | None = Field(
        None, ge=0, title="Free on filesystem", description="Free bytes on the filesystem holding the store."
    )
    disk_full: bool | None = Field(
        None,
        title="Disk full",
        description="Present and true while store writes fail for want of space: counting goes on, closed "
        "intervals wait in memory and are stored as soon as space returns.",
    )
    disk_full_since: str | None = Field(
        None, title="Disk full since", description="When writes started failing, ISO-8601 local time."
    )
    held_intervals: int | None = Field(
        None, ge=0, title="Intervals in memory", description="Closed intervals waiting in memory for the store."
    )
    lost_intervals: int | None = Field(
        None,
        ge=0,
        title="Intervals lost",
        description="Closed intervals dropped from memory since start because the disk stayed full too long.",
    )
    recovered: StoreRecovery | None = Field(
        None,
        title="Store replaced",
        description="Set when a damaged store was moved aside and replaced by a fresh one since start; the "
        "counting state (and lifetime totals) continued from the side checkpoint.",
    )
    error: str | None = Field(None, title="Last error", description="The last store error, while it lasts.")


class OutboxReport(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    depth: int = Field(ge=0, title="Depth", description="Messages waiting for a broker acknowledgement.")
    oldest_age_s: float | None = Field(
        None, ge=0, title="Oldest age", description="Seconds since the oldest unsent message was queued."
    )


class MqttReport(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    connected: bool
    reconnects: int = Field(ge=0)
    connect_failures: int = Field(ge=0)
    last_error: str | None = None


class ClockReport(BaseModel):
    """Steps of the wall clock (see the README's "Field faults"); absent while the clock never stepped."""

    model_config = ConfigDict(extra="forbid")

    last_step_s: float | None = Field(
        None,
        title="Last step",
        description="Size of the last wall-clock step found since start, in seconds; negative: back in time.",
    )
    last_step_at: str | None = Field(None, title="Stepped at", description="When it was found, ISO-8601 local time.")
    behind_s: float = Field(
        0.0,
        ge=0,
        title="Wall clock behind",
        description="Seconds the wall clock is behind the agent's counting time after a backward step; counting "
        "time runs at half speed until it is 0, so intervals keep closing and none is dated twice.",
    )


class HealthPayload(BaseModel):
    """Retained on `<prefix>/health`; fields the platform cannot report are absent, never zero."""

    model_config = ConfigDict(defer_build=True, extra="forbid", title="Health")

    schema_version: int = Field(SCHEMA_VERSION, title="Schema version", description="Bumped on incompatible changes.")
    site: str = Field(title="Site", description="Site id from the config.")
    device: str = Field(title="Device", description="Device id from the config.")
    ts: float = Field(title="Time (epoch)", description="When the report was made, Unix seconds.")
    at: str = Field(title="Time", description="When the report was made, ISO-8601 local time with UTC offset.")
    started: str = Field(title="Started", description="When the agent started, ISO-8601 local time.")
    uptime_s: float = Field(ge=0, title="Uptime", description="Seconds since the agent started.")
    agent_version: str = Field(title="Agent version", description="Software version.")
    sources: dict[str, SourceReport] = Field(title="Sources", description="Per sensor id.")
    system: SystemReport = Field(
        title="System", description="CPU load and temperature, throttling, memory; unknown readings are absent."
    )
    store: StoreReport = Field(title="Store", description="Disk use of the local database against its budget.")
    outbox: OutboxReport = Field(title="Outbox", description="Messages stored but not yet acknowledged by the broker.")
    mqtt: MqttReport | None = Field(None, title="MQTT", description="Broker connection; absent when MQTT is disabled.")
    clock: ClockReport | None = Field(
        None, title="Clock", description="Wall-clock steps found since start; absent when there were none."
    )

    def to_json(self) -> bytes:
        """The wire form: unknown readings are left out rather than sent as null."""
        return self.model_dump_json(exclude_none=True).encode()


# -- readings


@dataclass
class SourceHealth:
    """What a source last told the agent about itself, for the console and health reports."""

    up: bool = False
    since: float = 0.0
    reason: str = ""
    rejected: int = 0
    history: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SystemReadings:
    """Raw platform readings; None or empty where the platform does not provide them."""

    loadavg: tuple[float, float, float] | None = None
    cpu_count: int | None = None
    temperatures_c: dict[str, float] = field(default_factory=dict)
    throttled: int | None = None
    rss_bytes: int | None = None


@dataclass(frozen=True)
class StoreReadings:
    used_bytes: int
    files_bytes: int
    max_bytes: int
    filesystem_free_bytes: int | None


@dataclass(frozen=True)
class ClockReadings:
    last_step_s: float | None
    last_step_at: float | None
    behind_s: float


@dataclass(frozen=True)
class StoreFaults:
    """What went wrong with the store since start (see `agent.runtime.store_guard`); empty when nothing did."""

    disk_full_since: float | None = None
    held_intervals: int = 0
    lost_intervals: int = 0
    recovered_at: float | None = None
    recovered_reason: str | None = None
    recovered_to: str | None = None
    error: str | None = None


def read_loadavg(path: Path = Path("/proc/loadavg")) -> tuple[float, float, float] | None:
    try:
        fields = path.read_text().split()
        return float(fields[0]), float(fields[1]), float(fields[2])
    except (OSError, ValueError, IndexError):
        return None


def read_temperatures(thermal_dir: Path = Path("/") / THERMAL_DIR) -> dict[str, float]:
    """Every readable thermal zone as {type: degrees C}; duplicate types get the zone name appended."""
    out: dict[str, float] = {}
    for zone in sorted(thermal_dir.glob("thermal_zone*")):
        try:
            millideg = int((zone / "temp").read_text().strip())
        except (OSError, ValueError):
            continue
        try:
            kind = (zone / "type").read_text().strip() or zone.name
        except OSError:
            kind = zone.name
        if kind in out:
            kind = f"{kind}-{zone.name}"
        out[kind] = round(millideg / 1000.0, 1)
    return out


def read_throttled(path: Path = Path("/") / THROTTLED_PATH) -> int | None:
    """The firmware's throttling word (hex text, with or without 0x), or None off a Raspberry Pi."""
    try:
        return int(path.read_text().strip(), 16)
    except (OSError, ValueError):
        return None


def read_rss(path: Path = Path("/proc/self/statm")) -> int | None:
    try:
        return int(path.read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def read_system(root: Path = Path("/")) -> SystemReadings:
    """All platform readings; `root` lets a test point the readers at a prepared directory tree."""
    return SystemReadings(
        loadavg=read_loadavg(root / "proc/loadavg"),
        cpu_count=os.cpu_count(),
        temperatures_c=read_temperatures(root / THERMAL_DIR),
        throttled=read_throttled(root / THROTTLED_PATH),
        rss_bytes=read_rss(root / "proc/self/statm"),
    )


def read_store(directory: Path, used_bytes: int, max_bytes: int, db_name: str = "footfall.db") -> StoreReadings:
    """On-disk size of the database files and free space; `used_bytes` comes from `Store.size_bytes()`."""
    total = 0
    for suffix in ("", "-wal", "-shm"):
        try:
            total += (directory / f"{db_name}{suffix}").stat().st_size
        except OSError:
            pass
    try:
        st = os.statvfs(directory)
        free: int | None = st.f_bavail * st.f_frsize
    except OSError:
        free = None
    return StoreReadings(used_bytes=used_bytes, files_bytes=total, max_bytes=max_bytes, filesystem_free_bytes=free)


# -- assembly (pure)


def cpu_temperature(temperatures: Mapping[str, float]) -> float | None:
    """The CPU's own zone if one is recognisable, else the hottest zone (the one that throttles first)."""
    if not temperatures:
        return None
    for kind, value in temperatures.items():
        if _CPU_ZONE.search(kind):
            return value
    return max(temperatures.values())


def throttling(word: int | None) -> Throttling | None:
    if word is None:
        return None
    flags = {name: bool(word >> bit & 1) for name, bit in _THROTTLE_BITS.items()}
    return Throttling(raw=hex(word), **flags)


def system_report(readings: SystemReadings) -> SystemReport:
    load = readings.loadavg
    return SystemReport(
        load_1m=load[0] if load else None,
        load_5m=load[1] if load else None,
        load_15m=load[2] if load else None,
        cpu_count=readings.cpu_count,
        cpu_temperature_c=cpu_temperature(readings.temperatures_c),
        temperatures_c=dict(readings.temperatures_c) or None,
        throttling=throttling(readings.throttled),
        rss_bytes=readings.rss_bytes,
    )


def health_payload(
    *,
    now: float,
    started: float,
    tz: Any,
    site: str,
    device: str,
    version: str,
    sources: Mapping[str, SourceReport],
    system: SystemReadings,
    store: StoreReadings,
    outbox_depth: int,
    outbox_oldest: float | None,
    mqtt: MqttReport | None,
    faults: StoreFaults | None = None,
    clock: ClockReadings | None = None,
) -> HealthPayload:
    """Assemble one report from readings taken by the caller (`outbox_oldest` is the created time of the
    oldest unsent row, epoch seconds)."""
    return HealthPayload(
        site=site,
        device=device,
        ts=now,
        at=local_iso(now, tz),
        started=local_iso(started, tz),
        uptime_s=round(max(0.0, now - started), 1),
        agent_version=version,
        sources=dict(sources),
        system=system_report(system),
        store=StoreReport(
            used_bytes=store.used_bytes,
            files_bytes=store.files_bytes,
            max_bytes=store.max_bytes,
            used_ratio=round(store.used_bytes / store.max_bytes, 4) if store.max_bytes > 0 else 0.0,
            filesystem_free_bytes=store.filesystem_free_bytes,
            **_fault_fields(faults or StoreFaults(), tz),
        ),
        outbox=OutboxReport(
            depth=outbox_depth,
            oldest_age_s=round(max(0.0, now - outbox_oldest), 1)
            if outbox_depth and outbox_oldest is not None
            else None,
        ),
        mqtt=mqtt,
        clock=ClockReport(
            last_step_s=round(clock.last_step_s, 1) if clock.last_step_s is not None else None,
            last_step_at=local_iso(clock.last_step_at, tz) if clock.last_step_at is not None else None,
            behind_s=round(clock.behind_s, 1),
        )
        if clock is not None
        else None,
    )


def _fault_fields(f: StoreFaults, tz: Any) -> dict[str, Any]:
    """The store fault fields of a report: only those with something to say, so a healthy store sends none."""
    fields: dict[str, Any] = {}
    if f.disk_full_since is not None:
        fields.update(disk_full=True, disk_full_since=local_iso(f.disk_full_since, tz))
    if f.held_intervals:
        fields["held_intervals"] = f.held_intervals
    if f.lost_intervals:
        fields["lost_intervals"] = f.lost_intervals
    if f.recovered_at is not None:
        fields["recovered"] = StoreRecovery(
            at=local_iso(f.recovered_at, tz), reason=f.recovered_reason or "", moved_to=f.recovered_to
        )
    if f.error is not None:
        fields["error"] = f.error
    return fields


def status_line(report: HealthPayload) -> str:
    """One line for `systemctl status` (sd_notify STATUS=): sources, publishing, backlog."""
    up = sum(1 for s in report.sources.values() if s.state == "up")
    parts = [f"{up}/{len(report.sources)} sources up"]
    down = [name for name, s in report.sources.items() if s.state == "down"]
    if down:
        parts[0] += f" (down: {', '.join(down)})"
    if report.mqtt is None:
        parts.append("mqtt disabled")
    else:
        parts.append("mqtt connected" if report.mqtt.connected else "mqtt disconnected")
    backlog = f"outbox {report.outbox.depth}"
    if report.outbox.oldest_age_s is not None:
        backlog += f" (oldest {_age(report.outbox.oldest_age_s)})"
    parts.append(backlog)
    if report.store.disk_full:
        parts.append(f"DISK FULL: {report.store.held_intervals or 0} interval(s) waiting in memory")
    if report.store.recovered is not None:
        parts.append(f"store replaced at {report.store.recovered.at} (damaged)")
    if report.clock is not None and report.clock.behind_s > 0:
        parts.append(f"clock stepped back: catching up, {_age(report.clock.behind_s)} to go")
    return ", ".join(parts)


def _age(seconds: float) -> str:
    s = int(seconds)
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h"
