"""Differencing running device counters: baselines, wrap-around, reboots and implausible jumps."""

from __future__ import annotations

import pytest

from agent.aggregation.cumulative import CumulativeCounter, Reading

# (case, bits, max_step, restored last, readings, expected (delta, kind) per reading)
CASES = [
    ("first reading is a baseline", 32, 10000, None, [1042], [(0, "first")]),
    ("normal increments", 32, 10000, None, [1042, 1043, 1050, 1050], [(0, "first"), (1, "ok"), (7, "ok"), (0, "ok")]),
    ("increment of exactly max_step", 32, 100, None, [0, 100], [(0, "first"), (100, "ok")]),
    ("16-bit wrap", 16, 10000, None, [65530, 3], [(0, "first"), (9, "wrap")]),
    ("16-bit wrap through zero", 16, 10000, None, [65535, 0, 2], [(0, "first"), (1, "wrap"), (2, "ok")]),
    ("32-bit wrap", 32, 10000, None, [2**32 - 5, 10], [(0, "first"), (15, "wrap")]),
    ("64-bit wrap", 64, 10000, None, [2**64 - 1, 4], [(0, "first"), (5, "wrap")]),
    (
        "reboot to zero counts nothing",
        32,
        10000,
        None,
        [1042, 1050, 0, 3],
        [(0, "first"), (8, "ok"), (0, "held"), (3, "reset")],
    ),
    (
        "reboot to a small value counts it",
        32,
        10000,
        None,
        [1042, 5, 5],
        [(0, "first"), (0, "held"), (5, "reset")],
    ),
    (
        "reboot to an implausible value counts nothing but what follows",
        32,
        100,
        None,
        [5000, 300, 302],
        [(0, "first"), (0, "held"), (2, "reset")],
    ),
    (
        "16-bit reboot far from the top is no wrap",
        16,
        10000,
        None,
        [30000, 2, 2],
        [(0, "first"), (0, "held"), (2, "reset")],
    ),
    (
        "confirmed jump re-baselines",
        32,
        10000,
        None,
        [1000, 50000, 50003, 50004],
        [(0, "first"), (0, "held"), (3, "jump"), (1, "ok")],
    ),
    ("jump just over max_step", 32, 100, None, [0, 101, 102], [(0, "first"), (0, "held"), (1, "jump")]),
    (
        "wrap distance over max_step is a reset",
        16,
        100,
        None,
        [65000, 10, 10],
        [(0, "first"), (0, "held"), (10, "reset")],
    ),
    ("restored last counts the first reading", 32, 10000, 1042, [1050], [(8, "ok")]),
    ("restored last then a reboot", 32, 10000, 1042, [0, 1], [(0, "held"), (1, "reset")]),
    ("restored last then a wrap", 16, 10000, 65530, [3], [(9, "wrap")]),
    ("restored last then a jump", 32, 10000, 1042, [99999, 99999], [(0, "held"), (0, "jump")]),
    (
        "misconfigured width never counts negative",
        16,
        10000,
        None,
        [70000, 3, 3],
        [(0, "first"), (0, "held"), (3, "reset")],
    ),
]


@pytest.mark.parametrize("bits,max_step,last,values,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_readings(
    bits: int, max_step: int, last: int | None, values: list[int], expected: list[tuple[int, str]]
) -> None:
    counter = CumulativeCounter(bits, max_step, last)
    got = [counter.update(v) for v in values]
    assert got == [Reading(d, k) for d, k in expected]  # type: ignore[arg-type]
    assert counter.last == values[-1]
    assert all(r.delta >= 0 for r in got)


def test_no_double_count_over_a_reboot_cycle() -> None:
    """Counted increments equal the true passages when the device reboots between readings."""
    counter = CumulativeCounter(32, 10000)
    # True passages: 5 before the reboot, 4 after it (the device restarts from 0 and has counted 4 by the read).
    readings = [100, 103, 105, 4, 4]
    assert sum(counter.update(v).delta for v in readings) == 9


def test_negative_reading_is_an_error() -> None:
    with pytest.raises(ValueError):
        CumulativeCounter(32, 10000).update(-1)


@pytest.mark.parametrize("bits,max_step", [(0, 10), (16, -1)])
def test_invalid_configuration(bits: int, max_step: int) -> None:
    with pytest.raises(ValueError):
        CumulativeCounter(bits, max_step)


def _count(counter: CumulativeCounter, readings: list[int]) -> list[int]:
    return [counter.update(v).delta for v in readings]


def test_a_lost_digit_is_held_and_dropped_when_the_sequence_returns() -> None:
    """Issue 13: `10421 -> 1042 -> 10422` once counted +1042 and then +9380; it is +1 and +1."""
    counter = CumulativeCounter(32, 10000, last=10420)
    assert _count(counter, [10421, 1042, 10422]) == [1, 0, 1]
    assert counter.last == 10422


def test_a_single_low_reading_costs_nothing_and_counts_nothing() -> None:
    """Issue 13: `10423 -> 10418 -> 10424` once counted +6; the pair is +1."""
    counter = CumulativeCounter(32, 10000, last=10423)
    assert sum(_count(counter, [10418, 10424])) == 1


def test_the_issue_sequence_counts_the_true_eight() -> None:
    """The whole trial of issue 13: the device went from 10416 to 10424 (true +8) with two corrupted readings."""
    counter = CumulativeCounter(32, 10000, last=10416)
    readings = [10417, 10418, 10419, 10420, 10421, 1042, 10422, 10423, 10418, 10424]
    assert sum(_count(counter, readings)) == 8


def test_a_real_reset_is_confirmed_by_the_next_reading_and_counted_from_zero() -> None:
    counter = CumulativeCounter(32, 10000, last=10421)
    assert counter.update(2) == Reading(0, "held")
    assert counter.update(5) == Reading(5, "reset")
    assert counter.update(6) == Reading(1, "ok")


def test_a_glitch_is_reported_with_the_reading_it_ignored() -> None:
    counter = CumulativeCounter(32, 10000, last=100)
    assert counter.update(104210) == Reading(0, "held")
    assert counter.update(101) == Reading(1, "glitch", ignored=104210)


def test_a_confirmed_jump_counts_only_what_followed_it() -> None:
    counter = CumulativeCounter(32, 100, last=0)
    assert [counter.update(v) for v in (5000, 5003)] == [Reading(0, "held"), Reading(3, "jump")]


def test_a_second_breaking_reading_replaces_the_held_one() -> None:
    counter = CumulativeCounter(32, 10000, last=50000)
    assert [counter.update(v).kind for v in (20000, 900000, 900004)] == ["held", "held", "jump"]
    assert counter.last == 900004


def test_a_held_reading_survives_a_restart() -> None:
    counter = CumulativeCounter(32, 10000, last=10421)
    counter.update(1042)
    again = CumulativeCounter(32, 10000, last=counter.last, held=counter.held)
    assert again.update(10422) == Reading(1, "glitch", ignored=1042)
