"""The agent's interval clock with anomaly scoring, in-process on a real store: the clock and the counts are
driven by the test (the agent is its own count sink), so weeks of hourly intervals pass in a second."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from agent.config.loader import parse_config
from agent.runtime.agent import Agent
from agent.store.database import Store

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
        kept = store.load_anomaly("door")
    for name in ("footfall.db", "footfall.db-wal", "footfall.db-shm", "footfall.state.json"):
        (tmp_path / name).unlink(missing_ok=True)
    with Store(tmp_path, 90, 1 << 30) as store:
        store.commit_close([], {}, anomaly={"door": kept})

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
    learned = agent.store.load_anomaly("door")
    agent.store.close()
    agent = open_agent(tmp_path, clock, anomaly="  enabled: false\n")
    run_hours(agent, clock, 5, 8)
    payloads = [p for t, p in outbox(agent) if t.endswith("/interval")]
    assert [p["anomaly"] is None for p in payloads] == [False] * 5 + [True] * 3
    agent.checkpoint()
    assert agent.store.load_anomaly("door") == learned
    agent.store.close()


def test_intervals_under_a_minute_are_not_scored_and_keep_no_detector(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = Clock(MONDAY)
    text = config_text(tmp_path, "  threshold: 4\n").replace("  length: 1h\n", "  length: 30s\n")
    with caplog.at_level(logging.INFO):
        agent = Agent(parse_config(text, "test.yaml"), clock=clock)
    assert agent.scoring.scorers == {}, "no detector: 20160 slots of nothing would be kept in memory"
    assert caplog.text.count("anomaly scoring is off: it needs intervals of at least 1 min, these are 30 s") == 1
    agent.source_up("door", MONDAY)
    agent.add("door", 3, 1, MONDAY + 1.0)
    clock.t = MONDAY + 30.0
    agent.close_due(clock.t)
    (payload,) = [p for t, p in outbox(agent) if t.endswith("/interval")]
    assert (payload["ins"], payload["anomaly"]) == (3, None)
    assert agent.store.load_anomaly("door") is None
    agent.store.close()


def anomaly_flags(agent: Agent) -> list[tuple[bool, bool] | None]:
    """Per interval committed: (ins anomaly, outs anomaly), or None when it was not scored."""
    out: list[tuple[bool, bool] | None] = []
    for t, p in outbox(agent):
        if t.endswith("/interval"):
            a = p["anomaly"]
            out.append(None if a is None else (a["ins"]["anomaly"], a["outs"]["anomaly"]))
    return out


def reloaded_through(data: Path, steps: list[tuple[str, int]]) -> list[tuple[bool, bool] | None]:
    """Run hour ranges, reloading the `anomaly:` section given for each before it (SIGHUP, in-process)."""
    clock = Clock(MONDAY)
    current = {"anomaly": steps[0][0]}
    agent = Agent(
        parse_config(config_text(data, current["anomaly"]), "test.yaml"),
        clock=clock,
        reload_config=lambda: parse_config(config_text(data, current["anomaly"]), "test.yaml"),
    )
    hour = 0
    for anomaly, until in steps:
        if anomaly != current["anomaly"]:
            learned = agent.store.load_anomaly("door")
            current["anomaly"] = anomaly
            assert agent.reload()["anomaly"] is True
            assert agent.store.load_anomaly("door") == learned, "a reload keeps what was learned"
        run_hours(agent, clock, hour, until)
        hour = until
    flags = anomaly_flags(agent)
    agent.store.close()
    return flags


def restarted_through(data: Path, steps: list[tuple[str, int]]) -> list[tuple[bool, bool] | None]:
    """The same hours with a restart instead of each reload."""
    clock = Clock(MONDAY)
    hour = 0
    for anomaly, until in steps:
        agent = open_agent(data, clock, anomaly)
        run_hours(agent, clock, hour, until)
        hour = until
        flags = anomaly_flags(agent)
        agent.store.close()
    return flags


def test_a_reload_of_the_anomaly_settings_applies_them_and_keeps_what_was_learned(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    usual, strict = "  warmup_weeks: 1\n", "  warmup_weeks: 1\n  threshold: 0.2\n"
    steps = [(usual, 190), (strict, 230)]
    with caplog.at_level(logging.INFO):
        reloaded = reloaded_through(tmp_path / "reloaded", steps)
    assert "config reloaded: new anomaly settings" in caplog.text
    assert reloaded == restarted_through(tmp_path / "restarted", steps)
    kept_usual = restarted_through(tmp_path / "usual", [(usual, 230)])
    assert kept_usual[:190] == reloaded[:190]
    flagged = sum(any(f) for f in reloaded[190:] if f is not None)
    assert flagged > sum(any(f) for f in kept_usual[190:] if f is not None), "the lower threshold is in effect"


def test_a_reload_turns_scoring_off_and_on_again_from_what_was_learned(tmp_path: Path) -> None:
    on, off = "  warmup_weeks: 1\n", "  warmup_weeks: 1\n  enabled: false\n"
    steps = [(on, 100), (off, 110), (on, 230)]
    reloaded = reloaded_through(tmp_path / "reloaded", steps)
    assert [f is None for f in reloaded[95:115]] == [False] * 5 + [True] * 10 + [False] * 5
    assert reloaded == restarted_through(tmp_path / "restarted", steps)
    assert any(f is not None and any(f) for f in reloaded[110:]), "scores resumed, past the warm-up"
