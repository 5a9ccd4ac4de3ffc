"""NanoDet-g person detector on onnxruntime, with the GFL box decoding done in numpy.

NanoDet-g (CSP backbone, PAN, GFL head; COCO-trained, 80 classes) finds people much smaller than SSDLite's
300x300 input can: on the real frames of bench/real_frames.py it finds people down to a tenth of the frame
height that SSDLite misses. The shipped ONNX files (built by `models/build_nanodet.py`, described in
`models/MODEL_CARD_NANODET.md`) hold the network core only, cut at the three head convolutions and cut
down to the person class: a float NCHW BGR image normalised per channel in, one map per stride out, each
`1 x 45 x H/stride x W/stride`: channel 0 the person logit, channels 1-44 the box's four side distances
(left, top, right, bottom) as 11-bin distributions. The input size is free (multiples of 32).

Decoding (Generalized Focal Loss): each cell's centre is `((col + 0.5) * stride, (row + 0.5) * stride)`; a
side's distance is the expectation of the softmax over its 11 bins (0..10), times the stride.

Scores: the GFL head is trained to predict the IoU of its box with the person (a localisation quality), not
the chance that there is a person, so true people mostly score 0.4-0.7 where SSDLite gives 0.9, while the
tracker's thresholds (a new track needs 0.6) were set with SSDLite. So the logit is calibrated first:
`a * z + b`, monotone since a > 0. With a = 1 and one offset b per model, fitted so that on hand-labelled
frames no benchmark evaluates (`bench/score_calibration.py`), NanoDet's false detections at a calibrated
0.6 are exactly as many as SSDLite's at 0.6: a track is started on clutter no more often than with SSDLite.
Thresholds and NMS order are unchanged by it.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.config.detector import NanodetDetectorConfig
from agent.vision.detectors.base import Detections, as_bgr, nms
from agent.vision.detectors.onnx_session import open_session

if TYPE_CHECKING:
    import onnxruntime

MODELS_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILES: dict[str, str] = {"int8": "nanodet_person_int8.onnx", "fp32": "nanodet_person_fp32.onnx"}
OUTPUTS = ("stride8", "stride16", "stride32")
STRIDES = (8, 16, 32)
BINS = 11  # GFL reg_max 10: distances 0..10 strides
CHANNELS = 1 + 4 * BINS
MAX_DETECTIONS = 100

# NanoDet's training normalisation, BGR order, on 0..255 pixels.
MEAN_BGR = np.array([103.53, 116.28, 123.675], np.float32)
STD_BGR = np.array([57.375, 57.12, 58.395], np.float32)

# Calibration of the person logit per shipped model (a, b): calibrated logit = a * z + b, from
# `python bench/score_calibration.py` (int8 scores run a little lower than fp32 ones, hence the larger
# offset). A model given by path uses the fp32 one.
SCORE_CALIBRATION: dict[str, tuple[float, float]] = {"int8": (1.0, 0.641), "fp32": (1.0, 0.358)}


def model_path(model: str | Path) -> Path:
    """The ONNX file a `model` setting names: a shipped variant or an explicit path."""
    if isinstance(model, Path):
        return model
    return MODELS_DIR / MODEL_FILES[model]


def calibration_for(model: str | Path) -> tuple[float, float]:
    """The (a, b) score calibration of a `model` setting."""
    return SCORE_CALIBRATION[model if isinstance(model, str) else "fp32"]


def preprocess(frame_bgr: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Frame -> network input: bilinear resize to `size` (width, height; aspect not kept), (x - mean) / std
    per BGR channel, NCHW float32."""
    import cv2  # on use: loading detector configs must not pull in OpenCV

    small = cv2.resize(as_bgr(frame_bgr), size, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    small -= MEAN_BGR
    small *= np.float32(1.0) / STD_BGR
    return np.ascontiguousarray(small.transpose(2, 0, 1)[np.newaxis])


def calibrate(raw_logits: np.ndarray, a: float, b: float) -> np.ndarray:
    """Person logits -> calibrated scores in 0..1: sigmoid(a * z + b), monotone increasing for a > 0."""
    z = a * raw_logits.astype(np.float64) + b
    return (1.0 / (1.0 + np.exp(-z))).astype(np.float32)


@lru_cache(maxsize=16)
def logit_floor(score_threshold: float, a: float, b: float) -> float:
    """The raw logit below which no calibrated score reaches `score_threshold` (a little lower, so that
    rounding never drops a detection the exact test in `postprocess` would keep)."""
    if score_threshold >= 1.0:
        return math.inf
    return (math.log(score_threshold) - math.log1p(-score_threshold) - b) / a - 1e-3


def side_distances(bins: np.ndarray) -> np.ndarray:
    """(n, 44) box logits -> (n, 4) distances (left, top, right, bottom) in strides: the expectation of
    each side's softmax over the 11 bins."""
    logits = bins.reshape(-1, 4, BINS).astype(np.float32)
    logits = np.exp(logits - logits.max(axis=2, keepdims=True))
    return (logits @ np.arange(BINS, dtype=np.float32)) / logits.sum(axis=2)


def decode_level(out: np.ndarray, stride: int, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """One stride's `1 x 45 x h x w` map -> (boxes (n, 4) x1, y1, x2, y2 in input pixels, raw logits (n,)) of
    the cells whose person logit is at least `floor`."""
    _, channels, _, width = out.shape
    if channels != CHANNELS:
        raise ValueError(f"expected {CHANNELS} channels per cell, got {channels}")
    flat = out.reshape(CHANNELS, -1)
    cells = np.flatnonzero(flat[0] >= floor)
    if len(cells) == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0,), np.float32)
    centres = np.stack([cells % width + 0.5, cells // width + 0.5], axis=1).astype(np.float32)
    dist = side_distances(flat[1:, cells].T)
    boxes = np.concatenate([centres - dist[:, :2], centres + dist[:, 2:]], axis=1) * np.float32(stride)
    return boxes, flat[0, cells].astype(np.float32)


def postprocess(
    outputs: list[np.ndarray],
    input_size: tuple[int, int],
    frame_size: tuple[int, int],
    score_threshold: float,
    nms_iou: float,
    calibration: tuple[float, float],
) -> Detections:
    """The three stride maps (8, 16, 32) -> person detections in pixels of a frame of `frame_size` (width,
    height): decode, calibrate scores, keep those at or above the threshold, clip to the image, drop empty
    boxes, greedy NMS, at most 100."""
    a, b = calibration
    floor = logit_floor(score_threshold, a, b)
    decoded = [decode_level(out, stride, floor) for out, stride in zip(outputs, STRIDES, strict=True)]
    boxes = np.concatenate([d[0] for d in decoded])
    if len(boxes) == 0:
        return Detections.empty()
    scores = calibrate(np.concatenate([d[1] for d in decoded]), a, b)
    in_w, in_h = input_size
    boxes = np.clip(boxes, 0.0, np.array([in_w, in_h, in_w, in_h], np.float32))
    passed = (scores >= score_threshold) & (boxes[:, 2:] > boxes[:, :2]).all(axis=1)
    boxes, scores = boxes[passed], scores[passed]
    keep = nms(boxes, scores, score_threshold, nms_iou)[:MAX_DETECTIONS]
    frame_w, frame_h = frame_size
    scale = np.array([frame_w / in_w, frame_h / in_h] * 2, np.float32)
    return Detections((boxes[keep] * scale).astype(np.float32), scores[keep])


class NanodetDetector:
    """Runs the network on each frame; one instance per camera, owning its session and thread budget."""

    def __init__(self, cfg: NanodetDetectorConfig) -> None:
        self.cfg = cfg
        path = model_path(cfg.model)
        if not path.is_file():
            raise FileNotFoundError(
                f"detector model {path} not found; the shipped models are in {MODELS_DIR} "
                "(see models/MODEL_CARD_NANODET.md), or set `model` to the path of an ONNX file"
            )
        self.calibration = calibration_for(cfg.model)
        self.session: onnxruntime.InferenceSession = open_session(path, cfg.threads)
        inputs = self.session.get_inputs()
        names = [o.name for o in self.session.get_outputs()]
        if len(inputs) != 1 or len(inputs[0].shape) != 4 or inputs[0].shape[1] != 3 or sorted(names) != sorted(OUTPUTS):
            raise ValueError(
                f"{path} is not a NanoDet person core with one 1x3xHxW input and outputs {', '.join(OUTPUTS)}"
            )
        self._input = inputs[0].name

    def raw(self, frame_bgr: np.ndarray) -> list[np.ndarray]:
        """The three stride maps of a frame (for checks and benchmarks)."""
        return self.session.run(list(OUTPUTS), {self._input: preprocess(frame_bgr, self.cfg.input_size)})

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        height, width = frame_bgr.shape[:2]
        return postprocess(
            self.raw(frame_bgr),
            self.cfg.input_size,
            (width, height),
            self.cfg.score_threshold,
            self.cfg.nms_iou,
            self.calibration,
        )
