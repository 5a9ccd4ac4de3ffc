"""Settings of the person detectors, chosen by `type` (the `detector` section of a camera sensor).

The detectors themselves live in `agent.vision.detectors`, one module each, and load numpy, OpenCV and
onnxruntime; their settings live here so that loading a config loads none of them. To add a detector, add
its settings class (derived from `DetectorConfigBase`, with `type: Literal["<name>"]`) to `DetectorConfig`
below and its implementation to `agent.vision.detectors`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


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


class OnnxDetectorConfigBase(DetectorConfigBase):
    """Settings of the detectors that run a shipped ONNX network on onnxruntime."""

    model: Literal["int8", "fp32"] | Path = Field(
        "int8",
        title="Model",
        description="`int8` (quantized, faster) or `fp32` for a shipped model, or the path of an ONNX file with "
        "the same input and outputs (a relative path is taken from the working directory).",
    )
    threads: int | None = Field(
        None,
        ge=1,
        le=64,
        title="Inference threads",
        description="onnxruntime intra-op threads. Unset: 1 on a device with 1 or 2 usable cores, otherwise half of "
        "them (2 on a 4-core Raspberry Pi), leaving cores for capture, tracking and the agent. With more than "
        "one thread, idle workers sleep instead of spinning.",
    )


class SsdliteDetectorConfig(OnnxDetectorConfigBase):
    """The pretrained SSDLite-MobileNetV2 person detector (300x300 input)."""

    type: Literal["ssdlite"] = Field(
        title="Detector type", description="`ssdlite`: SSDLite-MobileNetV2 person detector."
    )


class NanodetDetectorConfig(OnnxDetectorConfigBase):
    """NanoDet-g, a COCO-trained detector of which only the person class is used (the camera default)."""

    type: Literal["nanodet"] = Field(
        title="Detector type",
        description="`nanodet`: NanoDet-g person detector, finds people down to about a tenth of the frame height.",
    )
    input_size: tuple[int, int] = Field(
        (320, 256),
        title="Network input size",
        description="Width and height (multiples of 32) the frame is resized to for the network (aspect not kept). "
        "Larger finds smaller people and costs time in proportion to the pixels.",
    )

    @field_validator("input_size")
    @classmethod
    def _multiple_of_32(cls, value: tuple[int, int]) -> tuple[int, int]:
        if any(v % 32 or not 64 <= v <= 1280 for v in value):
            raise ValueError("width and height must be multiples of 32 between 64 and 1280")
        return value


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


DetectorConfig = Annotated[
    NanodetDetectorConfig | SsdliteDetectorConfig | HogDetectorConfig, Field(discriminator="type")
]
