"""Home Assistant MQTT discovery: the retained config messages that make each agent appear as a device.

Pure: builds (topic, payload) pairs; the runtime publishes them retained. Conventions followed:

- Topic `<prefix>/<component>/<node_id>/<object_id>/config`, node and object ids in `[A-Za-z0-9_-]`.
  The node id is `footfall_<site>_<device>`; object ids are `<sensor>_<metric>` for per-sensor entities
  and `agent_<metric>` for the device's own diagnostics (no per-sensor metric is named like a device one,
  and no two metrics end alike, so the ids cannot collide).
- A camera's zones get an occupancy entity each, object id `<sensor>_zone_<zone>_occupancy`. Sensor ids and
  zone names may contain '_', so two of these, or one and a sensor's own entity, could coincide (sensor `a`
  with zone `b` against a sensor named `a_zone_b`); `object_id_clashes()` finds them, and the config refuses
  them.
- `unique_id` is `footfall:<site>:<device>:<sensor>:<metric>` (`agent` in place of the sensor for device
  entities; `zone:<zone>:occupancy` as the metric of a zone): ':' cannot occur in an id, so it is
  unambiguous. `default_entity_id` proposes `<component>.footfall_<site>_<device>_<sensor>_<metric>`
  (Home Assistant 2025.10+; older versions ignore it and derive the entity id from the device and entity
  names).
- One device per agent (`identifiers: ["footfall:<site>:<device>"]`, model, software version); every
  entity is bound to the agent's retained status topic for availability.
- An empty retained config deletes an entity; `reconcile()` emits those for the entities of sensors and
  zones removed from the config, and `stale_configs()` finds leftovers among retained configs seen on the
  broker after a restart. A config under our node id that names another device belongs to another agent
  whose ids join to the same node id (`config_device()`): it is left alone, and the clash reported.

Entities read a retained per-sensor state topic (`SensorState`) and the retained health topic, so Home
Assistant shows current values right after it restarts, not after the next interval.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_PREFIX = "homeassistant"
BIRTH_PAYLOAD = b"online"
"""What Home Assistant publishes on `<prefix>/status` when it (re)starts: the cue to republish configs."""

ONLINE = "online"
OFFLINE = "offline"
SCHEMA_VERSION = 1

_ID_CHARS = re.compile(r"^[A-Za-z0-9_-]+$")

Component = Literal["sensor", "binary_sensor"]


# -- the per-sensor state that dashboards read


class LastInterval(BaseModel):
    """The most recently closed interval, for "latest interval" entities."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    start: str = Field(title="Start", description="Interval start, ISO-8601 local time with UTC offset.")
    end: str = Field(title="End", description="Interval end (exclusive), ISO-8601 local time with UTC offset.")
    ins: int = Field(ge=0, title="Ins", description="People who entered during the interval.")
    outs: int = Field(ge=0, title="Outs", description="People who left during the interval.")
    coverage: float = Field(ge=0, le=1, title="Coverage", description="Share of the interval the source delivered.")


class SensorState(BaseModel):
    """Retained snapshot of one sensor on `<prefix>/sensors/<sensor>/state`.

    Published when an interval closes and, rate-limited, when occupancy or the source state changes; a
    dashboard that connects late reads it at once instead of waiting for the next interval.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid", title="Sensor state")

    schema_version: int = Field(SCHEMA_VERSION, title="Schema version", description="Bumped on incompatible changes.")
    site: str = Field(title="Site", description="Site id from the config.")
    device: str = Field(title="Device", description="Device id from the config.")
    sensor: str = Field(title="Sensor", description="Sensor id from the config.")
    ts: float = Field(title="Time (epoch)", description="When this snapshot was taken, Unix seconds.")
    at: str = Field(title="Time", description="When this snapshot was taken, ISO-8601 local time with UTC offset.")
    source_up: bool = Field(title="Source up", description="Whether the source is currently delivering data.")
    occupancy: int = Field(ge=0, title="Occupancy", description="People inside now (reset daily).")
    zone_occupancy: dict[str, int] | None = Field(
        None,
        title="Zone occupancy",
        description="Camera sensors: people inside each zone now, by zone name, as the camera last saw them; "
        "null for other sensors.",
    )
    day_start: str = Field(
        title="Day start",
        description="Start of the counting day (the last daily occupancy reset), ISO-8601 local time.",
    )
    ins_today: int = Field(ge=0, title="Ins today", description="People who entered since `day_start`.")
    outs_today: int = Field(ge=0, title="Outs today", description="People who left since `day_start`.")
    last_interval: LastInterval | None = Field(
        None, title="Last interval", description="The latest closed interval; null until one has closed."
    )
    z: float | None = Field(
        None,
        title="Anomaly z-score",
        description="z-score of the latest closed interval's ins against the learned weekly profile; "
        "null during warm-up.",
    )
    anomaly: bool = Field(False, title="Anomaly", description="The latest closed interval is a traffic anomaly.")
    fault: str | None = Field(
        None,
        title="Fault",
        description="Why the sensor looks broken (`source-down`, `no-data`, `stuck-zero`, `flat-line`), "
        "null when it looks fine.",
    )


# -- Home Assistant discovery payloads


class HaDevice(BaseModel):
    """The `device` block: ties every entity of one agent to one Home Assistant device."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    identifiers: list[str]
    name: str
    manufacturer: str
    model: str
    sw_version: str


class HaOrigin(BaseModel):
    """The `origin` block: which software published the config, shown in Home Assistant's logs."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: str
    sw_version: str


class HaAvailability(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    topic: str
    payload_available: str = ONLINE
    payload_not_available: str = OFFLINE


class HaEntity(BaseModel):
    """Options shared by every MQTT entity we announce."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    name: str
    unique_id: str
    default_entity_id: str
    device: HaDevice
    origin: HaOrigin
    availability: list[HaAvailability]
    state_topic: str
    value_template: str
    json_attributes_topic: str | None = None
    json_attributes_template: str | None = None
    icon: str | None = None
    entity_category: Literal["diagnostic"] | None = None
    device_class: str | None = None


class HaSensor(HaEntity):
    state_class: Literal["measurement", "total", "total_increasing"] | None = None
    unit_of_measurement: str | None = None
    suggested_display_precision: int | None = None


class HaBinarySensor(HaEntity):
    payload_on: str = "ON"
    payload_off: str = "OFF"


@dataclass(frozen=True)
class Metric:
    """One entity kind: how its value is read and how Home Assistant should treat it."""

    key: str
    component: Component
    label: str
    template: str
    state_class: Literal["measurement", "total", "total_increasing"] | None = None
    unit: str | None = None
    device_class: str | None = None
    icon: str | None = None
    diagnostic: bool = False
    precision: int | None = None
    attributes: str | None = None
    uid: str | None = None
    """The metric's part of the unique id, if not `key` (which must fit an object id)."""


_LAST = "value_json.last_interval"
_LAST_ATTRS = "{{ (value_json.last_interval or {}) | tojson }}"

SENSOR_METRICS: tuple[Metric, ...] = (
    Metric(
        "ins_today",
        "sensor",
        "ins today",
        "{{ value_json.ins_today }}",
        "total_increasing",
        "people",
        icon="mdi:account-arrow-right",
        attributes="{{ {'day_start': value_json.day_start} | tojson }}",
    ),
    Metric(
        "outs_today",
        "sensor",
        "outs today",
        "{{ value_json.outs_today }}",
        "total_increasing",
        "people",
        icon="mdi:account-arrow-left",
        attributes="{{ {'day_start': value_json.day_start} | tojson }}",
    ),
    Metric(
        "occupancy",
        "sensor",
        "occupancy",
        "{{ value_json.occupancy }}",
        "measurement",
        "people",
        icon="mdi:account-group",
        attributes="{{ (value_json.zone_occupancy or {}) | tojson }}",
    ),
    Metric(
        "interval_ins",
        "sensor",
        "ins last interval",
        f"{{{{ {_LAST}.ins if {_LAST} else None }}}}",
        "measurement",
        "people",
        icon="mdi:account-arrow-right",
        attributes=_LAST_ATTRS,
    ),
    Metric(
        "interval_outs",
        "sensor",
        "outs last interval",
        f"{{{{ {_LAST}.outs if {_LAST} else None }}}}",
        "measurement",
        "people",
        icon="mdi:account-arrow-left",
        attributes=_LAST_ATTRS,
    ),
    Metric(
        "anomaly_z",
        "sensor",
        "anomaly z-score",
        "{{ value_json.z }}",
        "measurement",
        icon="mdi:chart-bell-curve",
        precision=1,
        attributes="{{ {'anomaly': value_json.anomaly} | tojson }}",
    ),
    Metric(
        "fault",
        "binary_sensor",
        "fault",
        "{{ 'ON' if value_json.fault else 'OFF' }}",
        device_class="problem",
        diagnostic=True,
        attributes="{{ {'fault': value_json.fault, 'source_up': value_json.source_up} | tojson }}",
    ),
)

AGENT_METRICS: tuple[Metric, ...] = (
    Metric(
        "outbox_depth",
        "sensor",
        "unsent messages",
        "{{ value_json.outbox.depth }}",
        "measurement",
        "messages",
        icon="mdi:tray-full",
        diagnostic=True,
    ),
    Metric(
        "outbox_age",
        "sensor",
        "oldest unsent message age",
        "{{ value_json.outbox.oldest_age_s | default(0) }}",
        "measurement",
        "s",
        device_class="duration",
        diagnostic=True,
        precision=0,
    ),
    Metric(
        "store_used",
        "sensor",
        "store size",
        "{{ value_json.store.used_bytes }}",
        "measurement",
        "B",
        device_class="data_size",
        diagnostic=True,
    ),
    Metric(
        "load",
        "sensor",
        "CPU load",
        "{{ value_json.system.load_1m | default(None) }}",
        "measurement",
        icon="mdi:gauge",
        diagnostic=True,
        precision=2,
    ),
)

TEMPERATURE_METRIC = Metric(
    "cpu_temperature",
    "sensor",
    "CPU temperature",
    "{{ value_json.system.cpu_temperature_c | default(None) }}",
    "measurement",
    "°C",
    device_class="temperature",
    diagnostic=True,
    precision=1,
)

AGENT_ENTITY = "agent"


def zone_metric(zone: str) -> Metric:
    """The occupancy entity of one camera zone, read from the sensor state's `zone_occupancy`."""
    return Metric(
        f"zone_{zone}_occupancy",
        "sensor",
        f"zone {zone} occupancy",
        f"{{{{ (value_json.zone_occupancy or {{}}).get('{zone}') }}}}",
        "measurement",
        "people",
        icon="mdi:account-group-outline",
        uid=f"zone:{zone}:occupancy",
    )


def sensor_metrics(zones: Iterable[str] = ()) -> tuple[Metric, ...]:
    """The entities of one sensor: the common ones, then one per zone of a camera."""
    return (*SENSOR_METRICS, *(zone_metric(zone) for zone in zones))


def object_id_clashes(zones_by_sensor: Mapping[str, Sequence[str]]) -> list[tuple[str, str, str]]:
    """(object id, first owner, second owner) for every entity object id two owners would share; an owner is
    `<sensor>` or `<sensor>/<zone>`. Empty for any config without '_zone_' in its names."""
    owners: dict[str, str] = {}
    clashes = []
    for sensor, zones in zones_by_sensor.items():
        for owner, keys in [(sensor, [m.key for m in SENSOR_METRICS])] + [
            (f"{sensor}/{zone}", [zone_metric(zone).key]) for zone in zones
        ]:
            for key in keys:
                object_id = f"{sensor}_{key}"
                if object_id in owners and owners[object_id] != owner:
                    clashes.append((object_id, owners[object_id], owner))
                owners.setdefault(object_id, owner)
    return clashes


@dataclass(frozen=True)
class AgentDevice:
    """What discovery needs to know about one running agent."""

    site: str
    device: str
    sw_version: str
    status_topic: str
    health_topic: str
    temperature: bool = False
    """Whether the platform reports a CPU temperature (no entity is announced that would stay unknown)."""
    name: str | None = None
    model: str = "footfall-agent"
    manufacturer: str = "footfall-agent"

    @property
    def node_id(self) -> str:
        return f"footfall_{self.site}_{self.device}"

    @property
    def identifier(self) -> str:
        return f"footfall:{self.site}:{self.device}"

    def agent_metrics(self) -> tuple[Metric, ...]:
        return (*AGENT_METRICS, TEMPERATURE_METRIC) if self.temperature else AGENT_METRICS


def birth_topic(prefix: str = DEFAULT_PREFIX) -> str:
    """Where Home Assistant announces itself; subscribe and republish configs on `BIRTH_PAYLOAD`."""
    return f"{_check_prefix(prefix)}/status"


def config_filter(device: AgentDevice, prefix: str = DEFAULT_PREFIX) -> str:
    """Subscription matching every retained config of this agent, to find stale ones after a restart."""
    return f"{_check_prefix(prefix)}/+/{_check_id(device.node_id)}/+/config"


def config_topic(
    device: AgentDevice, component: Component, entity: str, metric: str, prefix: str = DEFAULT_PREFIX
) -> str:
    object_id = f"{entity}_{metric}"
    return f"{_check_prefix(prefix)}/{component}/{_check_id(device.node_id)}/{_check_id(object_id)}/config"


def unique_id(device: AgentDevice, entity: str, metric: str) -> str:
    return f"{device.identifier}:{entity}:{metric}"


def entity_config(device: AgentDevice, entity: str, metric: Metric, state_topic: str) -> HaSensor | HaBinarySensor:
    """The discovery config of one entity; `entity` is a sensor id or `agent` for device diagnostics."""
    label = metric.label if entity == AGENT_ENTITY else f"{entity} {metric.label}"
    slug = _slug(f"footfall_{device.site}_{device.device}_{entity}_{metric.key}")
    common = {
        "name": label,
        "unique_id": unique_id(device, entity, metric.uid or metric.key),
        "default_entity_id": f"{metric.component}.{slug}",
        "device": HaDevice(
            identifiers=[device.identifier],
            name=device.name or f"Footfall {device.site} {device.device}",
            manufacturer=device.manufacturer,
            model=device.model,
            sw_version=device.sw_version,
        ),
        "origin": HaOrigin(name="footfall-agent", sw_version=device.sw_version),
        "availability": [HaAvailability(topic=device.status_topic)],
        "state_topic": state_topic,
        "value_template": metric.template,
        "json_attributes_topic": state_topic if metric.attributes else None,
        "json_attributes_template": metric.attributes,
        "icon": metric.icon,
        "entity_category": "diagnostic" if metric.diagnostic else None,
        "device_class": metric.device_class,
    }
    if metric.component == "binary_sensor":
        return HaBinarySensor(**common)
    return HaSensor(
        **common,
        state_class=metric.state_class,
        unit_of_measurement=metric.unit,
        suggested_display_precision=metric.precision,
    )


def discovery_messages(
    device: AgentDevice,
    sensor_state_topics: Mapping[str, str],
    prefix: str = DEFAULT_PREFIX,
    zones: Mapping[str, Sequence[str]] | None = None,
) -> list[tuple[str, bytes]]:
    """Every config for the agent's device entities and for each sensor (id -> its state topic), with an
    occupancy entity per zone of the sensors in `zones` (id -> zone names)."""
    out: list[tuple[str, bytes]] = []
    for metric in device.agent_metrics():
        config = entity_config(device, AGENT_ENTITY, metric, device.health_topic)
        out.append((config_topic(device, metric.component, AGENT_ENTITY, metric.key, prefix), _encode(config)))
    for sensor, state_topic in sensor_state_topics.items():
        for metric in sensor_metrics((zones or {}).get(sensor, ())):
            config = entity_config(device, sensor, metric, state_topic)
            out.append((config_topic(device, metric.component, sensor, metric.key, prefix), _encode(config)))
    return out


def reconcile(
    device: AgentDevice,
    sensor_state_topics: Mapping[str, str],
    previous: Iterable[tuple[str, bytes]] = (),
    prefix: str = DEFAULT_PREFIX,
    zones: Mapping[str, Sequence[str]] | None = None,
) -> list[tuple[str, bytes]]:
    """Configs for the current sensors and zones, then deletions for every entity of the `previous`
    announcement that is gone (a sensor removed, a zone removed or renamed)."""
    current = discovery_messages(device, sensor_state_topics, prefix, zones)
    announced = {topic for topic, _ in current}
    gone = sorted({topic for topic, payload in previous if payload} - announced)
    return current + [(topic, b"") for topic in gone]


def stale_configs(
    device: AgentDevice, seen: Iterable[str], current: Iterable[tuple[str, bytes]], prefix: str = DEFAULT_PREFIX
) -> list[tuple[str, bytes]]:
    """Deletions for retained configs of this agent (seen via `config_filter`) that are no longer announced.

    Covers what `reconcile` cannot: a sensor removed from the YAML while the agent was stopped.
    """
    mine = re.compile(
        rf"^{re.escape(_check_prefix(prefix))}/[a-z_]+/{re.escape(device.node_id)}/[A-Za-z0-9_-]+/config$"
    )
    keep = {topic for topic, payload in current if payload}
    return [(topic, b"") for topic in sorted(set(seen)) if mine.match(topic) and topic not in keep]


def config_device(payload: bytes) -> str | None:
    """The device identifier a retained discovery config belongs to (None if it names none).

    Node ids join site and device with '_', which both may contain: two agents can share one (site `a_b`
    with device `c`, site `a` with device `b_c`). Their configs still name different devices, and an agent
    must neither take the other's for stale ones nor stay silent about the clash."""
    try:
        identifiers = json.loads(payload)["device"]["identifiers"]
    except (ValueError, KeyError, TypeError):
        return None
    return identifiers[0] if isinstance(identifiers, list) and identifiers and isinstance(identifiers[0], str) else None


def _encode(config: BaseModel) -> bytes:
    return config.model_dump_json(exclude_none=True).encode()


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_]+", "_", text.lower()).strip("_")


def _check_prefix(prefix: str) -> str:
    if not prefix or prefix != prefix.strip("/") or any(c in prefix for c in "#+\0"):
        raise ValueError(f"invalid discovery prefix {prefix!r}: no wildcards, no leading or trailing '/'")
    return prefix


def _check_id(value: str) -> str:
    if not _ID_CHARS.match(value):
        raise ValueError(f"{value!r} is not usable in a discovery topic (only letters, digits, '_' and '-')")
    return value
