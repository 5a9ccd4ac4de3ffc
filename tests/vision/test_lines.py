"""Counting lines, table-driven over the situations that break naive counters: each row feeds hand-made
track snapshots straight into the counter, so it says exactly where a person's anchor was on every frame."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from agent.aggregation.records import LineInterval
from agent.config.counting import CountingConfig, LineConfig
from agent.vision.geometry import Polyline, anchor_points
from agent.vision.lines import LineCounter
from agent.vision.pipeline import FrameResult, IntervalCounts
from agent.vision.tracking import TrackState
from tests.vision.track_frames import FPS, JITTER, Frame, lost, merge, steps, track, walk

# A horizontal door line from (0, 100) to (200, 100); walking down the image (increasing y) is "in".
DOOR = [(0.0, 100.0), (200.0, 100.0)]
INSIDE = (100.0, 200.0)


def run_line(frames: list[Frame], counter: LineCounter) -> tuple[int, int]:
    for i, frame in enumerate(frames):
        tracks = []
        for tid, spec in frame.items():
            x, y = spec[0], spec[1]
            state = spec[2] if len(spec) > 2 else TrackState.CONFIRMED
            since = spec[3] if len(spec) > 3 else 0
            tracks.append(track(tid, x, y, state, since))
        counter.update(tracks, i / FPS)
    return counter.ins, counter.outs


@dataclass
class LineCase:
    name: str
    frames: list[Frame]
    ins: int
    outs: int
    points: list[tuple[float, float]] = field(default_factory=lambda: list(DOOR))
    inside: tuple[float, float] = INSIDE
    handover: float = 1.5


T = TrackState.TENTATIVE

LINE_CASES = [
    LineCase("walk in", walk(1, 100, steps(40, 160)), 1, 0),
    LineCase("walk out", walk(1, 100, steps(160, 40)), 0, 1),
    LineCase("box touching the line and turning back", walk(1, 100, steps(40, 100) + steps(100, 40)), 0, 0),
    LineCase("box overlapping the line, anchor short of it", walk(1, 100, steps(40, 96) + steps(96, 40)), 0, 0),
    LineCase("lingering in the band, then back", walk(1, 100, steps(40, 100) + JITTER + steps(100, 40)), 0, 0),
    LineCase("lingering in the band, then through", walk(1, 100, steps(40, 100) + JITTER + steps(100, 160)), 1, 0),
    LineCase("jitter across the line while passing", walk(1, 100, steps(40, 95) + JITTER + steps(105, 160)), 1, 0),
    LineCase(
        "stop and go on the far side",
        walk(1, 100, steps(40, 110) + [110.0] * 30 + [99.0, 97.0] + steps(110, 160)),
        1,
        0,
    ),
    LineCase("in and back out", walk(1, 100, steps(40, 160) + steps(160, 40)), 1, 1),
    LineCase("in, out, in again", walk(1, 100, steps(40, 160) + steps(160, 40) + steps(40, 160)), 2, 1),
    LineCase(
        "lost on the line, recovered with the same id",
        walk(1, 100, steps(40, 100)) + lost(1, 100, 105, 15) + walk(1, 100, steps(115, 160)),
        1,
        0,
    ),
    LineCase(
        "lost before the line, recovered after it",
        walk(1, 100, steps(40, 90)) + lost(1, 100, 100, 8) + walk(1, 100, steps(110, 160)),
        1,
        0,
    ),
    LineCase("lost before the line and never seen again", walk(1, 100, steps(40, 95)) + lost(1, 100, 110, 20), 0, 0),
    LineCase(
        "ended on the line past its middle, walking in",
        walk(1, 100, [40.0, 60.0, 80.0, 90.0, 96.0, 99.0, 102.0]) + lost(1, 100, 110, 5) + [{}],
        1,
        0,
    ),
    LineCase(
        "ended on the line past its middle, but walking back",
        walk(1, 100, [40.0, 60.0, 80.0, 90.0, 96.0, 104.0, 101.0]) + lost(1, 100, 98, 5) + [{}],
        0,
        0,
    ),
    LineCase(
        "track broken on the line, new id on the other side (hand-over, once seen there for HOLD_S)",
        walk(1, 100, steps(40, 92))
        + merge(lost(1, 100, 100, 20), walk(2, 100, steps(112, 160), T)[:3] + walk(2, 100, steps(127, 160, 1.5)[1:])),
        1,
        0,
    ),
    LineCase(
        "hand-over disabled",
        walk(1, 100, steps(40, 92))
        + merge(lost(1, 100, 100, 20), walk(2, 100, steps(112, 160), T)[:3] + walk(2, 100, steps(127, 160)[1:])),
        0,
        0,
        handover=0.0,
    ),
    LineCase(
        "a re-find on probation that is undone counts nothing (a false positive across the line)",
        walk(1, 100, steps(40, 80))
        + lost(1, 100, 85, 10)
        + walk(1, 100, [140.0, 142.0, 141.0], T)
        + [{1: (100.0, 86.0, TrackState.LOST, 14 + k)} for k in range(10)]
        + walk(1, 100, steps(80, 40)),
        0,
        0,
    ),
    LineCase(
        "a re-find on probation that is confirmed counts its crossing",
        walk(1, 100, steps(40, 80))
        + lost(1, 100, 90, 10)
        + walk(1, 100, [112.0, 116.0], T)
        + walk(1, 100, steps(120, 160)),
        1,
        0,
    ),
    LineCase(
        "hand-over, then the old track re-appears on the far side",
        walk(1, 100, steps(40, 92))
        + merge(lost(1, 100, 100, 5), walk(2, 100, steps(112, 130)))
        + merge(walk(1, 100, steps(135, 160)), lost(2, 100, 140, 5)),
        1,
        0,
    ),
    LineCase(
        "no hand-over from a track lost walking away from the line",
        walk(1, 100, steps(40, 125))
        + merge(
            [{1: (100.0, 125.0 + 5 * k, TrackState.LOST, k)} for k in range(1, 15)],
            walk(2, 100, [92.0, 91.0, 90.0, 89.0, 88.0, 87.0]),
        ),
        1,
        0,
    ),
    LineCase(
        "hand-over needs the new track to be near",
        walk(1, 100, steps(40, 92)) + merge(lost(1, 100, 100, 20), walk(2, 180, steps(112, 160))),
        0,
        0,
    ),
    LineCase(
        "a short false positive beside a lost track takes nothing over",
        walk(1, 100, steps(40, 92))
        + merge(lost(1, 100, 100, 20), walk(2, 100, [115.0], T) + walk(2, 100, [116.0, 115.0, 116.0]))
        + walk(1, 100, steps(95, 40)),
        0,
        0,
    ),
    LineCase(
        "hand-over from a lost track evicted while its heir is still tentative",
        walk(1, 100, steps(40, 92))
        + merge(lost(1, 100, 100, 2), walk(2, 100, [112.0, 114.0, 116.0], T) + walk(2, 100, steps(118, 160, 2))),
        1,
        0,
    ),
    LineCase(
        "an heir back over the line before its hand-over is sure counts only its own crossing",
        walk(1, 100, steps(40, 92))
        + merge(lost(1, 100, 100, 2), walk(2, 100, [112.0, 114.0, 116.0], T) + walk(2, 100, steps(116, 40, 4)[1:])),
        0,
        1,
    ),
    LineCase(
        "hand-over to a track that never confirms takes nothing away",
        walk(1, 100, steps(40, 92))
        + merge(lost(1, 100, 100, 3), walk(2, 100, [112.0, 116.0], T))
        + walk(1, 100, steps(100, 160)),
        1,
        0,
    ),
    LineCase("tentative track crossing, never confirmed", walk(1, 100, steps(40, 160), T), 0, 0),
    LineCase(
        "confirmed just after the line counts its history",
        walk(1, 100, steps(80, 120), T) + walk(1, 100, steps(125, 160)),
        1,
        0,
    ),
    LineCase(
        "two people crossing in opposite directions",
        merge(walk(1, 60, steps(40, 160)), walk(2, 140, steps(160, 40))),
        1,
        1,
    ),
    LineCase("passing beside the end of the line", walk(1, 230, steps(40, 160)), 0, 0),
    LineCase(
        "walking around the end of the line",
        [{1: (x, 60.0)} for x in steps(150, 240)]
        + [{1: (240.0, y)} for y in steps(60, 140)]
        + [{1: (x, 140.0)} for x in steps(240, 150)],
        0,
        0,
    ),
    LineCase("crossing right at the end of the line", walk(1, 195, steps(40, 160)), 1, 0),
    # An L-shaped line: along y = 100 from x = 0 to 100, then down to (100, 200); the inside is below/left.
    LineCase(
        "polyline: across the first segment",
        walk(1, 50, steps(40, 160)),
        1,
        0,
        points=[(0, 100), (100, 100), (100, 200)],
        inside=(50, 150),
    ),
    LineCase(
        "polyline: across the second segment",
        [{1: (x, 150.0)} for x in steps(160, 40)],
        1,
        0,
        points=[(0, 100), (100, 100), (100, 200)],
        inside=(50, 150),
    ),
    LineCase(
        "polyline: around the outer corner, outside all along",
        [{1: (x, 60.0)} for x in steps(40, 150)] + [{1: (150.0, y)} for y in steps(60, 160)],
        0,
        0,
        points=[(0, 100), (100, 100), (100, 200)],
        inside=(50, 150),
    ),
    LineCase(
        "polyline: past its far end",
        walk(1, 130, steps(160, 260)),
        0,
        0,
        points=[(0, 100), (100, 100), (100, 200)],
        inside=(50, 150),
    ),
]


@pytest.mark.parametrize("case", LINE_CASES, ids=[c.name for c in LINE_CASES])
def test_line_counter(case: LineCase) -> None:
    counter = LineCounter.from_points(
        "door", case.points, case.inside, min_distance=5.0, min_distance_box=0.0, handover_distance=case.handover
    )
    assert run_line(case.frames, counter) == (case.ins, case.outs)


def test_line_state_is_dropped_with_the_track() -> None:
    counter = LineCounter.from_points("door", DOOR, INSIDE, min_distance=5.0)
    run_line(walk(1, 100, steps(40, 160)) + [{}], counter)
    assert len(counter) == 0


def test_crossing_reports_direction_track_and_time() -> None:
    counter = LineCounter.from_points("door", DOOR, INSIDE, min_distance=5.0, min_distance_box=0.0)
    got = []
    for i, y in enumerate(steps(40, 160)):
        got += counter.update([track(7, 100, y)], i / FPS)
    assert [(c.line, c.track_id, c.direction) for c in got] == [("door", 7, "in")]
    assert got[0].t == pytest.approx(steps(40, 160).index(110.0) / FPS)
    assert (counter.ins, counter.outs) == (1, 0)
    interval = IntervalCounts(CountingConfig(lines=[LineConfig(name="door", points=DOOR, in_point=INSIDE)]))
    interval.add(FrameResult([], got, []))
    assert interval.close({})[0]["door"] == LineInterval(1, 0)
    assert interval.close({})[0]["door"] == LineInterval(0, 0)


@pytest.mark.parametrize(
    ("band", "box_fraction", "ys", "expected"),
    [
        (0.0, 0.25, steps(40, 108) + steps(108, 40), (0, 0)),  # 10 px band from the 40 px box
        (0.0, 0.25, steps(40, 125) + steps(125, 40), (1, 1)),
        (20.0, 0.0, steps(40, 118) + steps(118, 40), (0, 0)),
        (20.0, 0.25, steps(40, 145) + steps(145, 40), (1, 1)),
    ],
)
def test_band_is_the_larger_of_pixels_and_box_fraction(
    band: float, box_fraction: float, ys: list[float], expected: tuple[int, int]
) -> None:
    counter = LineCounter.from_points("door", DOOR, INSIDE, min_distance=band, min_distance_box=box_fraction)
    assert run_line(walk(1, 100, ys), counter) == expected


@pytest.mark.parametrize("anchor", ["bottom-center", "center", "top-center"])
def test_straight_line_measures_as_the_polyline_does(anchor: str) -> None:
    """A straight line's own projection (the per-frame fast path) gives the geometry's anchors, sides,
    distances and extent for every box within the extent, whatever the line's direction."""
    rng = np.random.default_rng(7)
    for points in ([(0, 100), (200, 100)], [(40, 300), (260, -20)], [(100, 0), (100, 200)]):
        counter = LineCounter("door", points, 1, anchor)
        boxes = rng.uniform(-50, 300, (200, 4))
        boxes[:, 2:] = boxes[:, :2] + rng.uniform(5, 80, (200, 2))
        anchors, dist, within = counter._measure(boxes)
        want = anchor_points(boxes, anchor)
        want_dist, want_within = Polyline(points).signed_distance(want)
        assert np.array_equal(anchors, want)
        assert np.array_equal(within, want_within)
        assert np.allclose(dist[within], want_dist[within], rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    ("frames", "expected"),
    [
        (walk(1, 100, steps(40, 110) + [110.0] * 3), (1, 0)),  # past the band, not sure: the wait was cut short
        (walk(1, 100, steps(160, 90) + [90.0] * 3), (0, 1)),
        (walk(1, 100, steps(40, 103) + [103.0] * 3), (0, 0)),  # on the line past its middle: not crossed
        (walk(1, 100, steps(40, 110) + [110.0] * 3, T), (0, 0)),  # never confirmed
    ],
)
def test_the_end_of_the_input_counts_a_crossing_waiting_to_be_sure(
    frames: list[Frame], expected: tuple[int, int]
) -> None:
    counter = LineCounter.from_points("door", DOOR, INSIDE)
    assert run_line(frames, counter) == (0, 0)
    crossings = counter.finish()
    assert (counter.ins, counter.outs) == expected
    assert len(crossings) == sum(expected)
    assert len(counter) == 0
