"""Home Assistant discovery configs: topics, ids, device and entity options, templates, removal."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from agent import __version__
from agent.mqtt.discovery import (
    AGENT_METRICS,
    SENSOR_METRICS,
    AgentDevice,
    LastInterval,
    SensorState,
    birth_topic,
    config_device,
    config_filter,
    discovery_messages,
    object_id_clashes,
    reconcile,
    stale_configs,
)

PREFIX = "footfall/store-042/door-1"
DEVICE = AgentDevice(
    site="store-042",
    device="door-1",
    sw_version=__version__,
    status_topic=f"{PREFIX}/status",
    health_topic=f"{PREFIX}/health",
)
SENSORS = {"entrance": f"{PREFIX}/sensors/entrance/state", "side_door": f"{PREFIX}/sensors/side_door/state"}

# Home Assistant's discovery topic pattern: <prefix>/<component>/[<node_id>/]<object_id>/config.
HA_TOPIC = re.compile(
    r"^(?P<prefix>[^#+]+?)/(?P<component>\w+)/(?:(?P<node_id>[a-zA-Z0-9_-]+)/)?(?P<object_id>[a-zA-Z0-9_-]+)/config$"
)
SENSOR_STATE_CLASSES = {"measurement", "total", "total_increasing"}


def configs(messages: list[tuple[str, bytes]]) -> dict[str, dict[str, Any]]:
    return {topic: json.loads(payload) for topic, payload in messages}


def test_topics_follow_the_discovery_pattern_under_one_node() -> None:
    messages = discovery_messages(DEVICE, SENSORS)
    per_entity = len(AGENT_METRICS) + len(SENSOR_METRICS) * len(SENSORS)
    assert len(messages) == len({t for t, _ in messages}) == per_entity
    for topic, _ in messages:
        m = HA_TOPIC.match(topic)
        assert m, topic
        assert m["prefix"] == "homeassistant"
        assert m["component"] in ("sensor", "binary_sensor")
        assert m["node_id"] == "footfall_store-042_door-1"
    assert "homeassistant/sensor/footfall_store-042_door-1/entrance_ins_today/config" in dict(messages)
    assert "homeassistant/binary_sensor/footfall_store-042_door-1/side_door_fault/config" in dict(messages)
    assert "homeassistant/sensor/footfall_store-042_door-1/agent_outbox_depth/config" in dict(messages)


def test_every_entity_has_a_unique_id_and_one_shared_device() -> None:
    docs = configs(discovery_messages(DEVICE, SENSORS, prefix="ha"))
    unique_ids = [doc["unique_id"] for doc in docs.values()]
    assert len(set(unique_ids)) == len(unique_ids)
    assert "footfall:store-042:door-1:entrance:ins_today" in unique_ids
    devices = {json.dumps(doc["device"], sort_keys=True) for doc in docs.values()}
    assert len(devices) == 1
    device = json.loads(devices.pop())
    assert device == {
        "identifiers": ["footfall:store-042:door-1"],
        "name": "Footfall store-042 door-1",
        "manufacturer": "footfall-agent",
        "model": "footfall-agent",
        "sw_version": __version__,
    }
    for topic, doc in docs.items():
        component = topic.split("/")[1]
        assert re.fullmatch(rf"{component}\.[a-z0-9_]+", doc["default_entity_id"]), doc["default_entity_id"]
        assert doc["origin"] == {"name": "footfall-agent", "sw_version": __version__}
        assert doc["availability"] == [
            {"topic": f"{PREFIX}/status", "payload_available": "online", "payload_not_available": "offline"}
        ]
        assert not doc["name"].startswith("Footfall"), "entity names must not repeat the device name"
        assert None not in doc.values(), "unset options are left out, not sent as null"


def test_entity_classes_match_what_the_values_are() -> None:
    docs = configs(discovery_messages(DEVICE, {"entrance": SENSORS["entrance"]}))
    by_object = {topic.split("/")[-2]: doc for topic, doc in docs.items()}
    assert by_object["entrance_ins_today"]["state_class"] == "total_increasing"
    assert by_object["entrance_outs_today"]["state_class"] == "total_increasing"
    assert by_object["entrance_occupancy"]["state_class"] == "measurement"
    assert by_object["entrance_interval_ins"]["state_class"] == "measurement"
    assert by_object["entrance_anomaly_z"]["state_class"] == "measurement"
    fault = by_object["entrance_fault"]
    assert fault["device_class"] == "problem" and fault["entity_category"] == "diagnostic"
    assert (fault["payload_on"], fault["payload_off"]) == ("ON", "OFF")
    assert "state_class" not in fault
    for name, doc in by_object.items():
        if "state_class" in doc:
            assert doc["state_class"] in SENSOR_STATE_CLASSES
        expected_topic = SENSORS["entrance"] if name.startswith("entrance_") else f"{PREFIX}/health"
        assert doc["state_topic"] == expected_topic
        if "json_attributes_template" in doc:
            assert doc["json_attributes_topic"] == doc["state_topic"]
    assert by_object["agent_outbox_age"]["device_class"] == "duration"
    assert by_object["agent_outbox_age"]["unit_of_measurement"] == "s"
    assert "agent_cpu_temperature" not in by_object, "no temperature entity where the platform has no sensor"
    with_temp = configs(discovery_messages(AgentDevice(**{**DEVICE.__dict__, "temperature": True}), {}))
    temp = next(doc for topic, doc in with_temp.items() if topic.endswith("/agent_cpu_temperature/config"))
    assert temp["device_class"] == "temperature" and temp["unit_of_measurement"] == "°C"


def state(**overrides: Any) -> SensorState:
    values: dict[str, Any] = {
        "site": "store-042",
        "device": "door-1",
        "sensor": "entrance",
        "ts": 1774771200.0,
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
        "anomaly": False,
        "fault": None,
    }
    values.update(overrides)
    return SensorState(**values)


HEALTH = {
    "outbox": {"depth": 3, "oldest_age_s": 12.5},
    "store": {"used_bytes": 40960},
    "system": {"load_1m": 0.17, "cpu_temperature_c": 48.2},
}


def test_value_templates_render_the_state_as_home_assistant_would() -> None:
    jinja2 = pytest.importorskip("jinja2")
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)

    def render(doc: dict[str, Any], payload: dict[str, Any], key: str = "value_template") -> str:
        return env.from_string(doc[key]).render(value_json=payload)

    device = AgentDevice(**{**DEVICE.__dict__, "temperature": True})
    docs = {
        t.split("/")[-2]: d for t, d in configs(discovery_messages(device, {"entrance": SENSORS["entrance"]})).items()
    }
    full = json.loads(state().model_dump_json())
    fresh = json.loads(state(last_interval=None, z=None, fault="source-down", source_up=False).model_dump_json())
    expected_full = {
        "entrance_ins_today": "400",
        "entrance_outs_today": "389",
        "entrance_occupancy": "11",
        "entrance_interval_ins": "42",
        "entrance_interval_outs": "39",
        "entrance_anomaly_z": "-1.25",
        "entrance_fault": "OFF",
    }
    # Home Assistant takes a template result of "None" as unknown.
    expected_fresh = {
        **expected_full,
        "entrance_interval_ins": "None",
        "entrance_interval_outs": "None",
        "entrance_anomaly_z": "None",
        "entrance_fault": "ON",
    }
    for name, value in expected_full.items():
        assert render(docs[name], full) == value, name
        assert render(docs[name], fresh) == expected_fresh[name], name
    assert json.loads(render(docs["entrance_interval_ins"], full, "json_attributes_template"))["ins"] == 42
    assert json.loads(render(docs["entrance_interval_ins"], fresh, "json_attributes_template")) == {}
    assert json.loads(render(docs["entrance_fault"], fresh, "json_attributes_template")) == {
        "fault": "source-down",
        "source_up": False,
    }
    assert json.loads(render(docs["entrance_occupancy"], full, "json_attributes_template")) == {}
    camera = json.loads(state(zone_occupancy={"queue": 2, "window": 0}).model_dump_json())
    assert render(docs["entrance_occupancy"], camera) == "11"
    assert json.loads(render(docs["entrance_occupancy"], camera, "json_attributes_template")) == {
        "queue": 2,
        "window": 0,
    }
    assert render(docs["agent_outbox_depth"], HEALTH) == "3"
    assert render(docs["agent_outbox_age"], HEALTH) == "12.5"
    assert render(docs["agent_outbox_age"], {**HEALTH, "outbox": {"depth": 0}}) == "0"
    assert render(docs["agent_store_used"], HEALTH) == "40960"
    assert render(docs["agent_cpu_temperature"], HEALTH) == "48.2"
    assert render(docs["agent_cpu_temperature"], {**HEALTH, "system": {}}) == "None"


def test_removed_sensor_gets_empty_configs_for_every_entity() -> None:
    before = discovery_messages(DEVICE, SENSORS, zones={"side_door": ["queue"]})
    after = reconcile(DEVICE, {"entrance": SENSORS["entrance"]}, previous=before)
    emptied = {topic for topic, payload in after if payload == b""}
    side_door_topics = {topic for topic, _ in before if "/side_door_" in topic}
    assert emptied == side_door_topics and len(emptied) == len(SENSOR_METRICS) + 1
    announced = {topic for topic, payload in after if payload}
    assert announced == {topic for topic, _ in before} - side_door_topics
    assert reconcile(DEVICE, SENSORS, previous=after) == discovery_messages(DEVICE, SENSORS), "nothing more to delete"


ZONE_TOPIC = "homeassistant/sensor/footfall_store-042_door-1/entrance_zone_{}_occupancy/config"


def test_each_zone_of_a_camera_gets_an_occupancy_entity_and_loses_it_with_the_zone() -> None:
    jinja2 = pytest.importorskip("jinja2")
    zones = {"entrance": ["queue", "till-2"]}
    messages = discovery_messages(DEVICE, SENSORS, zones=zones)
    docs = configs(messages)
    assert len(docs) == len(discovery_messages(DEVICE, SENSORS)) + 2
    queue = docs[ZONE_TOPIC.format("queue")]
    assert queue["unique_id"] == "footfall:store-042:door-1:entrance:zone:queue:occupancy"
    assert queue["name"] == "entrance zone queue occupancy"
    assert queue["default_entity_id"] == "sensor.footfall_store_042_door_1_entrance_zone_queue_occupancy"
    assert (queue["state_topic"], queue["state_class"], queue["unit_of_measurement"]) == (
        SENSORS["entrance"],
        "measurement",
        "people",
    )
    env = jinja2.Environment(undefined=jinja2.StrictUndefined)
    seen = json.loads(state(zone_occupancy={"queue": 3, "till-2": 0}).model_dump_json())
    for zone, value in (("queue", "3"), ("till-2", "0")):
        assert env.from_string(docs[ZONE_TOPIC.format(zone)]["value_template"]).render(value_json=seen) == value
    for unseen in (json.loads(state().model_dump_json()), json.loads(state(zone_occupancy={}).model_dump_json())):
        assert env.from_string(queue["value_template"]).render(value_json=unseen) == "None", "unknown, not a made-up 0"

    after = reconcile(DEVICE, SENSORS, previous=messages, zones={"entrance": ["queue"]})
    assert [topic for topic, payload in after if not payload] == [ZONE_TOPIC.format("till-2")]
    assert ZONE_TOPIC.format("queue") in {topic for topic, payload in after if payload}


@pytest.mark.parametrize(
    ("zones", "clashes"),
    [
        ({"door": ["queue"], "side": ["queue"]}, []),
        ({"a": ["b"], "a_zone_b": []}, [("a_zone_b_occupancy", "a/b", "a_zone_b")]),
        ({"a_zone_b": [], "a": ["b"]}, [("a_zone_b_occupancy", "a_zone_b", "a/b")]),
        ({"a": ["x_zone_y"], "a_zone_x": ["y"]}, [("a_zone_x_zone_y_occupancy", "a/x_zone_y", "a_zone_x/y")]),
        ({"a": ["b_c"], "a_b": ["c"]}, []),
    ],
)
def test_entity_object_ids_that_two_owners_would_share_are_found(
    zones: dict[str, list[str]], clashes: list[tuple[str, str, str]]
) -> None:
    assert object_id_clashes(zones) == clashes
    if not clashes:
        topics = [topic for topic, _ in discovery_messages(DEVICE, dict.fromkeys(zones, "t"), zones=zones)]
        assert len(topics) == len(set(topics))


def test_stale_configs_found_among_retained_ones_after_a_restart() -> None:
    current = discovery_messages(DEVICE, {"entrance": SENSORS["entrance"]})
    old = discovery_messages(DEVICE, SENSORS)
    other_agent = discovery_messages(AgentDevice(**{**DEVICE.__dict__, "device": "door-2"}), SENSORS)
    seen = [t for t, _ in old] + [t for t, _ in other_agent] + ["homeassistant/light/kitchen/config"]
    stale = stale_configs(DEVICE, seen, current)
    assert {t for t, _ in stale} == {t for t, _ in old if "/side_door_" in t}
    assert all(payload == b"" for _, payload in stale)
    assert config_filter(DEVICE) == "homeassistant/+/footfall_store-042_door-1/+/config"
    assert birth_topic("ha") == "ha/status"


def test_a_retained_config_names_the_device_it_belongs_to() -> None:
    (_, ours), *_ = discovery_messages(DEVICE, SENSORS)
    assert config_device(ours) == "footfall:store-042:door-1"
    one = AgentDevice(**{**DEVICE.__dict__, "site": "a_b", "device": "c"})
    other = AgentDevice(**{**DEVICE.__dict__, "site": "a", "device": "b_c"})
    assert one.node_id == other.node_id, "ids joined by '_' coincide"
    assert config_device(discovery_messages(one, SENSORS)[0][1]) == "footfall:a_b:c"
    assert config_device(discovery_messages(other, SENSORS)[0][1]) == "footfall:a:b_c"
    for payload in (b"", b"not json", b"{}", b'{"device": {"identifiers": []}}', b"[1]"):
        assert config_device(payload) is None


@pytest.mark.parametrize("prefix", ["", "/homeassistant", "homeassistant/", "home/#", "ha+x"])
def test_unusable_discovery_prefix_is_refused(prefix: str) -> None:
    with pytest.raises(ValueError):
        discovery_messages(DEVICE, SENSORS, prefix=prefix)


def test_sensor_state_round_trips_and_rejects_unknown_fields() -> None:
    s = state()
    assert SensorState.model_validate_json(s.model_dump_json()) == s
    with pytest.raises(ValueError):
        SensorState.model_validate({**json.loads(s.model_dump_json()), "extra": 1})
