"""Durations, byte sizes and times of day as installers write them (`15m`, `256MiB`, `08:00`), and back."""

from __future__ import annotations

import math
import re
from datetime import time
from typing import Annotated, Any

from pydantic import (
    BeforeValidator,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

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


def interval_text(seconds: float) -> str:
    """An interval length as people say it: `15 min`, `1 h`, `5 s`."""
    s = int(seconds)
    if s % 3600 == 0:
        return f"{s // 3600} h"
    if s % 60 == 0:
        return f"{s // 60} min"
    return f"{s} s"


def format_duration(seconds: float) -> str:
    """Seconds as the shortest config spelling: 900 -> "15m", 0.5 -> "500ms"."""
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= factor and (seconds / factor).is_integer():
            return f"{int(seconds // factor)}{unit}"
    if seconds == 0:
        return "0s"
    ms = seconds * 1000
    return f"{ms:g}ms" if ms.is_integer() else f"{seconds:g}s"


def format_bytes(size: int) -> str:
    for unit, factor in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor}{unit}"
    return str(size)
