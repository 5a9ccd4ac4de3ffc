"""`CameraCounter`: frames of a real clip through the real detector, tracker and lines."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.camera_counter import CameraCounter, fit_frame
from agent.config import CameraSensorConfig
from tests.clips import write_walk

LINES = [
    {"name": "door", "points": [[320, 0], [320, 400]], "in_direction": "right"},
    {"name": "far", "points": [[600, 0], [600, 400]], "in_direction": "right"},
]


def camera(**extra: object) -> CameraSensorConfig:
    return CameraSensorConfig(id="cam", source="clip.avi", counting={"lines": LINES}, **extra)


def frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        out.append(frame)
    capture.release()
    return out


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    path = tmp_path_factory.mktemp("clip") / "walk.avi"
    write_walk(path)
    return frames(path)


def count(counter: CameraCounter, clip: list[np.ndarray]) -> tuple[int, int]:
    ins = outs = 0
    for i, frame in enumerate(clip):
        step = counter.step(frame, i / 20)
        ins, outs = ins + step.ins, outs + step.outs
    return ins, outs


def test_all_lines_add_up_unless_one_is_chosen(walk: list[np.ndarray]) -> None:
    counter = CameraCounter(camera())
    assert count(counter, walk) == (1, 1)
    assert counter.pipeline is not None
    # the person's feet never reach x=600: only the door line counted
    assert counter.pipeline.totals()["lines"] == {"door": {"in": 1, "out": 1}, "far": {"in": 0, "out": 0}}
    assert count(CameraCounter(camera(count_line="far")), walk) == (0, 0)
    assert count(CameraCounter(camera(count_line="door")), walk) == (1, 1)


def test_frames_are_scaled_to_the_configured_size(walk: list[np.ndarray]) -> None:
    counter = CameraCounter(camera(width=320, height=200))
    small = [cv2.resize(f, (1280, 800)) for f in walk]  # the source delivers another size than asked for
    step = counter.step(small[0], 0.0)
    assert counter.frame_size == (320, 200)
    assert len(step.detections) == 1 and step.detections.boxes[0, 2] <= 320
    assert fit_frame(walk[0], None) is walk[0]
    assert fit_frame(walk[0], (64, 40)).shape == (40, 64, 3)


def test_restart_forgets_the_people_tracked_before_a_gap(walk: list[np.ndarray]) -> None:
    counter = CameraCounter(camera())
    count(counter, walk[:30])
    counter.restart((640, 400))
    assert counter.pipeline is not None and len(counter.pipeline.tracker) == 0
