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

Cameras count more than ins and outs: crossings per line, and per zone its entries, exits, dwell times and
the people inside. The camera reports them with its ins and outs in one call (`add_camera`: increments since
its previous report, and each zone's occupancy as it is now), and they are summed into the very interval
the ins and outs go to, so a payload's per-line and per-zone figures cover exactly its own wall-clock
interval. Zone occupancy is what the camera last saw, kept across intervals (a zone's occupancy is seen,
not inferred, so it has no daily reset).

Gaps: while the agent runs, every interval is closed, consecutive and gap-free. After a restart from a saved
state, the interval that was open closes with its own bounds and counting resumes in the interval of the
restart time; the slots in between are not emitted, since nothing observed them. A jump of the clock by
`MAX_CATCH_UP_S` or more is treated the same way (a suspended machine, or the clock set long after boot).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import time, tzinfo
from typing import Any

from agent.aggregation.clock import check_length, interval_end, interval_start, next_local_time
from agent.aggregation.cumulative import CumulativeCounter, Reading
from agent.aggregation.records import CameraCounts, ClosedInterval, LineInterval, ZoneInterval, ZoneStep

STATE_VERSION = 1
MAX_CATCH_UP_S = 86400.0
_DISCONTINUITIES = frozenset(("reset", "jump"))
DWELL_SAMPLES = 1000
"""Dwell times kept per zone and interval for the median (bounded state); count and mean take every exit."""


@dataclass(slots=True)
class _ZoneTally:
    """A zone's counts in the open interval."""

    entries: int = 0
    exits: int = 0
    dwell_count: int = 0
    dwell_sum_s: float = 0.0
    dwell_s: list[float] = field(default_factory=list)

    def add(self, step: ZoneStep) -> None:
        self.entries += step.entries
        self.exits += step.exits
        self.dwell_count += len(step.dwell_s)
        self.dwell_sum_s += sum(step.dwell_s)
        room = DWELL_SAMPLES - len(self.dwell_s)
        if room > 0:  # to the millisecond: a short checkpoint, and far finer than a frame
            self.dwell_s.extend(round(d, 3) for d in step.dwell_s[:room])

    def close(self, occupancy: int) -> ZoneInterval:
        return ZoneInterval(
            entries=self.entries,
            exits=self.exits,
            occupancy=occupancy,
            dwell_count=self.dwell_count,
            dwell_median_s=statistics.median(self.dwell_s) if self.dwell_s else None,
            dwell_mean_s=self.dwell_sum_s / self.dwell_count if self.dwell_count else None,
        )


class SensorAggregator:
    """Counts of one sensor, aggregated into wall-clock intervals of `length` seconds in `tz`.

    `occupancy` is ins minus outs, clamped at 0 after each batch and reset to 0 daily at `occupancy_reset`
    local time (see `next_local_time` for DST days), because a missed exit must not carry into the next day.
    A reset falling exactly on an interval boundary belongs to the interval it starts, so the interval ending
    then still reports who was inside. `counter_resets` counts discontinuous readings per register (a device
    reboot that zeroes both registers counts 2).

    `lines` and `zones` name a camera's counting lines and zones (None for other sensors): closed intervals
    carry figures for each of them, zero when nothing happened, and ignore names not listed.

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
        lines: Sequence[str] | None = None,
        zones: Sequence[str] | None = None,
    ) -> None:
        self.sensor = sensor
        self.length = check_length(length)
        self.tz = tz
        self.occupancy_reset = occupancy_reset
        self.camera = lines is not None or zones is not None
        self._line_names = tuple(lines or ())
        self._zone_names = tuple(zones or ())
        self.zone_occupancy: dict[str, int] = dict.fromkeys(self._zone_names, 0)
        self._line_tallies: dict[str, list[int]] = {}
        self._zone_tallies: dict[str, _ZoneTally] = {}
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
        # Camera figures of states saved before they existed (or for names no longer configured) are absent.
        self._reset_tallies()
        saved_lines = o.get("lines") or {}
        for name, tally in self._line_tallies.items():
            if name in saved_lines:
                tally[:] = [int(saved_lines[name][0]), int(saved_lines[name][1])]
        saved_zones = o.get("zones") or {}
        for name in self._zone_tallies:
            if name in saved_zones:
                z = saved_zones[name]
                self._zone_tallies[name] = _ZoneTally(
                    int(z["entries"]),
                    int(z["exits"]),
                    int(z["dwell_count"]),
                    float(z["dwell_sum_s"]),
                    [float(x) for x in z["dwell_s"]][:DWELL_SAMPLES],
                )
        saved_occupancy = state.get("zone_occupancy") or {}
        for name in self.zone_occupancy:
            self.zone_occupancy[name] = int(saved_occupancy.get(name, 0))
        self.occupancy = int(state["occupancy"])
        self.total_in = int(state["total_in"])
        self.total_out = int(state["total_out"])
        baselines = state["baselines"]
        held = state.get("held") or {}  # absent in states saved before readings were held
        self._in_counter = CumulativeCounter(
            counter_bits, max_step, _optional_int(baselines["in"]), _optional_int(held.get("in"))
        )
        self._out_counter = CumulativeCounter(
            counter_bits, max_step, _optional_int(baselines["out"]), _optional_int(held.get("out"))
        )
        self._reset_after = float(state["reset_after"])
        seen = float(state["seen"])
        self._pending = [ClosedInterval.from_dict(c) for c in state["pending"]]
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

    def add_camera(self, ins: int, outs: int, counts: CameraCounts, at: float) -> None:
        """Count a camera's report at `at`: the sensor's ins and outs, and per line and zone (see the module)."""
        self.add(ins, outs, at)
        for name, (line_ins, line_outs) in counts.lines.items():
            tally = self._line_tallies.get(name)
            if tally is not None:
                tally[0] += line_ins
                tally[1] += line_outs
        for name, step in counts.zones.items():
            zone = self._zone_tallies.get(name)
            if zone is not None:
                zone.add(step)
                self.zone_occupancy[name] = step.occupancy

    def reject(self, n: int, at: float) -> None:
        """Count `n` received lines that were garbage, so a miswired or noisy line shows in the data."""
        if at >= self._horizon:
            self._advance(at)
        if at > self._seen:
            self._seen = at
        self._rejected += n

    def add_totals(self, in_total: int, out_total: int, at: float) -> tuple[Reading, Reading]:
        """Count the increase of a device's running totals since its previous reading.

        A reading found to be a glitch (see `CumulativeCounter`) was corrupted data: it counts as rejected.
        """
        r_in = self._in_counter.update(in_total)
        r_out = self._out_counter.update(out_total)
        self._resets += (r_in.kind in _DISCONTINUITIES) + (r_out.kind in _DISCONTINUITIES)
        self.add(r_in.delta, r_out.delta, at)
        if r_in.kind == "glitch" or r_out.kind == "glitch":
            self._rejected += 1
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

    def clock_stepped(self, before: float, after: float) -> None:
        """The wall clock jumped forward from `before` to `after` (see `agent.aggregation.clock_steps`): nothing
        was observed in between. Coverage stops at `before` and resumes at `after`; the intervals wholly in the
        gap are not emitted, as after a restart, because nothing observed them. A backward step needs nothing
        here: the caller's counting time never goes back."""
        if after <= before:
            return
        self._observe(before)
        if self._up:
            stop = before if before > self._start else self._start
            if stop > self._up_since:
                self._coverage += stop - self._up_since
        if after < self._end:
            self._up_since = after
            self._observe(after)
            return
        self._up_since = self._end  # nothing more for the open interval
        self._resume = max(interval_start(after, self.length, self.tz), self._end)
        self._observe(after)
        if self._up:
            self._up_since = max(after, self._start)

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
            "zone_occupancy": dict(self.zone_occupancy) if self.camera else None,
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
                "lines": {name: list(tally) for name, tally in self._line_tallies.items()},
                "zones": {name: asdict(tally) for name, tally in self._zone_tallies.items()},
            },
            "zone_occupancy": dict(self.zone_occupancy),
            "up": self._up,
            "up_since": self._up_since,
            "occupancy": self.occupancy,
            "total_in": self.total_in,
            "total_out": self.total_out,
            "baselines": {"in": self._in_counter.last, "out": self._out_counter.last},
            "held": {"in": self._in_counter.held, "out": self._out_counter.held},
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
            lines={name: LineInterval(*tally) for name, tally in self._line_tallies.items()} if self.camera else None,
            zones={name: tally.close(self.zone_occupancy[name]) for name, tally in self._zone_tallies.items()}
            if self.camera
            else None,
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
        self._reset_tallies()
        if self._up:
            self._up_since = start

    def _reset_tallies(self) -> None:
        self._line_tallies = {name: [0, 0] for name in self._line_names}
        self._zone_tallies = {name: _ZoneTally() for name in self._zone_names}


def day_start(now: float, reset: time, tz: tzinfo) -> float:
    """Start of the counting day containing `now`: the latest daily occupancy reset at or before `now`."""
    start = next_local_time(now - 2 * 86400.0, reset, tz)
    while (following := next_local_time(start, reset, tz)) <= now:
        start = following
    return start


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
