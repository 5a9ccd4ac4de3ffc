"""Field types that several sections share: ids, serial line settings, counter steps, reconnect delays."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
)

from agent.config.units import Duration

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


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


def check_reconnect(lo: float, hi: float) -> None:
    if lo > hi:
        raise ValueError(f"reconnect_min ({lo:g} s) must not exceed reconnect_max ({hi:g} s)")
