"""Remote commands through a real Mosquitto to a real agent process counting from a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agent.mqtt.commands import CommandResponse
from tests.integration.conftest import AgentProcess, Broker, PtyPair, Subscriber, agent_config, read_intervals

PREFIX = "footfall/test/d1"


@dataclass
class Running:
    agent: AgentProcess
    sub: Subscriber
    fd: int
    db: Path

    def write(self, text: str) -> None:
        os.write(self.fd, text.encode())

    def command(self, payload: bytes | dict[str, Any], timeout: float = 10.0) -> CommandResponse:
        """Send one command and wait for the next answer on the response topic."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        seen = len(self.responses())
        self.sub.client.publish(f"{PREFIX}/command", data, qos=1).wait_for_publish(5)
        assert self.sub.wait_for(lambda: len(self.responses()) > seen, timeout), self.agent.log_text()
        return self.responses()[seen]

    def responses(self) -> list[CommandResponse]:
        return [CommandResponse.model_validate_json(p) for p in self.raw(f"{PREFIX}/command/response")]

    def raw(self, topic: str) -> list[bytes]:
        return [p for t, p, _ in self.sub.snapshot() if t == topic]

    def states(self) -> list[dict[str, Any]]:
        return [json.loads(p) for p in self.raw(f"{PREFIX}/sensors/door/state") if p]

    def intervals(self) -> list[bytes]:
        return self.raw(f"{PREFIX}/sensors/door/interval")

    def next_state(self, after: float, timeout: float = 10.0) -> dict[str, Any]:
        assert self.sub.wait_for(lambda: any(s["ts"] > after for s in self.states()), timeout)
        return next(s for s in self.states() if s["ts"] > after)


@pytest.fixture
def running(tmp_path: Path, broker: Broker, pty_pair: PtyPair) -> Iterator[Running]:
    config = agent_config(
        tmp_path, broker=broker, sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n"
    )
    sub = Subscriber(broker, f"{PREFIX}/#", "commands-test")
    agent = AgentProcess(config, tmp_path / "agent.log")
    fd = pty_pair.open_peer()
    run = Running(agent, sub, fd, tmp_path / "data" / "footfall.db")
    try:
        assert sub.wait_for(lambda: len(run.intervals()) >= 1, 15), agent.log_text()
        yield run
        assert agent.stop() == 0
    finally:
        os.close(fd)
        agent.kill()
        sub.close()


def test_commands_round_trip_with_their_correlation_ids(running: Running) -> None:
    running.write("IN\r\n" * 5)
    assert running.sub.wait_for(lambda: any(s["occupancy"] == 5 for s in running.states()), 10)

    health = running.command({"id": "h-1", "command": "health"})
    assert (health.id, health.command, health.ok) == ("h-1", "health", True)
    reports = [json.loads(p) for p in running.raw(f"{PREFIX}/health")]
    assert running.sub.wait_for(
        lambda: any(json.loads(p)["ts"] == health.result["ts"] for p in running.raw(f"{PREFIX}/health")), 5
    ), "the fresh health report did not arrive"
    assert reports, "a health report is published at start"

    reset = running.command({"id": "r-1", "command": "reset_occupancy", "sensor": "door"})
    assert (reset.id, reset.ok, reset.result) == ("r-1", True, {"sensor": "door", "previous": 5})
    state = running.next_state(reset.ts - 0.001)
    assert state["occupancy"] == 0 and state["ins_today"] == 5, "the reset changes occupancy, not the counts"
    running.write("IN\r\n")
    assert running.sub.wait_for(
        lambda: any(json.loads(p)["ins"] == 1 and json.loads(p)["occupancy"] == 1 for p in running.intervals()), 10
    ), "the next interval did not start from occupancy 0"

    stored = read_intervals(running.db)
    since = min(start for _, start in stored)
    until = max(start for _, start in stored) + 1
    before = len(running.intervals())
    again = running.command({"id": "b-1", "command": "republish", "since": since, "until": until})
    assert (again.id, again.ok, again.result["intervals"]) == ("b-1", True, len(stored))
    assert running.sub.wait_for(lambda: len(running.intervals()) >= before + len(stored), 10)
    resent = running.intervals()[before:]
    assert set(stored.values()) <= set(resent), "republished intervals must be the stored bytes, unchanged"

    reload = running.command({"id": "l-1", "command": "reload"})
    assert (reload.id, reload.ok, reload.result["changed"]) == ("l-1", True, False)
    assert all(r.id for r in running.responses()), "every answer carries its command's id"


def test_malformed_and_unknown_commands_get_an_error_and_change_nothing(running: Running) -> None:
    running.write("IN\r\n" * 3)
    assert running.sub.wait_for(lambda: any(s["occupancy"] == 3 for s in running.states()), 10)
    bad: list[tuple[bytes | dict[str, Any], str, str | None]] = [
        (b"{not json", "invalid_json", None),
        ({"id": "u-1", "command": "format_disk"}, "unknown_command", "u-1"),
        ({"id": "s-1", "command": "reset_occupancy", "sensor": "garage"}, "invalid", "s-1"),
        ({"id": "p-1", "command": "republish", "since": 0, "until": -5}, "invalid", "p-1"),
        ({"id": "x-1", "command": "reload", "force": True}, "invalid", "x-1"),
        ({"id": "o-1", "command": "reset_occupancy"}, "invalid", "o-1"),
    ]
    sent = time.time()
    for payload, code, cid in bad:
        answer = running.command(payload)
        assert not answer.ok and answer.result is None
        assert answer.error is not None and (answer.error.code, answer.id) == (code, cid), answer
    later = running.next_state(time.time() + 1.0)
    assert later["occupancy"] == 3 and later["ins_today"] == 3, "a refused command changed the counts"
    assert len(running.responses()) == len(bad)
    ids = [json.loads(p)["id"] for p in running.intervals()]
    assert len(ids) == len(set(ids)), "an interval was re-sent: a refused republish acted"
    assert running.sub.wait_for(lambda: len(running.intervals()) == len(read_intervals(running.db)), 5), (
        "more messages than closed intervals: something was queued"
    )
    log = running.agent.log_text()
    assert "config reloaded" not in log and "reload rejected" not in log and "occupancy reset" not in log
    assert log.count("command refused") == len(bad)
    assert all(r.ts >= sent for r in running.responses())


def test_a_retained_command_is_not_carried_out_again_after_a_reconnect(running: Running, broker: Broker) -> None:
    reset = {"id": "k-1", "command": "reset_occupancy", "sensor": "door"}
    running.write("IN\r\n" * 2)
    assert running.sub.wait_for(lambda: any(s["occupancy"] == 2 for s in running.states()), 10)
    answer = running.command(reset)
    assert answer.ok and answer.id == "k-1"
    # Published retained while the agent listens: it arrives as a live command and is carried out once.
    running.sub.client.publish(f"{PREFIX}/command", json.dumps(reset), qos=1, retain=True).wait_for_publish(5)
    assert running.sub.wait_for(lambda: len(running.responses()) == 2, 10)
    running.write("IN\r\n" * 4)
    assert running.sub.wait_for(lambda: running.states()[-1]["occupancy"] == 4, 10)
    answers = len(running.responses())
    broker.stop()
    broker.start()  # the agent's new session gets the retained command delivered as retained
    assert running.sub.wait_for(lambda: "ignoring a retained message" in running.agent.log_text(), 15)
    later = running.next_state(time.time() + 1.0)
    assert later["occupancy"] == 4, "the retained command was carried out again"
    assert len(running.responses()) == answers
