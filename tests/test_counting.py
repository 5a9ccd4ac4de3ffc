"""Line and zone counters, table-driven over the situations that break naive counters.

Most cases feed hand-made track snapshots straight into the counters, so each row says exactly where a
person's anchor was on every frame; the merge case and the pipeline cases go through the real tracker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from agent.aggregation import LineInterval
from agent.counting import CountingPipeline, FrameResult, IntervalCounts, LineCounter, ZoneCounter
from agent.counting_config import CountingConfig, LineConfig, ZoneConfig
from agent.geometry import Polygon, Polyline
from agent.tracking import Track, TrackState

FPS = 25.0
BOX_W, BOX_H = 20.0, 40.0

# A horizontal door line from (0, 100) to (200, 100); walking down the image (increasing y) is "in".
DOOR = [(0.0, 100.0), (200.0, 100.0)]
INSIDE = (100.0, 200.0)


def track(tid: int, x: float, y: float, state: TrackState = TrackState.CONFIRMED, since: int = 0) -> Track:
    """A track whose bottom-centre anchor is at (x, y)."""
    return Track(tid, state, (x - BOX_W / 2, y - BOX_H, x + BOX_W / 2, y), 0.9, 5, since, 0, 0)


# One frame is {track id: (x, y)}, or {track id: (x, y, state)} or {track id: (x, y, state, frames since seen)}.
Frame = dict[int, tuple]


def walk(tid: int, x: float, ys: list[float], state: TrackState = TrackState.CONFIRMED) -> list[Frame]:
    return [{tid: (x, y, state)} for y in ys]


def lost(tid: int, x: float, y: float, frames: int) -> list[Frame]:
    """The tracker keeps reporting a lost track (with its predicted box) for `frames` frames."""
    return [{tid: (x, y, TrackState.LOST, k + 1)} for k in range(frames)]


def merge(*sequences: list[Frame]) -> list[Frame]:
    """Frame-by-frame union of several people's frames (sequences padded with empty frames)."""
    length = max(len(s) for s in sequences)
    out: list[Frame] = [{} for _ in range(length)]
    for seq in sequences:
        for i, frame in enumerate(seq):
            out[i].update(frame)
    return out


def steps(a: float, b: float, step: float = 5.0) -> list[float]:
    n = int(round(abs(b - a) / step))
    return [a + (b - a) * i / n for i in range(n + 1)]


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
JITTER = [97.0, 103.0, 98.0, 102.0, 96.0, 104.0] * 8

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
        "track broken on the line, new id on the other side (hand-over)",
        walk(1, 100, steps(40, 92))
        + merge(lost(1, 100, 100, 20), walk(2, 100, steps(112, 160), T)[:3] + walk(2, 100, steps(127, 160)[1:])),
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
        (0.0, 0.25, steps(40, 112) + steps(112, 40), (1, 1)),
        (20.0, 0.0, steps(40, 118) + steps(118, 40), (0, 0)),
        (20.0, 0.25, steps(40, 125) + steps(125, 40), (1, 1)),
    ],
)
def test_band_is_the_larger_of_pixels_and_box_fraction(
    band: float, box_fraction: float, ys: list[float], expected: tuple[int, int]
) -> None:
    counter = LineCounter.from_points("door", DOOR, INSIDE, min_distance=band, min_distance_box=box_fraction)
    assert run_line(walk(1, 100, ys), counter) == expected


@pytest.mark.parametrize(
    ("point", "distance", "within"),
    [
        ((50, 90), -10.0, True),  # above the first segment (drawn rightwards): its left on screen, negative
        ((50, 110), 10.0, True),
        ((150, 150), -50.0, True),  # right of the second segment (drawn downwards): its left on screen
        ((110, 90), -(10.0 * 2**0.5), True),  # outer corner wedge: nearest is the vertex, sign agrees
        ((150, 100), -50.0, True),  # level with the vertex, on the first segment's extension
        ((-5, 100), 5.0, False),  # before the first end
        ((100, 230), 30.0, False),  # past the last end
    ],
)
def test_polyline_signed_distance(point: tuple[float, float], distance: float, within: bool) -> None:
    line = Polyline([(0, 100), (100, 100), (100, 200)])
    d, w = line.signed_distance(np.array([point], dtype=float))
    assert w[0] == within
    assert d[0] == pytest.approx(distance) if within else abs(d[0]) == pytest.approx(distance)


def test_polyline_sides_are_consistent_around_a_corner() -> None:
    line = Polyline([(0, 100), (100, 100), (100, 200)])
    inner = [(50, 150), (90, 110), (95, 190), (10, 120)]
    outer = [(50, 80), (120, 90), (150, 150), (130, 60)]
    d_in, _ = line.signed_distance(np.array(inner, dtype=float))
    d_out, _ = line.signed_distance(np.array(outer, dtype=float))
    assert len(set(np.sign(d_in))) == 1 and len(set(np.sign(d_out))) == 1
    assert np.sign(d_in[0]) == -np.sign(d_out[0])


def test_polygon_signed_distance() -> None:
    square = Polygon([(0, 0), (100, 0), (100, 100), (0, 100)])
    d = square.signed_distance(np.array([(50, 50), (10, 50), (-10, 50), (150, 150)], dtype=float))
    assert d.tolist() == pytest.approx([50.0, 10.0, -10.0, -50.0 * 2**0.5])


# --- zones -------------------------------------------------------------------------------------------------

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


# --- through the tracker ---------------------------------------------------------------------------------------


def person_box(x: float, y: float, w: float = 40.0, h: float = 100.0) -> list[float]:
    """Full-body box whose feet (bottom-centre) are at (x, y)."""
    return [x - w / 2, y - h, x + w / 2, y]


def run_pipeline(pipeline: CountingPipeline, frames: list[list[list[float]]]) -> dict:
    for i, boxes in enumerate(frames):
        arr = np.array(boxes, dtype=float).reshape(-1, 4)
        pipeline.process(i, arr, np.full(len(arr), 0.9), i / FPS)
    return pipeline.totals()


def door_pipeline(**line: object) -> CountingPipeline:
    cfg = CountingConfig(lines=[LineConfig(name="door", points=[(0, 300), (640, 300)], in_point=(320, 400), **line)])
    return CountingPipeline(cfg)


def test_two_people_merging_into_one_box_then_splitting_both_count() -> None:
    """Side by side through the door; for 12 frames around the line the detector sees one box for both."""
    frames = []
    for i in range(100):
        y = 150 + 3 * i
        a, b = person_box(290, y), person_box(330, y + 4)
        if 42 <= i < 54:
            frames.append([[a[0], min(a[1], b[1]), b[2], max(a[3], b[3])]])
        else:
            frames.append([a, b])
    assert run_pipeline(door_pipeline(), frames)["lines"]["door"] == {"in": 2, "out": 0}


def test_pipeline_counts_a_person_missed_for_frames_on_the_line() -> None:
    frames = [[person_box(320, 150 + 3 * i)] if not 45 <= i < 60 else [] for i in range(100)]
    assert run_pipeline(door_pipeline(), frames)["lines"]["door"] == {"in": 1, "out": 0}


def test_pipeline_ignores_detections_outside_the_roi_and_inside_masks_and_small_boxes() -> None:
    walkers = [
        [person_box(100, 150 + 3 * i), person_box(320, 150 + 3 * i), person_box(550, 150 + 3 * i, 10, 20)]
        for i in range(100)
    ]
    cfg = CountingConfig(
        lines=[LineConfig(name="door", points=[(0, 300), (640, 300)], in_point=(320, 400))],
        roi=[(200, 0), (640, 0), (640, 480), (200, 480)],
        masks=[[(300, 0), (340, 0), (340, 480), (300, 480)]],
        min_box_height=30,
    )
    assert run_pipeline(CountingPipeline(cfg), walkers)["lines"]["door"] == {"in": 0, "out": 0}
    cfg_open = CountingConfig(lines=cfg.lines)
    assert run_pipeline(CountingPipeline(cfg_open), walkers)["lines"]["door"] == {"in": 3, "out": 0}


def test_normalized_coordinates_scale_with_the_frame() -> None:
    cfg = CountingConfig(
        units="normalized",
        lines=[LineConfig(name="door", points=[(0, 0.5), (1, 0.5)], in_direction="down", min_distance=0.02)],
        zones=[ZoneConfig(name="inside", points=[(0, 0.6), (1, 0.6), (1, 1), (0, 1)], min_distance=0.02)],
    )
    frames = [[person_box(320, 100 + 4 * i)] for i in range(80)]  # walks down to y = 416 of a 480 px frame
    totals = run_pipeline(CountingPipeline(cfg, frame_size=(640, 480)), frames)
    assert totals["lines"]["door"] == {"in": 1, "out": 0}
    assert (totals["zones"]["inside"]["in"], totals["zones"]["inside"]["occupancy"]) == (1, 1)
    with pytest.raises(ValueError, match="frame size"):
        CountingPipeline(cfg)


def test_interval_close_resets_counts_but_not_totals() -> None:
    pipeline = door_pipeline()
    interval = IntervalCounts(pipeline.config)
    for i in range(100):
        interval.add(pipeline.process(i, np.array([person_box(320, 150 + 3 * i)]), np.full(1, 0.9), i / FPS))
    assert interval.close({})[0]["door"] == LineInterval(1, 0)
    assert interval.close({})[0]["door"] == LineInterval(0, 0)
    assert pipeline.totals()["lines"]["door"] == {"in": 1, "out": 0}
