"""Live scoring of one sensor's closed intervals: slots on the local clock, no-data faults, compact exact restore."""

from __future__ import annotations

import json
import math
import random
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agent.aggregation.records import ClosedInterval
from agent.anomaly.sensor import METRICS, AnomalyState, SensorAnomaly, legacy_state
from agent.anomaly.settings import AnomalySettings

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


def scorer(state: AnomalyState | None = None) -> SensorAnomaly:
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
    early = original.state()
    assert [row[:2] for row in early.rows] == [(s, m) for s in range(20) for m in METRICS], "only slots seen"
    for c in history[20:]:
        original.score(c)
    restored = scorer(through_json(original.state()))
    assert restored.state() == original.state()
    compared = []
    for c in future:
        a, b = original.score(c), restored.score(c)
        assert a == b
        compared.append(a)
    assert sum(v.scores["ins"].z not in (None, 0.0) for v in compared) > 50, "the comparison must cover real scores"
    assert any(v.events for v in compared), "and the fault episode of the dead hour"


@pytest.mark.parametrize(("learned_in", "shift"), [("UTC", 1), ("America/New_York", 6), ("Asia/Kolkata", -4)])
def test_a_state_learned_in_another_time_zone_moves_to_the_same_local_hours(learned_in: str, shift: int) -> None:
    """The shop trades on Berlin time; the detector first ran with another zone configured (January: Berlin
    is UTC+1, New York UTC-5, Kolkata UTC+5:30, which rounds to 4 h). Restored under Berlin, it must score
    as if it had learned in Berlin, and its stored rows must all be rewritten at their new slots."""
    history = hours(MONDAY, 14 * 24, seed=5)
    future = hours(history[-1].end, 7 * 24, seed=6)
    wrong = SensorAnomaly("door", SETTINGS, HOUR, ZoneInfo(learned_in))
    right = scorer()
    for c in history:
        wrong.score(c)
        right.score(c)
    saved = through_json(wrong.state())
    assert saved.document["timezone"] == learned_in
    moved = scorer(saved)
    assert moved.slot_shift == shift and moved.saved_tz_name == learned_in
    unmoved = SensorAnomaly("door", SETTINGS, HOUR, ZoneInfo(learned_in), state=saved)
    assert unmoved.slot_shift == 0
    changes = moved.changes()
    assert changes.replace and changes.document["timezone"] == "Europe/Berlin"
    assert {(row[0], row[1]) for row in changes.rows} == {((row[0] + shift) % 168, row[1]) for row in saved.rows}
    if learned_in != "Asia/Kolkata":
        assert changes.rows == right.state().rows, "the same week as if it had been learned in Berlin"
    misaligned = scorer(AnomalyState({**saved.document, "timezone": "Europe/Berlin"}, saved.rows))
    flagged: dict[str, list[bool]] = {name: [] for name in ("right", "moved", "misaligned")}
    for c in future:
        for name, s in (("right", right), ("moved", moved), ("misaligned", misaligned)):
            verdict = s.score(c)
            flagged[name].append(verdict.scores["ins"].anomaly or verdict.scores["ins"].fault is not None)
    assert sum(flagged["misaligned"]) > 5, "left unmoved, every opening and closing looks odd"
    assert sum(flagged["moved"]) <= 1
    if learned_in != "Asia/Kolkata":
        assert flagged["moved"] == flagged["right"]


def test_an_unusable_state_is_refused() -> None:
    s = scorer()
    s.score(hours(MONDAY, 1)[0])
    state = s.state()
    with pytest.raises(ValueError, match="900 s"):
        SensorAnomaly("door", SETTINGS, 900, BERLIN, state=state)
    with pytest.raises(ValueError, match="out of range"):
        scorer(AnomalyState(state.document, [(168, "ins", 0.0, 1.0, 1.0, 1)]))
    with pytest.raises(ValueError, match="malformed slot row"):
        scorer(AnomalyState(state.document, [(3, "occupancy", 0.0, 1.0, 1.0, 1)]))
    broken = json.loads(json.dumps(state.document))
    del broken["metrics"]["ins"]
    with pytest.raises(ValueError, match="malformed"):
        scorer(AnomalyState(broken, state.rows))


def through_json(state: AnomalyState) -> AnomalyState:
    """`state` as the store gives it back: the document from JSON, the rows from typed columns."""
    rows = [(int(s), str(m), float(p), float(sd), float(k), int(n)) for s, m, p, sd, k, n in state.rows]
    return AnomalyState(json.loads(json.dumps(state.document)), rows, True)


class Mirror:
    """What the store holds after applying every committed `changes()`, kept the way the store keeps it."""

    def __init__(self) -> None:
        self.document: dict = {}
        self.rows: dict[tuple[int, str], tuple] = {}

    def commit(self, changes: AnomalyState) -> None:
        if changes.replace:
            self.rows.clear()
        self.document = json.loads(json.dumps(changes.document))
        self.rows.update({row[:2]: row for row in changes.rows})

    def state(self) -> AnomalyState:
        return through_json(AnomalyState(self.document, sorted(self.rows.values())))


def test_each_close_writes_one_slot_per_detector_and_the_writes_add_up_to_the_whole_state() -> None:
    settings = AnomalySettings(warmup_weeks=1, relearn_after_days=3.0)
    s = SensorAnomaly("door", settings, HOUR, BERLIN)
    mirror = Mirror()
    first = s.changes()
    assert first.replace and first.rows == [], "a fresh scorer clears whatever an earlier state left"
    mirror.commit(first)
    s.saved(first)
    days = hours(MONDAY, 10 * 24, seed=5)
    outage = [ClosedInterval("door", c.start, c.end, 0, 0, 0, 0, 0, 0.0, 0, 0, 0) for c in hours(days[-1].end, 4 * 24)]
    after = hours(outage[-1].end, 3 * 24, seed=6)
    timeline = days + outage + after
    replaced = []
    i = 0
    while i < len(timeline):
        batch = timeline[i : i + (3 if i % 50 == 0 else 1)]  # now and then several closes in one commit
        for c in batch:
            s.score(c)
        changes = s.changes()
        if not changes.replace:
            assert {row[0] for row in changes.rows} == {s.slot(c.start) for c in batch}
            assert len(changes.rows) == 2 * len(batch)
        else:
            replaced.append(i)
        mirror.commit(changes)
        s.saved(changes)
        assert s.changes().rows == [] and not s.changes().replace
        assert mirror.state() == through_json(s.state()), f"stored state differs after interval {i}"
        i += len(batch)
    assert replaced == [len(days) + len(outage)], "the relearn after the outage replaced the stored slots once"
    assert len(mirror.rows) == 2 * len(after), "and only the slots learned since then are stored"
    restored = SensorAnomaly("door", settings, HOUR, BERLIN, state=mirror.state())
    nxt = hours(after[-1].end, 48, seed=7)
    assert [restored.score(c) for c in nxt] == [s.score(c) for c in nxt]


def test_changes_not_committed_are_offered_again() -> None:
    s = scorer()
    s.saved(s.changes())
    a, b = hours(MONDAY, 2)
    s.score(a)
    lost = s.changes()  # the commit failed: saved() is not called
    s.score(b)
    assert {row[0] for row in s.changes().rows} == {s.slot(a.start), s.slot(b.start)}
    assert lost.rows


def test_retune_keeps_what_was_learned_and_scores_with_the_new_settings() -> None:
    history = hours(MONDAY, 8 * 24, seed=8)
    s = scorer()
    for c in history:
        s.score(c)
    before = s.state()
    strict = AnomalySettings(warmup_weeks=1, threshold=0.5)
    s.retune(strict)
    assert s.state() == before, "nothing learned is lost"
    twin = SensorAnomaly("door", strict, HOUR, BERLIN, state=through_json(before))
    nxt = hours(history[-1].end, 24, seed=9)
    verdicts = [s.score(c) for c in nxt]
    assert verdicts == [twin.score(c) for c in nxt]
    assert any(v.scores["ins"].anomaly for v in verdicts), "the lower threshold is in effect"


def test_a_legacy_whole_state_document_converts_to_the_same_state() -> None:
    s = scorer()
    for c in hours(MONDAY, 40, seed=10):
        s.score(c)
    state = s.state()
    del state.document["timezone"]  # version 1 did not record it
    slots = sorted({row[0] for row in state.rows})
    legacy = {"version": 1, "interval_s": HOUR, "slots": slots, "metrics": {}}
    for metric in METRICS:
        detector = dict(state.document["metrics"][metric]["detector"])
        rows = {row[0]: row for row in state.rows if row[1] == metric}
        for i, key in enumerate(("profile", "profile_sd", "noise_mult", "seen"), start=2):
            detector[key] = [rows[slot][i] for slot in slots]
        legacy["metrics"][metric] = {"detector": detector, "events": state.document["metrics"][metric]["events"]}
    converted = legacy_state(json.loads(json.dumps(legacy)))
    assert converted == through_json(state)
    with pytest.raises(ValueError, match="version"):
        legacy_state({**legacy, "version": 2})
    with pytest.raises(ValueError, match="malformed"):
        legacy_state({"version": 1, "slots": []})
