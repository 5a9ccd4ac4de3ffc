"""Wall-clock interval alignment and daily local times across time zones and DST transitions."""

from __future__ import annotations

import random
from datetime import datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from agent.aggregation.clock import check_length, interval_end, interval_start, local_iso, next_local_time

UTC = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")
KATHMANDU = ZoneInfo("Asia/Kathmandu")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")

LENGTHS = [1, 10, 60, 300, 720, 900, 1200, 1800, 3600]


def ts(iso: str) -> float:
    """Epoch seconds of an ISO-8601 time with explicit offset."""
    return datetime.fromisoformat(iso).timestamp()


def wall_seconds(t: float, tz: ZoneInfo) -> int:
    """Seconds since local midnight shown by the wall clock at instant t."""
    d = datetime.fromtimestamp(t, tz)
    return d.hour * 3600 + d.minute * 60 + d.second


def walk(t0: float, t1: float, length: int, tz: ZoneInfo) -> list[tuple[float, float]]:
    """Consecutive intervals from the one containing t0 up to the one containing t1."""
    out = []
    start = interval_start(t0, length, tz)
    while start <= t1:
        end = interval_end(start, length, tz)
        out.append((start, end))
        start = end
    return out


def window(length: int) -> float:
    """Half-width of the span walked around a transition: at least a few hundred intervals, at most 90 min."""
    return float(min(5400, 300 * length))


def labels(intervals: list[tuple[float, float]], tz: ZoneInfo) -> list[str]:
    return [f"{local_iso(s, tz)[11:]} {local_iso(e, tz)[11:]}" for s, e in intervals]


# Transition instants (UTC) and zones whose offsets differ by whole hours or are fixed.
WHOLE_HOUR_CASES = [
    ("Europe/Berlin", "2026-03-29T01:00:00+00:00"),
    ("Europe/Berlin", "2026-10-25T01:00:00+00:00"),
    ("America/New_York", "2026-03-08T07:00:00+00:00"),
    ("America/New_York", "2025-11-02T06:00:00+00:00"),
    ("America/Santiago", "2025-09-07T04:00:00+00:00"),
    ("Asia/Kolkata", "2026-03-29T01:00:00+00:00"),
    ("Asia/Kathmandu", "2026-03-29T01:00:00+00:00"),
    ("Pacific/Chatham", "2025-09-27T14:00:00+00:00"),
    ("UTC", "2026-03-29T01:00:00+00:00"),
]


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("zone,transition", WHOLE_HOUR_CASES)
def test_intervals_tile_time_with_exact_length_and_local_alignment(zone: str, transition: str, length: int) -> None:
    tz = ZoneInfo(zone)
    t = ts(transition)
    w = window(length)
    intervals = walk(t - w, t + w, length, tz)
    assert intervals[0][0] <= t - w < intervals[0][1]
    for (_, end), (next_start, _) in pairwise(intervals):
        assert end == next_start, "no gap, no overlap"
    for start, end in intervals:
        assert end - start == length
        assert wall_seconds(start, tz) % length == 0, local_iso(start, tz)
        assert interval_start(start, length, tz) == start
        assert interval_start(end - 0.25, length, tz) == start
        assert interval_end(start + (end - start) / 2, length, tz) == end


def test_new_york_fall_back_gives_two_distinct_one_oclock_intervals() -> None:
    intervals = walk(ts("2025-11-02T00:00:00-04:00"), ts("2025-11-02T03:00:00-05:00"), 3600, NEW_YORK)
    assert labels(intervals, NEW_YORK) == [
        "00:00:00-04:00 01:00:00-04:00",
        "01:00:00-04:00 01:00:00-05:00",
        "01:00:00-05:00 02:00:00-05:00",
        "02:00:00-05:00 03:00:00-05:00",
        "03:00:00-05:00 04:00:00-05:00",
    ]
    assert all(e - s == 3600 for s, e in intervals)
    starts = [local_iso(s, NEW_YORK) for s, _ in intervals]
    assert len(set(starts)) == len(starts)


def test_new_york_spring_forward_skips_the_missing_hour() -> None:
    intervals = walk(ts("2026-03-08T00:00:00-05:00"), ts("2026-03-08T04:00:00-04:00"), 3600, NEW_YORK)
    assert labels(intervals, NEW_YORK) == [
        "00:00:00-05:00 01:00:00-05:00",
        "01:00:00-05:00 03:00:00-04:00",
        "03:00:00-04:00 04:00:00-04:00",
        "04:00:00-04:00 05:00:00-04:00",
    ]
    assert all(e - s == 3600 for s, e in intervals)


def test_berlin_quarter_hours_across_spring_forward() -> None:
    t = ts("2026-03-29T03:07:00+02:00")
    assert local_iso(interval_start(t, 900, BERLIN), BERLIN) == "2026-03-29T03:00:00+02:00"
    before = interval_start(ts("2026-03-29T03:00:00+02:00") - 1, 900, BERLIN)
    assert local_iso(before, BERLIN) == "2026-03-29T01:45:00+01:00"
    assert interval_end(before, 900, BERLIN) == ts("2026-03-29T03:00:00+02:00")


@pytest.mark.parametrize(
    "tz,t,expected",
    [
        (KOLKATA, "2026-01-15T10:47:12+05:30", "2026-01-15T10:00:00+05:30"),
        (KOLKATA, "2026-01-15T10:00:00+05:30", "2026-01-15T10:00:00+05:30"),
        (KOLKATA, "2026-01-15T09:59:59+05:30", "2026-01-15T09:00:00+05:30"),
        (KATHMANDU, "2026-01-15T10:47:12+05:45", "2026-01-15T10:00:00+05:45"),
        (KATHMANDU, "2026-01-15T00:14:59+05:45", "2026-01-15T00:00:00+05:45"),
        (KATHMANDU, "2026-01-14T23:59:59+05:45", "2026-01-14T23:00:00+05:45"),
    ],
)
def test_half_and_quarter_hour_zones_start_hours_at_local_zero_minutes(tz: ZoneInfo, t: str, expected: str) -> None:
    start = interval_start(ts(t), 3600, tz)
    assert local_iso(start, tz) == expected
    assert interval_end(ts(t), 3600, tz) == start + 3600
    assert start % 3600 != 0, "the UTC grid is offset by the zone's minutes"


def test_kathmandu_quarter_hours_are_on_local_quarters() -> None:
    t = ts("2026-01-15T10:47:12+05:45")
    assert local_iso(interval_start(t, 900, KATHMANDU), KATHMANDU) == "2026-01-15T10:45:00+05:45"
    assert local_iso(interval_start(t, 1800, KATHMANDU), KATHMANDU) == "2026-01-15T10:30:00+05:45"


def test_lord_howe_hour_spanning_the_spring_shift_lasts_ninety_minutes() -> None:
    intervals = walk(ts("2025-10-05T00:00:00+10:30"), ts("2025-10-05T04:00:00+11:00"), 3600, LORD_HOWE)
    assert labels(intervals, LORD_HOWE) == [
        "00:00:00+10:30 01:00:00+10:30",
        "01:00:00+10:30 03:00:00+11:00",
        "03:00:00+11:00 04:00:00+11:00",
        "04:00:00+11:00 05:00:00+11:00",
    ]
    assert [e - s for s, e in intervals] == [3600, 5400, 3600, 3600]


def test_lord_howe_hour_spanning_the_autumn_shift_lasts_ninety_minutes() -> None:
    intervals = walk(ts("2026-04-05T00:00:00+11:00"), ts("2026-04-05T03:00:00+10:30"), 3600, LORD_HOWE)
    assert labels(intervals, LORD_HOWE) == [
        "00:00:00+11:00 01:00:00+11:00",
        "01:00:00+11:00 02:00:00+10:30",
        "02:00:00+10:30 03:00:00+10:30",
        "03:00:00+10:30 04:00:00+10:30",
    ]
    assert [e - s for s, e in intervals] == [3600, 5400, 3600, 3600]
    # Every instant of the long interval, including the repeated half hour, maps to it.
    start, end = intervals[1]
    for t in range(int(start), int(end), 300):
        assert (interval_start(t, 3600, LORD_HOWE), interval_end(t, 3600, LORD_HOWE)) == (start, end)


@pytest.mark.parametrize("transition", ["2025-10-04T15:30:00+00:00", "2026-04-04T15:00:00+00:00"])
@pytest.mark.parametrize("length", LENGTHS)
def test_lord_howe_intervals_stay_contiguous_and_aligned(transition: str, length: int) -> None:
    t = ts(transition)
    intervals = walk(t - window(length), t + window(length), length, LORD_HOWE)
    for (_, end), (next_start, _) in pairwise(intervals):
        assert end == next_start
    stretched = [(s, e) for s, e in intervals if e - s != length]
    if 1800 % length == 0:
        assert stretched == [], "a 30-minute shift keeps the grid of lengths dividing 30 minutes"
    else:
        assert len(stretched) == 1
        s, e = stretched[0]
        assert s < t < e and length < e - s < 2 * length
    for s, _ in intervals:
        assert wall_seconds(s, LORD_HOWE) % length == 0


@pytest.mark.parametrize(
    "zone",
    [
        "UTC",
        "Europe/Berlin",
        "Europe/Dublin",
        "America/New_York",
        "America/St_Johns",
        "America/Havana",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Asia/Tehran",
        "Australia/Adelaide",
        "Australia/Lord_Howe",
        "Pacific/Chatham",
        "Africa/Casablanca",
    ],
)
def test_interval_bounds_are_consistent_at_random_instants(zone: str) -> None:
    tz = ZoneInfo(zone)
    rng = random.Random(zone)
    for _ in range(300):
        length = rng.choice(LENGTHS)
        t = rng.uniform(ts("2020-01-01T00:00:00+00:00"), ts("2030-01-01T00:00:00+00:00"))
        start, end = interval_start(t, length, tz), interval_end(t, length, tz)
        assert start <= t < end
        assert start == int(start) and end == int(end)
        assert wall_seconds(start, tz) % length == 0 and wall_seconds(end, tz) % length == 0
        assert interval_end(start, length, tz) == end
        assert interval_start(end, length, tz) == end
        assert interval_end(start - 0.5, length, tz) == start, "the previous interval ends where this one starts"
        assert 0 < end - start < 2 * length


def test_fractional_instants_belong_to_the_interval_of_their_second() -> None:
    b = ts("2026-06-01T12:00:00+02:00")
    assert interval_start(b + 0.999, 60, BERLIN) == b
    assert interval_start(b - 0.001, 60, BERLIN) == b - 60
    assert interval_end(b - 0.001, 60, BERLIN) == b
    assert interval_end(b, 60, BERLIN) == b + 60


@pytest.mark.parametrize("length", [0, -900, 7, 2400, 3601, 7200, True])
def test_lengths_that_do_not_divide_an_hour_are_rejected(length: int) -> None:
    with pytest.raises(ValueError, match="divide 3600"):
        check_length(length)
    with pytest.raises(ValueError):
        interval_start(0.0, length, UTC)


def test_length_must_be_whole_seconds() -> None:
    with pytest.raises(ValueError):
        check_length(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "tz,t,expected",
    [
        (BERLIN, ts("2026-03-29T01:00:00+00:00"), "2026-03-29T03:00:00+02:00"),
        (BERLIN, ts("2026-03-29T00:59:59+00:00"), "2026-03-29T01:59:59+01:00"),
        (UTC, 0.0, "1970-01-01T00:00:00+00:00"),
        (KATHMANDU, ts("2026-01-15T10:00:00.75+05:45"), "2026-01-15T10:00:00+05:45"),
        (NEW_YORK, ts("2025-11-02T05:30:00+00:00"), "2025-11-02T01:30:00-04:00"),
        (NEW_YORK, ts("2025-11-02T06:30:00+00:00"), "2025-11-02T01:30:00-05:00"),
    ],
)
def test_local_iso_has_seconds_and_offset(tz: ZoneInfo, t: float, expected: str) -> None:
    assert local_iso(t, tz) == expected


def test_payload_example_instant_is_a_berlin_quarter_hour() -> None:
    assert interval_start(1774746000.0, 900, BERLIN) == 1774746000.0
    assert local_iso(1774746000.0, BERLIN) == "2026-03-29T03:00:00+02:00"


FOUR = time(4, 0)


@pytest.mark.parametrize(
    "tz,t,at,expected",
    [
        # an ordinary day: later today, or tomorrow once passed; strictly after t
        (BERLIN, "2026-06-01T12:00:00+02:00", FOUR, "2026-06-02T04:00:00+02:00"),
        (BERLIN, "2026-06-01T03:59:59+02:00", FOUR, "2026-06-01T04:00:00+02:00"),
        (BERLIN, "2026-06-01T04:00:00+02:00", FOUR, "2026-06-02T04:00:00+02:00"),
        # spring forward: 02:30 does not exist, the reset happens when the gap ends
        (NEW_YORK, "2026-03-08T00:00:00-05:00", time(2, 30), "2026-03-08T03:00:00-04:00"),
        (NEW_YORK, "2026-03-08T00:00:00-05:00", time(2, 0), "2026-03-08T03:00:00-04:00"),
        (NEW_YORK, "2026-03-08T00:00:00-05:00", time(3, 0), "2026-03-08T03:00:00-04:00"),
        (BERLIN, "2026-03-29T00:00:00+01:00", time(2, 15), "2026-03-29T03:00:00+02:00"),
        (LORD_HOWE, "2025-10-05T00:00:00+10:30", time(2, 15), "2025-10-05T02:30:00+11:00"),
        (ZoneInfo("America/Santiago"), "2025-09-06T12:00:00-04:00", time(0, 0), "2025-09-07T01:00:00-03:00"),
        # fall back: a repeated time happens at its first occurrence, and only once that day
        (NEW_YORK, "2025-11-02T00:00:00-04:00", time(1, 30), "2025-11-02T01:30:00-04:00"),
        (NEW_YORK, "2025-11-02T01:45:00-04:00", time(1, 30), "2025-11-03T01:30:00-05:00"),
        (NEW_YORK, "2025-11-02T01:15:00-05:00", time(1, 30), "2025-11-03T01:30:00-05:00"),
        (LORD_HOWE, "2026-04-05T00:00:00+11:00", time(1, 45), "2026-04-05T01:45:00+11:00"),
        (LORD_HOWE, "2026-04-05T01:35:00+10:30", time(1, 45), "2026-04-06T01:45:00+10:30"),
        (ZoneInfo("America/Havana"), "2025-11-01T12:00:00-04:00", time(0, 30), "2025-11-02T00:30:00-04:00"),
        # the default reset on DST days is an ordinary local 04:00
        (NEW_YORK, "2026-03-08T00:00:00-05:00", FOUR, "2026-03-08T04:00:00-04:00"),
        (NEW_YORK, "2025-11-02T00:00:00-04:00", FOUR, "2025-11-02T04:00:00-05:00"),
        (KATHMANDU, "2026-01-15T12:00:00+05:45", FOUR, "2026-01-16T04:00:00+05:45"),
    ],
)
def test_next_local_time(tz: ZoneInfo, t: str, at: time, expected: str) -> None:
    assert local_iso(next_local_time(ts(t), at, tz), tz) == expected


def test_next_local_time_fires_once_per_local_day_across_dst() -> None:
    t = ts("2026-03-25T12:00:00+01:00")
    seen = []
    for _ in range(10):
        t = next_local_time(t, FOUR, BERLIN)
        seen.append(local_iso(t, BERLIN))
    assert [s[11:19] for s in seen] == ["04:00:00"] * 10
    days = [datetime.fromisoformat(s).date() for s in seen]
    assert days == [days[0] + timedelta(days=i) for i in range(10)]
    assert "2026-03-29T04:00:00+02:00" in seen
