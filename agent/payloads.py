"""Pydantic models of every MQTT payload; their JSON Schemas are published with `footfall-agent schema`.

The interval payload is defined here; the health report, the sensor state and the remote commands live
with the code that produces or obeys them and are only registered here.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent import __version__
from agent.aggregation import ClosedInterval
from agent.commands import CommandResponse, HealthCommand, ReloadCommand, RepublishCommand, ResetOccupancyCommand
from agent.discovery import SensorState
from agent.health import HealthPayload
from agent.intervals import local_iso

SCHEMA_VERSION = 1


class IntervalPayload(BaseModel):
    """Counts of one sensor over one closed wall-clock interval.

    The payload is built once, when the interval closes, and stored; a replay after an outage sends the
    very same bytes, so `id` and the timestamps are those of the interval, never of the sending.
    """

    model_config = ConfigDict(extra="forbid", title="Interval")

    schema_version: int = Field(SCHEMA_VERSION, title="Schema version", description="Bumped on incompatible changes.")
    id: str = Field(
        title="Message id",
        description="`<site>/<device>/<sensor>/<start>`: stable across re-sends, so consumers drop duplicates by it.",
    )
    site: str = Field(title="Site", description="Site id from the config.")
    device: str = Field(title="Device", description="Device id from the config.")
    sensor: str = Field(title="Sensor", description="Sensor id from the config.")
    start: str = Field(title="Start", description="Interval start, ISO-8601 local time with UTC offset.")
    end: str = Field(title="End", description="Interval end (exclusive), ISO-8601 local time with UTC offset.")
    start_ts: float = Field(title="Start (epoch)", description="Interval start as Unix seconds.")
    duration_s: float = Field(title="Duration", description="Length of the interval in seconds.")
    ins: int = Field(ge=0, title="Ins", description="People who entered during the interval.")
    outs: int = Field(ge=0, title="Outs", description="People who left during the interval.")
    occupancy: int = Field(
        ge=0,
        title="Occupancy",
        description="People inside at the end of the interval: ins minus outs, clamped at 0, reset daily.",
    )
    total_in: int = Field(ge=0, title="Lifetime ins", description="Monotonic count of ins since the store was created.")
    total_out: int = Field(
        ge=0, title="Lifetime outs", description="Monotonic count of outs since the store was created."
    )
    coverage_s: float = Field(
        ge=0,
        title="Coverage",
        description="Seconds of the interval during which the source was delivering data; "
        "a quiet interval has full coverage, a dead sensor has none.",
    )
    coverage: float = Field(ge=0, le=1, title="Coverage ratio", description="coverage_s / duration_s.")
    rejected_lines: int = Field(
        ge=0, title="Rejected lines", description="Garbage received from the source in the interval and skipped."
    )
    disconnects: int = Field(ge=0, title="Disconnects", description="Times the source was lost during the interval.")
    counter_resets: int = Field(
        ge=0,
        title="Counter resets",
        description="Cumulative-counter discontinuities (device reboot, implausible jump) handled in the interval.",
    )
    agent_version: str = Field(title="Agent version", description="Software version that closed the interval.")


def interval_payload(closed: ClosedInterval, site: str, device: str, tz: Any) -> IntervalPayload:
    start = local_iso(closed.start, tz)
    duration = closed.end - closed.start
    return IntervalPayload(
        id=f"{site}/{device}/{closed.sensor}/{start}",
        site=site,
        device=device,
        sensor=closed.sensor,
        start=start,
        end=local_iso(closed.end, tz),
        start_ts=closed.start,
        duration_s=duration,
        ins=closed.ins,
        outs=closed.outs,
        occupancy=closed.occupancy,
        total_in=closed.total_in,
        total_out=closed.total_out,
        coverage_s=round(closed.coverage_s, 3),
        coverage=round(min(1.0, closed.coverage_s / duration), 4) if duration > 0 else 0.0,
        rejected_lines=closed.rejected_lines,
        disconnects=closed.disconnects,
        counter_resets=closed.counter_resets,
        agent_version=__version__,
    )


PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    "interval": IntervalPayload,
    "state": SensorState,
    "health": HealthPayload,
    "command_reload": ReloadCommand,
    "command_reset_occupancy": ResetOccupancyCommand,
    "command_health": HealthCommand,
    "command_republish": RepublishCommand,
    "command_response": CommandResponse,
}


def payload_schemas() -> dict[str, dict[str, Any]]:
    return {name: model.model_json_schema() for name, model in PAYLOAD_MODELS.items()}
