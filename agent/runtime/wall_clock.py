"""The agent's clock: counting time from the wall clock, with its steps found, logged and handed on.

Every thread (sources stamping events, the interval loop) reads this one clock, so they all agree on
counting time (`agent.aggregation.clock_steps`), and a step is handed to the aggregators (`on_step`, under
this clock's lock) before any reading after it is returned: no event stamped after a forward step can reach
an aggregator that does not know about the step yet.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from agent.aggregation.clock_steps import CATCH_UP_RATE, ClockStep, IntervalTime
from agent.runtime.health import ClockReadings
from agent.sources.base import describe_gap

log = logging.getLogger(__name__)


class StepClock:
    """Callable like `time.time`; returns counting time. `start` continues a catch-up across a restart."""

    def __init__(
        self,
        wall: Callable[[], float] = time.time,
        mono: Callable[[], float] = time.monotonic,
        start: float | None = None,
        on_step: Callable[[ClockStep], None] | None = None,
    ) -> None:
        self._wall = wall
        self._mono = mono
        self._on_step = on_step
        self._lock = threading.Lock()
        self._time = IntervalTime(wall(), mono(), start)
        self.last_step: ClockStep | None = None
        self.last_step_at = 0.0
        if self._time.behind > 0:
            log.warning(
                "the wall clock is %s behind the time this store last saw; counting time continues from there "
                "at %g x real time until the wall clock catches up",
                describe_gap(self._time.behind),
                CATCH_UP_RATE,
            )

    def __call__(self) -> float:
        with self._lock:
            before = self._time.now_value
            now, step = self._time.now(self._wall(), self._mono())
            if step is not None:
                self._stepped(step, before, now)
            return now

    def readings(self) -> ClockReadings | None:
        """For the health report; None when the clock never stepped and is not catching up."""
        with self._lock:
            if self.last_step is None and self._time.behind == 0:
                return None
            return ClockReadings(
                last_step_s=self.last_step.size if self.last_step else None,
                last_step_at=self.last_step_at if self.last_step else None,
                behind_s=self._time.behind,
            )

    def _stepped(self, step: ClockStep, before: float, now: float) -> None:
        self.last_step, self.last_step_at = step, now
        if step.size > 0:
            log.warning(
                "wall clock stepped forward by %s (an NTP sync, `date -s` or a resume): the time in between was "
                "not observed; no interval claims it",
                describe_gap(abs(step.size)),
            )
            if self._on_step is not None and now > before:
                self._on_step(ClockStep(before, now))
        else:
            log.warning(
                "wall clock stepped back by %s: closed intervals stay as they are; counting time runs on at %g x "
                "real time for %s until the wall clock catches up",
                describe_gap(abs(step.size)),
                CATCH_UP_RATE,
                describe_gap(self._time.behind / (1 - CATCH_UP_RATE)),
            )
