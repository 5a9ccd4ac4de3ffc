"""Remote commands: validation before action, one correlated answer per message, errors that change nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from agent.mqtt.commands import (
    MAX_COMMAND_BYTES,
    CommandError,
    CommandFailed,
    CommandResponse,
    HealthCommand,
    ReloadCommand,
    RepublishCommand,
    ResetOccupancyCommand,
    busy_response,
    dispatch,
    parse_command,
)

SENSORS = {"entrance", "side"}
NOW = 1774771200.0


class RecordingHandler:
    """Implements the handler protocol by recording what it was asked to do."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.fail = fail

    def _act(self, *call: Any) -> dict[str, Any]:
        self.calls.append(call)
        if self.fail is not None:
            raise self.fail
        return {"did": call[0]}

    def reload(self) -> dict[str, Any]:
        return self._act("reload")

    def reset_occupancy(self, sensor: str) -> dict[str, Any]:
        return self._act("reset_occupancy", sensor)

    def publish_health(self) -> dict[str, Any]:
        return self._act("health")

    def republish(self, since: float, until: float, sensor: str | None) -> dict[str, Any]:
        return self._act("republish", since, until, sensor)


def raw(**doc: Any) -> bytes:
    return json.dumps(doc).encode()


def test_each_command_parses_to_its_model() -> None:
    assert parse_command(raw(id="1", command="reload")) == ReloadCommand(id="1", command="reload")
    assert parse_command(raw(id="2", command="health")) == HealthCommand(id="2", command="health")
    assert parse_command(raw(id="3", command="reset_occupancy", sensor="side"), SENSORS) == ResetOccupancyCommand(
        id="3", command="reset_occupancy", sensor="side"
    )
    cmd = parse_command(raw(id="4", command="republish", since="2026-03-29T00:00:00+02:00", until=1774821600))
    assert isinstance(cmd, RepublishCommand)
    assert (cmd.since, cmd.until, cmd.sensor) == (1774735200.0, 1774821600.0, None)


@pytest.mark.parametrize(
    ("payload", "code", "cid", "words"),
    [
        (b"{not json", "invalid_json", None, "not JSON"),
        (b"\xff\xfe", "invalid_json", None, "not JSON"),
        (b"[1, 2]", "invalid", None, "JSON object"),
        (raw(id="a"), "invalid", "a", "missing 'command'"),
        (raw(id="a", command="format_disk"), "unknown_command", "a", "unknown command 'format_disk'"),
        (raw(command="reload"), "invalid", None, "id: Field required"),
        (raw(id="has space", command="reload"), "invalid", "has space", "id:"),
        (raw(id="a", command="reload", force=True), "invalid", "a", "force: Extra inputs"),
        (raw(id="a", command="reset_occupancy"), "invalid", "a", "sensor: Field required"),
        (raw(id="a", command="reset_occupancy", sensor="garage"), "invalid", "a", "unknown sensor 'garage'"),
        (raw(id="a", command="reset_occupancy", sensor="../x"), "invalid", "a", "sensor:"),
        (raw(id="a", command="republish", since=10, until=5), "invalid", "a", "until must be after since"),
        (raw(id="a", command="republish", since=0, until=40 * 86400), "invalid", "a", "longer than 31 days"),
        (raw(id="a", command="republish", since="2026-03-29T00:00:00", until=1), "invalid", "a", "UTC offset"),
        (raw(id="a", command="republish", since="yesterday", until=1), "invalid", "a", "since:"),
        (raw(id="a", command="republish", since=True, until=5), "invalid", "a", "since:"),
        (b'{"id": "a", "command": "republish", "since": NaN, "until": 5}', "invalid", "a", "finite"),
        (raw(id="a", command="republish", since=0, until=5, sensor="garage"), "invalid", "a", "unknown sensor"),
        (b" " * (MAX_COMMAND_BYTES + 1), "too_large", None, "larger than"),
        (
            b'{"id": "big-1", "command": "health", "pad": "' + b"x" * MAX_COMMAND_BYTES + b'"}',
            "too_large",
            "big-1",
            "larger",
        ),
        (b"[" * 4000, "invalid_json", None, "nested too deeply"),
        (
            b'{"id": "deep", "command": "health", "x": ' + b"[" * 2000 + b"]" * 2000 + b"}",
            "invalid_json",
            "deep",
            "deep",
        ),
        (raw(id="a", command="republish", since=-1e17, until=5), "invalid", "a", "since:"),
        (raw(id="a", command="republish", since=1e17, until=1e17 + 5), "invalid", "a", "since:"),
    ],
    ids=lambda v: repr(v)[:48] if isinstance(v, bytes) else None,
)
def test_invalid_payloads_are_refused_without_calling_anything(
    payload: bytes, code: str, cid: str | None, words: str
) -> None:
    parsed = parse_command(payload, SENSORS)
    assert isinstance(parsed, CommandError)
    assert (parsed.code, parsed.id) == (code, cid)
    assert words in parsed.message
    handler = RecordingHandler()
    response = dispatch(payload, handler, NOW, SENSORS)
    assert handler.calls == []
    assert not response.ok and response.result is None
    assert response.error is not None and response.error.code == code
    assert response.id == cid


def test_valid_commands_reach_the_handler_and_answer_with_the_same_id() -> None:
    handler = RecordingHandler()
    answers = [
        dispatch(raw(id="r1", command="reload"), handler, NOW, SENSORS),
        dispatch(raw(id="r2", command="reset_occupancy", sensor="entrance"), handler, NOW, SENSORS),
        dispatch(raw(id="r3", command="health"), handler, NOW, SENSORS),
        dispatch(raw(id="r4", command="republish", since=100, until=200, sensor="side"), handler, NOW, SENSORS),
    ]
    assert handler.calls == [
        ("reload",),
        ("reset_occupancy", "entrance"),
        ("health",),
        ("republish", 100.0, 200.0, "side"),
    ]
    assert [(a.id, a.command, a.ok, a.error) for a in answers] == [
        ("r1", "reload", True, None),
        ("r2", "reset_occupancy", True, None),
        ("r3", "health", True, None),
        ("r4", "republish", True, None),
    ]
    assert answers[1].result == {"did": "reset_occupancy"}
    wire = json.loads(answers[3].to_json())
    assert wire == {
        "id": "r4",
        "command": "republish",
        "ok": True,
        "result": {"did": "republish"},
        "error": None,
        "ts": NOW,
    }
    assert CommandResponse.model_validate(wire) == answers[3]


def test_handler_failures_become_error_answers() -> None:
    refused = dispatch(raw(id="x", command="reload"), RecordingHandler(CommandFailed("config.yaml: line 3: bad")), NOW)
    assert not refused.ok and refused.error is not None
    assert (refused.id, refused.error.code, refused.error.message) == ("x", "failed", "config.yaml: line 3: bad")
    crashed = dispatch(raw(id="y", command="health"), RecordingHandler(KeyError("boom")), NOW)
    assert not crashed.ok and crashed.error is not None
    assert (crashed.id, crashed.error.code) == ("y", "internal") and "KeyError" in crashed.error.message


def test_sensor_ids_are_not_checked_without_a_sensor_list() -> None:
    assert isinstance(parse_command(raw(id="a", command="reset_occupancy", sensor="garage")), ResetOccupancyCommand)


def test_the_id_of_a_command_too_large_to_keep_is_read_from_its_head() -> None:
    """Issue 13: an oversize command's answer had `id: null`; the agent keeps only its head (see Inbox)."""
    head = b'{"id": "huge-7", "command": "reload", "pad": "xxxx'
    response = dispatch(head, RecordingHandler(), NOW, SENSORS, size=10_000_000)
    assert (response.id, response.command, response.ok) == ("huge-7", "reload", False)
    assert response.error is not None and response.error.code == "too_large"


def test_a_busy_answer_carries_the_id() -> None:
    answer = busy_response(b'{"id": "h-99", "command": "health"}', NOW)
    assert (answer.id, answer.command, answer.ok) == ("h-99", "health", False)
    assert answer.error is not None and answer.error.code == "busy"
