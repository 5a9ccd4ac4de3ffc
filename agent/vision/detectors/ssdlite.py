"""SSDLite-MobileNetV2 person detector on onnxruntime, with the SSD box decoding done in numpy.

The shipped ONNX files (built by `models/build.py`, described in `models/MODEL_CARD.md`) hold only the
network core: a 1x300x300x3 float RGB image scaled to -1..1 in, raw box encodings (1x1917x1x4) and class
logits (1x1917x2, background first) out. Anchors, box decoding and NMS live here, in plain numpy, because
that keeps the graph free of dynamic-shape ops that quantize and port badly, and makes the post-processing
testable without a model. No TensorFlow at runtime.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.config.detector import SsdliteDetectorConfig
from agent.vision.detectors.base import Detections, as_bgr, nms
from agent.vision.detectors.onnx_session import open_session

if TYPE_CHECKING:
    import onnxruntime

# Where the model files are found: `agent/detectors/models` is a link to the repository's `models/`
# directory in a checkout and a real directory in an installed wheel (see models/MODEL_CARD.md).
MODELS_DIR = Path(__file__).resolve().parent / "models"
MODEL_FILES: dict[str, str] = {"int8": "ssdlite_person_int8.onnx", "fp32": "ssdlite_person_fp32.onnx"}
ANCHORS_FILE = "ssdlite_anchors.npy"

INPUT_SIZE = 300
# Faster R-CNN box coder of the TF Object Detection API config the model was trained with (y, x, h, w).
BOX_CODER_SCALES = np.array([10.0, 10.0, 5.0, 5.0], dtype=np.float32)
MAX_DETECTIONS = 100
PERSON_CLASS = 0  # index among the foreground classes (the logits' column 0 is background)


def model_path(model: str | Path) -> Path:
    """The ONNX file a `model` setting names: a shipped variant or an explicit path."""
    if isinstance(model, Path):
        return model
    return MODELS_DIR / MODEL_FILES[model]


def load_anchors(path: Path | None = None) -> np.ndarray:
    """The 1917 SSD anchors, (N, 4) float32 `ymin, xmin, ymax, xmax` normalised to the image."""
    anchors = np.load(path or MODELS_DIR / ANCHORS_FILE)
    if anchors.dtype != np.float32 or anchors.ndim != 2 or anchors.shape[1] != 4:
        raise ValueError(f"anchors must be (N, 4) float32, got {anchors.shape} {anchors.dtype}")
    return anchors


# x * 2/255 - 1 for every uint8 value, computed in float32 exactly as the TF graph's `Preprocessor/sub`
# does per pixel; one table lookup per pixel replaces a conversion, a multiplication and a subtraction.
_INPUT_SCALE = (np.arange(256, dtype=np.float32) * np.float32(2.0 / 255.0) - np.float32(1.0)).reshape(1, 256)


def preprocess(frame_bgr: np.ndarray) -> np.ndarray:
    """Frame -> the network input: bilinear resize to 300x300 (aspect not kept), RGB, x * 2/255 - 1.

    This is what the original TF graph does to a 300x300 uint8 image (`Preprocessor/sub`), and the
    upstream package fed it frames resized the same way with OpenCV.
    """
    import cv2  # on use: loading detector configs must not pull in OpenCV

    small = cv2.resize(as_bgr(frame_bgr), (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR)
    rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
    return cv2.LUT(rgb, _INPUT_SCALE)[np.newaxis]


def decode_boxes(encodings: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """SSD box decoding: (N, 4) `ty, tx, th, tw` relative to the anchors -> (N, 4) `ymin, xmin, ymax, xmax`.

    y and x are done together as column pairs: per frame this runs right after the network, with cold
    caches, where each numpy call costs several microseconds whatever its size.
    """
    size = anchors[:, 2:] - anchors[:, :2]  # ha, wa
    centre = anchors[:, :2] + size / 2  # yca, xca
    t = encodings / BOX_CODER_SCALES
    yx = t[:, :2] * size + centre
    half = np.exp(t[:, 2:]) * size / 2
    return np.concatenate([yx - half, yx + half], axis=1).astype(np.float32, copy=False)


@lru_cache(maxsize=8)
def logit_floor(score_threshold: float) -> np.float32:
    """A float32 logit below which no anchor's float32 sigmoid score can reach `score_threshold`.

    The logit of the float32 just under the threshold, lowered by a few float32 steps more: a score that
    rounds up to the threshold stays above it, and the exact score test still decides.
    """
    below = float(np.nextafter(np.float32(score_threshold), np.float32(0.0)))
    if below <= 0.0:
        return np.float32(-np.inf)
    floor = np.float32(math.log(below) - math.log1p(-below))
    for _ in range(4):
        floor = np.nextafter(floor, np.float32(-np.inf))
    return floor


def postprocess(
    encodings: np.ndarray,
    logits: np.ndarray,
    anchors: np.ndarray,
    width: int,
    height: int,
    score_threshold: float,
    nms_iou: float,
    class_index: int = PERSON_CLASS,
) -> Detections:
    """Raw network outputs -> detections of one class in pixels of a `width` x `height` frame.

    Mirrors the original graph's post-processing: sigmoid scores, decode, clip to the image, drop empty
    boxes, greedy NMS, at most 100 detections.
    """
    enc = encodings.reshape(-1, 4)
    if enc.shape[0] != anchors.shape[0]:
        raise ValueError(f"model gives {enc.shape[0]} boxes but there are {anchors.shape[0]} anchors")
    class_logits = logits.reshape(enc.shape[0], -1)[:, 1 + class_index]
    # The sigmoid is monotonic, so the threshold is first applied to the logits (with a margin) and the
    # scores are computed only for the few anchors that can reach it: most frames at a door have none.
    candidates = np.flatnonzero(class_logits >= logit_floor(score_threshold))
    if len(candidates) == 0:
        return Detections(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))
    scores = (1.0 / (1.0 + np.exp(-class_logits[candidates].astype(np.float64)))).astype(np.float32)
    passed = scores >= score_threshold
    candidates, scores = candidates[passed], scores[passed]
    boxes = np.clip(decode_boxes(enc[candidates], anchors[candidates]), 0.0, 1.0)
    nonempty = (boxes[:, 2:] > boxes[:, :2]).all(axis=1)
    boxes, scores = boxes[nonempty], scores[nonempty]
    keep = nms(boxes, scores, score_threshold, nms_iou)[:MAX_DETECTIONS]
    scale = np.array([width, height, width, height], dtype=np.float32)
    xyxy = boxes[keep][:, [1, 0, 3, 2]] * scale
    return Detections(xyxy.astype(np.float32), scores[keep])


class SsdliteDetector:
    """Runs the network on each frame; one instance per camera, owning its session and thread budget."""

    def __init__(self, cfg: SsdliteDetectorConfig) -> None:
        self.cfg = cfg
        path = model_path(cfg.model)
        if not path.is_file():
            raise FileNotFoundError(
                f"detector model {path} not found; the shipped models are in {MODELS_DIR} "
                "(see models/MODEL_CARD.md), or set `model` to the path of an ONNX file"
            )
        self.anchors = load_anchors()
        self.session: onnxruntime.InferenceSession = open_session(path, cfg.threads)
        inputs = self.session.get_inputs()
        outputs = self.session.get_outputs()
        if len(inputs) != 1 or list(inputs[0].shape) != [1, INPUT_SIZE, INPUT_SIZE, 3] or len(outputs) != 2:
            raise ValueError(
                f"{path} is not an SSD core with one 1x{INPUT_SIZE}x{INPUT_SIZE}x3 input and "
                "(box encodings, class logits) outputs"
            )
        self._input = inputs[0].name
        self._outputs = [o.name for o in outputs]

    def raw(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's box encodings and class logits for a frame (for checks against the original)."""
        encodings, logits = self.session.run(self._outputs, {self._input: preprocess(frame_bgr)})
        return encodings, logits

    def detect(self, frame_bgr: np.ndarray) -> Detections:
        height, width = frame_bgr.shape[:2]
        encodings, logits = self.raw(frame_bgr)
        return postprocess(encodings, logits, self.anchors, width, height, self.cfg.score_threshold, self.cfg.nms_iou)
