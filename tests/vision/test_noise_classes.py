"""Counting through the detector failures of tests/vision/detector_noise.py, each class on its own, through
the real pipeline (filter, tracker, line counter) with its default settings, on small seeded scenes."""

from __future__ import annotations

import numpy as np
import pytest

from agent.config.counting import CountingConfig, LineConfig
from agent.vision.pipeline import CountingPipeline
from tests.vision.detector_noise import CLASSES, simulate
from tests.vision.door_walks import FPS, INSIDE, LINE, SIZE, door_walk

BOX_W, BOX_H = 40.0, 100.0


def count(rows: np.ndarray, fps: float = FPS) -> tuple[int, int]:
    """(in, out) of the door line for detections (frame, x1, y1, x2, y2, score), every frame stepped."""
    pipeline = CountingPipeline(CountingConfig(lines=[LineConfig(name="door", points=LINE, in_point=INSIDE)]))
    frames = rows[:, 0].astype(int)
    starts = np.searchsorted(frames, np.arange(frames.max() + 2))
    for f in range(frames.max() + 1):
        part = rows[starts[f] : starts[f + 1]]
        pipeline.process(f, part[:, 1:5], part[:, 5], f / fps)
    counts = pipeline.totals()["lines"]["door"]
    return int(counts["in"]), int(counts["out"])


def lingering(people: int = 5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """People who walk up to the door line, wait on it for 3 s (feet within 4 px of it), then walk in."""
    pid, frame, boxes = [], [], []
    for i in range(people):
        x = 120.0 + 90.0 * i
        feet = np.concatenate([np.linspace(120, 238, 12), 240 + 4 * np.sin(np.arange(30)), np.linspace(242, 420, 18)])
        n = len(feet)
        pid += [i] * n
        frame += list(range(8 * i, 8 * i + n))
        boxes.append(np.column_stack([np.full(n, x - BOX_W / 2), feet - BOX_H, np.full(n, x + BOX_W / 2), feet]))
    return np.array(pid), np.array(frame), np.concatenate(boxes)


def test_a_person_last_seen_on_the_line_walking_in_counts() -> None:
    """The detector loses someone for good just past the middle of the line (hidden behind the door frame,
    out of the picture): once the track is evicted it is judged by where it was going."""
    rows = np.array([[f, 300.0, 100.0 + 8 * f, 340.0, 200.0 + 8 * f, 0.9] for f in range(7)], dtype=float)
    rows = np.vstack([rows, [120, 0.0, 0.0, 0.0, 0.0, 0.0]])  # frames go on (an empty box at score 0)
    assert count(rows) == (1, 0)


@pytest.mark.parametrize("seed", range(6))
def test_jitter_of_a_person_waiting_on_the_line_counts_once(seed: int) -> None:
    """Box edges jitter by 10% of the box (the hard level) while people stand on the line for 3 s: every
    excursion of the feet past the band is no crossing; walking in afterwards is one."""
    pid, frame, boxes = lingering()
    rows = simulate(pid, frame, boxes, SIZE, CLASSES["jitter"], seed)
    assert count(rows) == (5, 0)


def test_merged_boxes_of_people_walking_side_by_side_keep_both() -> None:
    """Two columns of people through the door, overlapping neighbours reported as one union box for 5-15
    frames (5% a frame per overlapping pair): over eight seeded door walks at most a few are lost."""
    errors = 0
    truth = 0
    for seed in range(8):
        walk = door_walk(seed)
        rows = simulate(walk.pid, walk.frame, walk.boxes, SIZE, CLASSES["merges"], seed)
        got = count(rows)
        errors += abs(got[0] - walk.truth[0]) + abs(got[1] - walk.truth[1])
        truth += sum(walk.truth)
    assert errors <= MERGE_ERRORS, f"{errors} of {truth} crossings miscounted"


MERGE_ERRORS = 12  # this code miscounts 12 of the 112 crossings; before merged boxes were held it was 17
