"""The live state of one or many agents, built only from what they publish (retained status, health and sensor
state, plus interval messages as they close), so it shows exactly what any other consumer would see. `Fleet`
(the state) and `render` (the text) are pure; `footfall-agent monitor` (`agent.cli.monitor`) adds the MQTT client
and the screen.

One time zone convention: every clock time on the screen is in the viewer's time zone (named in the header),
whatever zone each device counts in, so devices in several zones can be compared at a glance. Ages are measured
from the time a device stamped on its message (`ts`), not from when the message arrived: a retained health report
from a device that went quiet an hour ago is an hour old, however recently the monitor connected."""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from agent.mqtt.topics import Topics

HEALTH_STALE_S = 180.0
"""Three missed health reports: the agent may be hung or cut off even if its status still says online."""

# Topic leaves under a device prefix (see agent/mqtt/topics.py for the tree).
_STATUS = Topics("").status
_INTERVAL = Topics("").interval("{}").split("{}")
_HEALTH = Topics("").health
_STATE = Topics("").state("{}").split("{}")[1]
_SENSORS = _INTERVAL[0]  # "/sensors/"

_RESET = "\x1b[0m"
_COLOURS = {"green": "\x1b[32m", "red": "\x1b[31m", "yellow": "\x1b[33m", "bold": "\x1b[1m", "dim": "\x1b[2m"}


@dataclass
class SensorView:
    interval: dict[str, Any] | None = None
    state: dict[str, Any] | None = None


@dataclass
class DeviceView:
    prefix: str
    status: str | None = None
    health: dict[str, Any] | None = None
    health_seen: float | None = None
    last_message: float | None = None
    sensors: dict[str, SensorView] = field(default_factory=dict)

    def sensor(self, name: str) -> SensorView:
        return self.sensors.setdefault(name, SensorView())


def classify(topic: str, root: str) -> tuple[str, str, str | None] | None:
    """(device prefix, kind, sensor) for an agent topic under `root`; None for anything else."""
    if not topic.startswith(root + "/"):
        return None
    if topic.endswith(_STATUS):
        return topic[: -len(_STATUS)], "status", None
    if topic.endswith(_HEALTH):
        return topic[: -len(_HEALTH)], "health", None
    for leaf, kind in ((_INTERVAL[1], "interval"), (_STATE, "state")):
        if topic.endswith(leaf):
            head, sep, sensor = topic[: -len(leaf)].rpartition(_SENSORS)
            if sep and sensor and "/" not in sensor:
                return head, kind, sensor
    return None


class Fleet:
    """Every device seen under one topic root, updated message by message."""

    def __init__(self, root: str, patterns: list[str] | None = None) -> None:
        self.root = root.strip("/")
        self.patterns = patterns or []
        self.devices: dict[str, DeviceView] = {}
        self.ignored = 0

    def name(self, prefix: str) -> str:
        return prefix[len(self.root) + 1 :] if prefix.startswith(self.root + "/") else prefix

    def apply(self, topic: str, payload: bytes, now: float) -> bool:
        """Take one message; True if it changed the picture."""
        where = classify(topic, self.root)
        if where is None:
            return False
        prefix, kind, sensor = where
        if self.patterns and not any(fnmatch.fnmatchcase(self.name(prefix), p) for p in self.patterns):
            return False
        if kind == "status":
            text = payload.decode("utf-8", "replace").strip()
            if not text:
                return False
            device = self.devices.setdefault(prefix, DeviceView(prefix))
            device.status = text
            device.last_message = now
            return True
        doc = _json_object(payload)
        if doc is None:
            self.ignored += 1
            return False
        device = self.devices.setdefault(prefix, DeviceView(prefix))
        device.last_message = now
        if kind == "health":
            device.health = doc
            device.health_seen = now
            for name in doc.get("sources") or {}:
                device.sensor(str(name))
        elif kind == "interval" and sensor is not None:
            view = device.sensor(sensor)
            if view.interval is None or doc.get("start_ts", 0) >= view.interval.get("start_ts", 0):
                view.interval = doc
        elif kind == "state" and sensor is not None:
            device.sensor(sensor).state = doc
        return True


def _json_object(payload: bytes) -> dict[str, Any] | None:
    try:
        doc = json.loads(payload)
    except (UnicodeDecodeError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


# -- rendering (pure)


def render(fleet: Fleet, now: float, header: str = "", colour: bool = False, tz: tzinfo | None = None) -> list[str]:
    """The whole screen as lines: one block per device, one row per sensor; clock times in `tz` (default: the
    viewer's local zone)."""

    def paint(text: str, name: str | None) -> str:
        return f"{_COLOURS[name]}{text}{_RESET}" if colour and name else text

    count = len(fleet.devices)
    clock = datetime.fromtimestamp(now, tz) if tz is not None else datetime.fromtimestamp(now).astimezone()
    lines = [
        paint(
            f"footfall monitor  {header}  {count} device{'s' if count != 1 else ''}  "
            f"{clock.strftime('%H:%M:%S')} {clock.tzname()}",
            "bold",
        ),
    ]
    if not fleet.devices:
        lines += ["", "  waiting for agents to publish..."]
    for prefix in sorted(fleet.devices):
        device = fleet.devices[prefix]
        lines.append("")
        lines.append(_device_line(fleet.name(prefix), device, now, paint))
        lines.append(
            paint(
                f"  {'SENSOR':<16} {'SOURCE':<6} {'LAST INTERVAL':<13} {'IN':>5} {'OUT':>5} "
                f"{'INSIDE':>6} {'TODAY IN/OUT':>13} {'Z':>6}  FLAGS",
                "dim",
            )
        )
        if not device.sensors:
            lines.append("  (no sensor data yet)")
        for name in sorted(device.sensors):
            lines.append(_sensor_line(name, device, paint, tz))
    return lines


def _device_line(name: str, device: DeviceView, now: float, paint: Any) -> str:
    status = (device.status or "unknown").upper()
    parts = [paint(name, "bold"), paint(status, {"ONLINE": "green", "OFFLINE": "red"}.get(status))]
    health = device.health
    if health is None:
        parts.append("no health report yet")
        return "  ".join(parts)
    parts.append(f"up {_duration(float(health.get('uptime_s', 0)))}")
    if health.get("agent_version"):
        parts.append(f"v{health['agent_version']}")
    system = health.get("system") or {}
    if system.get("load_1m") is not None:
        parts.append(f"load {float(system['load_1m']):.2f}")
    if system.get("cpu_temperature_c") is not None:
        parts.append(f"{float(system['cpu_temperature_c']):.1f}°C")
    throttling = system.get("throttling") or {}
    for flag, label in (("under_voltage", "UNDER-VOLTAGE"), ("throttled", "THROTTLED")):
        if throttling.get(flag):
            parts.append(paint(label, "red"))
    outbox = health.get("outbox") or {}
    backlog = f"outbox {outbox.get('depth', '?')}"
    if outbox.get("oldest_age_s") is not None:
        backlog += f" (oldest {_duration(float(outbox['oldest_age_s']))})"
    parts.append(paint(backlog, "yellow" if outbox.get("depth") else None))
    mqtt = health.get("mqtt")
    if mqtt is not None and not mqtt.get("connected", True):
        parts.append(paint("mqtt down", "red"))
    stamped = health.get("ts")
    seen = float(stamped) if isinstance(stamped, int | float) else (device.health_seen or now)
    age = now - seen
    parts.append(paint(f"health {_duration(age)} ago", "red" if age > HEALTH_STALE_S else "dim"))
    return "  ".join(parts)


def _clock(text: Any, tz: tzinfo | None) -> str:
    """HH:MM of an ISO-8601 time with offset, in the viewer's zone; '?' when it is not one."""
    try:
        return datetime.fromisoformat(str(text)).astimezone(tz).strftime("%H:%M")
    except ValueError:
        return "?"


def _sensor_line(name: str, device: DeviceView, paint: Any, tz: tzinfo | None = None) -> str:
    view = device.sensors[name]
    state = view.state or {}
    source = ((device.health or {}).get("sources") or {}).get(name) or {}
    up = state.get("source_up")
    if up is None and source.get("state"):
        up = source["state"] == "up"
    if (device.status or "").lower() == "offline":
        up = None  # the retained state is the last word of a device that is gone: nothing is known now
    source_text = "-" if up is None else ("up" if up else "down")
    last = state.get("last_interval") or view.interval
    interval = ins = outs = "-"
    if last:
        interval = f"{_clock(last.get('start'), tz)}-{_clock(last.get('end'), tz)}"
        ins, outs = str(last.get("ins", "-")), str(last.get("outs", "-"))
    inside = state.get("occupancy", (view.interval or {}).get("occupancy", "-"))
    today = f"{state['ins_today']}/{state['outs_today']}" if "ins_today" in state else "-"
    z = f"{float(state['z']):+.1f}" if state.get("z") is not None else "-"
    flags = []
    if state.get("fault"):
        flags.append(paint(f"FAULT {state['fault']}", "red"))
    elif up is False:
        reason = source.get("reason")
        flags.append(paint("DOWN" + (f" {reason}" if reason else ""), "red"))
    if state.get("anomaly"):
        flags.append(paint("ANOMALY", "yellow"))
    coverage = (view.interval or {}).get("coverage")
    if coverage is not None and float(coverage) < 0.99:
        flags.append(paint(f"coverage {100 * float(coverage):.0f}%", "yellow"))
    row = (
        f"  {name:<16} {paint(f'{source_text:<6}', 'green' if up else ('red' if up is False else None))} "
        f"{interval:<13} {ins:>5} {outs:>5} {inside!s:>6} {today:>13} {z:>6}"
    )
    return row + ("  " + " ".join(flags) if flags else "")


def _duration(seconds: float) -> str:
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600:02d}h"
