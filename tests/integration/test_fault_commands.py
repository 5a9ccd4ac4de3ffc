"""Fault: hostile traffic on the command topic of a real agent process, through a real Mosquitto.

Every command gets one answer with its id, one bad command never costs the others theirs, a flood is
answered `busy` rather than dropped, and huge payloads do not leave the agent's memory high.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from agent.mqtt.commands import CommandResponse
from tests.integration.agent_process import wait_until
from tests.integration.conftest import AgentProcess, Broker, Subscriber, agent_config

PREFIX = "footfall/test/d1"
FLOOD = 20_000
HUGE = 50
HUGE_BYTES = 10 * 1024 * 1024
RSS_GROWTH_LIMIT = 4 * 1024 * 1024
"""Resident memory the agent may keep after the huge payloads have gone. Issue 13 saw 59 MB stay; with glibc's
self-adjusting mmap threshold 5 MB stayed in most runs and 40-50 MB in one of four; with the threshold fixed
(agent.runtime.allocator), 0.1 MB."""


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Commander:
    """Publishes commands and collects the answers by id."""

    def __init__(self, broker: Broker) -> None:
        self.sub = Subscriber(broker, f"{PREFIX}/command/response", "fault-commands")
        self.client = mqtt.Client(callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id="fault-sender")
        self.client.max_inflight_messages_set(0)
        self.client.max_queued_messages_set(0)
        self.client.connect(broker.host, broker.port, keepalive=30)
        self.client.loop_start()

    def send(self, payload: bytes) -> mqtt.MQTTMessageInfo:
        return self.client.publish(f"{PREFIX}/command", payload, qos=1)

    def answers(self) -> list[CommandResponse]:
        return [CommandResponse.model_validate_json(p) for _, p, _ in self.sub.snapshot()]

    def by_id(self) -> dict[str | None, list[CommandResponse]]:
        out: dict[str | None, list[CommandResponse]] = {}
        for answer in self.answers():
            out.setdefault(answer.id, []).append(answer)
        return out

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        self.sub.close()


@pytest.fixture
def agent(tmp_path: Path, broker: Broker) -> Iterator[AgentProcess]:
    config = agent_config(
        tmp_path,
        broker=broker,
        sensors="  - id: sim\n    type: simulated\n    seed: 3\n",
        extra="homeassistant:\n  enabled: false\n",
    )
    process = AgentProcess(config, tmp_path / "agent.log")
    try:
        assert process.wait_for_log("MQTT connected"), process.log_text()
        yield process
        assert process.proc.poll() is None, "the agent died"
        assert "Traceback" not in process.log_text().split("command could not be parsed")[0]
        assert process.stop() == 0
    finally:
        process.kill()


@pytest.fixture
def commander(broker: Broker, agent: AgentProcess) -> Iterator[Commander]:
    c = Commander(broker)
    try:
        time.sleep(0.5)  # the agent's subscription is in place since it said it connected; the sender's too
        yield c
    finally:
        c.close()


def test_a_deeply_nested_payload_is_answered_and_costs_the_next_command_nothing(
    agent: AgentProcess, commander: Commander
) -> None:
    """Issue 13: `"[" * 4000` raised RecursionError and the valid commands of the same tick went unanswered."""
    commander.send(b"[" * 4000)
    commander.send(b'{"id": "after", "command": "health"}')
    commander.send(json.dumps({"id": "past", "command": "republish", "since": -1e17, "until": 5}).encode())
    assert wait_until(lambda: len(commander.answers()) == 3, 30), agent.log_text()
    answers = commander.by_id()
    assert answers[None][0].error is not None and answers[None][0].error.code == "invalid_json"
    assert answers["after"][0].ok
    refused = answers["past"][0]
    assert refused.error is not None and refused.error.code == "invalid" and "since" in refused.error.message


def test_a_flood_is_answered_command_by_command(agent: AgentProcess, commander: Commander) -> None:
    """Issue 13: of 100,000 `health` commands at 10,000/s, 14,853 were answered and the rest dropped silently."""
    started = time.monotonic()
    infos = [commander.send(json.dumps({"id": f"f-{i}", "command": "health"}).encode()) for i in range(FLOOD)]
    for info in infos:
        info.wait_for_publish(60)
    assert wait_until(lambda: len(commander.answers()) >= FLOOD, 120), f"{len(commander.answers())} answers"
    answers = commander.by_id()
    assert set(answers) == {f"f-{i}" for i in range(FLOOD)}, "every command is answered, with its id"
    assert all(len(a) == 1 for a in answers.values()), "exactly one answer each"
    codes = [a[0].error.code if a[0].error else "ok" for a in answers.values()]
    assert set(codes) <= {"ok", "busy"} and codes.count("ok") >= 1
    print(f"{FLOOD} commands: {codes.count('ok')} ok, {codes.count('busy')} busy, {time.monotonic() - started:.1f} s")


def test_huge_payloads_are_refused_by_id_and_memory_comes_back(agent: AgentProcess, commander: Commander) -> None:
    """Issue 13: 50 x 10 MB payloads raised RSS from 46 to 119 MB and it stayed at 105 MB; answers had `id: null`."""
    before = rss(agent.proc.pid)
    pad = b"x" * HUGE_BYTES
    for i in range(HUGE):
        commander.send(b'{"id": "huge-%d", "command": "health", "pad": "' % i + pad + b'"}').wait_for_publish(60)
    assert wait_until(lambda: len(commander.answers()) >= HUGE, 120), agent.log_text()[-2000:]
    answers = commander.by_id()
    assert set(answers) == {f"huge-{i}" for i in range(HUGE)}
    assert all(a[0].error is not None and a[0].error.code == "too_large" for a in answers.values())
    time.sleep(1.0)
    after = rss(agent.proc.pid)
    print(f"RSS before {before / 2**20:.1f} MiB, after {HUGE} x {HUGE_BYTES / 2**20:.0f} MiB: {after / 2**20:.1f} MiB")
    assert after - before < RSS_GROWTH_LIMIT
