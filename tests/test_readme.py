"""The README is the front door: keep its commands, reference and examples true."""

from __future__ import annotations

import json
import re
from pathlib import Path

from agent.config import reference_markdown
from agent.payloads import IntervalPayload
from agent.topics import Topics

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


def test_example_payload_is_valid_and_consistent() -> None:
    block = README.split("<!-- example-interval-payload -->\n```json\n", 1)[1].split("```", 1)[0]
    payload = IntervalPayload.model_validate(json.loads(block))
    assert payload.id == f"{payload.site}/{payload.device}/{payload.sensor}/{payload.start}"


def test_topic_tree_matches_the_code() -> None:
    topics = Topics.for_device("footfall/{site}/{device}", "<site>", "<device>")
    assert f"`{topics.status}`" in README
    assert f"`{topics.interval('<sensor>')}`" in README
