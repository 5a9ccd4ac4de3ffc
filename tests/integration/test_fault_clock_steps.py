"""Fault: the wall clock of a running agent steps forward and back (a Pi without RTC meeting NTP).

libfaketime moves only the agent's wall clock (its monotonic clock stays real, as on a device) by an offset
read from a file on every call, so the test can step it at will. Skipped where libfaketime is missing
(`apt-get install faketime`).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from tests.integration.agent_process import wait_until
from tests.integration.conftest import AgentProcess, PtyPair, agent_config, read_intervals

LIBFAKETIME = next(
    (p for p in Path("/usr/lib").glob("*/faketime/libfaketime.so.1")),
    Path("/usr/lib/faketime/libfaketime.so.1"),
)
HOUR = 3600

pytestmark = pytest.mark.skipif(not LIBFAKETIME.exists(), reason="libfaketime not installed (apt-get install faketime)")


def start(tmp_path: Path, pty_pair: PtyPair, offset_file: Path) -> AgentProcess:
    config = agent_config(
        tmp_path,
        broker=None,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n    preset: event\n",
        extra="anomaly:\n  enabled: false\n",
    )
    offset_file.write_text("+0\n")
    env = {
        **os.environ,
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(offset_file),
        "FAKETIME_NO_CACHE": "1",
        # Only the wall clock steps, as on a device; the monotonic clock is what the agent measures steps by.
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        "DONT_FAKE_MONOTONIC": "1",
    }
    agent = AgentProcess(config, tmp_path / "agent.log", env=env)
    # Opening the port discards what it held (pyserial flushes input): the tests write once it is open.
    assert agent.wait_for_log("door: source up"), agent.log_text()
    return agent


def payloads(db: Path) -> list[dict]:
    return sorted((json.loads(p) for p in read_intervals(db).values()), key=lambda p: p["start_ts"])


def test_a_step_forward_claims_no_coverage_for_the_hour_jumped_over(tmp_path: Path, pty_pair: PtyPair) -> None:
    """Issue 13: 3,588 intervals never observed were published with `ins: 0` and `coverage: 1.0`."""
    offset = tmp_path / "offset"
    db = tmp_path / "data" / "footfall.db"
    fd = pty_pair.open_peer()
    agent = start(tmp_path, pty_pair, offset)
    try:
        os.write(fd, b"IN 1\n")
        assert wait_until(lambda: db.exists() and len(read_intervals(db)) >= 3, 30), agent.log_text()
        offset.write_text(f"+{HOUR}\n")
        time.sleep(0.5)
        os.write(fd, b"IN 1\n")
        assert wait_until(
            lambda: sum(p["ins"] for p in payloads(db)) == 2 and payloads(db)[-1]["start_ts"] > time.time() + HOUR - 30,
            60,
        ), agent.log_text()
        assert agent.stop() == 0
    finally:
        agent.kill()
        os.close(fd)
    got = payloads(db)
    gap = [
        b["start_ts"] - a["start_ts"] for a, b in zip(got, got[1:], strict=False) if b["start_ts"] - a["start_ts"] > 1
    ]
    assert len(gap) == 1 and gap[0] > HOUR - 60, "the hour jumped over has no intervals"
    assert len(got) < 120, f"{len(got)} intervals: the skipped hour was filled in"
    assert sum(p["ins"] for p in got) == 2
    before_gap = next(a for a, b in zip(got, got[1:], strict=False) if b["start_ts"] - a["start_ts"] > 1)
    assert before_gap["coverage"] < 1.0, "the interval cut by the step claims only what it observed"
    assert "wall clock stepped forward" in agent.log_text()


def test_a_step_back_does_not_hold_counts_for_the_length_of_the_step(tmp_path: Path, pty_pair: PtyPair) -> None:
    """Issue 13: after a step back of 1 h, events went into the open interval and nothing was published for an hour."""
    offset = tmp_path / "offset"
    db = tmp_path / "data" / "footfall.db"
    fd = pty_pair.open_peer()
    agent = start(tmp_path, pty_pair, offset)
    try:
        assert wait_until(lambda: db.exists() and len(read_intervals(db)) >= 3, 30), agent.log_text()
        stored = len(read_intervals(db))
        offset.write_text(f"-{HOUR}\n")
        time.sleep(0.5)
        os.write(fd, b"IN 1\nIN 1\nIN 1\n")
        assert wait_until(lambda: sum(p["ins"] for p in payloads(db)) == 3, 20), "counts held back after the step"
        assert wait_until(lambda: len(read_intervals(db)) >= stored + 4, 30), "intervals stopped closing"
        assert agent.stop() == 0
    finally:
        agent.kill()
        os.close(fd)
    assert "wall clock stepped back" in agent.log_text()
    starts = [p["start_ts"] for p in payloads(db)]
    assert len(starts) == len(set(starts)), "no interval dated twice"
