"""The `serial-lines` sensor: a counter that writes text lines to a serial port."""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent.config.fields import (
    Baudrate,
    ByteBits,
    MaxStep,
    Parity,
    ReconnectMax,
    ReconnectMin,
    SensorId,
    SerialPort,
    StopBits,
    check_reconnect,
)
from agent.config.units import Duration
from agent.sources.line_protocol import DEFAULT_MAX_COUNT, PRESETS, LineParser, compile_pattern, max_total


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
    max_count: int = Field(
        DEFAULT_MAX_COUNT,
        ge=1,
        le=2**63 - 1,
        title="Largest count per line",
        description="Event lines: the largest count one line may carry (`IN 5` counts 5). A line above it is "
        "rejected as implausible and counted with the rejected lines (cumulative totals are bounded by "
        "`counter_bits` instead).",
    )
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
        check_reconnect(self.reconnect_min, self.reconnect_max)
        return self

    def parser(self) -> LineParser:
        """The line parser for this sensor's preset or pattern."""
        pattern = self.pattern if self.pattern is not None else PRESETS[self.preset or "event"]
        return LineParser(
            pattern, self.in_values, self.out_values, max_count=self.max_count, max_total=max_total(self.counter_bits)
        )
