"""Wall-clock steps told apart from the monotonic clock; counting time that never goes back."""

from __future__ import annotations

import pytest

from agent.aggregation.clock_steps import CATCH_UP_RATE, STEP_THRESHOLD_S, ClockStep, IntervalTime

T = 1_800_000_000.0


def test_a_steady_clock_is_counting_time_and_no_step() -> None:
    clock = IntervalTime(T, 100.0)
    for i in range(1, 50):
        assert clock.now(T + i * 0.1, 100.0 + i * 0.1) == (pytest.approx(T + i * 0.1), None)


def test_slew_below_the_threshold_is_no_step() -> None:
    clock = IntervalTime(T, 0.0)
    assert clock.now(T + 10.0 + STEP_THRESHOLD_S * 0.9, 10.0)[1] is None


def test_a_forward_step_is_reported_and_followed() -> None:
    clock = IntervalTime(T, 0.0)
    now, step = clock.now(T + 1 + 3600, 1.0)
    assert now == T + 3601 and step == ClockStep(T + 1, T + 3601) and step.size == 3600


def test_after_a_backward_step_counting_time_goes_on_at_half_speed_until_the_wall_clock_catches_up() -> None:
    clock = IntervalTime(T, 0.0)
    now, step = clock.now(T + 1 - 3600, 1.0)
    assert step is not None and step.size == pytest.approx(-3600)
    assert now == pytest.approx(T + CATCH_UP_RATE), "never back, and never frozen"
    times = [clock.now(T + 1 - 3600 + s, 1.0 + s)[0] for s in range(1, 7300)]
    assert all(b > a for a, b in zip(times, times[1:], strict=False)), "counting time always advances"
    assert clock.behind == 0 and times[-1] == T + 1 - 3600 + 7299, "caught up after twice the step"


def test_a_restart_continues_from_the_time_the_store_last_saw() -> None:
    clock = IntervalTime(T - 600, 0.0, start=T)
    assert clock.now(T - 599, 1.0)[0] == T + CATCH_UP_RATE
    assert clock.behind == 599 + CATCH_UP_RATE
