"""Settings of the person detectors, chosen by `type` (the `detector` section of a camera sensor).

The detectors themselves live in `agent.vision.detectors`, one module each, and load numpy, OpenCV and
onnxruntime; their settings live here so that loading a config loads none of them. To add a detector, add
its settings class (derived from `DetectorConfigBase`, with `type: Literal["<name>"]`) to `DetectorConfig`
below and its implementation to `agent.vision.detectors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field


class DetectorConfigBase(BaseModel):
    """Settings every detector has: how confident a detection must be and how overlapping boxes merge."""

    model_config = ConfigDict(extra="forbid")

    score_threshold: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        title="Score threshold",
        description="Detections scoring below this (0..1) are dropped. Set it to the tracker's low score "
        "to let partly hidden people through to continue their tracks.",
    )
    nms_iou: float = Field(
        0.45,
        gt=0.0,
        le=1.0,
        title="NMS overlap",
        description="Non-maximum suppression: of two boxes overlapping by more than this intersection over "
        "union, only the higher-scoring one is kept.",
    )


class SsdliteDetectorConfig(DetectorConfigBase):
    """The pretrained SSDLite-MobileNetV2 person detector (int8 by default)."""

    type: Literal["ssdlite"] = Field(
        title="Detector type", description="`ssdlite`: SSDLite-MobileNetV2 person detector."
    )
    model: Literal["int8", "fp32"] | Path = Field(
        "int8",
        title="Model",
        description="`int8` (quantized, about twice as fast) or `fp32` for a shipped model, or the path of "
        "an ONNX file with the same input and outputs (a relative path is taken from the working directory).",
    )
    threads: int = Field(
        1,
        ge=1,
        le=64,
        title="Inference threads",
        description="onnxruntime intra-op threads. One keeps a core free for capture and tracking on a small device.",
    )


class HogDetectorConfig(DetectorConfigBase):
    """OpenCV's HOG people detector, as a classical baseline."""

    type: Literal["hog"] = Field(title="Detector type", description="`hog`: OpenCV's HOG + linear SVM people detector.")
    win_stride: int = Field(
        8,
        ge=1,
        le=64,
        title="Window stride",
        description="Pixels between tested window positions; smaller finds more and is much slower.",
    )
    scale: float = Field(
        1.05,
        gt=1.0,
        le=2.0,
        title="Pyramid scale",
        description="Factor between the image pyramid levels searched for larger people.",
    )


DetectorConfig = Annotated[SsdliteDetectorConfig | HogDetectorConfig, Field(discriminator="type")]
