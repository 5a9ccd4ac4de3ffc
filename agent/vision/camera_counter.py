"""One camera frame in, ins and outs out: detector, tracker, lines and zones, shared by live and replay.

The live camera source and `footfall-agent replay --video` both count through `CameraCounter.step`, so a
line an installer validated on a recorded clip counts exactly the same way once the camera is live. The
frame is brought to the configured size first, because line and zone coordinates are pixels of that size.
Which crossings become the sensor's ins and outs is decided here too: those of `count_line`, or of every
line added up when it is unset. Each step also reports what changed per line and zone (`CameraCounts`), for
the interval payload's per-line and per-zone figures.

No threads and no capture: time is passed in, frames are handed over by the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from agent.aggregation.records import CameraCounts, ZoneStep
from agent.config.camera import CameraSensorConfig
from agent.vision.detectors.base import Detections, Detector
from agent.vision.detectors.build import build_detector
from agent.vision.pipeline import CountingPipeline, FrameResult
from agent.vision.zones import ZoneEvent


@dataclass(frozen=True)
class FrameStep:
    """What one analysed frame produced: the sensor's ins and outs, what changed per line and zone (empty
    when nothing did), and what was seen, for drawing."""

    ins: int
    outs: int
    detections: Detections
    result: FrameResult
    inference_ms: float
    counts: CameraCounts = field(default_factory=CameraCounts)


def fit_frame(frame: np.ndarray, size: tuple[int, int] | None) -> np.ndarray:
    """The frame scaled to `size` (width, height) if it has another size; unchanged when `size` is None."""
    if size is None or (frame.shape[1], frame.shape[0]) == size:
        return frame
    import cv2  # on use: loading configs must not pull in OpenCV

    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


class CameraCounter:
    """Counts the people crossing a camera sensor's line(s), frame by frame.

    The detector is the expensive part (a loaded ONNX session), so it can be passed in and kept when the
    stream is reopened; the tracker and counters start afresh with `restart`, because after a gap the
    people in view are not the ones tracked before it.
    """

    def __init__(self, cfg: CameraSensorConfig, detector: Detector | None = None) -> None:
        self.cfg = cfg
        self.detector = detector if detector is not None else build_detector(cfg.detector)
        self.pipeline: CountingPipeline | None = None
        self.frame_size: tuple[int, int] | None = None
        self._frame_index = 0
        self._occupancy: dict[str, int] = {}  # per zone, as last reported; kept across restarts

    @property
    def target_size(self) -> tuple[int, int] | None:
        """The configured (width, height) frames are scaled to, if any."""
        if self.cfg.width is None or self.cfg.height is None:
            return None
        return self.cfg.width, self.cfg.height

    def warm_up(self) -> None:
        """Pay the session's one-off first-run cost before the camera starts, so the first frames of a live
        stream are analysed on time instead of being dropped behind a slow one."""
        width, height = self.target_size or (640, 480)
        self.detector.detect(np.zeros((height, width, 3), dtype=np.uint8))

    def restart(self, frame_size: tuple[int, int]) -> None:
        """Start tracking and counting afresh for frames of `frame_size` (as delivered by the source)."""
        self.frame_size = self.target_size or frame_size
        self.pipeline = CountingPipeline(self.cfg.counting, self.frame_size)
        self._frame_index = 0

    def step(self, frame: np.ndarray, t: float) -> FrameStep:
        """Detect, track and count one frame taken at `t` (epoch seconds)."""
        if self.pipeline is None:
            self.restart((frame.shape[1], frame.shape[0]))
        assert self.pipeline is not None
        frame = fit_frame(frame, self.frame_size)
        started = time.perf_counter()
        detections = self.detector.detect(frame)
        inference_ms = (time.perf_counter() - started) * 1000.0
        result = self.pipeline.process(self._frame_index, detections.boxes, detections.scores, t)
        self._frame_index += 1
        return self._step(result, detections, inference_ms)

    def finish(self) -> FrameStep | None:
        """The input has ended (a file played to its end, a stream that stopped): the crossings that were only
        waiting to be sure (`CountingPipeline.finish`); None before the first frame. The person was already
        past the band on the new side and only the wait was cut short, so the live camera counts them as a
        replay of the same clip does. The next frame must come after `restart`."""
        if self.pipeline is None:
            return None
        return self._step(self.pipeline.finish(), Detections.empty(), 0.0)

    def _step(self, result: FrameResult, detections: Detections, inference_ms: float) -> FrameStep:
        counted = [c for c in result.crossings if self.cfg.count_line in (None, c.line)]
        ins = sum(1 for c in counted if c.direction == "in")
        return FrameStep(ins, len(counted) - ins, detections, result, inference_ms, self._changes(result))

    def _changes(self, result: FrameResult) -> CameraCounts:
        """Crossings per line, and the zones with an entry, an exit or another occupancy than last reported
        (after a restart, occupancy starts again from what the new tracks show)."""
        assert self.pipeline is not None
        lines: dict[str, tuple[int, int]] = {}
        for c in result.crossings:
            ins, outs = lines.get(c.line, (0, 0))
            lines[c.line] = (ins + 1, outs) if c.direction == "in" else (ins, outs + 1)
        events: dict[str, list[ZoneEvent]] = {}
        for e in result.zone_events:
            events.setdefault(e.zone, []).append(e)
        zones: dict[str, ZoneStep] = {}
        for name, zone in self.pipeline.zones.items():
            occupancy = zone.occupancy
            seen = events.get(name, [])
            if not seen and self._occupancy.get(name) == occupancy:
                continue
            self._occupancy[name] = occupancy
            entries = sum(1 for e in seen if e.kind == "entry")
            dwell = tuple(e.dwell_s for e in seen if e.kind == "exit" and e.dwell_s is not None)
            zones[name] = ZoneStep(entries, len(seen) - entries, occupancy, dwell)
        return CameraCounts(lines, zones)
