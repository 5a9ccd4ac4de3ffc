"""`footfall-agent snapshot`: one frame of the configured camera with the set-up drawn on it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.cli.main import main
from agent.config.counting import CountingConfig
from agent.vision.detectors.base import Detections
from agent.vision.pipeline import CountingPipeline
from agent.vision.snapshot import BOX_COLOUR, LOW_BOX_COLOUR, draw, in_arrow
from tests.clips import write_walk

LINE_YELLOW = np.array([0, 255, 255])


def agent_yaml(tmp_path: Path, source: Path, lines: str = "") -> Path:
    path = tmp_path / "agent.yaml"
    path.write_text(
        f"site: t\nmqtt: {{enabled: false}}\nstore: {{path: {tmp_path / 'data'}}}\nsensors:\n"
        f"  - id: cam\n    type: camera\n    source: '{source}'\n    counting:\n      lines:\n"
        f"        - {{name: door, points: [[320, 0], [320, 400]], in_direction: {lines or 'right'}}}\n"
        "      zones:\n        - {name: hall, points: [[400, 20], [620, 20], [620, 380], [400, 380]]}\n"
    )
    return path


@pytest.mark.parametrize(("direction", "tip_x"), [("right", 360), ("left", 280)])
def test_the_arrow_points_inside(direction: str, tip_x: int) -> None:
    cfg = CountingConfig(lines=[{"name": "door", "points": [[320, 0], [320, 400]], "in_direction": direction}])
    line = CountingPipeline(cfg).lines["door"]
    start, tip = in_arrow(line.line.points, line.in_sign, line.line.side_of)
    assert start == (320, 200) and tip == (tip_x, 200)


def test_drawing_marks_lines_zones_and_boxes_and_leaves_the_frame_alone() -> None:
    cfg = CountingConfig(
        lines=[{"name": "door", "points": [[320, 0], [320, 400]], "in_direction": "right"}],
        zones=[{"name": "hall", "points": [[400, 20], [620, 20], [620, 380], [400, 380]]}],
    )
    frame = np.full((400, 640, 3), 120, np.uint8)
    boxes = np.array([[10, 50, 200, 380]], np.float32)
    image = draw(frame, CountingPipeline(cfg), Detections(boxes, np.array([0.9], np.float32)))
    assert (frame == 120).all()
    assert (image[100, 320] == LINE_YELLOW).all()
    assert (image[200, 345] == LINE_YELLOW).all()  # the arrow's shaft, inside
    assert (image[200, 295] == 120).all()  # nothing on the outside
    assert (image[200, 400] != 120).any() and (image[200, 10] != 120).any()  # zone outline, box edge


def test_boxes_below_the_trackers_high_score_are_drawn_thin_and_grey_and_confident_ones_over_them() -> None:
    cfg = CountingConfig(lines=[{"name": "door", "points": [[320, 0], [320, 400]], "in_direction": "right"}])
    frame = np.full((400, 640, 3), 120, np.uint8)
    boxes = np.array([[10, 50, 200, 380], [100, 100, 300, 300], [400, 60, 600, 300]], np.float32)
    scores = np.array([0.9, 0.3, 0.49], np.float32)
    image = draw(frame, CountingPipeline(cfg), Detections(boxes, scores))
    assert (image[200, 10] == BOX_COLOUR).all() and (image[200, 11] == BOX_COLOUR).all()  # 2 px, green
    assert (image[150, 400] == LOW_BOX_COLOUR).all() and (image[150, 401] == 120).all()  # 1 px, grey
    assert (image[150, 300] == LOW_BOX_COLOUR).all() and (image[100, 150] == LOW_BOX_COLOUR).all()
    assert (image[300, 200] == BOX_COLOUR).all()  # where the edges cross, the confident box is on top


def test_snapshot_of_a_clip_finds_the_person(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clip = tmp_path / "walk.avi"
    write_walk(clip)
    out = tmp_path / "snap.jpg"
    assert main(["snapshot", "--config", str(agent_yaml(tmp_path, clip)), "-o", str(out)]) == 0
    assert "1 person detected" in capsys.readouterr().out
    image = cv2.imread(str(out))
    assert image is not None and image.shape == (400, 640, 3)


def test_snapshot_without_a_frame_or_a_camera(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "snap.jpg"
    assert main(["snapshot", "-c", str(agent_yaml(tmp_path, tmp_path / "none.avi")), "-o", str(out)]) == 1
    assert "no video file" in capsys.readouterr().err and not out.exists()
    serial = tmp_path / "serial.yaml"
    serial.write_text("site: t\nsensors:\n  - {id: door, type: serial-lines, port: /dev/ttyUSB0}\n")
    assert main(["snapshot", "-c", str(serial), "-o", str(out)]) == 2
    assert "no sensor of type camera" in capsys.readouterr().err
