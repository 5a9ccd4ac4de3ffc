"""The README is the front door: keep its commands, reference and examples true."""

from __future__ import annotations

import json
import re
from pathlib import Path

from agent.config.reference import reference_markdown
from agent.mqtt.commands import CommandResponse, RepublishCommand, parse_command
from agent.mqtt.discovery import AgentDevice, SensorState, config_topic
from agent.mqtt.payloads import AnomalyEventPayload, IntervalPayload
from agent.mqtt.topics import Topics
from agent.runtime.health import HealthPayload

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_config_reference_is_generated_from_the_schema() -> None:
    section = README.split("<!-- config-reference:start -->\n", 1)[1].split("<!-- config-reference:end -->", 1)[0]
    assert section == reference_markdown(), "README reference is stale: run `footfall-agent schema --markdown`"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    test_command = next(c for c in commands if "pytest" in c)
    runner = test_command.split("&&")[-1].strip()
    assert runner in ci.splitlines(), f"CI does not run the README's test command {runner!r}"
    for package in ("mosquitto", "socat"):
        assert package in test_command and package in ci


def example(name: str) -> bytes:
    return README.split(f"<!-- example-{name}-payload -->\n```json\n", 1)[1].split("```", 1)[0].encode()


def test_example_payload_is_valid_and_consistent() -> None:
    payload = IntervalPayload.model_validate(json.loads(example("interval")))
    assert payload.id == f"{payload.site}/{payload.device}/{payload.sensor}/{payload.start}"
    assert payload.anomaly is not None


def test_camera_example_payload_is_valid_and_consistent() -> None:
    doc = json.loads(example("camera-interval"))
    payload = IntervalPayload.model_validate(doc)
    assert payload.id == f"{payload.site}/{payload.device}/{payload.sensor}/{payload.start}"
    assert payload.lines is not None and payload.zones is not None
    assert (payload.ins, payload.outs) == (
        sum(c.ins for c in payload.lines.values()),
        sum(c.outs for c in payload.lines.values()),
    )
    assert json.loads(payload.model_dump_json()) == doc, "the example is what the agent sends"
    assert json.loads(example("interval")).get("lines") is None, "the serial example has no lines"


def test_example_anomaly_event_is_valid_and_consistent() -> None:
    event = AnomalyEventPayload.model_validate_json(example("anomaly"))
    kind = event.fault or event.kind
    assert event.id == f"{event.site}/{event.device}/{event.sensor}/{event.metric}/{kind}/{event.start}/{event.phase}"


def test_state_health_and_command_examples_are_valid() -> None:
    state = SensorState.model_validate_json(example("state"))
    assert state.last_interval is not None and state.ins_today >= state.last_interval.ins
    health = HealthPayload.model_validate_json(example("health"))
    assert health.outbox.depth > 0 and health.outbox.oldest_age_s is not None
    command = parse_command(example("command"))
    assert isinstance(command, RepublishCommand)
    response = CommandResponse.model_validate_json(example("response"))
    assert (response.id, response.command, response.ok) == (command.id, command.command, True)
    assert response.result is not None
    assert (response.result["since"], response.result["until"]) == (command.since, command.until)


def test_topic_tree_matches_the_code() -> None:
    topics = Topics.for_device("footfall/{site}/{device}", "<site>", "<device>")
    assert f"`{topics.status}`" in README
    assert f"`{topics.interval('<sensor>')}`" in README
    assert f"`{topics.state('<sensor>')}`" in README
    assert f"`{topics.anomaly('<sensor>')}`" in README
    assert f"`{topics.health}`" in README
    assert f"`{topics.command}`" in README
    assert f"`{topics.command_response}`" in README
    row = "homeassistant/<component>/footfall_<site>_<device>/<object>/config"
    assert f"`{row}`" in README
    device = AgentDevice("store-042", "door-1", "0", topics.status, topics.health)
    assert config_topic(device, "sensor", "main", "ins_today") == row.replace("<component>", "sensor").replace(
        "<site>", "store-042"
    ).replace("<device>", "door-1").replace("<object>", "main_ins_today")


def test_yaml_examples_in_the_readme_are_valid_configs() -> None:
    from agent.config.loader import parse_config

    blocks = [b for b in re.findall(r"```yaml\n(.*?)```", README, re.S) if "sensors:" in b]
    assert blocks, "the README shows no config example"
    for block in blocks:
        parse_config("site: readme\ndevice: example\n" + block, "README.md")
