"""Live anomaly scoring in real agent processes: the detector state and the intervals it learned from are one
commit, whatever moment a SIGKILL hits; intervals under a minute are not scored.

Scoring needs intervals of a minute or more, so the crash test drives the agent's interval clock from its own
process (the agent is its own count sink, as in tests/test_runtime.py) and runs through days of one-minute
intervals in seconds, while the test kills it at random moments.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from agent.aggregation.records import ClosedInterval
from agent.anomaly.sensor import METRICS, SensorAnomaly
from agent.anomaly.settings import AnomalySettings
from agent.config.loader import parse_config
from agent.store.database import Store
from tests.integration.agent_process import afternoon_timezone
from tests.integration.conftest import AgentProcess, agent_config

ROOT = Path(__file__).resolve().parents[2]
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 1, 5, tzinfo=BERLIN).timestamp()
TRIALS = 8
PERIOD = 200
OUTAGE = range(170, 200)
"""Minutes of every PERIOD without data: longer than relearn_after_days, so each outage makes the detectors relearn."""

CONFIG = (
    "site: s1\ndevice: d1\ntimezone: Europe/Berlin\n"
    "intervals:\n  length: 1m\n"
    "store:\n  path: {data}\n"
    "mqtt:\n  enabled: false\n"
    "anomaly:\n  warmup_weeks: 1\n  relearn_after_days: 0.01\n"
    "sensors:\n  - id: door\n    type: simulated\n"
)

# The agent process: resumes after the last stored interval and closes one-minute intervals as fast as it can.
CHILD = """
import sys
from pathlib import Path

from agent.config.loader import parse_config
from agent.runtime.agent import Agent
from agent.store.database import Store

data, config, t0 = Path(sys.argv[1]), Path(sys.argv[2]).read_text(), float(sys.argv[3])
period, outage = int(sys.argv[4]), range(int(sys.argv[5]), int(sys.argv[6]))
with Store(data, 90, 1 << 30) as store:
    done = store.intervals("door")
now = [done[-1].end if done else t0]
agent = Agent(parse_config(config, "agent.yaml"), clock=lambda: now[0])
print("ready", flush=True)
while True:
    t = now[0]
    minute = round((t - t0) / 60)
    if minute % period == outage[0]:
        agent.source_down("door", t, "unplugged")
    elif minute % period not in outage:
        agent.source_up("door", t)
        agent.add("door", 5 + (minute * 7) % 13, 2 + (minute * 5) % 7, t + 1.0)
    now[0] = t + 60.0
    agent.close_due(now[0])
"""


def test_a_sigkill_never_separates_the_detector_state_from_the_intervals_it_learned(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "agent.yaml"
    config.write_text(CONFIG.format(data=data))
    rng = random.Random(20261127)
    counts = []
    for _ in range(TRIALS):
        args = [str(data), str(config), str(MONDAY), str(PERIOD), str(OUTAGE.start), str(OUTAGE.stop)]
        child = subprocess.Popen([sys.executable, "-c", CHILD, *args], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.2, 1.2))
        assert child.poll() is None, "the agent process stopped by itself"
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        child.stdout.close()
        with Store(data, 90, 1 << 30) as store:
            counts.append(len(store.intervals("door")))
    assert counts == sorted(counts) and len(set(counts)) == TRIALS, f"every run must add intervals: {counts}"

    with Store(data, 90, 1 << 30) as store:
        stored = store.intervals("door")
        committed = store.load_anomaly("door")
        events = [json.loads(r.payload) for r in store.outbox_after(0, 1_000_000) if r.topic.endswith("/anomaly")]
    assert len(stored) > 2 * PERIOD, "too few intervals to pass two outages and their relearning"
    assert [s.start for s in stored] == [MONDAY + 60.0 * i for i in range(len(stored))], "gaps or duplicates"

    # What the detector must have learned: every stored interval, in order, once; nothing else.
    settings = parse_config(CONFIG.format(data=data), "agent.yaml").anomaly
    replay = SensorAnomaly("door", settings, 60, BERLIN)
    replayed_events = []
    for s in stored:
        doc = json.loads(s.payload)
        closed = ClosedInterval("door", s.start, s.end, doc["ins"], doc["outs"], 0, 0, 0, doc["coverage_s"], 0, 0, 0)
        replayed_events.extend(replay.score(closed).events)
    assert committed == replay.state()
    assert [(e["metric"], e["phase"], e["kind"], e["fault"]) for e in events] == [
        (e.metric, e.phase, e.kind, e.fault) for e in replayed_events
    ], "the events queued are those of the intervals stored"
    assert any(e.fault == "no-data" for e in replayed_events)
    assert {row[0] for row in committed.rows} < set(range(7 * 24 * 60)), "the relearn dropped the older slots"
    assert len(committed.rows) <= 2 * (len(stored) % PERIOD + PERIOD), "only the slots learned since the last relearn"


def _anomaly_tables(db: Path) -> tuple[int, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return (
            con.execute("SELECT COUNT(*) FROM anomaly_state").fetchone()[0],
            con.execute("SELECT COUNT(*) FROM anomaly_slots").fetchone()[0],
        )
    finally:
        con.close()


def test_intervals_under_a_minute_are_not_scored_and_scoring_them_explicitly_is_refused(tmp_path: Path) -> None:
    sensors = (
        "  - id: door\n    type: simulated\n    peak_per_hour: 36000\n    opening: '00:00'\n    closing: '23:59'\n"
    )
    config = agent_config(
        tmp_path, broker=None, sensors=sensors, extra="anomaly:\n  enabled: true\n", timezone=afternoon_timezone()
    )
    refused = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--config", str(config)], cwd=ROOT, capture_output=True, text=True
    )
    assert refused.returncode == 2
    assert f"{config}: anomaly.enabled: anomaly scoring needs intervals of at least 60 s" in refused.stderr

    config = agent_config(tmp_path, broker=None, sensors=sensors, extra="anomaly:\n  threshold: 5\n")
    db = tmp_path / "data" / "footfall.db"
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        deadline = time.monotonic() + 15
        while not (db.exists() and _stored_payloads(db)):
            assert time.monotonic() < deadline, agent.log_text()
            time.sleep(0.1)
        assert agent.stop() == 0
    finally:
        agent.kill()
    assert agent.log_text().count("anomaly scoring is off: it needs intervals of at least 1 min, these are 1 s") == 1
    assert {p["anomaly"] is None for p in _stored_payloads(db)} == {True}
    assert _anomaly_tables(db) == (0, 0)


def _stored_payloads(db: Path) -> list[dict]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'intervals'").fetchone():
            return []
        return [json.loads(p) for (p,) in con.execute("SELECT payload FROM intervals")]
    finally:
        con.close()


def test_a_restart_with_another_time_zone_moves_what_was_learned_to_the_same_local_hours(tmp_path: Path) -> None:
    """An installer corrects the zone (UTC to Berlin, +1 h in January): after the restart the stored slot rows
    are all rewritten one hour on, none is left at its old place, and the log says what happened."""
    data = tmp_path / "data"
    config = tmp_path / "agent.yaml"
    quiet = [str(10**9), str(10**9 - 1), str(10**9)]  # no outage in this run

    def run(zone: str) -> str:
        config.write_text(CONFIG.format(data=data).replace("Europe/Berlin", zone))
        args = [str(data), str(config), str(MONDAY), *quiet]
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        time.sleep(0.8)
        assert child.poll() is None, "the agent process stopped by itself"
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=10)
        return err

    assert "time zone" not in run("UTC")
    with Store(data, 90, 1 << 30) as store:
        before = store.load_anomaly("door")
        first = len(store.intervals("door"))
    assert before is not None and before.document["timezone"] == "UTC" and before.rows

    log = run("Europe/Berlin")
    assert "door: the anomaly detector learned in time zone UTC and now runs in Europe/Berlin" in log
    assert "moved by +1 h" in log
    with Store(data, 90, 1 << 30) as store:
        after = store.load_anomaly("door")
        later = store.intervals("door")[first:]
    assert after is not None and after.document["timezone"] == "Europe/Berlin" and later
    week = 7 * 24 * 60
    moved = {((slot + 60) % week, metric) for slot, metric, *_ in before.rows}
    berlin = SensorAnomaly("door", AnomalySettings(), 60, BERLIN)
    scored = {(berlin.slot(s.start), m) for s in later for m in METRICS}
    assert {(row[0], row[1]) for row in after.rows} == moved | scored, "every row at its new slot, no stale one"
    old = {((row[0] + 60) % week, row[1]): row[2:] for row in before.rows}
    new = {(row[0], row[1]): row[2:] for row in after.rows}
    assert all(new[key] == values for key, values in old.items() if key not in scored), "learned values kept"
