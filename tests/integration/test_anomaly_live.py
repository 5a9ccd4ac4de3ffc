"""Live anomaly scoring: scores in every interval, a dead source as a fault event, detector state kept across a crash.

With one-second intervals every interval-of-week is new, so the detector stays in warm-up (z null): what
can be seen in seconds is the shape of the scores, the no-data fault of an unplugged counter, and that
the detector and its open fault episode survive a SIGKILL exactly as they were committed.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time
from pathlib import Path

from tests.integration.conftest import AgentProcess, Broker, PtyPair, Subscriber, agent_config

PREFIX = "footfall/test/d1/sensors"


def _anomaly_state(db: Path) -> dict | None:
    """The detector state the agent last committed, read straight from the SQLite file."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'sensor_state'").fetchone():
            return None
        row = con.execute("SELECT state FROM sensor_state WHERE sensor = 'anomaly:door'").fetchone()
        return json.loads(row[0]) if row else None
    finally:
        con.close()


def _slot_values(state: dict) -> dict[int, tuple]:
    """Per touched slot, everything the detectors keep for it."""
    out = {}
    for i, slot in enumerate(state["slots"]):
        out[slot] = tuple(
            state["metrics"][m]["detector"][key][i]
            for m in ("ins", "outs")
            for key in ("profile", "profile_sd", "noise_mult", "seen")
        )
    return out


def test_dead_source_is_a_fault_event_and_the_detector_survives_a_crash(
    tmp_path: Path, broker: Broker, pty_pair: PtyPair
) -> None:
    config = agent_config(
        tmp_path,
        broker=broker,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n    preset: event\n",
        extra="anomaly:\n  warmup_weeks: 1\n",
    )
    db = tmp_path / "data" / "footfall.db"
    sub = Subscriber(broker, f"{PREFIX}/#")
    agent = AgentProcess(config, tmp_path / "agent.log")
    fd = pty_pair.open_peer()
    try:
        for _ in range(30):
            os.write(fd, b"IN 1\r\n")
            time.sleep(0.05)
        assert sub.wait_for(lambda: any(p["ins"] > 0 for p in sub.json_payloads()), 15), "no counted interval"
        counted = next(p for p in sub.json_payloads() if p["ins"] > 0)
        assert counted["anomaly"]["ins"] == {"expected": None, "z": None, "anomaly": False, "fault": None}
        assert counted["anomaly"]["outs"]["fault"] is None

        os.close(fd)
        fd = -1
        pty_pair.unplug()

        def no_data() -> list[dict]:
            return [p for p in sub.json_payloads() if p["coverage_s"] == 0]

        assert sub.wait_for(lambda: len(no_data()) >= 2, 15), "no interval without coverage"
        for p in no_data():
            assert p["anomaly"]["ins"]["fault"] == "no-data" and p["anomaly"]["outs"]["fault"] == "no-data"
            assert p["anomaly"]["ins"]["z"] is None and p["anomaly"]["ins"]["anomaly"] is False
        assert sub.wait_for(lambda: len(sub.json_payloads("/anomaly")) >= 2, 10), "no fault event"
        starts = sub.json_payloads("/anomaly")
        assert {(e["metric"], e["phase"], e["kind"], e["fault"]) for e in starts} == {
            ("ins", "start", "fault", "no-data"),
            ("outs", "start", "fault", "no-data"),
        }
        first = no_data()[0]
        ins_start = next(e for e in starts if e["metric"] == "ins")
        assert ins_start["start_ts"] == first["start_ts"] and ins_start["end"] is None
        assert ins_start["id"] == f"test/d1/door/ins/no-data/{first['start']}/start"
        assert all(not retained for t, _, retained in sub.snapshot() if t.endswith("/anomaly"))
        faulty_state = [
            json.loads(p)
            for t, p, _ in sub.snapshot()
            if t.endswith("/state") and p and json.loads(p)["fault"] == "source-down"
        ]
        assert faulty_state, "the sensor state does not show the dead source"

        agent.signal(signal.SIGKILL)
        agent.wait(10)
        committed = _anomaly_state(db)
        assert committed is not None
        assert committed["metrics"]["ins"]["events"]["open"]["start"] == first["start_ts"]
        closed_before = {p["start_ts"] for p in sub.json_payloads()}

        agent = AgentProcess(config, tmp_path / "agent.log")
        assert sub.wait_for(lambda: len(_anomaly_state(db)["slots"]) > len(committed["slots"]), 15)
        later = _anomaly_state(db)
        assert set(committed["slots"]) < set(later["slots"])
        before, after = _slot_values(committed), _slot_values(later)
        assert {s: after[s] for s in before} == before, "the restarted detector lost or changed what it had learned"

        pty_pair.replug()
        assert sub.wait_for(lambda: len(sub.json_payloads("/anomaly")) >= 4, 20), "the fault episode did not end"
        agent.signal(signal.SIGTERM)
        assert agent.wait(10) == 0
    finally:
        if fd >= 0:
            os.close(fd)
        agent.kill()
        sub.close()

    events = sub.json_payloads("/anomaly")
    assert [e["phase"] for e in events if e["metric"] == "ins"] == ["start", "end"], (
        "a restart must continue the open episode, not start a second one"
    )
    end = next(e for e in events if e["metric"] == "ins" and e["phase"] == "end")
    assert end["start_ts"] == first["start_ts"] and end["fault"] == "no-data"
    assert end["id"] == f"test/d1/door/ins/no-data/{first['start']}/end"
    faulty = [
        p for p in sub.json_payloads() if p["anomaly"]["ins"]["fault"] == "no-data" and p["start_ts"] < end["end_ts"]
    ]
    assert end["intervals"] == len({p["start_ts"] for p in faulty})
    assert any(p["start_ts"] not in closed_before for p in faulty), "no faulty interval after the restart"
