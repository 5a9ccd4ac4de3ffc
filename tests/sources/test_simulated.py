"""The simulated door: daily shape, weekly shape, dwell, balance and determinism of the generator."""

from __future__ import annotations

import statistics
import threading
import time
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from zoneinfo import ZoneInfo

import pytest

from agent.config.simulated import SimulatedSensorConfig
from agent.sources.build import build_source
from agent.sources.simulated import CLOSING_GRACE_S, DoorTraffic, SimulatedSource, day_shape

TZ = ZoneInfo("Europe/Berlin")
MONDAY = date(2026, 6, 1)


def traffic(seed: int = 1, peak: float = 600, dwell: float = 900) -> DoorTraffic:
    return DoorTraffic(peak, clock_time(8, 0), clock_time(21, 0), dwell, seed=seed)


def day_window(day: date, tz: ZoneInfo = TZ) -> tuple[float, float]:
    start = datetime.combine(day, clock_time(0), tzinfo=tz)
    return start.timestamp(), datetime.combine(day + timedelta(days=1), clock_time(0), tzinfo=tz).timestamp()


def arrivals_per_hour(t: DoorTraffic, day: date) -> list[int]:
    hours = [0] * 24
    for at, direction in t.events(*day_window(day), TZ):
        if direction == "in":
            hours[datetime.fromtimestamp(at, TZ).hour] += 1
    return hours


def test_a_whole_day_has_as_many_exits_as_entries_and_nobody_stays_the_night() -> None:
    t = traffic()
    for offset in range(7):
        day = MONDAY + timedelta(days=offset)
        events = t.events(*day_window(day), TZ)
        ins = sum(1 for _, d in events if d == "in")
        assert ins > 100
        assert ins == len(events) - ins
        close = datetime.combine(day, clock_time(21), tzinfo=TZ).timestamp()
        assert max(at for at, _ in events) <= close + CLOSING_GRACE_S


def test_closed_outside_opening_hours() -> None:
    t = traffic()
    hours = arrivals_per_hour(t, MONDAY)
    assert sum(hours[:8]) == 0 and sum(hours[21:]) == 0
    assert all(n > 0 for n in hours[8:21])
    assert t.rate(datetime(2026, 6, 1, 7, 59, tzinfo=TZ).timestamp(), TZ) == 0
    assert t.rate(datetime(2026, 6, 1, 21, 0, tzinfo=TZ).timestamp(), TZ) == 0
    assert t.rate(datetime(2026, 6, 1, 8, 0, tzinfo=TZ).timestamp(), TZ) > 0


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_daily_shape_morning_ramp_lunch_peak_and_late_afternoon_peak(seed: int) -> None:
    hours = arrivals_per_hour(traffic(seed), MONDAY + timedelta(days=1))
    assert hours[8] < hours[10]  # doors open to a quiet shop
    assert hours[12] > 1.5 * hours[10]  # lunch
    assert hours[12] > 1.5 * hours[14]  # lull after lunch
    assert hours[17] == max(hours)  # the late-afternoon peak is the busiest hour
    assert hours[20] < hours[17]
    assert 0.8 * 600 < hours[17] <= 1.2 * 600  # the peak is scaled by peak_per_hour


def test_saturday_is_busier_and_sunday_quieter_than_a_weekday() -> None:
    t = traffic()
    totals = [sum(arrivals_per_hour(t, MONDAY + timedelta(days=i))) for i in range(7)]
    weekday = statistics.mean(totals[:4])
    assert totals[5] > 1.2 * weekday
    assert totals[6] < 0.7 * weekday


def test_dwell_is_lognormal_around_the_mean() -> None:
    t = traffic(dwell=600)
    dwells = []
    for i in range(5):
        for arrival, leave in t.visits(MONDAY + timedelta(days=i), TZ):
            dwells.append(leave - arrival)
    assert all(d > 0 for d in dwells)
    assert 540 < statistics.mean(dwells) < 660
    assert statistics.median(dwells) < statistics.mean(dwells)  # right-skewed: a few long visits


def test_same_seed_same_events_and_slicing_does_not_change_them() -> None:
    start, _ = day_window(MONDAY)
    t0, t1 = start + 12 * 3600, start + 13 * 3600
    whole = traffic(seed=5).events(t0, t1, TZ)
    sliced = []
    other = traffic(seed=5)
    t = t0
    while t < t1:
        sliced += other.events(t, min(t + 0.2 * 97, t1), TZ)
        t += 0.2 * 97
    assert sliced == whole
    assert traffic(seed=6).events(t0, t1, TZ) != whole


def test_a_start_mid_day_reports_no_exits_of_people_never_seen_entering() -> None:
    t = traffic()
    start, end = day_window(MONDAY)
    noon = start + 12 * 3600
    events = t.events(noon, end, TZ, arrived_after=noon)
    ins = sum(1 for _, d in events if d == "in")
    assert ins == len(events) - ins > 0
    assert len(t.events(noon, end, TZ)) > len(events)


def test_a_daylight_saving_day_keeps_local_opening_hours() -> None:
    t = traffic()
    spring_forward = date(2026, 3, 29)  # a Sunday; clocks jump from 02:00 to 03:00 in Berlin
    events = t.events(*day_window(spring_forward), TZ)
    ins = sum(1 for _, d in events if d == "in")
    assert ins == len(events) - ins > 0
    first = datetime.fromtimestamp(min(at for at, _ in events), TZ)
    assert first.hour >= 8


def test_day_shape_is_bounded() -> None:
    values = [day_shape(h / 10, 8, 21) for h in range(0, 240)]
    assert min(values) == 0 and max(values) <= 1.0
    assert day_shape(7.99, 8, 21) == 0 and day_shape(21.0, 8, 21) == 0


def test_source_reports_up_and_feeds_arrivals_before_their_exits() -> None:
    calls: list[tuple[str, int, int]] = []
    lock = threading.Lock()

    class Sink:
        def add(self, sensor: str, ins: int, outs: int, at: float) -> None:
            with lock:
                calls.append(("add", ins, outs))

        def add_totals(self, sensor: str, in_total: int, out_total: int, at: float) -> None:
            raise AssertionError("a door reports passages, not totals")

        def reject(self, sensor: str, n: int, at: float) -> None:
            raise AssertionError("nothing to reject")

        def source_up(self, sensor: str, at: float) -> None:
            with lock:
                calls.append(("up", 0, 0))

        def source_down(self, sensor: str, at: float, reason: str) -> None:
            raise AssertionError(reason)

    # A busy lunchtime, run 100 times faster than real time.
    sim_start = datetime(2026, 6, 2, 12, 0, tzinfo=TZ).timestamp()
    wall_start = time.monotonic()

    def clock() -> float:
        return sim_start + (time.monotonic() - wall_start) * 100

    cfg = SimulatedSensorConfig(type="simulated", id="door", peak_per_hour=3600, mean_dwell=30, seed=3)
    assert isinstance(build_source(cfg, Sink(), TZ), SimulatedSource)
    source = SimulatedSource(cfg, Sink(), TZ, clock=clock)
    source.start()
    time.sleep(1.2)
    source.stop(1.0)
    with lock:
        assert calls[0] == ("up", 0, 0)
        ins = sum(c[1] for c in calls[1:])
        outs = sum(c[2] for c in calls[1:])
    assert ins > 20
    assert 0 < outs <= ins
