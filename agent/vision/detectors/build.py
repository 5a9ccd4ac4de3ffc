"""The detector a camera's `detector` settings ask for, by its `type`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent.config.detector import DetectorConfigBase
from agent.vision.detectors.base import Detector
from agent.vision.detectors.hog import HogDetector
from agent.vision.detectors.nanodet import NanodetDetector
from agent.vision.detectors.ssdlite import SsdliteDetector

_BUILDERS: dict[str, Callable[[Any], Detector]] = {
    "nanodet": NanodetDetector,
    "ssdlite": SsdliteDetector,
    "hog": HogDetector,
}


def build_detector(cfg: DetectorConfigBase) -> Detector:
    """The detector a config describes."""
    kind = getattr(cfg, "type", None)
    if kind not in _BUILDERS:
        raise ValueError(f"unknown detector type {kind!r}; known: {', '.join(sorted(_BUILDERS))}")
    return _BUILDERS[kind](cfg)
