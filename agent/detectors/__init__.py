"""Person detectors, chosen by the `type` of their config (one module per detector).

To add one (say an overhead head detector in ONNX): write `agent/detectors/<name>.py` with a config class
derived from `DetectorConfigBase` (with `type: Literal["<name>"]`) and a class with
`detect(frame_bgr) -> Detections`, then add both to `DetectorConfig` and `_BUILDERS` below. Nothing
else in the agent changes. Importing this package loads neither OpenCV nor onnxruntime; building a
detector does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from pydantic import Field

from agent.detectors.base import Detections, Detector, DetectorConfigBase
from agent.detectors.hog import HogDetector, HogDetectorConfig
from agent.detectors.ssdlite import SsdliteDetector, SsdliteDetectorConfig

DetectorConfig = Annotated[SsdliteDetectorConfig | HogDetectorConfig, Field(discriminator="type")]

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
