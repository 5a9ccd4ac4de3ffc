"""The time intervals are counted in: the wall clock, told apart from its steps by the monotonic clock.

A Raspberry Pi has no real-time clock: it boots at the time it was last shut down (or in 1970), and the first
NTP sync steps the wall clock, by hours or days. Other steps come from a manual `date -s` or a resume from
suspend. The monotonic clock never steps, so between two readings the wall clock should advance exactly as
much as the monotonic one; a difference larger than `STEP_THRESHOLD_S` is a step.

- Forward: the time jumped over was never observed. The aggregators are told (`SensorAggregator.clock_stepped`)
  so that no interval claims coverage for it and the intervals wholly inside it are not emitted at all.
- Backward: intervals up to the old time are closed and final, so the counting time (`IntervalTime.now`) never
  goes back. It runs on from where it was at `CATCH_UP_RATE` of real time until the wall clock has caught up,
  so intervals keep closing (each lasting at most 1 / CATCH_UP_RATE times its length) instead of the open one
  holding its counts for the whole length of the step.

Pure: the caller reads both clocks and passes them in.
"""

from __future__ import annotations

from dataclasses import dataclass

STEP_THRESHOLD_S = 2.0
"""A wall clock that differs from the monotonic clock's advance by more than this has been stepped. NTP slews
at most 0.5 ms per second, and the agent reads its clock at least ten times a second, so no slew comes near."""
CATCH_UP_RATE = 0.5
"""After a backward step, counting time advances at this fraction of real time until the wall clock catches
up: an interval then closes after at most twice its length, and a step of D seconds is absorbed in 2 D."""


@dataclass(frozen=True)
class ClockStep:
    """The wall clock read `after` where `before` was expected: `after - before` is the step (negative: back)."""

    before: float
    after: float

    @property
    def size(self) -> float:
        return self.after - self.before


class IntervalTime:
    """Counting time from successive (wall, monotonic) readings; `start` lets a restart continue a catch-up."""

    def __init__(self, wall: float, mono: float, start: float | None = None) -> None:
        self._wall = wall
        self._mono = mono
        self.now_value = max(wall, start) if start is not None else wall

    @property
    def behind(self) -> float:
        """Seconds the wall clock is behind counting time (catching up after a backward step); 0 normally."""
        return max(0.0, self.now_value - self._wall)

    def now(self, wall: float, mono: float) -> tuple[float, ClockStep | None]:
        elapsed = max(0.0, mono - self._mono)
        expected = self._wall + elapsed
        step = ClockStep(expected, wall) if abs(wall - expected) > STEP_THRESHOLD_S else None
        self._wall, self._mono = wall, mono
        self.now_value = max(wall, self.now_value + elapsed * CATCH_UP_RATE)
        return self.now_value, step
