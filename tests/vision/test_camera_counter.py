"""`CameraCounter`: frames of a real clip through the real detector, tracker and lines."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from agent.config.camera import CameraSensorConfig
from agent.vision.camera_counter import CameraCounter, fit_frame
from tests.clips import read_frames, write_walk

LINES = [
    {"name": "door", "points": [[320, 0], [320, 400]], "in_direction": "right"},
    {"name": "far", "points": [[600, 0], [600, 400]], "in_direction": "right"},
]


def camera(**extra: object) -> CameraSensorConfig:
    return CameraSensorConfig(**{"id": "cam", "source": "clip.avi", "counting": {"lines": LINES}, **extra})


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> list[np.ndarray]:
    path = tmp_path_factory.mktemp("clip") / "walk.avi"
    write_walk(path)
    return read_frames(path)


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
    # The walker is found in the scaled frame; a weak second box near the threshold may come and go with
    # the onnxruntime build (int8 scores are not bit-exact across CPUs), so only the boxes' frame is checked.
    assert len(step.detections) >= 1 and step.detections.scores.max() > 0.5
    assert (step.detections.boxes[:, [0, 2]] <= 320).all() and (step.detections.boxes[:, [1, 3]] <= 200).all()
    assert fit_frame(walk[0], None) is walk[0]
    assert fit_frame(walk[0], (64, 40)).shape == (40, 64, 3)


def test_restart_forgets_the_people_tracked_before_a_gap(walk: list[np.ndarray]) -> None:
    counter = CameraCounter(camera())
    count(counter, walk[:30])
    counter.restart((640, 400))
    assert counter.pipeline is not None and len(counter.pipeline.tracker) == 0


def test_a_crossing_waiting_to_be_sure_when_the_input_ends_counts_on_finish(walk: list[np.ndarray]) -> None:
    """The clip ends one frame before her crossing of the door line would have been sure (past the band, it
    waits a few frames here): the live camera's file source and replay both count it then."""
    assert CameraCounter(camera()).finish() is None, "nothing before the first frame"
    whole = CameraCounter(camera())
    sure = next(i for i, frame in enumerate(walk) if whole.step(frame, i / 20).ins)
    counter = CameraCounter(camera())
    assert count(counter, walk[:sure]) == (0, 0)
    end = counter.finish()
    assert end is not None
    assert (end.ins, end.outs) == (1, 0)
    assert end.counts.lines == {"door": (1, 0)}
    assert len(end.detections) == 0
    again = counter.finish()
    assert again is not None and (again.ins, again.outs) == (0, 0), "a crossing counts once"


def test_each_step_reports_what_changed_per_line_and_zone(walk: list[np.ndarray]) -> None:
    # Beyond the frame at the top, right and bottom, so that only its left edge (the door line) is crossed.
    right_half = {"name": "right", "points": [[320, -100], [800, -100], [800, 500], [320, 500]]}
    counter = CameraCounter(camera(counting={"lines": LINES, "zones": [right_half]}))
    lines: dict[str, list[int]] = {}
    entries = exits = reports = 0
    dwell: list[float] = []
    occupancy: list[int] = []
    for i, frame in enumerate(walk):
        step = counter.step(frame, i / 20)
        for name, (ins, outs) in step.counts.lines.items():
            line = lines.setdefault(name, [0, 0])
            line[0], line[1] = line[0] + ins, line[1] + outs
        if "right" in step.counts.zones:
            zone = step.counts.zones["right"]
            entries, exits = entries + zone.entries, exits + zone.exits
            dwell.extend(zone.dwell_s)
            occupancy.append(zone.occupancy)
            reports += 1
    assert counter.pipeline is not None
    totals = counter.pipeline.totals()
    assert lines == {"door": [1, 1]}, "only lines with crossings are reported"
    assert (entries, exits) == (totals["zones"]["right"]["in"], totals["zones"]["right"]["out"]) == (1, 1)
    assert len(dwell) == 1 and dwell[0] == totals["zones"]["right"]["dwell_mean_s"]
    assert occupancy == [0, 1, 0], "reported at the first frame, then only when it changes"
    assert reports == 3


def test_warm_up_counts_nothing_and_no_solver_library_is_loaded() -> None:
    """In a fresh interpreter: the tracker's assignment is the agent's own, so nothing loads scipy."""
    code = (
        "import sys\n"
        "from agent.vision.camera_counter import CameraCounter\n"
        "from agent.config.camera import CameraSensorConfig\n"
        "counter = CameraCounter(CameraSensorConfig(id='cam', source='clip.avi', width=320, height=240,\n"
        "    counting={'lines': [{'name': 'door', 'points': [[160, 0], [160, 240]], 'in_direction': 'right'}]}))\n"
        "counter.warm_up()\n"
        "assert counter.pipeline is None, 'warming up counts nothing'\n"
        "import numpy as np\n"
        "counter.step(np.zeros((240, 320, 3), dtype=np.uint8), 0.0)\n"
        "assert 'scipy' not in sys.modules\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
