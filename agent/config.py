"""The agent's YAML configuration: pydantic models, loading with line numbers, and the generated reference.

Installers edit these files by hand on a shop's back-office box, often over a slow SSH session, so every
mistake must come back as one line naming the file, the key path and the line: never a traceback.
The models are also the single source of the documentation: `reference_markdown()` renders their
JSON Schema, so the README cannot drift from what the loader accepts.
"""

from __future__ import annotations

import codecs
import contextlib
import difflib
import json
import math
import os
import re
import socket
import types
from collections.abc import Callable, Iterable
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from agent.anomaly import AnomalySettings
from agent.counting_config import CountingConfig
from agent.detector_config import DetectorConfig, SsdliteDetectorConfig
from agent.discovery import object_id_clashes
from agent.line_protocol import PRESETS, LineParser, compile_pattern

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
MIB = 1024 * 1024

# -- scalar types -----------------------------------------------------------------------------------------

_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|min|s|m|h|d)")
_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")
DURATION_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*(\d+(\.\d+)?\s*(ms|min|s|m|h|d)?\s*)+$"},
    ]
}


def parse_duration(value: Any) -> float:
    """Seconds from a number or a string such as "500ms", "30s", "15m", "1h", "1d" or "1h30m"."""
    if isinstance(value, bool):
        raise PydanticCustomError("duration", "expected a duration such as 30s, 15m or 1h, not a boolean")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        if _NUMBER.fullmatch(value):
            seconds = float(value)
        else:
            seconds, pos = 0.0, 0
            for m in _DURATION_PART.finditer(value):
                if m.start() != pos:
                    break
                seconds += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
                pos = m.end()
            if pos == 0 or value[pos:].strip():
                raise PydanticCustomError(
                    "duration",
                    "invalid duration '{value}': use seconds (e.g. 30) or a number with a unit "
                    "ms, s, m, h or d (e.g. 500ms, 15m, 1h)",
                    {"value": value},
                )
    else:
        raise PydanticCustomError("duration", "expected a duration such as 30s, 15m or 1h")
    if not math.isfinite(seconds) or seconds < 0:
        raise PydanticCustomError("duration", "a duration must be a finite number of seconds >= 0")
    return seconds


_BYTE_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_BYTE_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*", re.IGNORECASE)
BYTESIZE_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {"type": "integer", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*([kKmMgGtT][iI]?[bB]|[bB])?\s*$"},
    ]
}


def parse_byte_size(value: Any) -> int:
    """Bytes from an integer or a string such as "500kB" (SI, 1000) or "256MiB" (binary, 1024)."""
    if isinstance(value, bool):
        raise PydanticCustomError("byte_size", "expected a size such as 256MiB, not a boolean")
    if isinstance(value, int):
        size = value
    elif isinstance(value, float) and value.is_integer():
        size = int(value)
    elif isinstance(value, str) and (m := _BYTE_SIZE.fullmatch(value)):
        size = round(float(m.group(1)) * _BYTE_UNITS[(m.group(2) or "").lower()])
    else:
        raise PydanticCustomError(
            "byte_size",
            "invalid size '{value}': use bytes (e.g. 1048576) or a number with a unit B, kB, MB, GB, "
            "KiB, MiB or GiB (e.g. 256MiB)",
            {"value": str(value)},
        )
    if size < 0:
        raise PydanticCustomError("byte_size", "a size must not be negative")
    return size


def parse_clock_time(value: Any) -> Any:
    """Accept "8:00" as well as "08:00"; refuse bare numbers, which would silently mean seconds after midnight."""
    if isinstance(value, bool | int | float):
        raise PydanticCustomError("clock_time", 'expected a time of day as HH:MM, e.g. "08:00"')
    if isinstance(value, str) and re.fullmatch(r"\s*\d:\d\d(:\d\d)?\s*", value):
        return "0" + value.strip()
    return value


Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(DURATION_JSON_SCHEMA)]
ByteSize = Annotated[int, BeforeValidator(parse_byte_size), WithJsonSchema(BYTESIZE_JSON_SCHEMA)]
ClockTime = Annotated[time, BeforeValidator(parse_clock_time)]

# -- shared sensor fields -----------------------------------------------------------------------------------

SensorId = Annotated[
    str,
    Field(
        pattern=ID_PATTERN,
        title="Sensor id",
        description="Names the sensor in MQTT topics and payloads: 1-64 letters, digits, `_` or `-`, "
        "starting with a letter or digit. Keep it stable: history is stored under it.",
    ),
]
SerialPort = Annotated[
    str,
    Field(
        min_length=1,
        title="Serial port",
        description="Device node of the port, e.g. `/dev/ttyUSB0`. Prefer a stable name from "
        "`/dev/serial/by-id/` so the sensor keeps its port when adapters are replugged in another order.",
    ),
]
Baudrate = Annotated[
    int, Field(ge=50, le=4_000_000, title="Baud rate", description="Line speed in bit/s, as set on the device.")
]
ByteBits = Annotated[
    Literal[5, 6, 7, 8], Field(title="Data bits", description="Data bits per character (nearly always 8).")
]
Parity = Annotated[
    Literal["N", "E", "O", "M", "S"],
    Field(title="Parity", description="`N` none, `E` even, `O` odd, `M` mark, `S` space."),
]
StopBits = Annotated[Literal[1, 1.5, 2], Field(title="Stop bits", description="Stop bits per character.")]
MaxStep = Annotated[
    int,
    Field(
        ge=1,
        title="Largest plausible step",
        description="Largest believable increase of a cumulative counter between two readings. A bigger jump "
        "(noise, a swapped device) is not counted and the counter is re-baselined; a decrease by less than "
        "this after the top of the range counts as a wrap-around.",
    ),
]
ReconnectMin = Annotated[
    Duration,
    Field(gt=0, title="Reconnect delay (first)", description="Wait before the first reopen after the port is lost."),
]
ReconnectMax = Annotated[
    Duration,
    Field(
        gt=0,
        title="Reconnect delay (cap)",
        description="The reopen delay doubles after each failure up to this cap.",
    ),
]


def _check_reconnect(lo: float, hi: float) -> None:
    if lo > hi:
        raise ValueError(f"reconnect_min ({lo:g} s) must not exceed reconnect_max ({hi:g} s)")


class LineSensorConfig(BaseModel):
    """A counter that writes text lines to a serial port: one line per passage, or its running totals.

    Each line is matched against a preset or your own regular expression; lines that do not match are
    counted as rejected in the interval payload rather than guessed at.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True)

    type: Literal["serial-lines"] = Field(
        "serial-lines", title="Sensor type", description="`serial-lines`: a counter that writes text lines."
    )
    id: SensorId
    port: SerialPort
    baudrate: Baudrate = 9600
    bytesize: ByteBits = 8
    parity: Parity = "N"
    stopbits: StopBits = 1
    preset: Literal["event", "cumulative-kv", "cumulative-csv", "cumulative-json"] | None = Field(
        None,
        title="Line format preset",
        description="Built-in line format: `event` (`IN`, `OUT 2`, `+`, `-`), `cumulative-kv` "
        "(`in=1042,out=1017` or `IN:1042;OUT:1017`), `cumulative-csv` (`1042,1017`, ins first) or "
        '`cumulative-json` (`{"in": 1042, "out": 1017}`). Set this or `pattern`; with neither, `event`.',
    )
    pattern: str | None = Field(
        None,
        title="Line regex",
        description="Your own Python regular expression for the device's lines, matched against the whole line "
        "(surrounding whitespace stripped). Events: a `direction` group (values from `in_values`/`out_values`) "
        "and an optional `count` group (default 1). Totals: `in` and `out` groups with the running counters.",
    )
    in_values: list[str] = Field(
        ["IN", "I", "ENTER", "E", "+"],
        min_length=1,
        title="Values meaning in",
        description="Values of the `direction` group that count as people entering (case-insensitive).",
    )
    out_values: list[str] = Field(
        ["OUT", "O", "EXIT", "X", "-"],
        min_length=1,
        title="Values meaning out",
        description="Values of the `direction` group that count as people leaving (case-insensitive).",
    )
    counter_bits: Literal[16, 32, 64] = Field(
        32,
        title="Counter width",
        description="Width of the device's cumulative counters in bits, so a wrap-around to 0 is not "
        "mistaken for a reset.",
    )
    max_step: MaxStep = 10000
    heartbeat_timeout: Duration | None = Field(
        None,
        gt=0,
        title="Heartbeat timeout",
        description="If set, the sensor counts as down when no valid line arrived for this long (for devices "
        "that send totals or a heartbeat periodically). Leave unset for event counters that are silent "
        "when nobody passes.",
    )
    encoding: str = Field(
        "utf-8",
        title="Text encoding",
        description="Character encoding of the lines, e.g. `utf-8`, `ascii` or `latin-1`.",
    )
    max_line_bytes: int = Field(
        1024,
        ge=16,
        le=65536,
        title="Longest line",
        description="Lines longer than this are discarded as garbage (and counted as rejected), so a "
        "device babbling without newlines cannot exhaust memory.",
    )
    reconnect_min: ReconnectMin = 0.5
    reconnect_max: ReconnectMax = 30

    @field_validator("pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        if info.data.get("preset") is not None:
            raise ValueError("set either preset or pattern, not both")
        compile_pattern(value)
        return value

    @field_validator("out_values")
    @classmethod
    def _values_disjoint(cls, value: list[str], info: ValidationInfo) -> list[str]:
        ins = {v.strip().casefold() for v in info.data.get("in_values") or []}
        both = sorted(v for v in value if v.strip().casefold() in ins)
        if both:
            raise ValueError(f"listed in both in_values and out_values: {', '.join(both)}")
        return value

    @field_validator("encoding")
    @classmethod
    def _encoding_known(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}") from None
        return value

    @model_validator(mode="after")
    def _defaults_and_ranges(self) -> LineSensorConfig:
        if self.preset is None and self.pattern is None:
            self.preset = "event"
        _check_reconnect(self.reconnect_min, self.reconnect_max)
        return self

    def parser(self) -> LineParser:
        """The line parser for this sensor's preset or pattern."""
        pattern = self.pattern if self.pattern is not None else PRESETS[self.preset or "event"]
        return LineParser(pattern, self.in_values, self.out_values)


class ModbusSensorConfig(BaseModel):
    """A counter on an RS-485 bus read with Modbus RTU: the agent polls its in and out totals from registers.

    Register numbers are the 0-based addresses on the wire; a manual listing "40001" for the first holding
    register means `0` here.
    """

    model_config = ConfigDict(extra="forbid", validate_default=True)

    type: Literal["modbus"] = Field(
        "modbus", title="Sensor type", description="`modbus`: a Modbus RTU counter on a serial (RS-485) line."
    )
    id: SensorId
    port: SerialPort
    baudrate: Baudrate = 9600
    bytesize: ByteBits = 8
    parity: Parity = "N"
    stopbits: StopBits = 1
    slave_id: int = Field(
        1,
        ge=1,
        le=247,
        title="Modbus unit id",
        description="Address of the counter on the bus (1-247), as set on the device.",
    )
    in_register: int = Field(
        ge=0, le=65535, title="In register", description="Address of the register holding the in total."
    )
    out_register: int = Field(
        ge=0, le=65535, title="Out register", description="Address of the register holding the out total."
    )
    register_type: Literal["holding", "input"] = Field(
        "holding",
        title="Register type",
        description="`holding` (function 3) or `input` (function 4) registers, per the device manual.",
    )
    counter_bits: Literal[16, 32] = Field(
        32,
        title="Counter width",
        description="16: each total is one register. 32: two consecutive registers starting at the address.",
    )
    word_order: Literal["big", "little"] = Field(
        "big",
        title="Word order",
        description="For 32-bit totals: `big` if the first register holds the high 16 bits, `little` if it "
        "holds the low 16 bits.",
    )
    poll_period: Duration = Field(1.0, gt=0, title="Poll period", description="How often the totals are read.")
    timeout: Duration = Field(
        0.5, gt=0, title="Response timeout", description="How long to wait for the device to answer one request."
    )
    max_step: MaxStep = 10000
    reconnect_min: ReconnectMin = 0.5
    reconnect_max: ReconnectMax = 30

    @model_validator(mode="after")
    def _registers_fit(self) -> ModbusSensorConfig:
        width = 2 if self.counter_bits == 32 else 1
        for name in ("in_register", "out_register"):
            if getattr(self, name) + width - 1 > 65535:
                raise ValueError(f"{name} {getattr(self, name)} leaves no room for a second register (32-bit)")
        if abs(self.in_register - self.out_register) < width:
            raise ValueError(
                f"in_register {self.in_register} and out_register {self.out_register} overlap "
                f"({self.counter_bits}-bit totals use {width} register{'s' if width > 1 else ''} each)"
            )
        _check_reconnect(self.reconnect_min, self.reconnect_max)
        return self


class SimulatedSensorConfig(BaseModel):
    """A made-up shop door with a realistic daily profile, so the whole pipeline can be tried without hardware."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    type: Literal["simulated"] = Field(
        "simulated", title="Sensor type", description="`simulated`: generated traffic, for demos and tests."
    )
    id: SensorId
    peak_per_hour: float = Field(
        240, ge=0, title="Peak arrivals per hour", description="Arrivals per hour at the busiest time of day."
    )
    opening: ClockTime = Field(time(8, 0), title="Opening time", description="Local time the shop opens.")
    closing: ClockTime = Field(time(21, 0), title="Closing time", description="Local time the shop closes.")
    mean_dwell: Duration = Field(900, gt=0, title="Mean dwell", description="Average time a visitor stays inside.")
    seed: int | None = Field(
        None, title="Random seed", description="Fixes the random sequence for reproducible runs; unset: random."
    )

    @model_validator(mode="after")
    def _opening_hours(self) -> SimulatedSensorConfig:
        if self.opening >= self.closing:
            raise ValueError(f"opening ({self.opening:%H:%M}) must be before closing ({self.closing:%H:%M})")
        return self


# The detector's default score threshold for cameras: as low as the tracker's low-score stage (its default
# `low_score`), so partly hidden people still reach the tracker and continue their tracks.
CAMERA_SCORE_THRESHOLD = 0.1


def _camera_detector_defaults(value: Any) -> Any:
    """A `detector:` mapping may leave out `type` (ssdlite) and `score_threshold` (the camera default)."""
    if isinstance(value, dict):
        value = {"type": "ssdlite", "score_threshold": CAMERA_SCORE_THRESHOLD, **value}
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
        default_factory=lambda: SsdliteDetectorConfig(type="ssdlite", score_threshold=CAMERA_SCORE_THRESHOLD),
        title="Detector",
        description="The person detector: a mapping with `type` (`ssdlite`, default, or `hog`), `model` (`int8`, "
        "default, or `fp32`), `threads` (onnxruntime threads, default 1), `score_threshold` (default 0.1 here, "
        "the tracker's low score) and `nms_iou`.",
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
        _check_reconnect(self.reconnect_min, self.reconnect_max)
        return self


SensorConfig = Annotated[
    LineSensorConfig | ModbusSensorConfig | SimulatedSensorConfig | CameraSensorConfig, Field(discriminator="type")
]

# -- agent-wide sections ------------------------------------------------------------------------------------


class IntervalConfig(BaseModel):
    """How counts are bucketed: wall-clock aligned intervals, so 15-minute data lines up across shops."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    length: Duration = Field(
        900,
        title="Interval length",
        description="Length of one interval, e.g. `15m`. Whole seconds that divide an hour: 1s to 1h "
        "(60, 300, 900, 1800, 3600 ...). Intervals start on the local wall clock grid.",
    )
    occupancy_reset: ClockTime = Field(
        time(4, 0),
        title="Occupancy reset time",
        description="Local time each day at which occupancy (ins minus outs) is reset to 0, to stop "
        "miscounts accumulating; pick a time the shop is closed.",
    )

    @field_validator("length")
    @classmethod
    def _divides_hour(cls, value: float) -> float:
        if not value.is_integer() or not 1 <= value <= 3600 or 3600 % int(value):
            raise ValueError(
                f"interval length must be whole seconds from 1 to 3600 that divide an hour evenly "
                f"(e.g. 60, 300, 900, 1800, 3600), got {value:g}"
            )
        return value


class StoreConfig(BaseModel):
    """The local SQLite store that keeps every interval until the broker has acknowledged it."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    path: Path = Field(
        Path("/var/lib/footfall-agent"),
        title="Data directory",
        description="Directory for the database (`footfall.db`); created if missing. Use an absolute path.",
    )
    retention_days: int = Field(
        90,
        ge=1,
        title="Retention",
        description="Days to keep intervals that were already delivered; undelivered ones are kept longer.",
    )
    max_bytes: ByteSize = Field(
        256 * MIB,
        title="Size limit",
        description="Upper bound on the database size (at least 1MiB). When reached, the oldest delivered "
        "intervals go first; only then the oldest undelivered ones (logged, and counted).",
    )
    checkpoint: Duration = Field(
        5,
        gt=0,
        title="Checkpoint period",
        description="How often the open interval is saved, i.e. how many seconds of counts a power cut "
        "can lose at most.",
    )

    @field_validator("max_bytes")
    @classmethod
    def _at_least_a_mib(cls, value: int) -> int:
        if value < MIB:
            raise ValueError(f"max_bytes must be at least 1MiB (1048576 bytes), got {value}")
        return value


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _credential_path(path: Path) -> Path:
    """A relative `*_file` is first looked up in systemd's `$CREDENTIALS_DIRECTORY` (LoadCredential=)."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if not path.is_absolute() and creds:
        candidate = Path(creds) / path
        if candidate.exists():
            return candidate
    return path


def _credential_path_or_none(value: Path | None) -> Path | None:
    return None if value is None else _credential_path(value)


def _check_env_reference(value: SecretStr | None) -> SecretStr | None:
    """Fail at load time (so check-config catches it) when a `${VAR}` secret names an unset variable."""
    if value is None:
        return None
    m = _ENV_REF.fullmatch(value.get_secret_value())
    if m is not None:
        if m.group(1) not in os.environ:
            raise PydanticCustomError("env_unset", "environment variable {var} is not set", {"var": m.group(1)})
        if not os.environ[m.group(1)]:
            raise PydanticCustomError("env_empty", "environment variable {var} is empty", {"var": m.group(1)})
    return value


def _resolve_secret(value: SecretStr | None, file: Path | None, field: str) -> str | None:
    """The secret's value from the config, the environment or a file; errors name the field, never the value."""
    if file is not None:
        path = _credential_path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
            raise ConfigError([f"{field}_file: cannot read {path}: {reason}"]) from None
        secret = text.rstrip("\r\n")
        if not secret:
            raise ConfigError([f"{field}_file: {path} is empty"])
        return secret
    if value is None:
        return None
    raw = value.get_secret_value()
    m = _ENV_REF.fullmatch(raw)
    if m is None:
        return raw
    env = os.environ.get(m.group(1))
    if env is None:
        raise ConfigError([f"{field}: environment variable {m.group(1)} is not set"])
    if not env:
        raise ConfigError([f"{field}: environment variable {m.group(1)} is empty"])
    return env


class TlsConfig(BaseModel):
    """TLS towards the broker. An empty mapping (or `tls: true`) means TLS with the system's CA certificates."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    ca_file: Path | None = Field(
        None,
        title="CA certificate",
        description="PEM file of the CA that signed the broker's certificate; unset: the system CAs. "
        "A relative path is looked up in `$CREDENTIALS_DIRECTORY` first.",
    )
    cert_file: Path | None = Field(
        None,
        title="Client certificate",
        description="PEM client certificate, for brokers that authenticate devices by certificate. "
        "A relative path is looked up in `$CREDENTIALS_DIRECTORY` first.",
    )
    key_file: Path | None = Field(
        None,
        title="Client key",
        description="PEM private key of `cert_file` (unset if the key is inside `cert_file`). "
        "A relative path is looked up in `$CREDENTIALS_DIRECTORY` first.",
    )
    key_password: SecretStr | None = Field(
        None,
        title="Client key password",
        description="Password of an encrypted client key. `${VAR}` reads it from the environment variable VAR.",
    )
    key_password_file: Path | None = Field(
        None,
        title="Client key password file",
        description="File holding the key password (one line). A relative path is looked up in "
        "`$CREDENTIALS_DIRECTORY` first (systemd `LoadCredential=`).",
    )
    verify: bool = Field(
        True,
        title="Verify broker",
        description="Check the broker's certificate and host name. Turn off only for a test broker.",
    )

    _resolve_files = field_validator("ca_file", "cert_file", "key_file", "key_password_file")(_credential_path_or_none)
    _env_reference = field_validator("key_password")(_check_env_reference)

    @model_validator(mode="after")
    def _consistent(self) -> TlsConfig:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file")
        if self.key_password is not None and self.key_password_file is not None:
            raise ValueError("set either key_password or key_password_file, not both")
        if (self.key_password is not None or self.key_password_file is not None) and self.cert_file is None:
            raise ValueError("a key password needs cert_file (and key_file if the key is separate)")
        return self

    def resolved_key_password(self) -> str | None:
        """The client key password, read now from the config, the environment or its file."""
        return _resolve_secret(self.key_password, self.key_password_file, "mqtt.tls.key_password")


class MqttConfig(BaseModel):
    """The MQTT broker that receives the interval counts."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = Field(
        True,
        title="Enabled",
        description="Publish to a broker. Off: intervals are only stored locally (and kept until it is on).",
    )
    host: str = Field("localhost", min_length=1, title="Broker host", description="Host name or IP of the broker.")
    port: int | None = Field(
        None, ge=1, le=65535, title="Broker port", description="TCP port; unset: 1883, or 8883 with `tls`."
    )
    client_id: str | None = Field(
        None,
        min_length=1,
        title="Client id",
        description="MQTT client id, unique per broker; unset: `footfall-<site>-<device>`.",
    )
    keepalive: int = Field(
        60,
        ge=1,
        le=65535,
        title="Keepalive",
        description="Seconds between pings while idle; a dead connection is noticed after about 1.5 times this.",
    )
    protocol: Literal["3.1.1", "5"] = Field(
        "3.1.1", title="Protocol version", description="MQTT protocol version: `3.1.1` or `5`."
    )
    topic_prefix: str = Field(
        "footfall/{site}/{device}",
        min_length=1,
        title="Topic prefix",
        description="Prefix of every topic; `{site}` and `{device}` are replaced. No `+` or `#`.",
    )
    username: str | None = Field(None, title="User name", description="User name for the broker, if it wants one.")
    password: SecretStr | None = Field(
        None,
        title="Password",
        description="Password for the broker. `${VAR}` reads it from the environment variable VAR; better "
        "still use `password_file`. Never logged.",
    )
    password_file: Path | None = Field(
        None,
        title="Password file",
        description="File holding the password (one line). A relative path is looked up in "
        "`$CREDENTIALS_DIRECTORY` first, so systemd `LoadCredential=mqtt-password:/etc/...` works with "
        "`password_file: mqtt-password`.",
    )
    tls: TlsConfig | None = Field(None, title="TLS", description="TLS settings (see `mqtt.tls`); unset: plain TCP.")
    max_inflight: int = Field(
        20,
        ge=1,
        le=65535,
        title="Messages in flight",
        description="Interval messages sent but not yet acknowledged at any time; higher drains a backlog "
        "faster over high-latency links.",
    )
    reconnect_min: Duration = Field(
        1, gt=0, title="Reconnect delay (first)", description="Wait before the first reconnect attempt."
    )
    reconnect_max: Duration = Field(
        60,
        gt=0,
        title="Reconnect delay (cap)",
        description="The reconnect delay doubles after each failure (with jitter) up to this cap.",
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_as_text(cls, value: Any) -> Any:
        """YAML reads `protocol: 5` as a number."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_switch(cls, value: Any) -> Any:
        """`tls: true` is shorthand for TLS with the system CAs."""
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix_usable(cls, value: str) -> str:
        if "+" in value or "#" in value:
            raise ValueError("topic_prefix must not contain the wildcards + or #")
        try:
            value.format(site="s", device="d")
        except (KeyError, IndexError, ValueError):
            raise ValueError("topic_prefix may only use the placeholders {site} and {device}") from None
        return value

    _resolve_files = field_validator("password_file")(_credential_path_or_none)
    _env_reference = field_validator("password")(_check_env_reference)

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set either password or password_file, not both")
        has_password = self.password is not None or self.password_file is not None
        if has_password and self.username is None:
            raise ValueError("a password needs a username")
        if self.reconnect_min > self.reconnect_max:
            raise ValueError(
                f"reconnect_min ({self.reconnect_min:g} s) must not exceed reconnect_max ({self.reconnect_max:g} s)"
            )
        return self

    def effective_port(self) -> int:
        """The configured port, else the MQTT default for plain or TLS connections."""
        if self.port is not None:
            return self.port
        return 8883 if self.tls is not None else 1883

    def resolved_password(self) -> str | None:
        """The broker password, read now (not at load) so a rotated credential file is picked up on reconnect."""
        return _resolve_secret(self.password, self.password_file, "mqtt.password")


class HomeAssistantConfig(BaseModel):
    """Home Assistant MQTT discovery: the agent announces itself as one device with entities per sensor."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = Field(
        True,
        title="Enabled",
        description="Publish retained discovery configs so Home Assistant creates the entities by itself. "
        "Turning it off on a running agent removes the entities it announced.",
    )
    discovery_prefix: str = Field(
        "homeassistant",
        min_length=1,
        title="Discovery prefix",
        description="Home Assistant's discovery prefix (its MQTT integration setting); configs go to "
        "`<prefix>/<component>/footfall_<site>_<device>/<object>/config`, and `<prefix>/status` is watched "
        "for Home Assistant restarts.",
    )

    @field_validator("discovery_prefix")
    @classmethod
    def _prefix_usable(cls, value: str) -> str:
        if value != value.strip("/") or any(c in value for c in "+#\0"):
            raise ValueError("discovery_prefix must not contain + or # nor start or end with /")
        return value


class HealthConfig(BaseModel):
    """The retained health report (`<topic_prefix>/health`): uptime, sources, CPU, disk, backlog."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    period: Duration = Field(
        60,
        ge=1,
        title="Report period",
        description="How often the health report is published (and the `systemctl status` line renewed).",
    )


def _valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _hostname_id() -> str:
    """This machine's short host name made into a valid id."""
    name = socket.gethostname().split(".", 1)[0]
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", name).lstrip("-_")[:64].rstrip("-_")
    return cleaned or "device"


def _defaults_if_empty(value: Any) -> Any:
    """An empty section (all lines commented out) reads as null in YAML: treat it as all defaults."""
    return {} if value is None else value


ANOMALY_MIN_INTERVAL_S = 60
"""Shortest interval length anomaly scoring runs at (see `AgentConfig.anomaly`)."""


class AgentConfig(BaseModel):
    """One agent on one box: where it is, how it buckets counts, where it keeps and sends them, what it reads."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    site: str = Field(
        pattern=ID_PATTERN,
        title="Site",
        description="Id of the shop or building (letters, digits, `_`, `-`); part of topics and message ids.",
    )
    device: str = Field(
        default_factory=_hostname_id,
        pattern=ID_PATTERN,
        title="Device",
        description="Id of this box within the site; unset: the machine's host name made into a valid id.",
    )
    timezone: str = Field(
        "UTC",
        title="Time zone",
        description="IANA time zone of the site, e.g. `Europe/Berlin`; intervals and the occupancy reset "
        "follow its wall clock, including daylight saving changes.",
    )
    intervals: IntervalConfig = Field(
        default_factory=IntervalConfig, title="Intervals", description="Interval settings (see `intervals`)."
    )
    store: StoreConfig = Field(
        default_factory=StoreConfig, title="Store", description="Local storage settings (see `store`)."
    )
    mqtt: MqttConfig = Field(default_factory=MqttConfig, title="MQTT", description="Broker settings (see `mqtt`).")
    homeassistant: HomeAssistantConfig = Field(
        default_factory=HomeAssistantConfig,
        title="Home Assistant",
        description="Home Assistant MQTT discovery (see `homeassistant`).",
    )
    health: HealthConfig = Field(
        default_factory=HealthConfig, title="Health", description="Health report settings (see `health`)."
    )
    anomaly: AnomalySettings = Field(
        default_factory=AnomalySettings,
        title="Anomaly detection",
        description="Expected counts, z-scores, traffic anomalies and sensor faults (see `anomaly`). Scoring "
        "needs intervals of at least 1 minute: shorter ones hold too few people for a z-score and would need a "
        "profile slot per second of the week. With shorter intervals scoring is off (one info line at start); "
        "`enabled: true` set explicitly is then an error.",
    )
    sensors: list[SensorConfig] = Field(
        min_length=1,
        title="Sensors",
        description="The counters this agent reads, at least one; each has a `type` (see the sensor sections) "
        "and a unique `id`.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", title="Log level", description="Least severe log messages written: `debug`, `info`, `warning`, `error`."
    )

    _sections_default = field_validator(
        "intervals", "store", "mqtt", "homeassistant", "health", "anomaly", mode="before"
    )(_defaults_if_empty)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not _valid_timezone(value):
            hint = difflib.get_close_matches(value, sorted(available_timezones()), n=1)
            suggestion = f"; did you mean {hint[0]}?" if hint else "; use an IANA name such as Europe/Berlin or UTC"
            raise ValueError(f"unknown time zone {value!r}{suggestion}")
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_lowercase(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("sensors")
    @classmethod
    def _unique_ids(cls, value: list[Any]) -> list[Any]:
        first: dict[str, int] = {}
        for index, sensor in enumerate(value):
            if sensor.id in first:
                raise PydanticCustomError(
                    "duplicate_sensor_id",
                    "duplicate sensor id '{id}' (already used by sensors[{first}])",
                    {"id": sensor.id, "first": first[sensor.id], "index": index},
                )
            first[sensor.id] = index
        zones = zone_names(value)
        for object_id, owner, other in object_id_clashes(zones):
            sensor_id, _, zone = other.partition("/")
            index = first[sensor_id]
            where = [index, "counting", "zones", zones[sensor_id].index(zone), "name"] if zone else [index, "id"]
            raise PydanticCustomError(
                "entity_id_clash",
                "{this} would have the same Home Assistant entity id '{object_id}' as {that}: rename one",
                {"this": _owner(other), "that": _owner(owner), "object_id": object_id, "at": where},
            )
        return value

    @field_validator("anomaly")
    @classmethod
    def _anomaly_needs_minutes(cls, value: AnomalySettings, info: ValidationInfo) -> AnomalySettings:
        """Only an explicit `enabled: true` is refused; left at its default, scoring is just off (see the field)."""
        intervals = info.data.get("intervals")
        short = intervals is not None and intervals.length < ANOMALY_MIN_INTERVAL_S
        if short and value.enabled and "enabled" in value.model_fields_set:
            raise PydanticCustomError(
                "anomaly_short_interval",
                "anomaly scoring needs intervals of at least {minimum} s, intervals.length is {length} s: "
                "remove this line or set it to false",
                {"minimum": ANOMALY_MIN_INTERVAL_S, "length": f"{intervals.length:g}"},
            )
        return value

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def scores_anomalies(self) -> bool:
        """Whether closed intervals are scored: `anomaly.enabled`, and intervals long enough for it."""
        return self.anomaly.enabled and self.intervals.length >= ANOMALY_MIN_INTERVAL_S


# -- errors and loading ---------------------------------------------------------------------------------------


class ConfigError(Exception):
    """Everything wrong with a config, one readable line per problem (no traceback for installers)."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = list(errors)


_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """Safe YAML 1.1 without base-60 numbers, so `closing: 21:00` stays a time instead of becoming 1260."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _INT_TAG,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)

KeyPath = tuple[str | int, ...]


def _line_map(node: yaml.Node, source: str) -> tuple[dict[KeyPath, int], list[tuple[int, str]]]:
    """1-based line of every key and list item by its path; also reports keys given twice (YAML keeps the last)."""
    lines: dict[KeyPath, int] = {(): node.start_mark.line + 1}
    problems: list[tuple[int, str]] = []
    active: set[int] = set()

    def walk(n: yaml.Node, path: KeyPath) -> None:
        if id(n) in active:
            return
        active.add(id(n))
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in n.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                if key in seen and key != "<<":
                    where = format_path((*path, key))
                    problems.append(
                        (line, f"{source}: {where}: duplicate key (line {line}; first at line {seen[key]})")
                    )
                    continue
                seen[key] = line
                lines[(*path, key)] = line
                walk(value_node, (*path, key))
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                lines[(*path, index)] = item.start_mark.line + 1
                walk(item, (*path, index))
        active.discard(id(n))

    walk(node, ())
    return lines, problems


def format_path(path: KeyPath) -> str:
    """('sensors', 1, 'port') -> 'sensors[1].port'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _walk(loc: tuple[Any, ...]) -> tuple[KeyPath, Any]:
    """Map a pydantic error location onto the YAML key path, dropping discriminated-union tags.

    Returns the path and the type found at its end (a model class when the location is a mapping)."""
    tp: Any = AgentConfig
    path: list[str | int] = []
    for element in loc:
        tp = _unwrap(tp)
        if get_origin(tp) in (Union, types.UnionType):
            members = {
                tag: m
                for m in get_args(tp)
                if isinstance(m, type) and issubclass(m, BaseModel) and "type" in m.model_fields
                for tag in get_args(m.model_fields["type"].annotation)
            }
            if element in members:
                tp = members[element]
                continue
            path.append(element)
            tp = None
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            path.append(element)
            field = tp.model_fields.get(element) if isinstance(element, str) else None
            tp = field.annotation if field is not None else None
        elif get_origin(tp) is list:
            path.append(element)
            tp = get_args(tp)[0]
        else:
            path.append(element)
            tp = None
    return tuple(path), _unwrap(tp)


def _message(error: dict[str, Any], path: KeyPath) -> tuple[str, str]:
    """A readable message for one pydantic error, plus an optional suffix placed after the line number."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    msg: str = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if kind == "missing":
        return "field required", ""
    if kind == "extra_forbidden":
        _, model = _walk(tuple(error["loc"][:-1]))
        allowed = list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
        key = str(path[-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        suffix = f"; allowed: {', '.join(allowed)}" if allowed else ""
        if close:
            suffix += f"; did you mean '{close[0]}'?"
        return f"unknown key '{key}'", suffix
    if kind == "union_tag_invalid":
        return f"unknown sensor type '{ctx.get('tag')}'; expected one of {ctx.get('expected_tags')}", ""
    if kind == "union_tag_not_found":
        return "field required (the sensor type: 'serial-lines', 'modbus' or 'simulated')", ""
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return ("is empty; expected a mapping of keys" if value is None else "expected a mapping of keys"), ""
    if kind == "list_type":
        return "expected a list (items start with '- ')", ""
    if kind == "too_short" and path == ("sensors",):
        return "at least one sensor is required", ""
    if kind == "string_type":
        if value is None:
            return "value missing", ""
        if isinstance(value, bool | int | float):
            return "expected text; put the value in quotes", ""
    if kind == "string_pattern_mismatch" and isinstance(value, str):
        if ctx.get("pattern") == ID_PATTERN:
            return f"invalid id {value!r}: use 1-64 letters, digits, '_' or '-', starting with a letter or digit", ""
        return f"{value!r} does not match {ctx.get('pattern')}", ""
    return (msg[:1].lower() + msg[1:]), ""


def zone_names(sensors: Iterable[Any]) -> dict[str, list[str]]:
    """Zone names per sensor id (none for serial sensors): each zone is a Home Assistant entity of its own."""
    return {
        sensor.id: [zone.name for zone in sensor.counting.zones] if isinstance(sensor, CameraSensorConfig) else []
        for sensor in sensors
    }


def _owner(owner: str) -> str:
    """'sensor door' or "zone 'queue' of sensor door", from discovery's `<sensor>[/<zone>]`."""
    sensor, _, zone = owner.partition("/")
    return f"zone '{zone}' of sensor '{sensor}'" if zone else f"sensor '{sensor}'"


def _line_of(path: KeyPath, lines: dict[KeyPath, int]) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)


def _validation_errors(exc: ValidationError, source: str, lines: dict[KeyPath, int]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] == "duplicate_sensor_id":
            loc += (ctx["index"], "id")
        if error["type"] == "entity_id_clash":
            loc += tuple(ctx["at"])
        if error["type"] == "anomaly_short_interval":
            loc += ("enabled",)
        path, _ = _walk(loc)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path += ("type",)
        msg, suffix = _message(error, path)
        line = _line_of(path, lines)
        where = f"{format_path(path)}: " if path else ""
        found.append((line, f"{source}: {where}{msg} (line {line}){suffix}"))
    return found


def _yaml_error(e: yaml.YAMLError, source: str) -> str:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    if context:
        problem = f"{context}, {problem}"
    if mark is None:
        return f"{source}: {problem}"
    return f"{source}: line {mark.line + 1}: {problem}"


def _file_problems(cfg: AgentConfig) -> list[tuple[KeyPath, Path, str]]:
    """The files the MQTT connection will read that cannot be read now (the secrets are read, never shown)."""
    mqtt = cfg.mqtt
    if not mqtt.enabled:
        return []
    secrets: list[tuple[KeyPath, Path | None, Callable[[], str | None]]] = [
        (("mqtt", "password_file"), mqtt.password_file, mqtt.resolved_password)
    ]
    files: list[tuple[KeyPath, Path | None]] = []
    if mqtt.tls is not None:
        tls = mqtt.tls
        secrets.append((("mqtt", "tls", "key_password_file"), tls.key_password_file, tls.resolved_key_password))
        files = [(("mqtt", "tls", name), getattr(tls, name)) for name in ("ca_file", "cert_file", "key_file")]
    found: list[tuple[KeyPath, Path, str]] = []
    for key, path, read in secrets:
        if path is not None:
            try:
                read()
            except ConfigError as e:
                found.append((key, path, e.errors[0].split(": ", 1)[1]))
    for key, path in files:
        if path is not None:
            try:
                with path.open("rb"):
                    pass
            except OSError as e:
                found.append((key, path, f"cannot read {path}: {e.strerror or e}"))
    return found


def parse_config(text: str, source: str, file_warnings: list[str] | None = None) -> AgentConfig:
    """Validate YAML text; every problem is reported as `<source>: <key path>: <message> (line N)`.

    With `file_warnings`, the files the config names for the MQTT connection (password, certificates) are
    tried too, and those that cannot be read now are added to it in the same form. They are warnings, not
    errors: a relative name may be a systemd credential that only the service can see, and the agent counts
    (and keeps what it counts) while it cannot connect.
    """
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise ConfigError([f"{source}: the config file is empty"])
            lines, problems = _line_map(node, source)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise ConfigError([_yaml_error(e, source)]) from None
    if data is None:
        raise ConfigError([f"{source}: the config file is empty"])
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: line {lines[()]}: expected a mapping of keys (site, sensors, ...) at the top"])
    try:
        cfg = AgentConfig.model_validate(data)
    except ValidationError as e:
        found = problems + _validation_errors(e, source, lines)
        found.sort(key=lambda item: item[0])
        raise ConfigError([message for _, message in found]) from None
    if problems:
        raise ConfigError([message for _, message in problems])
    if file_warnings is not None:
        outside_systemd = "CREDENTIALS_DIRECTORY" not in os.environ
        for key, path, message in sorted(_file_problems(cfg), key=lambda problem: _line_of(problem[0], lines)):
            hint = (
                "; a relative name is a systemd credential when the service runs (LoadCredential=)"
                if outside_systemd and not path.is_absolute()
                else ""
            )
            file_warnings.append(f"{source}: {format_path(key)}: {message} (line {_line_of(key, lines)}){hint}")
    return cfg


def load_config(path: Path | str, file_warnings: list[str] | None = None) -> AgentConfig:
    """Read and validate a config file; every problem, including a missing or empty file, raises ConfigError
    (see `parse_config` for `file_warnings`)."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError([f"{source}: cannot read config file: {e.strerror or e}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError([f"{source}: not UTF-8 text (invalid byte at offset {e.start})"]) from None
    return parse_config(text, source, file_warnings)


# -- the demo, one-line summary, reference --------------------------------------------------------------------


def _local_timezone() -> str:
    """The machine's IANA zone name if it can be found (TZ, /etc/timezone, the /etc/localtime link), else UTC."""
    candidates: list[str] = []
    tz_env = os.environ.get("TZ", "").lstrip(":")
    if tz_env:
        candidates.append(tz_env.split("zoneinfo/", 1)[1] if "zoneinfo/" in tz_env else tz_env)
    with contextlib.suppress(OSError):
        candidates.append(Path("/etc/timezone").read_text().strip())
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name and not name.startswith("/") and _valid_timezone(name):
            return name
    return "UTC"


def demo_config(data_dir: Path) -> AgentConfig:
    """The hardware-free demo: one simulated door, 1-minute intervals, a broker on localhost if there is one.

    The simulated shop is open around the clock (a station shop), so the demo shows traffic whenever it is run.
    """
    return AgentConfig(
        site="demo",
        device="demo",
        timezone=_local_timezone(),
        intervals=IntervalConfig(length=60),
        store=StoreConfig(path=Path(data_dir)),
        mqtt=MqttConfig(host="localhost", port=1883),
        sensors=[SimulatedSensorConfig(id="door", peak_per_hour=600, opening=time(0, 0), closing=time(23, 59))],
    )


def interval_text(seconds: float) -> str:
    """An interval length as people say it: `15 min`, `1 h`, `5 s`."""
    s = int(seconds)
    if s % 3600 == 0:
        return f"{s // 3600} h"
    if s % 60 == 0:
        return f"{s // 60} min"
    return f"{s} s"


def _sensor_text(sensor: LineSensorConfig | ModbusSensorConfig | SimulatedSensorConfig | CameraSensorConfig) -> str:
    if isinstance(sensor, SimulatedSensorConfig):
        return f"{sensor.id} {sensor.type}"
    if isinstance(sensor, CameraSensorConfig):
        return f"{sensor.id} {sensor.type} {sensor.source}"
    return f"{sensor.id} {sensor.type} {sensor.port}"


def summary(cfg: AgentConfig) -> str:
    """One line for logs and `check-config`: what this config will do, without any secret."""
    n = len(cfg.sensors)
    sensors = ", ".join(_sensor_text(s) for s in cfg.sensors)
    if cfg.mqtt.enabled:
        scheme = "mqtts" if cfg.mqtt.tls is not None else "mqtt"
        host = f"[{cfg.mqtt.host}]" if ":" in cfg.mqtt.host else cfg.mqtt.host
        client_id = cfg.mqtt.client_id or f"footfall-{cfg.site}-{cfg.device}"
        mqtt = f"mqtt {scheme}://{host}:{cfg.mqtt.effective_port()} as {client_id}"
    else:
        mqtt = "mqtt disabled"
    return (
        f"site {cfg.site}, device {cfg.device}, timezone {cfg.timezone}, "
        f"{interval_text(cfg.intervals.length)} intervals, {n} sensor{'' if n == 1 else 's'} ({sensors}), {mqtt}"
    )


def format_duration(seconds: float) -> str:
    """Seconds as the shortest config spelling: 900 -> "15m", 0.5 -> "500ms"."""
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= factor and (seconds / factor).is_integer():
            return f"{int(seconds // factor)}{unit}"
    if seconds == 0:
        return "0s"
    ms = seconds * 1000
    return f"{ms:g}ms" if ms.is_integer() else f"{seconds:g}s"


def _format_bytes(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)


_SECTIONS: list[tuple[str, str | None]] = [
    ("Top level", None),
    ("intervals", "IntervalConfig"),
    ("store", "StoreConfig"),
    ("mqtt", "MqttConfig"),
    ("mqtt.tls", "TlsConfig"),
    ("homeassistant", "HomeAssistantConfig"),
    ("health", "HealthConfig"),
    ("anomaly", "AnomalySettings"),
    ("sensors: type serial-lines", "LineSensorConfig"),
    ("sensors: type modbus", "ModbusSensorConfig"),
    ("sensors: type simulated", "SimulatedSensorConfig"),
    ("sensors: type camera", "CameraSensorConfig"),
    ("sensors: type camera, detector type ssdlite", "SsdliteDetectorConfig"),
    ("sensors: type camera, detector type hog", "HogDetectorConfig"),
    ("sensors: type camera, counting", "CountingConfig"),
    ("sensors: type camera, counting.lines", "LineConfig"),
    ("sensors: type camera, counting.zones", "ZoneConfig"),
    ("sensors: type camera, counting.tracker", "TrackerConfig"),
]
_SECTION_OF_DEF = {name: heading for heading, name in _SECTIONS if name is not None}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _is_schema(schema: dict[str, Any], of: dict[str, Any]) -> bool:
    return schema.get("anyOf") == of["anyOf"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _type_text(schema: dict[str, Any]) -> str:
    if _is_schema(schema, DURATION_JSON_SCHEMA):
        return "duration"
    if _is_schema(schema, BYTESIZE_JSON_SCHEMA):
        return "byte size"
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return " or ".join(_type_text(o) for o in options)
    if "oneOf" in schema:
        return " or ".join(_type_text(o) for o in schema["oneOf"])
    if "prefixItems" in schema:
        return "[" + ", ".join(_type_text(i) for i in schema["prefixItems"]) + "]"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"mapping (`{_SECTION_OF_DEF.get(name, name)}`)"
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items", {})
        if "oneOf" in items or "discriminator" in items:
            return "list of sensors"
        return f"list of {_type_text(items)}"
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "path":
            return "path"
        if fmt == "password":
            return "secret"
        if fmt == "time":
            return "time (HH:MM)"
        if schema.get("pattern") == ID_PATTERN:
            return "id"
        return "string"
    if kind in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        if lo is not None and hi is not None:
            return f"{kind} ({_number(lo)}..{_number(hi)})"
        if lo is not None:
            return f"{kind} (>{'=' if 'minimum' in schema else ''} {_number(lo)})"
        return str(kind)
    return str(kind or "any")


def _default_text(name: str, schema: dict[str, Any], required: set[str]) -> str:
    if name in required or "const" in schema:
        return "required"
    if "default" not in schema:
        return ""
    value = schema["default"]
    if value is None:
        return "not set"
    if _is_schema(schema, DURATION_JSON_SCHEMA):
        return f"`{format_duration(float(value))}`"
    if _is_schema(schema, BYTESIZE_JSON_SCHEMA):
        return f"`{_format_bytes(int(value))}`"
    if isinstance(value, str):
        return f"`{value[:5] if schema.get('format') == 'time' else value}`"
    if isinstance(value, list):
        return _cell(", ".join(f"`{v}`" for v in value))
    return f"`{json.dumps(value)}`"


def reference_markdown() -> str:
    """The configuration reference (one table per section), generated from the JSON Schema of `AgentConfig`."""
    schema = AgentConfig.model_json_schema()
    defs = schema.get("$defs", {})
    out: list[str] = [
        "A *duration* is a number of seconds or a number with a unit: `500ms`, `30s`, `15m`, `1h`, `1d` "
        "(or combined, `1h30m`). A *byte size* is a number of bytes or a number with a unit: `500kB`, "
        "`256MB` (powers of 1000) or `256MiB`, `1GiB` (powers of 1024). A *time* is local wall-clock "
        "`HH:MM`.\n",
    ]
    for heading, def_name in _SECTIONS:
        section = schema if def_name is None else defs[def_name]
        out.append(f"### {heading}\n")
        description = section.get("description", "")
        if description:
            out.append(" ".join(description.split()) + "\n")
        out.append("| key | type | default | description |")
        out.append("|---|---|---|---|")
        required = set(section.get("required", []))
        for name, prop in section.get("properties", {}).items():
            out.append(
                f"| `{name}` | {_cell(_type_text(prop))} | {_default_text(name, prop, required)} "
                f"| {_cell(prop.get('description', ''))} |"
            )
        out.append("")
    return "\n".join(out)
