"""OpenCV's HOG + linear SVM people detector (Dalal-Triggs), the classical baseline.

Kept behind the same interface as the network so that benchmarks and a shop owner without a model can
compare like with like. It only finds upright people at least 128 px tall (its 64x128 window) and is
far slower and less accurate than the SSDLite detector: it is not the default.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agent.config.detector import HogDetectorConfig
from agent.vision.detectors.base import Detections, as_bgr, nms


def margin_to_score(margin: np.ndarray) -> np.ndarray:
    """SVM margins -> 0..1 scores by the logistic function (0.5 at the SVM's own decision boundary).

    Monotonic, so thresholds and NMS order are the SVM's; not a calibrated probability.
    """
    return (1.0 / (1.0 + np.exp(-margin.astype(np.float64)))).astype(np.float32)


def score_to_margin(score: float) -> float:
    """Inverse of `margin_to_score`: the SVM hit threshold that a score threshold means."""
    return math.log(score / (1.0 - score)) if score < 1.0 else math.inf


def hog_people_descriptor() -> Any:
    """A HOGDescriptor loaded with OpenCV's default people SVM.

    OpenCV 5 moved HOG out of the main `opencv-python(-headless)` wheels into the contrib ones; say so
    instead of failing with an AttributeError.
    """
    import cv2  # on use: loading detector configs must not pull in OpenCV

    if not hasattr(cv2, "HOGDescriptor"):
        raise RuntimeError(
            f"OpenCV {cv2.__version__} has no HOGDescriptor: OpenCV 5 ships it only in "
            "opencv-contrib-python-headless (or use opencv-python-headless<5)"
        )
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    return hog


class HogDetector:
    """Sliding-window HOG people detection over an image pyramid of the whole frame."""

    def __init__(self, cfg: HogDetectorConfig) -> None:
        self.cfg = cfg
        self._hog = hog_people_descriptor()
        self._hit_threshold = score_to_margin(cfg.score_threshold)

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        frame = as_bgr(frame_bgr)
        height, width = frame.shape[:2]
        if height < 128 or width < 64:
            return Detections.empty()
        stride = (self.cfg.win_stride, self.cfg.win_stride)
        rects, margins = self._hog.detectMultiScale(
            frame, hitThreshold=self._hit_threshold, winStride=stride, scale=self.cfg.scale
        )
        if len(rects) == 0:
            return Detections.empty()
        xywh = np.asarray(rects, dtype=np.float32).reshape(-1, 4)
        boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
        boxes = np.clip(boxes, 0.0, np.array([width, height, width, height], dtype=np.float32))
        scores = margin_to_score(np.asarray(margins, dtype=np.float32).reshape(-1))
        keep = nms(boxes, scores, self.cfg.score_threshold, self.cfg.nms_iou)
        return Detections(boxes[keep].astype(np.float32), scores[keep])
