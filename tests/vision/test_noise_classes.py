"""Counting through the detector failures of tests/vision/detector_noise.py, each class on its own, through
the real pipeline (filter, tracker, line counter) with its default settings, on small seeded scenes."""

from __future__ import annotations

import numpy as np
import pytest

from agent.config.counting import CountingConfig, LineConfig
from agent.vision.pipeline import CountingPipeline
from tests.vision.detector_noise import CLASSES, simulate

# A 640x480 camera over a door at 10 fps (the agent's default): the door line across the middle, "in" is down.
SIZE = (640, 480)
FPS = 10.0
LINE = [(60.0, 240.0), (580.0, 240.0)]
INSIDE = (320.0, 400.0)
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


def test_a_short_false_positive_across_the_line_while_a_person_is_hidden_counts_nothing() -> None:
    """Someone walks up to the door and stops just short of it; hidden for 8 frames (an occlusion burst), the
    detector meanwhile fires twice on the far side of the line, near where they stand. The lost track takes
    the false box and so is across the line, then finds the person again where they stood: nobody crossed."""
    rows = []
    for f in range(60):
        feet = min(120.0 + 10 * f, 215.0)
        if not 20 <= f < 28:
            rows.append([f, 300.0, feet - BOX_H, 340.0, feet, 0.9])
        if f in (22, 23):
            rows.append([f, 305.0, 262.0 - BOX_H, 345.0, 262.0, 0.9])
    assert count(np.array(rows)) == (0, 0)
