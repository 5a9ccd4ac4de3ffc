"""The `simulated` sensor: a made-up shop door for demos and tests."""

from __future__ import annotations

from datetime import time
from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)

from agent.config.fields import SensorId
from agent.config.units import ClockTime, Duration


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
