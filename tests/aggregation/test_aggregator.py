"""Per-sensor aggregation: interval counts, occupancy and its daily reset, coverage, totals, restore."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent.aggregation.aggregator import DWELL_SAMPLES, MAX_CATCH_UP_S, SensorAggregator, day_start
from agent.aggregation.clock import interval_start, local_iso
from agent.aggregation.cumulative import Reading
from agent.aggregation.records import CameraCounts, ClosedInterval, LineInterval, ZoneInterval, ZoneStep

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
FOUR = time(4, 0)


def ts(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


# A Berlin quarter hour at noon, far from any occupancy reset.
T0 = ts("2026-06-01T12:00:00+02:00")


def make(
    now: float = T0,
    length: int = 900,
    tz: ZoneInfo = BERLIN,
    reset: time = FOUR,
    state: dict | None = None,
    **kw: Any,
) -> SensorAggregator:
    return SensorAggregator("door", length, tz, reset, now, state=state, **kw)


def restored(agg: SensorAggregator, now: float, length: int | None = None) -> SensorAggregator:
    """A new aggregator from `agg`'s state as it would come back from the store (through JSON)."""
    state = json.loads(json.dumps(agg.snapshot()))
    return SensorAggregator(agg.sensor, length or agg.length, agg.tz, agg.occupancy_reset, now, state=state)


def bounds(closed: list[ClosedInterval], tz: ZoneInfo = BERLIN) -> list[tuple[str, str]]:
    return [(local_iso(c.start, tz), local_iso(c.end, tz)) for c in closed]


# -- counting into intervals


def test_events_are_counted_in_their_interval_and_closed_by_the_clock() -> None:
    agg = make(T0 + 10)
    agg.add(1, 0, T0 + 20)
    agg.add(2, 1, T0 + 899.5)
    assert agg.close_due(T0 + 899.9) == []
    [c] = agg.close_due(T0 + 900)
    assert (c.sensor, c.start, c.end, c.ins, c.outs, c.occupancy) == ("door", T0, T0 + 900, 3, 1, 2)
    assert (c.total_in, c.total_out) == (3, 1)
    assert agg.close_due(T0 + 1000) == []
    assert agg.live()["start"] == T0 + 900 and agg.live()["ins"] == 0


def test_event_after_the_end_belongs_to_the_next_interval_even_before_close_due() -> None:
    agg = make()
    agg.add(1, 0, T0 + 10)
    agg.add(5, 0, T0 + 900)
    agg.add(1, 0, T0 + 1850)
    closed = agg.close_due(T0 + 1850)
    assert [(c.start, c.ins) for c in closed] == [(T0, 1), (T0 + 900, 5)]
    assert agg.live()["ins"] == 1


def test_late_event_goes_into_the_open_interval() -> None:
    agg = make()
    agg.close_due(T0 + 900)
    agg.add(2, 0, T0 + 899)  # stamped in the closed interval
    [c] = agg.close_due(T0 + 1800)
    assert (c.start, c.ins, c.occupancy) == (T0 + 900, 2, 2)


def test_quiet_intervals_are_closed_in_time_order_with_coverage() -> None:
    agg = make()
    agg.source_up(T0)
    closed = agg.close_due(T0 + 4 * 900 + 5)
    assert [c.start for c in closed] == [T0 + i * 900 for i in range(4)]
    assert all(c.end == c.start + 900 for c in closed)
    assert [(c.ins, c.outs, c.coverage_s) for c in closed] == [(0, 0, 900.0)] * 4


def test_sensor_that_never_came_up_has_no_coverage() -> None:
    agg = make(T0 + 100)
    agg.add(1, 0, T0 + 200)  # lines can arrive before the source reports itself up
    closed = agg.close_due(T0 + 2700)
    assert [c.coverage_s for c in closed] == [0.0, 0.0, 0.0]


def test_coverage_disconnects_and_rejected_lines() -> None:
    agg = make()
    agg.source_up(T0 + 100)
    agg.source_up(T0 + 150)  # already up: no change
    agg.reject(3, T0 + 200)
    agg.source_down(T0 + 400)
    agg.source_down(T0 + 450)  # already down: not another disconnect
    agg.source_up(T0 + 600)
    agg.reject(1, T0 + 700)
    agg.source_down(T0 + 1000)  # in the next interval
    agg.source_up(T0 + 1700)
    first, second = agg.close_due(T0 + 1800)
    assert (first.coverage_s, first.disconnects, first.rejected_lines) == (300.0 + 300.0, 1, 4)
    assert (second.coverage_s, second.disconnects, second.rejected_lines) == (100.0 + 100.0, 1, 0)
    [third] = agg.close_due(T0 + 2700)
    assert (third.coverage_s, third.disconnects) == (900.0, 0)


def test_clock_going_backwards_never_reopens_a_closed_interval() -> None:
    agg = make()
    agg.source_up(T0)
    first = agg.close_due(T0 + 1800)
    assert agg.close_due(T0 + 100) == []
    agg.add(1, 0, T0 + 100)
    agg.reject(1, T0 + 50)
    agg.source_down(T0 + 10)
    agg.source_up(T0 + 20)
    later = agg.close_due(T0 + 2700)
    assert [c.start for c in later] == [T0 + 1800]
    assert later[0].start >= first[-1].end
    assert (later[0].ins, later[0].rejected_lines, later[0].disconnects) == (1, 1, 1)
    assert 0.0 <= later[0].coverage_s <= 900.0


# -- occupancy


def test_occupancy_is_clamped_at_zero_per_batch() -> None:
    agg = make()
    agg.add(0, 2, T0 + 1)
    agg.add(1, 0, T0 + 2)
    agg.add(2, 5, T0 + 3)
    agg.add(3, 1, T0 + 4)
    [c] = agg.close_due(T0 + 900)
    assert (c.ins, c.outs, c.occupancy) == (6, 8, 2)


def test_occupancy_resets_at_the_local_reset_time() -> None:
    reset = ts("2026-06-02T04:00:00+02:00")
    agg = make(reset - 1800)
    agg.add(5, 0, reset - 1)
    assert agg.live()["occupancy"] == 5
    agg.add(1, 0, reset)  # the reset applies before this event
    assert agg.live()["occupancy"] == 1
    closed = agg.close_due(reset + 900)
    assert [(local_iso(c.start, BERLIN)[11:16], c.occupancy) for c in closed] == [
        ("03:30", 0),
        ("03:45", 5),
        ("04:00", 1),
    ]
    assert closed[-1].total_in == 6, "lifetime totals are not reset"


def test_manual_occupancy_reset_keeps_counts_and_survives_a_restart() -> None:
    agg = make()
    agg.add(7, 2, T0 + 10)
    agg.reset_occupancy(T0 + 20)
    assert agg.live()["occupancy"] == 0
    agg.add(1, 3, T0 + 30)
    assert agg.live()["occupancy"] == 0, "still clamped at 0 after a manual reset"
    agg.add(2, 0, T0 + 40)
    again = restored(agg, T0 + 50)
    assert again.live()["occupancy"] == 2
    [c] = again.close_due(T0 + 900)
    assert (c.ins, c.outs, c.occupancy, c.total_in, c.total_out) == (10, 5, 2, 10, 5)


def test_manual_reset_after_the_interval_end_leaves_the_closed_interval_as_it_was() -> None:
    agg = make()
    agg.add(4, 0, T0 + 10)
    agg.reset_occupancy(T0 + 905)
    assert [(c.end, c.ins) for c in agg.unreturned()] == [(T0 + 900, 4)], "closed, not yet returned"
    [c] = agg.close_due(T0 + 910)
    assert (c.end, c.occupancy) == (T0 + 900, 4)
    assert agg.live()["occupancy"] == 0
    assert agg.unreturned() == []


@pytest.mark.parametrize(
    ("now", "reset", "tz", "expected"),
    [
        ("2026-06-02T12:00:00+02:00", FOUR, BERLIN, "2026-06-02T04:00:00+02:00"),
        ("2026-06-02T04:00:00+02:00", FOUR, BERLIN, "2026-06-02T04:00:00+02:00"),
        ("2026-06-02T03:59:59+02:00", FOUR, BERLIN, "2026-06-01T04:00:00+02:00"),
        ("2026-03-29T12:00:00+02:00", time(2, 30), BERLIN, "2026-03-29T03:00:00+02:00"),
        ("2026-03-08T01:59:00-05:00", time(2, 30), NEW_YORK, "2026-03-07T02:30:00-05:00"),
        ("2026-03-08T03:00:00-04:00", time(2, 30), NEW_YORK, "2026-03-08T03:00:00-04:00"),
    ],
)
def test_day_start_is_the_latest_reset_at_or_before_now(now: str, reset: time, tz: ZoneInfo, expected: str) -> None:
    assert local_iso(day_start(ts(now), reset, tz), tz) == expected


def test_reset_inside_an_interval_without_events_empties_it() -> None:
    reset = ts("2026-06-02T04:10:00+02:00")
    agg = make(reset - 1200, reset=time(4, 10))
    agg.add(4, 0, reset - 1000)
    closed = agg.close_due(reset + 300)
    assert [(local_iso(c.start, BERLIN)[11:16], c.occupancy) for c in closed] == [("03:45", 4), ("04:00", 0)]
    agg.add(2, 0, reset + 1000)
    [c] = agg.close_due(reset + 1400)
    assert c.occupancy == 2, "only one reset per day"


def test_reset_at_an_interval_boundary_belongs_to_the_next_interval() -> None:
    reset = ts("2026-06-02T04:00:00+02:00")
    agg = make(reset - 600)
    agg.add(3, 0, reset - 500)
    closed = agg.close_due(reset + 900)
    assert [c.occupancy for c in closed] == [3, 0]
    assert closed[0].end == reset


def test_reset_in_the_new_york_spring_gap_happens_when_the_gap_ends() -> None:
    gap_end = ts("2026-03-08T03:00:00-04:00")
    agg = make(gap_end - 3600, length=3600, tz=NEW_YORK, reset=time(2, 30))
    agg.add(7, 0, gap_end - 1)
    assert agg.live()["occupancy"] == 7
    agg.add(1, 0, gap_end)
    assert agg.live()["occupancy"] == 1
    closed = agg.close_due(gap_end + 3600)
    assert bounds(closed, NEW_YORK) == [
        ("2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00"),
        ("2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"),
    ]
    assert [c.occupancy for c in closed] == [7, 1]


def test_reset_on_the_new_york_fall_back_night_happens_once() -> None:
    first_0130 = ts("2025-11-02T01:30:00-04:00")
    agg = make(ts("2025-11-02T00:00:00-04:00"), length=3600, tz=NEW_YORK, reset=time(1, 30))
    agg.source_up(ts("2025-11-02T00:00:00-04:00"))
    agg.add(5, 0, first_0130 - 60)
    agg.add(2, 0, first_0130 + 60)
    agg.add(3, 0, ts("2025-11-02T01:45:00-05:00"))  # after the second 01:30: no second reset
    closed = agg.close_due(ts("2025-11-02T03:00:00-05:00"))
    assert bounds(closed, NEW_YORK) == [
        ("2025-11-02T00:00:00-04:00", "2025-11-02T01:00:00-04:00"),
        ("2025-11-02T01:00:00-04:00", "2025-11-02T01:00:00-05:00"),
        ("2025-11-02T01:00:00-05:00", "2025-11-02T02:00:00-05:00"),
        ("2025-11-02T02:00:00-05:00", "2025-11-02T03:00:00-05:00"),
    ]
    assert [c.ins for c in closed] == [0, 7, 3, 0]
    assert [c.occupancy for c in closed] == [0, 2, 5, 5]
    assert all(c.end - c.start == 3600 and c.coverage_s == 3600 for c in closed)


def test_reset_missed_while_the_agent_was_stopped_applies_after_restore() -> None:
    agg = make(ts("2026-06-01T20:00:00+02:00"))
    agg.add(9, 0, ts("2026-06-01T20:05:00+02:00"))
    back = restored(agg, ts("2026-06-03T10:00:00+02:00"))
    closed = back.close_due(ts("2026-06-03T10:15:00+02:00"))
    assert [c.occupancy for c in closed] == [9, 0]
    back.add(1, 0, ts("2026-06-03T10:20:00+02:00"))
    assert back.live()["occupancy"] == 1


# -- DST and odd zones


def test_lord_howe_long_interval_has_full_coverage() -> None:
    start = ts("2025-10-05T01:00:00+10:30")
    agg = make(start, length=3600, tz=LORD_HOWE)
    agg.source_up(start)
    [c] = agg.close_due(ts("2025-10-05T03:00:00+11:00"))
    assert (c.start, c.end - c.start, c.coverage_s) == (start, 5400.0, 5400.0)


def test_kathmandu_hours_start_at_local_zero_minutes() -> None:
    agg = make(ts("2026-01-15T10:20:00+05:45"), length=3600, tz=ZoneInfo("Asia/Kathmandu"))
    [c] = agg.close_due(ts("2026-01-15T11:00:00+05:45"))
    assert local_iso(c.start, ZoneInfo("Asia/Kathmandu")) == "2026-01-15T10:00:00+05:45"


# -- cumulative totals


def test_totals_are_differenced_and_discontinuities_counted() -> None:
    agg = make()
    assert agg.add_totals(1000, 900, T0 + 1) == (Reading(0, "first"), Reading(0, "first"))
    assert agg.add_totals(1004, 901, T0 + 2) == (Reading(4, "ok"), Reading(1, "ok"))
    # A reboot and a jump are held until the next reading confirms them (see CumulativeCounter).
    assert agg.add_totals(2, 0, T0 + 3) == (Reading(0, "held"), Reading(0, "held"))
    assert agg.add_totals(2, 1, T0 + 4) == (Reading(2, "reset"), Reading(1, "reset"))
    assert agg.add_totals(50000, 1, T0 + 5) == (Reading(0, "held"), Reading(0, "ok"))
    assert agg.add_totals(50000, 2, T0 + 6) == (Reading(0, "jump"), Reading(1, "ok"))
    [c] = agg.close_due(T0 + 900)
    assert (c.ins, c.outs, c.occupancy, c.counter_resets) == (6, 3, 3, 3)
    agg.add_totals(50003, 1, T0 + 901)
    [c] = agg.close_due(T0 + 1800)
    assert (c.ins, c.counter_resets, c.total_in) == (3, 0, 9)


def test_16_bit_wrap_through_the_aggregator() -> None:
    agg = make(counter_bits=16, max_step=100)
    agg.add_totals(65530, 0, T0 + 1)
    agg.add_totals(3, 0, T0 + 2)
    agg.add_totals(200, 0, T0 + 3)  # +197 > max_step: held
    agg.add_totals(201, 0, T0 + 4)  # ... and confirmed: a jump, then +1
    [c] = agg.close_due(T0 + 900)
    assert (c.ins, c.counter_resets) == (10, 1)


def test_a_glitch_counts_as_a_rejected_reading_and_nobody_walks_in() -> None:
    agg = make()
    for value, at in ((10421, 1), (1042, 2), (10422, 3)):
        agg.add_totals(value, 0, T0 + at)
    [c] = agg.close_due(T0 + 900)
    assert (c.ins, c.counter_resets, c.rejected_lines) == (1, 0, 1)


def test_a_held_reading_survives_a_restart_of_the_aggregator() -> None:
    agg = make()
    agg.add_totals(10421, 5, T0 + 1)
    agg.add_totals(1042, 5, T0 + 2)
    back = restored(agg, T0 + 3)
    assert back.add_totals(10422, 5, T0 + 4)[0] == Reading(1, "glitch", ignored=1042)


def test_counter_baselines_survive_a_restart() -> None:
    agg = make()
    agg.add_totals(1000, 900, T0 + 1)
    back = restored(agg, T0 + 5)
    assert back.add_totals(1010, 905, T0 + 6) == (Reading(10, "ok"), Reading(5, "ok"))


def test_lifetime_totals_are_monotonic() -> None:
    agg = make()
    totals = []
    for i in range(12):
        agg.add(i % 3, i % 4, T0 + i * 300)
        if i == 6:
            agg = restored(agg, T0 + i * 300 + 1)
        totals += [(c.total_in, c.total_out) for c in agg.close_due(T0 + i * 300 + 10)]
    assert len(totals) == 3
    assert totals == sorted(totals)
    assert agg.live()["total_in"] == sum(i % 3 for i in range(12))


# -- snapshot and restore

Call = tuple[Any, ...]

T_SCRIPT = ts("2026-03-29T03:56:30+02:00")  # a DST day, a few minutes before the 04:00 reset
SCRIPT: list[Call] = [
    ("close_due", T_SCRIPT),
    ("source_up", T_SCRIPT + 1),
    ("add", 2, 0, T_SCRIPT + 5),
    ("add_totals", 100, 50, T_SCRIPT + 6),
    ("reject", 1, T_SCRIPT + 7),
    ("add", 0, 1, T_SCRIPT + 40),
    ("add_totals", 103, 52, T_SCRIPT + 41),
    ("close_due", T_SCRIPT + 45),
    ("source_down", T_SCRIPT + 70),
    ("add", 1, 0, T_SCRIPT + 75),
    ("reject", 2, T_SCRIPT + 80),
    ("close_due", T_SCRIPT + 125),
    ("source_up", T_SCRIPT + 130),
    ("add_totals", 0, 1, T_SCRIPT + 150),
    ("add_totals", 0, 1, T_SCRIPT + 151),
    ("add", 3, 0, T_SCRIPT + 200),
    ("source_down", T_SCRIPT + 210),
    ("source_down", T_SCRIPT + 211),
    ("source_up", T_SCRIPT + 215),
    ("add", 1, 0, T_SCRIPT + 100),
    ("close_due", T_SCRIPT + 260),
    ("add_totals", 200000, 1, T_SCRIPT + 270),
    ("add_totals", 200000, 1, T_SCRIPT + 271),
    ("add", 0, 9, T_SCRIPT + 275),
    ("close_due", T_SCRIPT + 400),
]


def play(agg: SensorAggregator, calls: list[Call]) -> list[Any]:
    out: list[Any] = []
    for name, *args in calls:
        result = getattr(agg, name)(*args)
        if name in ("close_due", "add_totals"):
            out.append(result)
    return out


def test_script_exercises_everything() -> None:
    out = play(make(T_SCRIPT - 30, length=60), SCRIPT)
    closed = [c for r in out if isinstance(r, list) for c in r]
    assert [c.start for c in closed] == [T_SCRIPT - 30 + 60 * i for i in range(7)]
    assert sum(c.ins for c in closed) == 2 + 3 + 1 + 3 + 1
    assert sum(c.counter_resets for c in closed) == 3, "a reboot resets both registers, then one jump"
    assert sum(c.disconnects for c in closed) == 2
    assert sum(c.rejected_lines for c in closed) == 3
    # 04:00 resets the 5 inside; the late line stamped 03:58:10 arrives after the reset and counts after it.
    assert [c.occupancy for c in closed] == [2, 3, 3, 5, 1, 0, 0]


@pytest.mark.parametrize("k", range(len(SCRIPT) + 1))
def test_snapshot_restore_at_any_moment_gives_identical_output(k: int) -> None:
    original = make(T_SCRIPT - 30, length=60)
    play(original, SCRIPT[:k])
    seen = max([T_SCRIPT - 30] + [c[-1] for c in SCRIPT[:k]])
    up = original.snapshot()["up"]
    copy = restored(original, seen)
    expected = play(original, SCRIPT[k:])
    got = play(copy, SCRIPT[k:])
    if not up:
        assert got == expected
        return

    # A restart is an outage of the agent: coverage restarts as down until the source reports up again,
    # so only coverage (and a disconnect the restarted copy never saw) may differ.
    def strip(results: list[Any]) -> list[Any]:
        return [[replace(c, coverage_s=0.0, disconnects=0) for c in r] if isinstance(r, list) else r for r in results]

    assert strip(got) == strip(expected)
    pairs = [
        (g, e)
        for rg, re_ in zip(got, expected, strict=True)
        if isinstance(rg, list)
        for g, e in zip(rg, re_, strict=True)
    ]
    assert all(g.coverage_s <= e.coverage_s for g, e in pairs)


def test_snapshot_is_plain_json() -> None:
    agg = make()
    play(agg, [("source_up", T0), ("add", 1, 0, T0 + 1), ("add", 1, 0, T0 + 950), ("add_totals", 5, 6, T0 + 951)])
    state = agg.snapshot()
    assert json.loads(json.dumps(state)) == state


def test_restart_keeps_coverage_until_the_last_seen_instant_then_down_until_source_up() -> None:
    agg = make()
    agg.source_up(T0 + 100)
    agg.add(1, 0, T0 + 300)
    back = restored(agg, T0 + 500)
    [c] = back.close_due(T0 + 900)
    assert c.coverage_s == 200.0 and c.ins == 1
    back.source_up(T0 + 1000)
    [c] = back.close_due(T0 + 1800)
    assert c.coverage_s == 800.0 and c.disconnects == 0


def test_restored_past_interval_closes_with_its_own_bounds_without_gap_intervals() -> None:
    agg = make(T0 + 10)
    agg.source_up(T0 + 10)
    agg.add(3, 1, T0 + 20)
    agg.reject(2, T0 + 30)
    restart = T0 + 5 * 900 + 123
    back = restored(agg, restart)
    back.source_up(restart + 1)
    back.add(1, 0, restart + 2)
    first = back.close_due(restart + 3)
    assert len(first) == 1
    c = first[0]
    assert (c.start, c.end, c.ins, c.outs, c.rejected_lines, c.occupancy) == (T0, T0 + 900, 3, 1, 2, 2)
    assert c.coverage_s == 20.0, "up from T0+10 to the last instant the old process saw"
    assert back.close_due(T0 + 5 * 900 + 899) == []
    [current] = back.close_due(T0 + 6 * 900)
    assert (current.start, current.end, current.ins, current.occupancy) == (T0 + 4500, T0 + 5400, 1, 3)
    assert current.coverage_s == 900 - 124
    assert (current.total_in, current.total_out) == (4, 1)


def test_restored_state_with_unreturned_closed_intervals_returns_them_first() -> None:
    agg = make()
    agg.add(1, 0, T0 + 10)
    agg.add(2, 0, T0 + 910)  # closes the first interval inside the aggregator
    back = restored(agg, T0 + 920)
    assert [(c.start, c.ins) for c in back.close_due(T0 + 920)] == [(T0, 1)]
    assert [(c.start, c.ins) for c in back.close_due(T0 + 1800)] == [(T0 + 900, 2)]


def test_restart_with_the_clock_behind_the_saved_interval_does_not_reopen_anything() -> None:
    agg = make()
    agg.close_due(T0 + 900)
    agg.add(1, 0, T0 + 950)
    back = restored(agg, T0 - 3600)  # the clock went backwards across the restart
    back.add(1, 0, T0 - 3500)
    assert back.close_due(T0 - 3000) == []
    [c] = back.close_due(T0 + 1800)
    assert (c.start, c.ins) == (T0 + 900, 2)


def test_changed_length_across_a_restart_never_overlaps() -> None:
    agg = make(T0 + 10, length=3600)
    agg.add(1, 0, T0 + 20)
    back = restored(agg, T0 + 1000, length=900)
    closed = back.close_due(T0 + 4500)
    assert [(c.start, c.end, c.ins) for c in closed] == [(T0, T0 + 3600, 1), (T0 + 3600, T0 + 4500, 0)]
    # The other way round the first new interval runs from the restored end to the next boundary.
    agg = make(T0 + 910, length=900)
    back = restored(agg, T0 + 1000, length=3600)
    closed = back.close_due(T0 + 3600)
    assert [(c.start, c.end) for c in closed] == [(T0 + 900, T0 + 1800), (T0 + 1800, T0 + 3600)]


def test_long_clock_jump_does_not_flood_empty_intervals() -> None:
    agg = make(length=60)
    agg.source_up(T0)
    jump = T0 + MAX_CATCH_UP_S + 3600 + 30
    closed = agg.close_due(jump)
    assert [c.start for c in closed] == [T0]
    [c] = agg.close_due(jump + 60)
    assert c.start == interval_start(jump, 60, BERLIN) and c.coverage_s == 60.0


def test_unusable_state_is_an_error() -> None:
    with pytest.raises(ValueError, match="door"):
        make(state={"version": 1, "open": {}})
    with pytest.raises(ValueError, match="version"):
        make(state={"version": 99})


def test_invalid_length_is_an_error() -> None:
    with pytest.raises(ValueError):
        make(length=700)


def test_closed_interval_is_a_plain_record() -> None:
    agg = make()
    agg.add(1, 1, T0)
    [c] = agg.close_due(T0 + 900)
    assert set(asdict(c)) == {
        "sensor",
        "start",
        "end",
        "ins",
        "outs",
        "occupancy",
        "total_in",
        "total_out",
        "coverage_s",
        "rejected_lines",
        "disconnects",
        "counter_resets",
        "lines",
        "zones",
    }
    assert c.lines is None and c.zones is None, "a serial sensor has no lines or zones"


# -- camera sensors: per-line and per-zone counts


def camera(now: float = T0, state: dict | None = None) -> SensorAggregator:
    return make(now, state=state, lines=["door", "side"], zones=["queue", "shelf"])


def report(lines: dict | None = None, **zones: ZoneStep) -> CameraCounts:
    return CameraCounts(lines or {}, zones)


def test_camera_counts_are_summed_per_wall_clock_interval_with_zeros_for_quiet_lines_and_zones() -> None:
    agg = camera()
    agg.add_camera(1, 0, report({"door": (1, 0)}, queue=ZoneStep(entries=1, occupancy=1)), T0 + 10)
    agg.add_camera(0, 1, report({"door": (0, 1), "side": (0, 2)}, queue=ZoneStep(exits=1, dwell_s=(30.0,))), T0 + 40)
    agg.add_camera(2, 0, report({"door": (2, 0)}, queue=ZoneStep(entries=2, occupancy=2)), T0 + 899.9)
    # Stamped at the boundary: the next interval's, even though it arrives before close_due.
    agg.add_camera(1, 0, report({"door": (1, 0)}, queue=ZoneStep(exits=1, occupancy=1, dwell_s=(50.0,))), T0 + 900)
    [first] = agg.close_due(T0 + 900)
    assert (first.ins, first.outs) == (3, 1)
    assert first.lines == {"door": LineInterval(3, 1), "side": LineInterval(0, 2)}
    assert first.zones == {
        "queue": ZoneInterval(entries=3, exits=1, occupancy=2, dwell_count=1, dwell_median_s=30.0, dwell_mean_s=30.0),
        "shelf": ZoneInterval(entries=0, exits=0, occupancy=0, dwell_count=0, dwell_median_s=None, dwell_mean_s=None),
    }
    [second] = agg.close_due(T0 + 1800)
    assert second.lines == {"door": LineInterval(1, 0), "side": LineInterval(0, 0)}
    assert second.zones is not None and second.zones["queue"] == ZoneInterval(0, 1, 1, 1, 50.0, 50.0)
    [third] = agg.close_due(T0 + 2700)
    assert third.zones is not None and third.zones["queue"].occupancy == 1, "occupancy is kept while nothing changes"
    assert third.lines == {"door": LineInterval(0, 0), "side": LineInterval(0, 0)}


def test_dwell_median_and_mean_over_the_interval_and_a_bounded_sample() -> None:
    agg = camera()
    agg.add_camera(0, 0, report(queue=ZoneStep(exits=3, dwell_s=(10.0, 20.0, 90.0))), T0 + 1)
    agg.add_camera(0, 0, report(queue=ZoneStep(exits=2, dwell_s=(40.0,))), T0 + 2)  # one exit without a seen entry
    [c] = agg.close_due(T0 + 900)
    assert c.zones is not None
    queue = c.zones["queue"]
    assert (queue.exits, queue.dwell_count, queue.dwell_median_s, queue.dwell_mean_s) == (5, 4, 30.0, 40.0)
    many = tuple(float(i) for i in range(DWELL_SAMPLES + 500))
    agg.add_camera(0, 0, report(queue=ZoneStep(exits=len(many), dwell_s=many)), T0 + 901)
    assert len(agg.snapshot()["open"]["zones"]["queue"]["dwell_s"]) == DWELL_SAMPLES
    [c] = agg.close_due(T0 + 1800)
    assert c.zones is not None
    queue = c.zones["queue"]
    assert queue.dwell_count == len(many) and queue.dwell_mean_s == sum(many) / len(many)
    assert queue.dwell_median_s == (DWELL_SAMPLES - 1) / 2, "median of the kept sample"


def test_unknown_names_are_ignored_and_a_serial_sensor_reports_no_lines_or_zones() -> None:
    agg = camera()
    agg.add_camera(1, 0, report({"gone": (1, 0)}, gone=ZoneStep(entries=1, occupancy=1)), T0 + 1)
    [c] = agg.close_due(T0 + 900)
    assert c.ins == 1 and set(c.lines or {}) == {"door", "side"} and set(c.zones or {}) == {"queue", "shelf"}
    serial = make()
    serial.add_camera(1, 0, report({"door": (1, 0)}), T0 + 1)
    [c] = serial.close_due(T0 + 900)
    assert c.ins == 1 and c.lines is None and c.zones is None


def test_camera_without_zones_has_an_empty_zone_map() -> None:
    agg = make(lines=["door"])
    [c] = agg.close_due(T0 + 900)
    assert c.lines == {"door": LineInterval(0, 0)} and c.zones == {}


CAMERA_SCRIPT: list[Call] = [
    ("source_up", T0 + 1),
    ("add_camera", 1, 0, report({"door": (1, 0)}, queue=ZoneStep(entries=1, occupancy=1)), T0 + 5),
    ("add_camera", 0, 0, report(queue=ZoneStep(exits=1, occupancy=0, dwell_s=(12.5,))), T0 + 300),
    ("add_camera", 0, 0, report(shelf=ZoneStep(entries=2, occupancy=2)), T0 + 600),
    ("close_due", T0 + 905),
    ("add_camera", 0, 1, report({"side": (0, 1)}, shelf=ZoneStep(exits=1, occupancy=1, dwell_s=(301.0,))), T0 + 950),
    ("add_camera", 0, 0, report(queue=ZoneStep(exits=1, occupancy=0, dwell_s=(7.0,))), T0 + 1000),
    ("close_due", T0 + 1805),
    ("add_camera", 2, 0, report({"door": (2, 0)}), T0 + 1900),
    ("close_due", T0 + 2705),
]


@pytest.mark.parametrize("k", range(len(CAMERA_SCRIPT) + 1))
def test_camera_counts_survive_a_restart_at_any_moment(k: int) -> None:
    original = camera()
    play(original, CAMERA_SCRIPT[:k])
    seen = max([T0] + [c[-1] for c in CAMERA_SCRIPT[:k]])
    state = json.loads(json.dumps(original.snapshot()))
    copy = camera(seen, state=state)
    expected = play(original, CAMERA_SCRIPT[k:])
    got = play(copy, CAMERA_SCRIPT[k:])

    def figures(results: list[Any]) -> list[Any]:
        return [[(c.start, c.lines, c.zones) for c in r] for r in results]

    assert figures(got) == figures(expected)


def test_closed_camera_intervals_waiting_in_a_saved_state_keep_their_figures() -> None:
    agg = camera()
    agg.add_camera(1, 0, report({"door": (1, 0)}, queue=ZoneStep(exits=1, dwell_s=(4.0,))), T0 + 5)
    agg.add_camera(0, 0, report(), T0 + 901)  # closes the first interval; close_due has not taken it yet
    copy = camera(T0 + 902, state=json.loads(json.dumps(agg.snapshot())))
    assert copy.close_due(T0 + 902) == agg.close_due(T0 + 902)


def test_a_state_saved_without_camera_figures_restores_with_zeros() -> None:
    agg = make()
    agg.add(1, 0, T0 + 5)
    state = json.loads(json.dumps(agg.snapshot()))
    del state["open"]["lines"], state["open"]["zones"], state["zone_occupancy"]
    [c] = camera(T0 + 10, state=state).close_due(T0 + 900)
    assert c.ins == 1 and c.lines == {"door": LineInterval(0, 0), "side": LineInterval(0, 0)}
    assert c.zones is not None and c.zones["queue"].occupancy == 0


# -- wall-clock steps (see agent.aggregation.clock_steps)


def test_a_forward_step_claims_no_coverage_for_the_time_jumped_over() -> None:
    """Issue 13: a step forward of 1 h emitted every interval of that hour with `coverage: 1.0`."""
    agg = make(length=60)
    agg.source_up(T0 + 1)
    agg.add(2, 0, T0 + 10)
    agg.clock_stepped(T0 + 30, T0 + 30 + 3600)
    agg.add(1, 0, T0 + 3600 + 40)
    closed = agg.close_due(T0 + 3600 + 120)
    assert [c.start - T0 for c in closed] == [0, 3600, 3660], "nothing emitted for the hour not observed"
    first, resumed, _ = closed
    assert (first.ins, first.coverage_s) == (2, 29.0), "covered from source up to the step only"
    assert (resumed.ins, resumed.coverage_s) == (1, 30.0), "covered from the step on"


def test_a_small_forward_step_inside_an_interval_only_loses_its_own_coverage() -> None:
    agg = make(length=60)
    agg.source_up(T0)
    agg.clock_stepped(T0 + 10, T0 + 25)
    [c] = agg.close_due(T0 + 60)
    assert c.coverage_s == 45.0
