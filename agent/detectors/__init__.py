"""Person detectors, chosen by the `type` of their config (one module per detector).

To add one (say an overhead head detector in ONNX): add its settings class to `agent.detector_config`
(derived from `DetectorConfigBase`, with `type: Literal["<name>"]`, and listed in `DetectorConfig`), write
`agent/detectors/<name>.py` with a class with `detect(frame_bgr) -> Detections`, and add it to `_BUILDERS`
below. Nothing else in the agent changes. Importing this package loads neither OpenCV nor onnxruntime;
building a detector does. The settings classes are also importable from here, next to the detectors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.detector_config import DetectorConfig, DetectorConfigBase, HogDetectorConfig, SsdliteDetectorConfig
from agent.detectors.base import Detections, Detector
from agent.detectors.hog import HogDetector
from agent.detectors.ssdlite import SsdliteDetector

_BUILDERS: dict[str, Callable[[Any], Detector]] = {
    "ssdlite": SsdliteDetector,
    "hog": HogDetector,
}


def build_detector(cfg: DetectorConfigBase) -> Detector:
    """The detector a config describes."""
    kind = getattr(cfg, "type", None)
    if kind not in _BUILDERS:
        raise ValueError(f"unknown detector type {kind!r}; known: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[kind](cfg)


__all__ = [
    "DetectorConfig",
    "DetectorConfigBase",
    "Detections",
    "Detector",
    "HogDetectorConfig",
    "SsdliteDetectorConfig",
    "build_detector",
]
