"""Wall-clock interval arithmetic in the device's time zone.

Reports are read by people who think in local time, so an interval is the span between two consecutive
*boundaries*: instants at which the local wall clock (UTC time plus the UTC offset in force at that instant)
is a whole multiple of the interval length. Lengths divide an hour, so whenever a zone's offsets differ by
multiples of the length (whole-hour DST shifts, fixed offsets such as +05:30 and +05:45, Lord Howe's
30-minute shift for lengths that divide 30 minutes) the boundaries form one regular grid in UTC and every
interval is exactly `length` long: the repeated autumn hour gives two distinct intervals (01:00-04:00 and
01:00-05:00 in New York, told apart by their offsets), the skipped spring hour gives none.

A DST shift that is not a multiple of the length breaks the grid: Australia/Lord_Howe moves its clocks by
30 minutes, so a 1-hour grid sits at UTC :30 in winter (+10:30) and at UTC :00 in summer (+11:00). The
definition above still yields contiguous, non-overlapping intervals whose starts are all local multiples
of the length. The one interval spanning the shift starts on the old grid and ends on the new one, so it is
longer than `length` by the misalignment (Lord Howe shifts at 02:00, a boundary of every grid): with 1-hour
intervals 01:00+10:30 to 03:00+11:00 in October and 01:00+11:00 to 02:00+10:30 in April, both 90 minutes;
with 20-minute intervals 30 minutes; with lengths dividing 30 minutes nothing changes.
Consumers must therefore take an interval's duration from its end minus its start, not from the config.

Time is passed in as float epoch seconds; nothing here reads a clock.
"""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta, tzinfo

HOUR_S = 3600


def check_length(length: int) -> int:
    """Reject lengths that cannot tile an hour, because only those keep every zone's grid aligned to :00."""
    if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= HOUR_S or HOUR_S % length:
        raise ValueError(f"interval length must be whole seconds from 1 to 3600 that divide 3600, not {length!r}")
    return length


def _offset(t: int, tz: tzinfo) -> int:
    """UTC offset in whole seconds in force at instant `t` (every tzdata offset is whole seconds)."""
    off = datetime.fromtimestamp(t, tz).utcoffset()
    return 0 if off is None else int(off.total_seconds())


def _first_with_other_offset(lo: int, hi: int, tz: tzinfo) -> int:
    """The first instant in (lo, hi] whose offset differs from lo's; the caller knows hi's does.

    Offsets change at whole seconds and at most once within the hour this is asked about, so a
    bisection over integer seconds finds the transition in about a dozen steps.
    """
    off_lo = _offset(lo, tz)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset(mid, tz) == off_lo:
            lo = mid
        else:
            hi = mid
    return hi


def interval_start(t: float, length: int, tz: tzinfo) -> float:
    """Start of the interval containing `t`: the last boundary at or before `t`."""
    check_length(length)
    x = math.floor(t)  # boundaries are whole seconds, so the interval of t is that of floor(t)
    while True:
        off = _offset(x, tz)
        candidate = x - (x + off) % length
        if _offset(candidate, tz) == off:
            return float(candidate)
        # The offset changed in (candidate, x] and the new offset's grid has no point there, so the interval
        # began on the old offset's grid: continue from the last second before the change.
        x = _first_with_other_offset(candidate, x, tz) - 1


def interval_end(t: float, length: int, tz: tzinfo) -> float:
    """End of the interval containing `t` (exclusive): the first boundary after `t`.

    Also the end of an interval opened at a non-boundary instant `t`, which is how a changed length or zone
    takes over from a restored interval without overlapping it.
    """
    check_length(length)
    x = math.floor(t)
    while True:
        off = _offset(x, tz)
        candidate = x + length - (x + off) % length
        if _offset(candidate, tz) == off:
            return float(candidate)
        # The offset changes before the candidate: no boundary of the old grid lies before the change; the
        # change itself is one if the new offset puts it on the grid, otherwise continue on the new grid.
        change = _first_with_other_offset(x, candidate, tz)
        if (change + _offset(change, tz)) % length == 0:
            return float(change)
        x = change


def local_iso(t: float, tz: tzinfo) -> str:
    """ISO-8601 local time with UTC offset, whole seconds, e.g. `2026-03-29T03:00:00+02:00`."""
    return datetime.fromtimestamp(t, tz).isoformat(timespec="seconds")


def _wall_time_instant(day: date, at: time, tz: tzinfo) -> float:
    """The first instant at which the wall clock in `tz` shows `at` on `day`, or the end of the gap hiding it."""
    naive = datetime.combine(day, at.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=tz, fold=0).timestamp()  # fold=0 is the earlier of two repeated readings
    if datetime.fromtimestamp(first, tz).replace(tzinfo=None) == naive:
        return first
    # Skipped by a spring-forward gap: fold 0 and 1 map it to instants on either side of the transition.
    other = naive.replace(tzinfo=tz, fold=1).timestamp()
    lo, hi = sorted((first, other))
    return float(_first_with_other_offset(math.floor(lo), math.ceil(hi), tz))


def next_local_time(t: float, at: time, tz: tzinfo) -> float:
    """Next instant after `t` at which the local wall clock shows `at` (a daily event such as a reset).

    A wall time skipped by a spring-forward gap happens at the first instant after the gap (02:30 on the
    New York spring day is 03:00 EDT). A repeated wall time happens once, at its first occurrence: if `t`
    lies between the two occurrences the answer is the next day's, so a daily event never fires twice.
    """
    day = datetime.fromtimestamp(t, tz).date() - timedelta(days=1)
    while True:
        candidate = _wall_time_instant(day, at, tz)
        if candidate > t:
            return candidate
        day += timedelta(days=1)
