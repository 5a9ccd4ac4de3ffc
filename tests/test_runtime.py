"""The agent's interval clock with anomaly scoring, in-process on a real store: the clock and the counts are
driven by the test (the agent is its own count sink), so weeks of hourly intervals pass in a second."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.config import parse_config
from agent.runtime import Agent
from agent.store import Store

HOUR = 3600.0
MONDAY = datetime(2026, 1, 5, tzinfo=ZoneInfo("Europe/Berlin")).timestamp()


def config_text(data: Path, anomaly: str = "  warmup_weeks: 1\n") -> str:
    return (
        "site: s1\ndevice: d1\ntimezone: Europe/Berlin\n"
        "intervals:\n  length: 1h\n"
        f"store:\n  path: {data}\n"
        "mqtt:\n  enabled: false\n"
        f"anomaly:\n{anomaly}"
        "sensors:\n  - id: door\n    type: simulated\n"
    )


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def ins_of(hour: int) -> int:
    """A shop open 9-19 with a lunch peak; the 200th hour is a dead counter, the 220th a crowd."""
    local = hour % 24
    base = 0 if not 9 <= local < 19 else 60 + 40 * (local in (12, 13)) + (hour * 7) % 11
    return 900 if hour == 220 else base


def run_hours(agent: Agent, clock: Clock, first: int, last: int) -> None:
    for hour in range(first, last):
        start = MONDAY + hour * HOUR
        if hour == 200:
            agent.source_down("door", start, "unplugged")
        else:
            agent.source_up("door", start)
            n = ins_of(hour)
            agent.add("door", n, n, start + 1.0)
        clock.t = start + HOUR
        agent.close_due(clock.t)


def open_agent(data: Path, clock: Clock, anomaly: str = "  warmup_weeks: 1\n") -> Agent:
    return Agent(parse_config(config_text(data, anomaly), "test.yaml"), clock=clock)


def outbox(agent: Agent) -> list[tuple[str, dict]]:
    return [(r.topic, json.loads(r.payload)) for r in agent.store.outbox_after(0, 100_000)]


def test_a_restart_gives_the_same_scores_and_events_as_running_through(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    through = open_agent(tmp_path / "through", clock)
    run_hours(through, clock, 0, 230)
    expected = outbox(through)
    through.store.close()

    clock = Clock(MONDAY)
    agent = open_agent(tmp_path / "restarted", clock)
    run_hours(agent, clock, 0, 190)
    agent.store.close()
    agent = open_agent(tmp_path / "restarted", clock)
    run_hours(agent, clock, 190, 230)
    got = outbox(agent)
    agent.store.close()

    assert [(t, p.get("anomaly"), p.get("phase")) for t, p in got] == [
        (t, p.get("anomaly"), p.get("phase")) for t, p in expected
    ]
    intervals = [p for t, p in got if t.endswith("/interval")]
    scored = [p for p in intervals[190:] if p["anomaly"]["ins"]["z"] is not None]
    assert len(scored) > 30, "the comparison must cover real scores after the warm-up week"
    dead = intervals[200]["anomaly"]["ins"]
    assert (dead["fault"], dead["z"], dead["anomaly"]) == ("no-data", None, False)
    assert intervals[220]["anomaly"]["ins"]["anomaly"] is True
    events = [(p["kind"], p["fault"], p["phase"]) for t, p in got if t == "footfall/s1/d1/sensors/door/anomaly"]
    assert events[:2] == [("fault", "no-data", "start")] * 2
    assert ("traffic", None, "start") in events


def test_the_sensor_state_shows_the_latest_verdict(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    agent = open_agent(tmp_path, clock)
    run_hours(agent, clock, 0, 221)
    state = agent.sensor_state("door", clock.t)
    assert state.anomaly is True and state.z is not None and state.z > 4.5 and state.fault is None
    agent.store.close()
    agent = open_agent(tmp_path, clock)
    agent.source_up("door", clock.t)
    again = agent.sensor_state("door", clock.t)
    assert (again.z, again.anomaly) == (round(state.z, 2), True), "a restart reads the verdict back from the store"
    agent.store.close()


def test_a_clock_set_back_is_counted_unscored_and_the_detector_starts_afresh(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(MONDAY + 400 * HOUR)
    agent = open_agent(tmp_path, clock)
    run_hours(agent, clock, 400, 403)
    agent.store.close()
    # The aggregator's state is from a wrong clock too; only the detector's is kept, as after a bad RTC.
    with Store(tmp_path, 90, 1 << 30) as store:
        kept = store.load_states()["anomaly:door"]
    for name in ("footfall.db", "footfall.db-wal", "footfall.db-shm"):
        (tmp_path / name).unlink(missing_ok=True)
    with Store(tmp_path, 90, 1 << 30) as store:
        store.save_states({"anomaly:door": kept})

    clock = Clock(MONDAY)
    agent = open_agent(tmp_path, clock)
    with caplog.at_level(logging.WARNING):
        run_hours(agent, clock, 0, 3)
    payloads = [p for t, p in outbox(agent) if t.endswith("/interval")]
    agent.store.close()
    assert [p["ins"] for p in payloads] == [ins_of(h) for h in range(3)], "counting goes on"
    assert payloads[0]["anomaly"] is None
    assert payloads[1]["anomaly"] is not None and payloads[2]["anomaly"] is not None
    assert "starts afresh" in caplog.text


def test_detection_can_be_turned_off_without_losing_what_was_learned(tmp_path: Path) -> None:
    clock = Clock(MONDAY)
    agent = open_agent(tmp_path, clock)
    run_hours(agent, clock, 0, 5)
    learned = agent.store.load_states()["anomaly:door"]
    agent.store.close()
    agent = open_agent(tmp_path, clock, anomaly="  enabled: false\n")
    run_hours(agent, clock, 5, 8)
    payloads = [p for t, p in outbox(agent) if t.endswith("/interval")]
    assert [p["anomaly"] is None for p in payloads] == [False] * 5 + [True] * 3
    agent.checkpoint()
    assert agent.store.load_states()["anomaly:door"] == learned
    agent.store.close()
