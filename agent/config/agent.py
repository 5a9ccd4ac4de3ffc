"""The whole configuration of one agent: the top-level keys, the small agent-wide sections and the sensor list."""

from __future__ import annotations

import difflib
import re
import socket
from collections.abc import Iterable
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError

from agent.anomaly.settings import AnomalySettings
from agent.config.camera import CameraSensorConfig
from agent.config.fields import ID_PATTERN
from agent.config.modbus import ModbusSensorConfig
from agent.config.mqtt import MqttConfig
from agent.config.serial_lines import LineSensorConfig
from agent.config.simulated import SimulatedSensorConfig
from agent.config.units import ByteSize, ClockTime, Duration
from agent.mqtt.discovery import object_id_clashes

MIB = 1024 * 1024
KERNEL_FILE_SYSTEMS = ("dev", "proc", "sys")
"""Top-level directories whose files are the kernel's, never a place for the store."""


SensorConfig = Annotated[
    LineSensorConfig | ModbusSensorConfig | SimulatedSensorConfig | CameraSensorConfig, Field(discriminator="type")
]


class IntervalConfig(BaseModel):
    """How counts are bucketed: wall-clock aligned intervals, so 15-minute data lines up across shops."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    length: Duration = Field(
        900,
        title="Interval length",
        description="Length of one interval, e.g. `15m`. Whole seconds that divide an hour: 1s to 1h "
        "(60, 300, 900, 1800, 3600 ...). Intervals start on the local wall clock grid.",
    )
    occupancy_reset: ClockTime = Field(
        time(4, 0),
        title="Occupancy reset time",
        description="Local time each day at which occupancy (ins minus outs) is reset to 0, to stop "
        "miscounts accumulating; pick a time the shop is closed.",
    )

    @field_validator("length")
    @classmethod
    def _divides_hour(cls, value: float) -> float:
        if not value.is_integer() or not 1 <= value <= 3600 or 3600 % int(value):
            raise ValueError(
                f"interval length must be whole seconds from 1 to 3600 that divide an hour evenly "
                f"(e.g. 60, 300, 900, 1800, 3600), got {value:g}"
            )
        return value


class StoreConfig(BaseModel):
    """The local SQLite store that keeps every interval until the broker has acknowledged it."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    path: Path = Field(
        Path("/var/lib/footfall-agent"),
        title="Data directory",
        description="Directory for the database (`footfall.db`); created if missing. Use an absolute path.",
    )
    retention_days: int = Field(
        90,
        ge=1,
        title="Retention",
        description="Days to keep intervals that were already delivered; undelivered ones are kept longer.",
    )
    max_bytes: ByteSize = Field(
        256 * MIB,
        title="Size limit",
        description="Upper bound on the database size (at least 1MiB). When reached, the oldest delivered "
        "intervals go first; only then the oldest undelivered ones (logged, and counted).",
    )
    checkpoint: Duration = Field(
        5,
        gt=0,
        title="Checkpoint period",
        description="How often the open interval is saved, i.e. how many seconds of counts a power cut "
        "can lose at most.",
    )

    @field_validator("path")
    @classmethod
    def _a_directory_on_storage(cls, value: Path) -> Path:
        """Refused here, not at the first write: `run` would exit 1 and systemd restart it in a loop."""
        for candidate in (value.absolute(), value.resolve()):
            if len(candidate.parts) > 1 and candidate.parts[1] in KERNEL_FILE_SYSTEMS:
                raise ValueError(
                    f"{value} is under /{candidate.parts[1]}, a kernel file system, not storage: give a directory "
                    "on a disk, such as /var/lib/footfall-agent"
                )
        if value.exists() and not value.is_dir():
            raise ValueError(f"{value} is a file, not a directory: the store is a directory that holds footfall.db")
        return value

    @field_validator("max_bytes")
    @classmethod
    def _at_least_a_mib(cls, value: int) -> int:
        if value < MIB:
            raise ValueError(f"max_bytes must be at least 1MiB (1048576 bytes), got {value}")
        return value


class HomeAssistantConfig(BaseModel):
    """Home Assistant MQTT discovery: the agent announces itself as one device with entities per sensor."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = Field(
        True,
        title="Enabled",
        description="Publish retained discovery configs so Home Assistant creates the entities by itself. "
        "Turning it off on a running agent removes the entities it announced.",
    )
    discovery_prefix: str = Field(
        "homeassistant",
        min_length=1,
        title="Discovery prefix",
        description="Home Assistant's discovery prefix (its MQTT integration setting); configs go to "
        "`<prefix>/<component>/footfall_<site>_<device>/<object>/config`, and `<prefix>/status` is watched "
        "for Home Assistant restarts.",
    )

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix_usable(cls, value: str) -> str:
        if value != value.strip("/") or any(c in value for c in "+#\0"):
            raise ValueError("discovery_prefix must not contain + or # nor start or end with /")
        return value


class HealthConfig(BaseModel):
    """The retained health report (`<topic_prefix>/health`): uptime, sources, CPU, disk, backlog."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    period: Duration = Field(
        60,
        ge=1,
        title="Report period",
        description="How often the health report is published (and the `systemctl status` line renewed).",
    )


def valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _hostname_id() -> str:
    """This machine's short host name made into a valid id."""
    name = socket.gethostname().split(".", 1)[0]
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name).lstrip("-_")[:64].rstrip("-_")
    return cleaned or "device"


def _defaults_if_empty(value: Any) -> Any:
    """An empty section (all lines commented out) reads as null in YAML: treat it as all defaults."""
    return {} if value is None else value


ANOMALY_MIN_INTERVAL_S = 60
"""Shortest interval length anomaly scoring runs at (see `AgentConfig.anomaly`)."""


class AgentConfig(BaseModel):
    """One agent on one box: where it is, how it buckets counts, where it keeps and sends them, what it reads."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    site: str = Field(
        pattern=ID_PATTERN,
        title="Site",
        description="Id of the shop or building (letters, digits, `_`, `-`); part of topics and message ids.",
    )
    device: str = Field(
        default_factory=_hostname_id,
        pattern=ID_PATTERN,
        title="Device",
        description="Id of this box within the site; unset: the machine's host name made into a valid id.",
    )
    timezone: str = Field(
        "UTC",
        title="Time zone",
        description="IANA time zone of the site, e.g. `Europe/Berlin`; intervals and the occupancy reset "
        "follow its wall clock, including daylight saving changes.",
    )
    intervals: IntervalConfig = Field(
        default_factory=IntervalConfig, title="Intervals", description="Interval settings (see `intervals`)."
    )
    store: StoreConfig = Field(
        default_factory=StoreConfig, title="Store", description="Local storage settings (see `store`)."
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig, title="MQTT", description="Broker settings (see `mqtt`).")
    homeassistant: HomeAssistantConfig = Field(
        default_factory=HomeAssistantConfig,
        title="Home Assistant",
        description="Home Assistant MQTT discovery (see `homeassistant`).",
    )
    health: HealthConfig = Field(
        default_factory=HealthConfig, title="Health", description="Health report settings (see `health`)."
    )
    anomaly: AnomalySettings = Field(
        default_factory=AnomalySettings,
        title="Anomaly detection",
        description="Expected counts, z-scores, traffic anomalies and sensor faults (see `anomaly`). Scoring "
        "needs intervals of at least 1 minute: shorter ones hold too few people for a z-score and would need a "
        "profile slot per second of the week. With shorter intervals scoring is off (one info line at start); "
        "`enabled: true` set explicitly is then an error.",
    )
    sensors: list[SensorConfig] = Field(
        min_length=1,
        title="Sensors",
        description="The counters this agent reads, at least one; each has a `type` (see the sensor sections) "
        "and a unique `id`.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", title="Log level", description="Least severe log messages written: `debug`, `info`, `warning`, `error`."
    )

    _sections_default = field_validator(
        "intervals", "store", "mqtt", "homeassistant", "health", "anomaly", mode="before"
    )(_defaults_if_empty)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not valid_timezone(value):
            hint = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            suggestion = f"; did you mean {hint[0]}?" if hint else "; use an IANA name such as Europe/Berlin or UTC"
            raise ValueError(f"unknown time zone {value!r}{suggestion}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_lowercase(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("sensors")
    @classmethod
    def _unique_ids(cls, value: list[Any]) -> list[Any]:
        first: dict[str, int] = {}
        for index, sensor in enumerate(value):
            if sensor.id in first:
                raise PydanticCustomError(
                    "duplicate_sensor_id",
                    "duplicate sensor id '{id}' (already used by sensors[{first}])",
                    {"id": sensor.id, "first": first[sensor.id], "index": index},
                )
            first[sensor.id] = index
        zones = zone_names(value)
        for object_id, owner, other in object_id_clashes(zones):
            sensor_id, _, zone = other.partition("/")
            index = first[sensor_id]
            where = [index, "counting", "zones", zones[sensor_id].index(zone), "name"] if zone else [index, "id"]
            raise PydanticCustomError(
                "entity_id_clash",
                "{this} would have the same Home Assistant entity id '{object_id}' as {that}: rename one",
                {"this": _owner(other), "that": _owner(owner), "object_id": object_id, "at": where},
            )
        return value

    @field_validator("anomaly")
    @classmethod
    def _anomaly_needs_minutes(cls, value: AnomalySettings, info: ValidationInfo) -> AnomalySettings:
        """Only an explicit `enabled: true` is refused; left at its default, scoring is just off (see the field)."""
        intervals = info.data.get("intervals")
        short = intervals is not None and intervals.length < ANOMALY_MIN_INTERVAL_S
        if short and value.enabled and "enabled" in value.model_fields_set:
            raise PydanticCustomError(
                "anomaly_short_interval",
                "anomaly scoring needs intervals of at least {minimum} s, intervals.length is {length} s: "
                "remove this line or set it to false",
                {"minimum": ANOMALY_MIN_INTERVAL_S, "length": f"{intervals.length:g}"},
            )
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def scores_anomalies(self) -> bool:
        """Whether closed intervals are scored: `anomaly.enabled`, and intervals long enough for it."""
        return self.anomaly.enabled and self.intervals.length >= ANOMALY_MIN_INTERVAL_S


def zone_names(sensors: Iterable[Any]) -> dict[str, list[str]]:
    """Zone names per sensor id (none for serial sensors): each zone is a Home Assistant entity of its own."""
    return {
        sensor.id: [zone.name for zone in sensor.counting.zones] if isinstance(sensor, CameraSensorConfig) else []
        for sensor in sensors
    }


def _owner(owner: str) -> str:
    """'sensor door' or "zone 'queue' of sensor door", from discovery's `<sensor>[/<zone>]`."""
    sensor, _, zone = owner.partition("/")
    return f"zone '{zone}' of sensor '{sensor}'" if zone else f"sensor '{sensor}'"
