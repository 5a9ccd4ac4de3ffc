"""Counting zones, table-driven: entries, exits, occupancy and dwell times from hand-made track snapshots."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agent.config.counting import CountingConfig, ZoneConfig
from agent.vision.pipeline import FrameResult, IntervalCounts
from agent.vision.tracking import TrackState
from agent.vision.zones import ZoneCounter
from tests.vision.track_frames import FPS, JITTER, Frame, lost, merge, track

ZONE = [(100.0, 100.0), (300.0, 100.0), (300.0, 300.0), (100.0, 300.0)]
# With a 5 px band, walking from x = 50 at 5 px per frame enters at x = 110 (12th frame) and leaves at x = 310.
THROUGH = (310 - 110) / 5 / FPS


def in_wait_out(wait: int) -> float:
    """Dwell of path in to (200, y), `wait` frames there, path out: the waypoint is shown twice."""
    return ((200 - 110) / 5 + 1 + wait + (310 - 200) / 5) / FPS


def run_zone(frames: list[Frame], zone: ZoneCounter, interval: IntervalCounts | None = None) -> ZoneCounter:
    for i, frame in enumerate(frames):
        tracks = [
            track(
                tid,
                spec[0],
                spec[1],
                spec[2] if len(spec) > 2 else TrackState.CONFIRMED,
                spec[3] if len(spec) > 3 else 0,
            )
            for tid, spec in frame.items()
        ]
        events = zone.update(tracks, i / FPS)
        if interval is not None:
            interval.add(FrameResult(tracks, [], events))
    return zone


def shop_interval() -> IntervalCounts:
    return IntervalCounts(CountingConfig(zones=[ZoneConfig(name="shop", points=ZONE)]))


def path(tid: int, points: list[tuple[float, float]], state: TrackState = TrackState.CONFIRMED) -> list[Frame]:
    """Straight walk through waypoints at 5 px per frame."""
    frames: list[Frame] = []
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        n = max(1, int(round(max(abs(x1 - x0), abs(y1 - y0)) / 5)))
        frames += [{tid: (x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n, state)} for i in range(n)]
    frames.append({tid: (*points[-1], state)})
    return frames


def stay(tid: int, x: float, y: float, frames: int) -> list[Frame]:
    return [{tid: (x, y)} for _ in range(frames)]


@dataclass
class ZoneCase:
    name: str
    frames: list[Frame]
    entries: int
    exits: int
    occupancy: int
    dwell: list[float]


ZONE_CASES = [
    ZoneCase("walk in and stay", path(1, [(50, 200), (200, 200)]), 1, 0, 1, []),
    ZoneCase("walk through", path(1, [(50, 200), (350, 200)]), 1, 1, 0, [THROUGH]),
    ZoneCase(
        "in, wait 2 s, out",
        path(1, [(50, 200), (200, 200)]) + stay(1, 200, 200, 50) + path(1, [(200, 200), (50, 200)]),
        1,
        1,
        0,
        [in_wait_out(50)],
    ),
    ZoneCase(
        "lingering on the outline", path(1, [(50, 200), (100, 200)]) + [{1: (x, 200.0)} for x in JITTER], 0, 0, 0, []
    ),
    ZoneCase("first seen inside (no entry, no dwell)", path(1, [(200, 200), (350, 200)]), 0, 1, 0, []),
    ZoneCase("tentative visitor never counts", path(1, [(50, 200), (200, 200)], TrackState.TENTATIVE), 0, 0, 0, []),
    ZoneCase(
        "confirmed inside counts its entry",
        path(1, [(50, 200), (150, 200)], TrackState.TENTATIVE) + path(1, [(150, 200), (200, 200)]),
        1,
        0,
        1,
        [],
    ),
    ZoneCase("lost inside is still there", path(1, [(50, 200), (200, 200)]) + lost(1, 200, 200, 10), 1, 0, 1, []),
    ZoneCase(
        "a re-find on probation inside that is undone enters nothing",
        path(1, [(50, 200), (80, 200)])
        + lost(1, 85, 200, 10)
        + path(1, [(150, 200), (155, 200)], TrackState.TENTATIVE)
        + [{1: (86.0, 200.0, TrackState.LOST, 13 + k)} for k in range(5)]
        + path(1, [(80, 200), (50, 200)]),
        0,
        0,
        0,
        [],
    ),
    ZoneCase(
        "still inside while a lost visitor's re-find is on probation",
        path(1, [(50, 200), (200, 200)])
        + lost(1, 200, 200, 10)
        + path(1, [(200, 200), (205, 200)], TrackState.TENTATIVE),
        1,
        0,
        1,
        [],
    ),
    ZoneCase("evicted inside is gone", path(1, [(50, 200), (200, 200)]) + [{}], 1, 0, 0, []),
    ZoneCase(
        "two visitors",
        merge(
            path(1, [(50, 150), (350, 150)]),
            path(2, [(50, 250), (200, 250)]) + stay(2, 200, 250, 40) + path(2, [(200, 250), (350, 250)]),
        ),
        2,
        2,
        0,
        [THROUGH, in_wait_out(40)],
    ),
]


@pytest.mark.parametrize("case", ZONE_CASES, ids=[c.name for c in ZONE_CASES])
def test_zone_counter(case: ZoneCase) -> None:
    interval = shop_interval()
    zone = run_zone(case.frames, ZoneCounter("shop", ZONE, min_distance=5.0, min_distance_box=0.0), interval)
    result = interval.close({"shop": zone.occupancy})[1]["shop"]
    assert (result.entries, result.exits, result.occupancy) == (case.entries, case.exits, case.occupancy)
    assert result.dwell_count == len(case.dwell)
    if case.dwell:
        assert result.dwell_mean_s == pytest.approx(sum(case.dwell) / len(case.dwell))


def test_zone_dwell_median_and_mean_per_interval() -> None:
    zone = ZoneCounter("shop", ZONE, min_distance=5.0, min_distance_box=0.0)
    frames: list[Frame] = []
    for tid, wait in ((1, 0), (2, 25), (3, 250)):
        frames += path(tid, [(50, 200), (200, 200)]) + stay(tid, 200, 200, wait) + path(tid, [(200, 200), (350, 200)])
    interval = shop_interval()
    run_zone(frames, zone, interval)
    first = interval.close({"shop": zone.occupancy})[1]["shop"]
    assert first.dwell_count == 3
    assert first.dwell_median_s == pytest.approx(in_wait_out(25))
    assert first.dwell_mean_s == pytest.approx((in_wait_out(0) + in_wait_out(25) + in_wait_out(250)) / 3)
    second = interval.close({"shop": zone.occupancy})[1]["shop"]
    assert (second.entries, second.exits, second.dwell_count, second.dwell_median_s) == (0, 0, 0, None)
    assert zone.entries == 3 and zone.exits == 3 and zone.dwell_count == 3
