"""`footfall-agent snapshot --config FILE -o out.jpg`: one frame with the counting set-up drawn on it.

This is the picture an installer checks before going live: is the line where the door is, does its
arrow point into the shop, does the detector find the people in this view. Lines are drawn with an arrow
towards their inside (crossing in that direction counts as in), zones as outlines, detections as boxes
with their scores: green at or above the tracker's high score (people it takes as seen), thin and grey
below it (kept only to continue a track through partial occlusion; a detector that sees partly hidden
people, like NanoDet, gives many of these, which are not people found). The frame is written only to the
file asked for; the agent itself never sends frames.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.vision.replay import ReplayError

if TYPE_CHECKING:
    from agent.config.camera import CameraSensorConfig
    from agent.vision.detectors.base import Detections
    from agent.vision.pipeline import CountingPipeline

LINE_COLOUR = (0, 255, 255)
ZONE_COLOUR = (255, 160, 0)
BOX_COLOUR = (0, 200, 0)
LOW_BOX_COLOUR = (160, 160, 160)
ARROW_PX = 40.0


def grab_frame(sensor: CameraSensorConfig, timeout: float) -> np.ndarray:
    """One frame from the sensor's source, at the size its lines are drawn in."""
    from agent.sources.camera import CaptureError, is_stream, open_capture
    from agent.vision.camera_counter import fit_frame

    try:
        capture = open_capture(sensor.source, sensor.width, sensor.height, sensor.fps)
    except CaptureError as e:
        raise ReplayError(str(e)) from None
    try:
        deadline = time.monotonic() + timeout
        # A live camera's first frames are often dark while exposure settles; a file's first frame is the frame.
        wanted = 5 if is_stream(sensor.source) else 1
        frame: np.ndarray | None = None
        while wanted and time.monotonic() < deadline:
            ok, got = capture.read()
            if ok and got is not None:
                frame, wanted = got, wanted - 1
            elif frame is not None or not is_stream(sensor.source):
                break
    finally:
        capture.release()
    if frame is None:
        raise ReplayError(f"no frame from {sensor.source} within {timeout:g} s")
    size = (sensor.width, sensor.height) if sensor.width is not None and sensor.height is not None else None
    return fit_frame(frame, size)


def in_arrow(points: np.ndarray, in_sign: int, side_of: object) -> tuple[tuple[int, int], tuple[int, int]]:
    """Start and tip of an arrow from the middle of a line's middle segment towards its inside."""
    i = (len(points) - 1) // 2
    a, b = points[i], points[i + 1]
    mid = (a + b) / 2.0
    d = b - a
    normal = np.array([-d[1], d[0]]) / max(float(np.hypot(*d)), 1e-9)
    probe = mid + normal * 1.0
    if side_of(tuple(probe)) != in_sign:  # type: ignore[operator]
        normal = -normal
    tip = mid + normal * ARROW_PX
    return (round(mid[0]), round(mid[1])), (round(tip[0]), round(tip[1]))


def draw(frame: np.ndarray, pipeline: CountingPipeline, detections: Detections) -> np.ndarray:
    """A copy of the frame with the zones, the lines with their in-arrows and the detections drawn on it."""
    import cv2

    image = frame.copy()
    for name, zone in pipeline.zones.items():
        pts = np.round(zone.polygon.points).astype(np.int32)
        cv2.polylines(image, [pts], True, ZONE_COLOUR, 2, cv2.LINE_AA)
        cv2.putText(
            image, name, (int(pts[0][0]) + 4, int(pts[0][1]) + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.6, ZONE_COLOUR, 2
        )
    for name, line in pipeline.lines.items():
        pts = np.round(line.line.points).astype(np.int32)
        cv2.polylines(image, [pts], False, LINE_COLOUR, 2, cv2.LINE_AA)
        start, tip = in_arrow(line.line.points, line.in_sign, line.line.side_of)
        cv2.arrowedLine(image, start, tip, LINE_COLOUR, 2, cv2.LINE_AA, tipLength=0.3)
        cv2.putText(image, f"{name} in", (tip[0] + 4, tip[1]), cv2.FONT_HERSHEY_SIMPLEX, 0.6, LINE_COLOUR, 2)
    high = pipeline.config.tracker.high_score
    order = np.argsort(detections.scores, kind="stable")  # confident boxes last, on top
    for box, score in zip(detections.boxes[order].tolist(), detections.scores[order].tolist(), strict=True):
        x1, y1, x2, y2 = (round(v) for v in box)
        colour, width = (BOX_COLOUR, 2) if score >= high else (LOW_BOX_COLOUR, 1)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, width)
        cv2.putText(image, f"{score:.2f}", (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    return image


def snapshot(sensor: CameraSensorConfig, output: Path, timeout: float) -> int:
    """Grab, detect, draw and write; returns the number of people detected: the detections at or above the
    tracker's high score."""
    import cv2

    from agent.vision.camera_counter import CameraCounter

    frame = grab_frame(sensor, timeout)
    counter = CameraCounter(sensor)
    step = counter.step(frame, time.time())
    assert counter.pipeline is not None
    image = draw(frame, counter.pipeline, step.detections)
    if not cv2.imwrite(str(output), image):
        raise ReplayError(f"cannot write {output} (an existing directory and a .jpg or .png name?)")
    return int((step.detections.scores >= sensor.counting.tracker.high_score).sum())
