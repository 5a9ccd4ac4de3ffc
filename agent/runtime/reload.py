"""What a new configuration means for the running agent: what can change live, and what needs a restart.

Pure: compares two validated configs. Some settings define the data already stored and published: the
site and device ids are in every message id, the interval grid, time zone and occupancy reset shape every
open interval, the store is the database in use, and the topic prefix names everything retained on the
broker. Changing any of those under a running agent would split one day's data in two incompatible
halves, so a reload that touches them is refused as a whole (the running config stays) and the log says
that a restart is needed. Everything else is applied live: sensors are added, removed or have their
source restarted, the MQTT connection is re-established, discovery and logging follow the new settings.

New `anomaly:` settings apply from the next closed interval, and what the detectors have learned is kept,
whichever setting changed. The learned state (profile, noise, level, warm-up counts per interval-of-week)
is an estimate of the data, not of the settings: a new threshold or fault probability only changes the
verdicts, and new half-lives, clip, warm-up or relearn period change how later intervals are learned,
from estimates that remain valid. Resetting would cost weeks of warm-up without z-scores for nothing. What
would make the state meaningless (interval length, time zone) needs a restart anyway. Turning scoring off
keeps the committed state in the store; turning it on again resumes from it (a detector that has seen
nothing for `relearn_after_days` relearns by itself).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from agent.config.agent import AgentConfig


@dataclass(frozen=True)
class ReloadPlan:
    """The difference between the running config and a newly loaded one."""

    restart_required: list[str] = field(default_factory=list)
    """One readable reason per setting that cannot change live; non-empty means the reload is refused."""
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    """Sensors whose settings changed: their source restarts, their counts carry on."""
    unchanged: list[str] = field(default_factory=list)
    mqtt: bool = False
    """Broker settings changed: reconnect with the new ones."""
    homeassistant: bool = False
    health: bool = False
    log_level: bool = False
    anomaly: bool = False
    """Anomaly settings changed: the detectors score with the new ones and keep what they learned."""

    @property
    def changes_anything(self) -> bool:
        return bool(
            self.added
            or self.removed
            or self.changed
            or self.mqtt
            or self.homeassistant
            or self.health
            or self.log_level
            or self.anomaly
        )

    def summary(self) -> str:
        """One log line: what the reload does."""
        if not self.changes_anything:
            return "nothing changed"
        parts = []
        for label, sensors in (
            ("added", self.added),
            ("removed", self.removed),
            ("restarted the source of", self.changed),
        ):
            if sensors:
                parts.append(f"{label} {', '.join(sensors)}")
        for label, flag in (
            ("new MQTT settings", self.mqtt),
            ("new Home Assistant settings", self.homeassistant),
            ("new health settings", self.health),
            ("new log level", self.log_level),
            ("new anomaly settings", self.anomaly),
        ):
            if flag:
                parts.append(label)
        return "; ".join(parts)

    def result(self) -> dict[str, Any]:
        """The answer to a `reload` command."""
        return {
            "changed": self.changes_anything,
            "added": self.added,
            "removed": self.removed,
            "restarted": self.changed,
            "mqtt": self.mqtt,
            "homeassistant": self.homeassistant,
            "anomaly": self.anomaly,
        }


def _fixed(old: AgentConfig, new: AgentConfig) -> list[str]:
    reasons = []
    for name, before, after in (
        ("site", old.site, new.site),
        ("device", old.device, new.device),
        ("timezone", old.timezone, new.timezone),
        ("intervals.length", old.intervals.length, new.intervals.length),
        ("intervals.occupancy_reset", old.intervals.occupancy_reset, new.intervals.occupancy_reset),
        ("store.path", str(old.store.path), str(new.store.path)),
        ("store.retention_days", old.store.retention_days, new.store.retention_days),
        ("store.max_bytes", old.store.max_bytes, new.store.max_bytes),
        ("store.checkpoint", old.store.checkpoint, new.store.checkpoint),
        ("mqtt.topic_prefix", old.mqtt.topic_prefix, new.mqtt.topic_prefix),
    ):
        if before != after:
            reasons.append(f"{name} changed from {_show(before)} to {_show(after)}")
    return reasons


def _show(value: object) -> str:
    return f"'{value}'" if isinstance(value, str) else str(value)


def plan_reload(old: AgentConfig, new: AgentConfig) -> ReloadPlan:
    """Compare the running config with a new one; sensors keep the order of the new config."""
    fixed = _fixed(old, new)
    before = {s.id: s for s in old.sensors}
    after = {s.id: s for s in new.sensors}
    return ReloadPlan(
        restart_required=fixed,
        added=[sid for sid in after if sid not in before],
        removed=[sid for sid in before if sid not in after],
        changed=[sid for sid in after if sid in before and before[sid] != after[sid]],
        unchanged=[sid for sid in after if sid in before and before[sid] == after[sid]],
        mqtt=old.mqtt != new.mqtt,
        homeassistant=old.homeassistant != new.homeassistant,
        health=old.health != new.health,
        log_level=old.log_level != new.log_level,
        anomaly=old.anomaly != new.anomaly,
    )
