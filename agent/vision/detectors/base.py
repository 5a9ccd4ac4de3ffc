"""What every person detector delivers (`Detections`) and promises (`Detector`).

The tracker and the counting lines only need boxes and scores in the pixel coordinates of the frame they
were given, so a detector is anything with `detect(frame_bgr) -> Detections`. Which one runs is chosen
by the `type` of its config (`agent.config.detector`); `agent.vision.detectors.build.build_detector` maps that to an
implementation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, eq=False)
class Detections:
    """People found in one frame, best first.

    `boxes` is (N, 4) float32 `x1, y1, x2, y2` in pixels of the frame passed to `detect` (not of the
    detector's internal input size); `scores` is (N,) float32 in 0..1, higher meaning more certain.
    """

    boxes: np.ndarray
    scores: np.ndarray

    def __post_init__(self) -> None:
        if self.boxes.dtype != np.float32 or self.boxes.ndim != 2 or self.boxes.shape[1] != 4:
            raise ValueError(f"boxes must be (N, 4) float32, got {self.boxes.shape} {self.boxes.dtype}")
        if self.scores.dtype != np.float32 or self.scores.shape != (self.boxes.shape[0],):
            raise ValueError(
                f"scores must be ({self.boxes.shape[0]},) float32, got {self.scores.shape} {self.scores.dtype}"
            )

    def __len__(self) -> int:
        return int(self.scores.shape[0])

    @classmethod
    def empty(cls) -> Detections:
        """No detections: what a frame without people gives."""
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))


class Detector(Protocol):
    """Finds people in a BGR (OpenCV order) uint8 frame of any size."""

    def detect(self, frame_bgr: np.ndarray) -> Detections: ...


def as_bgr(frame: np.ndarray) -> np.ndarray:
    """Accept the frame layouts cameras deliver (BGR, grey, BGRA) as 3-channel BGR uint8."""
    import cv2  # on use: loading detector configs must not pull in OpenCV

    if frame.dtype != np.uint8:
        raise ValueError(f"frame must be uint8, got {frame.dtype}")
    if frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 1):
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    raise ValueError(f"frame must be HxW, HxWx1, HxWx3 or HxWx4, got shape {frame.shape}")


def nms(boxes: np.ndarray, scores: np.ndarray, score_threshold: float, iou: float) -> np.ndarray:
    """Indices of the boxes (xyxy, any unit) scoring at least `score_threshold` that greedy NMS keeps,
    best score first (a box is dropped when it overlaps a better kept one by more than `iou`)."""
    import cv2  # on use: loading detector configs must not pull in OpenCV

    candidates = np.flatnonzero(scores >= score_threshold)
    if len(candidates) == 0:
        return np.zeros((0,), np.int64)
    b = boxes[candidates].astype(np.float64)
    xywh = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
    # Float boxes select OpenCV's Rect2d overload, so normalised coordinates are not rounded to integers.
    # Its own score filter is strict (> threshold) and thresholds are > 0 here, so 0 lets every candidate in.
    keep = cv2.dnn.NMSBoxes(xywh.tolist(), scores[candidates].astype(np.float64).tolist(), 0.0, iou)
    return candidates[np.asarray(keep, dtype=np.int64).reshape(-1)]
