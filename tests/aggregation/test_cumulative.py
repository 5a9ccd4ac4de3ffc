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
        [(0, "first"), (8, "ok"), (0, "reset"), (3, "ok")],
    ),
    ("reboot to a small value counts it", 32, 10000, None, [1042, 5], [(0, "first"), (5, "reset")]),
    ("reboot to an implausible value counts nothing", 32, 100, None, [5000, 300], [(0, "first"), (0, "reset")]),
    ("16-bit reboot far from the top is no wrap", 16, 10000, None, [30000, 2], [(0, "first"), (2, "reset")]),
    ("jump re-baselines", 32, 10000, None, [1000, 50000, 50003], [(0, "first"), (0, "jump"), (3, "ok")]),
    ("jump just over max_step", 32, 100, None, [0, 101, 102], [(0, "first"), (0, "jump"), (1, "ok")]),
    ("wrap distance over max_step is a reset", 16, 100, None, [65000, 10], [(0, "first"), (10, "reset")]),
    ("restored last counts the first reading", 32, 10000, 1042, [1050], [(8, "ok")]),
    ("restored last then a reboot", 32, 10000, 1042, [0], [(0, "reset")]),
    ("restored last then a wrap", 16, 10000, 65530, [3], [(9, "wrap")]),
    ("restored last then a jump", 32, 10000, 1042, [99999], [(0, "jump")]),
    ("misconfigured width never counts negative", 16, 10000, None, [70000, 3], [(0, "first"), (3, "reset")]),
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
