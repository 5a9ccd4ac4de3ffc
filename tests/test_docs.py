"""docs/ holds what the README leaves out; these keep it true: the configuration reference is generated from the
schema, the example payloads are what the agent sends, the topic tree is the code's, and every config shown loads."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agent.config.loader import parse_config
from agent.config.reference import reference_markdown
from agent.mqtt.commands import CommandResponse, RepublishCommand, parse_command
from agent.mqtt.discovery import AgentDevice, SensorState, config_topic
from agent.mqtt.payloads import AnomalyEventPayload, IntervalPayload
from agent.mqtt.topics import Topics
from agent.runtime.health import HealthPayload

DOCS = Path(__file__).resolve().parents[1] / "docs"
CONFIGURATION = (DOCS / "configuration.md").read_text()
MQTT = (DOCS / "mqtt.md").read_text()
ANOMALY = (DOCS / "anomaly.md").read_text()


def test_config_reference_is_generated_from_the_schema() -> None:
    section = CONFIGURATION.split("<!-- config-reference:start -->\n", 1)[1].split("<!-- config-reference:end -->")[0]
    assert section == reference_markdown(), "docs/configuration.md is stale: run `footfall-agent schema --markdown`"


def example(text: str, name: str) -> bytes:
    return text.split(f"<!-- example-{name}-payload -->\n```json\n", 1)[1].split("```", 1)[0].encode()


def test_example_payload_is_valid_and_consistent() -> None:
    payload = IntervalPayload.model_validate(json.loads(example(MQTT, "interval")))
    assert payload.id == f"{payload.site}/{payload.device}/{payload.sensor}/{payload.start}"
    assert payload.anomaly is not None


def test_camera_example_payload_is_valid_and_consistent() -> None:
    doc = json.loads(example(MQTT, "camera-interval"))
    payload = IntervalPayload.model_validate(doc)
    assert payload.id == f"{payload.site}/{payload.device}/{payload.sensor}/{payload.start}"
    assert payload.lines is not None and payload.zones is not None
    assert (payload.ins, payload.outs) == (
        sum(c.ins for c in payload.lines.values()),
        sum(c.outs for c in payload.lines.values()),
    )
    assert json.loads(payload.model_dump_json()) == doc, "the example is what the agent sends"
    assert json.loads(example(MQTT, "interval")).get("lines") is None, "the serial example has no lines"


def test_example_anomaly_event_is_valid_and_consistent() -> None:
    event = AnomalyEventPayload.model_validate_json(example(ANOMALY, "anomaly"))
    kind = event.fault or event.kind
    assert event.id == f"{event.site}/{event.device}/{event.sensor}/{event.metric}/{kind}/{event.start}/{event.phase}"


def test_state_health_and_command_examples_are_valid() -> None:
    state = SensorState.model_validate_json(example(MQTT, "state"))
    assert state.last_interval is not None and state.ins_today >= state.last_interval.ins
    health = HealthPayload.model_validate_json(example(MQTT, "health"))
    assert health.outbox.depth > 0 and health.outbox.oldest_age_s is not None
    command = parse_command(example(MQTT, "command"))
    assert isinstance(command, RepublishCommand)
    response = CommandResponse.model_validate_json(example(MQTT, "response"))
    assert (response.id, response.command, response.ok) == (command.id, command.command, True)
    assert response.result is not None
    assert (response.result["since"], response.result["until"]) == (command.since, command.until)


def test_topic_tree_matches_the_code() -> None:
    topics = Topics.for_device("footfall/{site}/{device}", "<site>", "<device>")
    for topic in (
        topics.status,
        topics.interval("<sensor>"),
        topics.state("<sensor>"),
        topics.anomaly("<sensor>"),
        topics.health,
        topics.command,
        topics.command_response,
    ):
        assert f"`{topic}`" in MQTT
    row = "homeassistant/<component>/footfall_<site>_<device>/<object>/config"
    assert f"`{row}`" in MQTT
    device = AgentDevice("store-042", "door-1", "0", topics.status, topics.health)
    assert config_topic(device, "sensor", "main", "ins_today") == row.replace("<component>", "sensor").replace(
        "<site>", "store-042"
    ).replace("<device>", "door-1").replace("<object>", "main_ins_today")


@pytest.mark.parametrize("document", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_config_examples_in_the_docs_load_without_warnings(document: Path) -> None:
    for block in re.findall(r"```yaml\n(.*?)```", document.read_text(), re.S):
        if "sensors:" in block:
            warnings: list[str] = []
            parse_config("site: docs\ndevice: example\n" + block, document.name, warnings=warnings)
            assert warnings == []


def test_the_replay_json_shown_is_the_shape_replay_prints() -> None:
    shown = json.loads((DOCS / "camera.md").read_text().split("```json\n", 1)[1].split("```", 1)[0].replace("\n ", " "))
    assert set(shown) == {"ins", "outs", "lines", "zones", "intervals"}
    assert set(shown["intervals"][0]) == {"start", "end", "ins", "outs", "lines", "zones"}
