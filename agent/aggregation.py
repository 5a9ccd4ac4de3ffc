"""Per-sensor counting into wall-clock intervals: counts, occupancy, coverage and lifetime totals.

A `SensorAggregator` holds one open interval. Events go into it; the clock closes it (`close_due`), even when
nobody passed, because an interval with zero counts is data too. Whether zero means "quiet" or "dead" is told
by coverage: the seconds of the interval during which the source was up (`source_up` .. `source_down`).

Pure and single-threaded: the caller serialises calls and passes every time in. `add` and `reject` run once
per received line, so they do one comparison against a cached horizon (the open interval's end or the next
occupancy reset, whichever comes first) and only then any date arithmetic. An event stamped at or after the
open interval's end first closes it (the closed interval waits for the next `close_due`); an event stamped
before the open interval's start (a late line, or the clock stepping back) is counted in the open interval,
because a closed interval is final and is never reopened.

Gaps: while the agent runs, every interval is closed, consecutive and gap-free. After a restart from a saved
state, the interval that was open closes with its own bounds and counting resumes in the interval of the
restart time; the slots in between are not emitted, since nothing observed them. A jump of the clock by
`MAX_CATCH_UP_S` or more is treated the same way (a suspended machine, or the clock set long after boot).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import time, tzinfo
from typing import Any

from agent.cumulative import CumulativeCounter, Reading
from agent.intervals import check_length, interval_end, interval_start, next_local_time

STATE_VERSION = 1
MAX_CATCH_UP_S = 86400.0
_DISCONTINUITIES = frozenset(("reset", "jump"))


@dataclass(frozen=True)
class ClosedInterval:
    """One sensor's final figures for [start, end); `end - start` is the true duration (see agent.intervals)."""

    sensor: str
    start: float
    end: float
    ins: int
    outs: int
    occupancy: int
    total_in: int
    total_out: int
    coverage_s: float
    rejected_lines: int
    disconnects: int
    counter_resets: int


class SensorAggregator:
    """Counts of one sensor, aggregated into wall-clock intervals of `length` seconds in `tz`.

    `occupancy` is ins minus outs, clamped at 0 after each batch and reset to 0 daily at `occupancy_reset`
    local time (see `next_local_time` for DST days), because a missed exit must not carry into the next day.
    A reset falling exactly on an interval boundary belongs to the interval it starts, so the interval ending
    then still reports who was inside. `counter_resets` counts discontinuous readings per register (a device
    reboot that zeroes both registers counts 2).

    `state` is a `snapshot()` to continue from. Coverage restarts as down after a restore: the agent was not
    watching while it was stopped, so a source that was up is credited only up to the last instant the old
    process saw, and must report `source_up` again. Everything else continues exactly.
    """

    def __init__(
        self,
        sensor: str,
        length: int,
        tz: tzinfo,
        occupancy_reset: time,
        now: float,
        state: dict | None = None,
        counter_bits: int = 32,
        max_step: int = 10000,
    ) -> None:
        self.sensor = sensor
        self.length = check_length(length)
        self.tz = tz
        self.occupancy_reset = occupancy_reset
        self._pending: list[ClosedInterval] = []
        self._resume: float | None = None
        self._up = False
        self._up_since = 0.0
        if state is None:
            self._begin(now, counter_bits, max_step)
        else:
            try:
                self._restore(state, now, counter_bits, max_step)
            except (KeyError, TypeError, ValueError, AttributeError) as e:
                raise ValueError(f"{sensor}: unusable saved aggregator state ({type(e).__name__}: {e})") from None
        self._next_reset = next_local_time(self._reset_after, occupancy_reset, tz)
        self._horizon = min(self._end, self._next_reset)

    # -- setup

    def _begin(self, now: float, counter_bits: int, max_step: int) -> None:
        self.occupancy = 0
        self.total_in = 0
        self.total_out = 0
        self._in_counter = CumulativeCounter(counter_bits, max_step)
        self._out_counter = CumulativeCounter(counter_bits, max_step)
        self._reset_after = now
        self._seen = now
        self._open(interval_start(now, self.length, self.tz))

    def _restore(self, state: dict, now: float, counter_bits: int, max_step: int) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"state version {state.get('version')!r}, expected {STATE_VERSION}")
        o = state["open"]
        self._start = float(o["start"])
        self._end = float(o["end"])
        if not self._end > self._start:
            raise ValueError(f"open interval [{self._start}, {self._end}) is empty")
        self._ins = int(o["ins"])
        self._outs = int(o["outs"])
        self._rejected = int(o["rejected_lines"])
        self._disconnects = int(o["disconnects"])
        self._resets = int(o["counter_resets"])
        self._coverage = float(o["coverage_s"])
        self.occupancy = int(state["occupancy"])
        self.total_in = int(state["total_in"])
        self.total_out = int(state["total_out"])
        baselines = state["baselines"]
        self._in_counter = CumulativeCounter(counter_bits, max_step, _optional_int(baselines["in"]))
        self._out_counter = CumulativeCounter(counter_bits, max_step, _optional_int(baselines["out"]))
        self._reset_after = float(state["reset_after"])
        seen = float(state["seen"])
        self._pending = [ClosedInterval(**c) for c in state["pending"]]
        if state["up"]:
            # The source was up at least until the last instant the old process saw; after that nobody knows.
            covered = min(seen, self._end) - max(float(state["up_since"]), self._start)
            self._coverage += max(0.0, covered)
        self._seen = max(seen, now)
        if self._end <= now:
            self._resume = max(interval_start(now, self.length, self.tz), self._end)
        elif state["resume"] is not None:
            self._resume = float(state["resume"])

    # -- events (hot path: called per received line)

    def add(self, ins: int, outs: int, at: float) -> None:
        """Count `ins` entries and `outs` exits that happened at `at`."""
        if at >= self._horizon:
            self._advance(at)
        if at > self._seen:
            self._seen = at
        self._ins += ins
        self._outs += outs
        self.total_in += ins
        self.total_out += outs
        occupancy = self.occupancy + ins - outs
        self.occupancy = occupancy if occupancy > 0 else 0

    def reject(self, n: int, at: float) -> None:
        """Count `n` received lines that were garbage, so a miswired or noisy line shows in the data."""
        if at >= self._horizon:
            self._advance(at)
        if at > self._seen:
            self._seen = at
        self._rejected += n

    def add_totals(self, in_total: int, out_total: int, at: float) -> tuple[Reading, Reading]:
        """Count the increase of a device's running totals since its previous reading."""
        r_in = self._in_counter.update(in_total)
        r_out = self._out_counter.update(out_total)
        self._resets += (r_in.kind in _DISCONTINUITIES) + (r_out.kind in _DISCONTINUITIES)
        self.add(r_in.delta, r_out.delta, at)
        return r_in, r_out

    # -- source health

    def source_up(self, at: float) -> None:
        """The source delivers data from `at` on; repeated calls while up change nothing."""
        self._observe(at)
        if self._up:
            return
        self._up = True
        self._up_since = at if at > self._start else self._start

    def source_down(self, at: float) -> None:
        """The source stopped at `at`; a loss after being up counts as a disconnect, repeats while down do not."""
        self._observe(at)
        if not self._up:
            return
        stop = at if at > self._start else self._start
        if stop > self._up_since:
            self._coverage += stop - self._up_since
        self._up = False
        self._disconnects += 1

    def reset_occupancy(self, at: float) -> None:
        """Set occupancy to 0 at `at` (someone counted the people inside); interval counts are untouched.

        Intervals that ended by `at` are closed first, so they keep the occupancy they ended with.
        """
        self._observe(at)
        self.occupancy = 0

    # -- the clock

    def close_due(self, now: float) -> list[ClosedInterval]:
        """Every interval that ended at or before `now` and was not returned yet, oldest first."""
        self._observe(now)
        closed, self._pending = self._pending, []
        return closed

    def unreturned(self) -> list[ClosedInterval]:
        """Intervals already closed by an event or a reset but not yet taken by `close_due` (for display:
        counts that left the open interval and are not stored yet)."""
        return list(self._pending)

    def live(self) -> dict[str, Any]:
        """The open interval so far, for display."""
        return {
            "start": self._start,
            "end": self._end,
            "ins": self._ins,
            "outs": self._outs,
            "occupancy": self.occupancy,
            "total_in": self.total_in,
            "total_out": self.total_out,
            "rejected_lines": self._rejected,
            "disconnects": self._disconnects,
            "counter_resets": self._resets,
            "up": self._up,
        }

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable state from which `SensorAggregator(..., state=...)` continues exactly."""
        return {
            "version": STATE_VERSION,
            "open": {
                "start": self._start,
                "end": self._end,
                "ins": self._ins,
                "outs": self._outs,
                "rejected_lines": self._rejected,
                "disconnects": self._disconnects,
                "counter_resets": self._resets,
                "coverage_s": self._coverage,
            },
            "up": self._up,
            "up_since": self._up_since,
            "occupancy": self.occupancy,
            "total_in": self.total_in,
            "total_out": self.total_out,
            "baselines": {"in": self._in_counter.last, "out": self._out_counter.last},
            "reset_after": self._reset_after,
            "seen": self._seen,
            "resume": self._resume,
            "pending": [asdict(c) for c in self._pending],
        }

    # -- internals (off the hot path)

    def _observe(self, at: float) -> None:
        if at >= self._horizon:
            self._advance(at)
        if at > self._seen:
            self._seen = at

    def _advance(self, at: float) -> None:
        """Close the intervals that ended by `at`, then apply an occupancy reset that is due."""
        if at >= self._end:
            self._roll(at)
        if at >= self._next_reset:
            self.occupancy = 0
            self._reset_after = at
            self._next_reset = next_local_time(at, self.occupancy_reset, self.tz)
        self._horizon = min(self._end, self._next_reset)

    def _roll(self, at: float) -> None:
        while self._end <= at:
            end = self._end
            self._pending.append(self._close_open())
            if self._resume is not None:
                start, self._resume = self._resume, None
            elif at - end >= MAX_CATCH_UP_S:
                start = max(interval_start(at, self.length, self.tz), end)
            else:
                start = end
            self._open(start)

    def _close_open(self) -> ClosedInterval:
        start, end = self._start, self._end
        # A reset inside the interval (not at its end, which belongs to the next one) empties the building
        # even if no event came after it.
        while self._next_reset < end:
            self.occupancy = 0
            self._reset_after = max(self._next_reset, start)
            self._next_reset = next_local_time(self._reset_after, self.occupancy_reset, self.tz)
        coverage = self._coverage + (end - self._up_since if self._up else 0.0)
        return ClosedInterval(
            sensor=self.sensor,
            start=start,
            end=end,
            ins=self._ins,
            outs=self._outs,
            occupancy=self.occupancy,
            total_in=self.total_in,
            total_out=self.total_out,
            coverage_s=min(max(coverage, 0.0), end - start),
            rejected_lines=self._rejected,
            disconnects=self._disconnects,
            counter_resets=self._resets,
        )

    def _open(self, start: float) -> None:
        """Open the interval from `start` to the next boundary (shorter if `start` is off the grid after a
        change of length or zone, so that it never overlaps what was closed)."""
        self._start = start
        self._end = interval_end(start, self.length, self.tz)
        self._ins = 0
        self._outs = 0
        self._rejected = 0
        self._disconnects = 0
        self._resets = 0
        self._coverage = 0.0
        if self._up:
            self._up_since = start


def day_start(now: float, reset: time, tz: tzinfo) -> float:
    """Start of the counting day containing `now`: the latest daily occupancy reset at or before `now`."""
    start = next_local_time(now - 2 * 86400.0, reset, tz)
    while (following := next_local_time(start, reset, tz)) <= now:
        start = following
    return start


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
