"""Home Assistant discovery from a real agent process, read back by real subscribers from a real Mosquitto."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt

from agent import __version__
from agent.mqtt.discovery import SensorState
from agent.runtime.health import HealthPayload
from tests.integration.conftest import AgentProcess, Broker, Subscriber, agent_config
from tests.integration.mosquitto import retained_messages

try:  # Home Assistant's template engine; not a dependency of the agent, so its checks are optional
    import jinja2
except ImportError:  # pragma: no cover - depends on the environment
    jinja2 = None

PREFIX = "footfall/test/d1"
NODE = "footfall_test_d1"
# Home Assistant's discovery topic: <discovery_prefix>/<component>/[<node_id>/]<object_id>/config.
HA_TOPIC = re.compile(
    r"^homeassistant/(?P<component>sensor|binary_sensor)/(?P<node>[A-Za-z0-9_-]+)/"
    r"(?P<object>[A-Za-z0-9_-]+)/config$"
)
PER_SENSOR = {
    "ins_today": ("sensor", "total_increasing"),
    "outs_today": ("sensor", "total_increasing"),
    "occupancy": ("sensor", "measurement"),
    "interval_ins": ("sensor", "measurement"),
    "interval_outs": ("sensor", "measurement"),
    "anomaly_z": ("sensor", "measurement"),
    "fault": ("binary_sensor", None),
}


def quiet_door(sensor: str) -> str:
    """A simulated sensor that never counts anyone: discovery does not depend on traffic."""
    return f"  - id: {sensor}\n    type: simulated\n    peak_per_hour: 0\n"


def sensor_topics(sensor: str) -> set[str]:
    return {
        f"homeassistant/{component}/{NODE}/{sensor}_{metric}/config" for metric, (component, _) in PER_SENSOR.items()
    }


def configs_of(messages: list[tuple[str, bytes, bool]]) -> dict[str, list[bytes]]:
    out: dict[str, list[bytes]] = {}
    for topic, payload, _ in messages:
        if topic.endswith("/config"):
            out.setdefault(topic, []).append(payload)
    return out


def render(template: str, value: dict[str, Any]) -> str:
    """A value template evaluated the way Home Assistant does (Jinja2, the payload as `value_json`)."""
    return jinja2.Environment(undefined=jinja2.StrictUndefined).from_string(template).render(value_json=value)


def check_conventions(topic: str, doc: dict[str, Any], states: dict[str, bytes]) -> None:
    m = HA_TOPIC.match(topic)
    assert m and m["node"] == NODE, topic
    assert doc["device"]["identifiers"] == ["footfall:test:d1"]
    assert (doc["device"]["model"], doc["device"]["sw_version"]) == ("footfall-agent", __version__)
    assert doc["availability"] == [
        {"topic": f"{PREFIX}/status", "payload_available": "online", "payload_not_available": "offline"}
    ]
    assert doc["unique_id"].startswith("footfall:test:d1:")
    assert doc["default_entity_id"].startswith(f"{m['component']}.")
    # The entity reads a retained topic the agent really publishes, and its template works on it.
    assert doc["state_topic"] in states, f"{topic}: nothing retained on {doc['state_topic']}"
    value = json.loads(states[doc["state_topic"]])
    if jinja2 is None:
        return
    rendered = render(doc["value_template"], value)
    if m["component"] == "binary_sensor":
        assert rendered in (doc["payload_on"], doc["payload_off"])
    elif doc.get("state_class") == "total_increasing":
        assert int(rendered) >= 0
    if "json_attributes_template" in doc:
        assert isinstance(json.loads(render(doc["json_attributes_template"], value)), dict)


def test_discovery_follows_home_assistant_conventions_birth_and_sensor_removal(tmp_path: Path, broker: Broker) -> None:
    live = Subscriber(broker, "homeassistant/#", "ha-live")
    config = agent_config(tmp_path, broker=broker, sensors=quiet_door("entrance") + quiet_door("side"))
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        wanted = sensor_topics("entrance") | sensor_topics("side")
        assert live.wait_for(lambda: wanted <= set(configs_of(live.snapshot())), 15), agent.log_text()
        time.sleep(0.5)
        retained = retained_messages(broker, "homeassistant/#")
        states = retained_messages(broker, f"{PREFIX}/#")
        assert wanted <= set(retained), "discovery configs must be retained"
        assert states[f"{PREFIX}/status"] == b"online"
        SensorState.model_validate_json(states[f"{PREFIX}/sensors/entrance/state"])
        HealthPayload.model_validate_json(states[f"{PREFIX}/health"])
        docs = {topic: json.loads(payload) for topic, payload in retained.items()}
        assert len({doc["unique_id"] for doc in docs.values()}) == len(docs)
        assert len({json.dumps(doc["device"], sort_keys=True) for doc in docs.values()}) == 1, "one device"
        for topic, doc in docs.items():
            check_conventions(topic, doc, states)
        for sensor in ("entrance", "side"):
            for metric, (component, state_class) in PER_SENSOR.items():
                doc = docs[f"homeassistant/{component}/{NODE}/{sensor}_{metric}/config"]
                assert doc.get("state_class") == state_class, (sensor, metric)
                assert doc["state_topic"] == f"{PREFIX}/sensors/{sensor}/state"
            assert docs[f"homeassistant/binary_sensor/{NODE}/{sensor}_fault/config"]["device_class"] == "problem"
        agent_entities = [doc for topic, doc in docs.items() if f"/{NODE}/agent_" in topic]
        assert agent_entities and all(doc["state_topic"] == f"{PREFIX}/health" for doc in agent_entities)

        # Home Assistant restarted: its birth message makes the agent publish every config again.
        before = {topic: len(payloads) for topic, payloads in configs_of(live.snapshot()).items()}
        live.client.publish("homeassistant/status", b"online", qos=1).wait_for_publish(5)
        assert live.wait_for(
            lambda: all(len(configs_of(live.snapshot()).get(t, [])) > before[t] for t in retained), 10
        ), "configs were not republished after the birth message"

        # A sensor removed from the YAML, then `systemctl reload`: its entities are deleted.
        config.write_text(config.read_text().replace(quiet_door("side"), ""))
        agent.signal(signal.SIGHUP)
        gone = sensor_topics("side")
        assert live.wait_for(lambda: all(configs_of(live.snapshot()).get(t, [b"x"])[-1] == b"" for t in gone), 10), (
            agent.log_text()
        )
        after = retained_messages(broker, "homeassistant/#")
        assert not gone & set(after), "the removed sensor's configs are still retained"
        assert sensor_topics("entrance") <= set(after)
        assert f"{PREFIX}/sensors/side/state" not in retained_messages(broker, f"{PREFIX}/sensors/#")
        assert "config reloaded: removed side" in agent.log_text()
        assert agent.stop() == 0
    finally:
        agent.kill()
        live.close()


def test_sensor_removed_while_the_agent_was_stopped_loses_its_entities_at_the_next_start(
    tmp_path: Path, broker: Broker
) -> None:
    config = agent_config(tmp_path, broker=broker, sensors=quiet_door("entrance") + quiet_door("side"))
    first = AgentProcess(config, tmp_path / "agent.log")
    try:
        deadline = time.monotonic() + 15
        while not sensor_topics("side") <= set(retained_messages(broker, "homeassistant/#", settle=0.2)):
            assert time.monotonic() < deadline, first.log_text()
        assert first.stop() == 0
    finally:
        first.kill()
    assert retained_messages(broker, f"{PREFIX}/status") == {f"{PREFIX}/status": b"offline"}

    config.write_text(config.read_text().replace(quiet_door("side"), ""))
    second = AgentProcess(config, tmp_path / "agent.log")
    try:
        deadline = time.monotonic() + 15
        while sensor_topics("side") & set(retained := retained_messages(broker, "homeassistant/#", settle=0.2)):
            assert time.monotonic() < deadline, second.log_text()
        assert sensor_topics("entrance") <= set(retained)
        assert "removing Home Assistant entity" in second.log_text()
        assert second.stop() == 0
    finally:
        second.kill()


def test_discovery_prefix_is_configurable_and_can_be_turned_off(tmp_path: Path, broker: Broker) -> None:
    ha = "homeassistant:\n  discovery_prefix: ha/test\n"
    config = agent_config(tmp_path, broker=broker, sensors=quiet_door("entrance"), extra=ha)
    agent = AgentProcess(config, tmp_path / "agent.log")
    sender = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2)
    try:
        ours = "ha/test/sensor/footfall_test_d1/entrance_ins_today/config"
        deadline = time.monotonic() + 15
        while ours not in retained_messages(broker, "ha/test/#", settle=0.2):
            assert time.monotonic() < deadline, agent.log_text()
        assert retained_messages(broker, "homeassistant/#", settle=0.2) == {}
        config.write_text(config.read_text().replace(ha, "homeassistant:\n  enabled: false\n"))
        agent.signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while retained_messages(broker, "ha/test/#", settle=0.2):
            assert time.monotonic() < deadline, "turning discovery off did not remove the entities"
        # Off means off: Home Assistant's birth message no longer brings anything back.
        sender.connect(broker.host, broker.port)
        sender.loop_start()
        sender.publish("ha/test/status", b"online", qos=1).wait_for_publish(5)
        time.sleep(1.0)
        assert retained_messages(broker, "ha/test/#", settle=0.2) == {}
        assert agent.stop() == 0
    finally:
        sender.disconnect()
        sender.loop_stop()
        agent.kill()


def test_each_camera_zone_is_an_entity_and_a_zone_removed_by_reload_loses_it(tmp_path: Path, broker: Broker) -> None:
    """A camera whose source is not there yet (a down sensor is still announced): two zones, then one."""
    zone = "        - {{name: {}, points: [[0, 0], [100, 0], [100, 100]]}}\n"
    camera = (
        f"  - id: cam\n    type: camera\n    source: '{tmp_path / 'not-yet.mp4'}'\n    counting:\n"
        "      lines: [{name: door, points: [[0, 50], [100, 50]], in_point: [50, 90]}]\n      zones:\n"
    )
    config = agent_config(tmp_path, broker=broker, sensors=camera + zone.format("queue") + zone.format("till-2"))
    agent = AgentProcess(config, tmp_path / "agent.log")
    zone_topic = f"homeassistant/sensor/{NODE}/cam_zone_{{}}_occupancy/config"
    wanted = sensor_topics("cam") | {zone_topic.format("queue"), zone_topic.format("till-2")}
    try:
        deadline = time.monotonic() + 30
        while not wanted <= set(retained := retained_messages(broker, "homeassistant/#", settle=0.2)):
            assert time.monotonic() < deadline, agent.log_text()
        states = retained_messages(broker, f"{PREFIX}/#")
        queue = json.loads(retained[zone_topic.format("queue")])
        assert queue["unique_id"] == "footfall:test:d1:cam:zone:queue:occupancy"
        check_conventions(zone_topic.format("queue"), queue, states)

        config.write_text(config.read_text().replace(zone.format("till-2"), ""))
        agent.signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        while zone_topic.format("till-2") in (retained := retained_messages(broker, "homeassistant/#", settle=0.2)):
            assert time.monotonic() < deadline, agent.log_text()
        assert wanted - {zone_topic.format("till-2")} <= set(retained), "the other entities stay"
        assert agent.stop() == 0
    finally:
        agent.kill()


def test_two_agents_whose_ids_join_to_one_node_id_keep_each_others_entities_and_say_so(
    tmp_path: Path, broker: Broker
) -> None:
    """Site `a_b` with device `c` and site `a` with device `b_c` both make node id `footfall_a_b_c`. Neither may
    take the other's retained configs for its own stale ones and delete them."""
    node = "footfall_a_b_c"
    agents = []
    try:
        for site, device, sensor in (("a_b", "c", "door"), ("a", "b_c", "side")):
            (tmp_path / site).mkdir()
            config = agent_config(tmp_path / site, broker=broker, sensors=quiet_door(sensor))
            config.write_text(
                config.read_text().replace("site: test\ndevice: d1\n", f"site: {site}\ndevice: {device}\n")
            )
            agents.append(AgentProcess(config, tmp_path / site / "agent.log"))
            ours = f"homeassistant/sensor/{node}/{sensor}_ins_today/config"
            deadline = time.monotonic() + 15
            while ours not in retained_messages(broker, "homeassistant/#", settle=0.2):
                assert time.monotonic() < deadline, agents[-1].log_text()
        time.sleep(1.5)
        retained = retained_messages(broker, "homeassistant/#")
        for sensor, owner in (("door", "footfall:a_b:c"), ("side", "footfall:a:b_c")):
            topic = f"homeassistant/sensor/{node}/{sensor}_ins_today/config"
            assert topic in retained, f"{sensor}'s entities were deleted by the other agent"
            assert json.loads(retained[topic])["device"]["identifiers"] == [owner]
        for agent, other in zip(agents, ("footfall:a:b_c", "footfall:a_b:c"), strict=True):
            log = agent.log_text()
            assert f"Home Assistant discovery: {other}, another agent, announces entities under" in log, log
            assert log.count("another agent, announces") == 1, "said once, not for every config"
            assert "removing Home Assistant entity" not in log
        for agent in agents:
            assert agent.stop() == 0
    finally:
        for agent in agents:
            agent.kill()
