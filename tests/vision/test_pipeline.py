"""The counting pipeline through the real tracker: merged boxes, missed frames, filters, units, intervals."""

from __future__ import annotations

import numpy as np
import pytest

from agent.aggregation.records import LineInterval
from agent.config.counting import CountingConfig, LineConfig, ZoneConfig
from agent.vision.pipeline import CountingPipeline, IntervalCounts
from tests.vision.track_frames import FPS


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
