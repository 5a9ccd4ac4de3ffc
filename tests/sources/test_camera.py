"""The camera's frame grabber on a real clip: every frame grabbed, only the analysed ones decoded."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import cv2
import pytest

from agent.sources.camera import _Grabber
from tests.clips import write_walk


class DecodeCountingCapture:
    """A real OpenCV capture of `path`, counting the frames it is asked to decode (wrapped, not subclassed:
    OpenCV's classes do not survive being subclassed through garbage collection)."""

    def __init__(self, path: Path) -> None:
        self.capture = cv2.VideoCapture(str(path))
        self.retrieved = 0

    def grab(self) -> bool:
        return bool(self.capture.grab())

    def retrieve(self) -> tuple[bool, object]:
        self.retrieved += 1
        return self.capture.retrieve()

    def set(self, prop: int, value: float) -> bool:
        return bool(self.capture.set(prop, value))


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "walk.avi"
    write_walk(path, fps=40)
    return path


def test_only_the_frames_the_analysis_takes_are_decoded(clip: Path) -> None:
    capture = DecodeCountingCapture(clip)
    stop = threading.Event()
    grabber = _Grabber(capture, 40.0, loop=False, clock=time.time, stop=stop)
    grabber.start()
    taken = []
    try:
        while (got := grabber.newest(5.0)) is not None:
            taken.append(got[1])
            time.sleep(0.1)  # the analysis takes four of the clip's frame periods
    finally:
        stop.set()
        assert grabber.join(5.0)
    assert grabber.ended == "end of the video file"
    assert len(taken) >= 5
    # One decode per frame handed over, plus at most the one asked for when the clip ended.
    assert len(taken) <= capture.retrieved <= len(taken) + 1
    total = int(cv2.VideoCapture(str(clip)).get(cv2.CAP_PROP_FRAME_COUNT))
    assert grabber.dropped + capture.retrieved == total, "every frame is either decoded or counted as dropped"
    # After the first (asked for while the first was being analysed), frames follow the analysis rate.
    gaps = [b - a for a, b in zip(taken[1:], taken[2:], strict=False)]
    assert 0.08 < statistics.median(gaps) < 0.2, gaps
    assert grabber.dropped >= 2 * capture.retrieved, "most of a 40 fps clip is skipped undecoded at 10 fps"


def test_a_fast_analysis_gets_every_frame(clip: Path) -> None:
    capture = DecodeCountingCapture(clip)
    stop = threading.Event()
    # Paced at 20 fps: the waiting analysis thread has 50 ms to be scheduled for each frame, even on a busy machine.
    grabber = _Grabber(capture, 20.0, loop=False, clock=time.time, stop=stop)
    grabber.start()
    frames = 0
    try:
        while grabber.newest(5.0) is not None:
            frames += 1
    finally:
        stop.set()
        assert grabber.join(5.0)
    assert grabber.dropped == 0 and frames == capture.retrieved
