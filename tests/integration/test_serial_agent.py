"""A serial counter through the whole agent: the gaps, reboots and garbage a real installation sees."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from tests.integration.conftest import AgentProcess, PtyPair, agent_config, read_intervals


def stored_payloads(tmp_path: Path) -> list[dict]:
    db = tmp_path / "data" / "footfall.db"
    payloads = [json.loads(p) for p in read_intervals(db).values()] if db.exists() else []
    return sorted(payloads, key=lambda p: p["start_ts"])


def wait_for_intervals(tmp_path: Path, n: int, timeout: float = 15) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        payloads = stored_payloads(tmp_path)
        if len(payloads) >= n:
            return payloads
        time.sleep(0.1)
    raise AssertionError(f"fewer than {n} intervals closed: {(tmp_path / 'agent.log').read_text()}")


def test_unplugged_adapter_shows_as_a_gap_and_counting_resumes(tmp_path: Path, pty_pair: PtyPair) -> None:
    config = agent_config(
        tmp_path,
        broker=None,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n"
        "    reconnect_min: 0.1s\n    reconnect_max: 0.5s\n",
    )
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        wait_for_intervals(tmp_path, 2)
        fd = pty_pair.open_peer()
        os.write(fd, b"IN 1\nIN 1\n")
        time.sleep(1.2)
        os.close(fd)
        pty_pair.unplug()
        unplugged = time.time()
        time.sleep(3.0)
        pty_pair.replug()
        replugged = time.time()
        time.sleep(1.5)
        fd = pty_pair.open_peer()
        os.write(fd, b"OUT 1\nIN 1\n")
        os.close(fd)
        time.sleep(2.5)
        assert agent.stop() == 0
    finally:
        agent.kill()
    payloads = stored_payloads(tmp_path)
    assert sum(p["ins"] for p in payloads) == 3 and sum(p["outs"] for p in payloads) == 1
    assert sum(p["disconnects"] for p in payloads) == 1
    inside_gap = [p for p in payloads if p["start_ts"] >= unplugged + 0.5 and p["start_ts"] + 1 <= replugged - 0.2]
    assert inside_gap and all(p["coverage"] == 0 for p in inside_gap), "the gap must show as zero coverage"
    after = [p for p in payloads if p["start_ts"] >= replugged + 1.5]
    assert after and after[-1]["coverage"] == 1.0, "coverage must return once the adapter is back"


def test_cumulative_counter_reboot_and_garbage(tmp_path: Path, pty_pair: PtyPair) -> None:
    config = agent_config(
        tmp_path,
        broker=None,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n    preset: cumulative-kv\n"
        "    counter_bits: 16\n",
    )
    agent = AgentProcess(config, tmp_path / "agent.log")
    fd = pty_pair.open_peer()
    try:
        wait_for_intervals(tmp_path, 1)
        lines = [
            b"in=65530,out=65000\n",  # baseline: nothing counted yet
            b"in=65534,out=65001\n",  # +4 / +1
            b"\xff\xfe garbage \x00\n",  # invalid UTF-8: counted and skipped
            b"in=40,out=45\n",  # 16-bit wrap-around: +42 / +580
            b"in=0,out=0\n",  # the device rebooted: held until the next reading confirms it
            b"in=5,out=2\n",  # ... which grows on from zero: counted from zero, +5 / +2, never negative
        ]
        for line in lines:
            os.write(fd, line)
            time.sleep(0.3)
        time.sleep(2.5)
        assert agent.stop() == 0
    finally:
        os.close(fd)
        agent.kill()
    payloads = stored_payloads(tmp_path)
    assert sum(p["ins"] for p in payloads) == 4 + 42 + 5
    assert sum(p["outs"] for p in payloads) == 1 + 580 + 2
    assert sum(p["rejected_lines"] for p in payloads) == 1
    assert sum(p["counter_resets"] for p in payloads) >= 1
    assert "reset" in (tmp_path / "agent.log").read_text(), "a counter reset must be logged"
