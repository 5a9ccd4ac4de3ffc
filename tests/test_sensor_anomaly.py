"""Live scoring of one sensor's closed intervals: slots on the local clock, no-data faults, compact exact restore."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agent.aggregation import ClosedInterval
from agent.anomaly import AnomalySettings
from agent.sensor_anomaly import SensorAnomaly

BERLIN = ZoneInfo("Europe/Berlin")
HOUR = 3600
MONDAY = datetime(2026, 1, 5, tzinfo=BERLIN).timestamp()  # a Monday, 00:00 local (winter time)
SETTINGS = AnomalySettings(warmup_weeks=1)


def usual(t: float) -> float:
    """Mean ins of the hour starting at `t`: open 9-19 with a lunch peak, busier on Saturdays, shut on Sundays."""
    local = datetime.fromtimestamp(t, BERLIN)
    if local.weekday() == 6 or not 9 <= local.hour < 19:
        return 0.0
    return (80.0 + 60.0 * math.exp(-((local.hour - 13) ** 2) / 4.0)) * (1.5 if local.weekday() == 5 else 1.0)


def hours(start: float, n: int, seed: int = 1, coverage: float = HOUR) -> list[ClosedInterval]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        t = start + i * HOUR
        mu = usual(t)
        ins = max(0, round(rng.gauss(mu, math.sqrt(mu) * 1.3))) if mu else 0
        outs = max(0, ins + rng.randint(-3, 3)) if mu else 0
        out.append(ClosedInterval("door", t, t + HOUR, ins, outs, 0, 0, 0, coverage, 0, 0, 0))
    return out


def scorer(state: dict | None = None) -> SensorAnomaly:
    return SensorAnomaly("door", SETTINGS, HOUR, BERLIN, state=state)


def test_slots_follow_the_local_wall_clock_across_daylight_saving() -> None:
    s = scorer()
    summer_monday = datetime(2026, 7, 6, tzinfo=BERLIN).timestamp()
    assert s.slot(MONDAY) == 0 and s.slot(summer_monday) == 0
    assert s.slot(MONDAY + 13 * HOUR) == 13
    assert s.slot(summer_monday - HOUR) == 167


def test_scores_are_null_in_warm_up_then_real_and_a_spike_is_a_traffic_event() -> None:
    s = scorer()
    warm_up = [s.score(c) for c in hours(MONDAY, 7 * 24)]
    assert all(v.scores["ins"].z is None and not v.events for v in warm_up)
    week2 = hours(MONDAY + 7 * 24 * HOUR, 24 + 12, seed=2)
    verdicts = [s.score(c) for c in week2]
    assert all(v.scores["ins"].z is not None for v in verdicts)
    assert not any(v.scores["ins"].anomaly for v in verdicts)
    noon = week2[-1].end
    spike = ClosedInterval("door", noon, noon + HOUR, 900, 880, 0, 0, 0, HOUR, 0, 0, 0)
    verdict = s.score(spike)
    assert verdict.scores["ins"].anomaly and verdict.scores["ins"].z > SETTINGS.threshold
    assert [(e.metric, e.phase, e.kind) for e in verdict.events] == [
        ("ins", "start", "traffic"),
        ("outs", "start", "traffic"),
    ]


def test_an_interval_without_coverage_is_a_no_data_fault_of_both_counts() -> None:
    s = scorer()
    for c in hours(MONDAY, 24):
        s.score(c)
    dead = hours(MONDAY + 24 * HOUR, 2, coverage=0.0)
    first = s.score(dead[0])
    assert {m: sc.fault for m, sc in first.scores.items()} == {"ins": "no-data", "outs": "no-data"}
    assert all(sc.z is None and not sc.anomaly for sc in first.scores.values())
    assert [(e.metric, e.phase, e.fault) for e in first.events] == [
        ("ins", "start", "no-data"),
        ("outs", "start", "no-data"),
    ]
    assert s.score(dead[1]).events == [], "one episode, not one event per interval"


def test_a_restored_scorer_continues_exactly_and_its_state_is_compact() -> None:
    history = hours(MONDAY, 7 * 24 + 30, seed=3)
    future = hours(history[-1].end, 7 * 24, seed=4)
    future[5] = ClosedInterval("door", future[5].start, future[5].end, 0, 0, 0, 0, 0, 0.0, 0, 0, 0)
    original = scorer()
    for c in history[:20]:
        original.score(c)
    early = original.snapshot()
    assert early["slots"] == list(range(20)), "only the slots seen so far are written"
    assert len(early["metrics"]["ins"]["detector"]["profile"]) == 20
    for c in history[20:]:
        original.score(c)
    restored = scorer(json.loads(json.dumps(original.snapshot())))
    assert restored.snapshot() == original.snapshot()
    compared = []
    for c in future:
        a, b = original.score(c), restored.score(c)
        assert a == b
        compared.append(a)
    assert sum(v.scores["ins"].z not in (None, 0.0) for v in compared) > 50, "the comparison must cover real scores"
    assert any(v.events for v in compared), "and the fault episode of the dead hour"


def test_an_unusable_state_is_refused() -> None:
    s = scorer()
    s.score(hours(MONDAY, 1)[0])
    state = s.snapshot()
    with pytest.raises(ValueError, match="900 s"):
        SensorAnomaly("door", SETTINGS, 900, BERLIN, state=state)
    broken = json.loads(json.dumps(state))
    broken["metrics"]["outs"]["detector"]["profile"] = []
    with pytest.raises(ValueError, match="slots"):
        scorer(broken)
    del broken["metrics"]["ins"]
    with pytest.raises(ValueError, match="malformed"):
        scorer(broken)
