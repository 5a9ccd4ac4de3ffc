"""The `modbus` sensor: a counter on an RS-485 bus polled with Modbus RTU."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
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
        check_reconnect(self.reconnect_min, self.reconnect_max)
        return self
