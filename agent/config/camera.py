"""The `camera` sensor: frames, the person detector and the counting lines, all on the device."""

from __future__ import annotations

import importlib.util
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from agent.config.counting import CountingConfig
from agent.config.detector import DetectorConfig, NanodetDetectorConfig
from agent.config.fields import ReconnectMax, SensorId, check_reconnect
from agent.config.units import Duration

# The detector's default score threshold for cameras: as low as the tracker's low-score stage (its default
# `low_score`), so partly hidden people still reach the tracker and continue their tracks.
CAMERA_SCORE_THRESHOLD = 0.1
# NanoDet finds people down to about a tenth of the frame height, where SSDLite's 300x300 input loses them
# (bench/real_frames.py: 50 of 62 real people against 16), and on real footage it counts every hand-counted
# crossing where SSDLite counts none (bench/real_video.py), within the one-core budget
# (bench/detector_speed.py). On composited crowds it counts more ins and loses outs where people pass behind
# each other (models/MODEL_CARD_NANODET.md).
DEFAULT_DETECTOR = "nanodet"


CAMERA_EXTRA_HINT = "pip install 'footfall-agent[camera]'"
"""How to install what a camera needs: a serial-only device installs without OpenCV and onnxruntime."""


def missing_camera_packages(detector_type: str) -> list[str]:
    """The camera libraries a camera sensor with this detector needs that are not installed (looked up, not
    imported: loading a config must stay fast). OpenCV for every camera; onnxruntime for all but `hog`."""
    needed = [("cv2", "opencv-python-headless")]
    if detector_type != "hog":
        needed.append(("onnxruntime", "onnxruntime"))
    return [package for module, package in needed if importlib.util.find_spec(module) is None]


def _camera_detector_defaults(value: Any) -> Any:
    """A `detector:` mapping may leave out `type` (the default detector) and `score_threshold` (the camera
    default)."""
    if isinstance(value, dict):
        value = {"type": DEFAULT_DETECTOR, "score_threshold": CAMERA_SCORE_THRESHOLD, **value}
    return value


class CameraSensorConfig(BaseModel):
    """A camera (USB/V4L2 device, RTSP/HTTP stream or video file) whose people are detected, tracked and
    counted where they cross the configured line(s), on the device itself.

    Frames never leave the device. The analysed frame rate, the inference time and the dropped frames are
    reported with the sensor's health.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True)

    type: Literal["camera"] = Field(
        "camera", title="Sensor type", description="`camera`: people counted by a camera and a person detector."
    )
    id: SensorId
    source: int | str = Field(
        title="Video source",
        description="A V4L2/USB device index (`0`) or node (`/dev/video0`), an `rtsp://` or `http(s)://` stream "
        "URL, or the path of a video file.",
    )
    loop: bool = Field(
        False,
        title="Loop the file",
        description="For a video file: start again at the end. Off: the file is played once (at its own frame "
        "rate) and the sensor then counts as down.",
    )
    fps: float = Field(
        10.0,
        gt=0,
        le=60,
        title="Analysed frames per second",
        description="Target rate at which the newest frame is analysed. Frames arriving in between are dropped "
        "(and counted); analysis never falls more than one frame behind.",
    )
    width: int | None = Field(
        None,
        ge=16,
        le=7680,
        title="Frame width",
        description="Requested capture width in pixels (set together with `height`); frames of another size are "
        "scaled to it, so pixel coordinates of lines and zones stay valid. Unset: as the source delivers.",
    )
    height: int | None = Field(
        None,
        ge=16,
        le=4320,
        title="Frame height",
        description="Requested capture height in pixels (set together with `width`).",
    )
    detector: DetectorConfig = Field(
        default_factory=lambda: NanodetDetectorConfig(type="nanodet", score_threshold=CAMERA_SCORE_THRESHOLD),
        title="Detector",
        description="The person detector: a mapping with `type` (`nanodet`, default, `ssdlite` or `hog`), `model` "
        "(`int8`, default, or `fp32`), `threads` (onnxruntime threads; unset: by the number of cores), "
        "`score_threshold` (default 0.1 here, the tracker's low score) and `nms_iou`.",
    )
    counting: CountingConfig = Field(
        title="Counting",
        description="Lines (`lines`: name, points, in_point or in_direction, ...), zones, tracker settings, "
        "masks and region of interest, as accepted by `footfall-agent replay --config`.",
    )
    count_line: str | None = Field(
        None,
        title="Counted line",
        description="Name of the line whose crossings are this sensor's ins and outs. Unset: the crossings of "
        "all lines are added up (one line per door is the usual set-up).",
    )
    stall_timeout: Duration = Field(
        10,
        gt=0,
        title="Stall timeout",
        description="A stream that delivers no frame for this long is taken as dropped and reopened.",
    )
    reconnect_min: Duration = Field(
        1, gt=0, title="Reconnect delay (first)", description="Wait before the first reopen after the stream is lost."
    )
    reconnect_max: ReconnectMax = 30

    _detector_defaults = field_validator("detector", mode="before")(_camera_detector_defaults)

    @field_validator("source")
    @classmethod
    def _source_given(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value < 0:
            raise ValueError("a device index must be 0 or more")
        if isinstance(value, str) and not value.strip():
            raise ValueError("source must not be empty")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> CameraSensorConfig:
        if (self.width is None) != (self.height is None):
            raise ValueError("set width and height together, or neither")
        if not self.counting.lines:
            raise ValueError("counting.lines: a camera sensor needs at least one counting line for its ins and outs")
        names = [line.name for line in self.counting.lines]
        if self.count_line is not None and self.count_line not in names:
            raise ValueError(f"count_line {self.count_line!r} is not one of the lines: {', '.join(names)}")
        check_reconnect(self.reconnect_min, self.reconnect_max)
        missing = missing_camera_packages(self.detector.type)
        if missing:
            raise ValueError(f"a camera sensor needs {' and '.join(missing)}, not installed here: {CAMERA_EXTRA_HINT}")
        return self
