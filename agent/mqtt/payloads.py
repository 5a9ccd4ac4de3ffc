"""Pydantic models of every MQTT payload; their JSON Schemas are published with `footfall-agent schema`.

The interval payload is defined here; the health report, the sensor state and the remote commands live
with the code that produces or obeys them and are only registered here.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent import __version__
from agent.aggregation.clock import local_iso
from agent.aggregation.records import ClosedInterval
from agent.anomaly.detector import FaultKind, Score
from agent.anomaly.events import AnomalyEvent
from agent.mqtt.commands import CommandResponse, HealthCommand, ReloadCommand, RepublishCommand, ResetOccupancyCommand
from agent.mqtt.discovery import SensorState
from agent.runtime.health import HealthPayload

SCHEMA_VERSION = 1


class MetricScore(BaseModel):
    """The detector's verdict on one count of an interval, made from the intervals before it only."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    expected: float | None = Field(
        title="Expected",
        description="Count the detector expected for this interval (weekly profile times recent level); "
        "null until this time of week has been seen once.",
    )
    z: float | None = Field(
        title="z-score",
        description="Noise units between the count and the nearer end of the expected range (positive: "
        "busier than expected); null during warm-up and for an interval without data or with a fault.",
    )
    anomaly: bool = Field(
        title="Anomaly",
        description="Traffic anomaly: |z| at or above `anomaly.threshold`, or a sustained run (see "
        "`anomaly.sustained_hours`). Never true when `fault` is set.",
    )
    fault: FaultKind | None = Field(
        title="Fault",
        description="Why the count looks like a broken sensor rather than real traffic: `no-data` (the "
        "source delivered nothing), `stuck-zero`, `flat-line`; null when it looks fine. Faulty counts are "
        "not learned.",
    )


class IntervalAnomaly(BaseModel):
    """Scores of an interval's counts; one detector per sensor and count, each with its own weekly profile."""

    model_config = ConfigDict(defer_build=True, extra="forbid")

    ins: MetricScore = Field(title="Ins", description="Verdict on `ins`.")
    outs: MetricScore = Field(title="Outs", description="Verdict on `outs`.")


class LineCounts(BaseModel):
    """One counting line of a camera over the interval (the shape `replay --json` prints too)."""

    model_config = ConfigDict(
        defer_build=True,
        extra="forbid",
        title="Line counts",
        serialize_by_alias=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    ins: int = Field(alias="in", ge=0, title="In", description="Crossings of the line in its in-direction.")
    outs: int = Field(alias="out", ge=0, title="Out", description="Crossings of the line against its in-direction.")


class ZoneCounts(BaseModel):
    """One zone of a camera over the interval (the shape `replay --json` prints too)."""

    model_config = ConfigDict(
        defer_build=True,
        extra="forbid",
        title="Zone counts",
        serialize_by_alias=True,
        validate_by_name=True,
        validate_by_alias=True,
    )

    entries: int = Field(alias="in", ge=0, title="In", description="People who entered the zone.")
    exits: int = Field(alias="out", ge=0, title="Out", description="People who left the zone.")
    occupancy: int = Field(ge=0, title="Occupancy", description="People inside the zone at the end of the interval.")
    dwell_count: int = Field(
        ge=0,
        title="Dwell count",
        description="Exits whose entry was seen too, i.e. the people the dwell figures are about (someone "
        "already inside when the camera started has no known entry time).",
    )
    dwell_median_s: float | None = Field(
        ge=0,
        title="Median dwell",
        description="Median time in the zone of the people who left it during the interval, seconds (of the "
        "first 1000 when more left); null when nobody with a seen entry left.",
    )
    dwell_mean_s: float | None = Field(
        ge=0,
        title="Mean dwell",
        description="Mean time in the zone of the people who left it during the interval, seconds; null when "
        "nobody with a seen entry left.",
    )


class IntervalPayload(BaseModel):
    """Counts of one sensor over one closed wall-clock interval.

    The payload is built once, when the interval closes, and stored; a replay after an outage sends the
    very same bytes, so `id` and the timestamps are those of the interval, never of the sending.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid", title="Interval")

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
    lines: dict[str, LineCounts] | None = Field(
        None,
        title="Lines",
        description="Camera sensors: crossings of every counting line during the interval, by line name (`ins` "
        "and `outs` are those of `count_line`, or of all lines added up); null for other sensors.",
    )
    zones: dict[str, ZoneCounts] | None = Field(
        None,
        title="Zones",
        description="Camera sensors: entries, exits, occupancy at the end and dwell times of every zone during "
        "the interval, by zone name (empty without zones); null for other sensors.",
    )
    agent_version: str = Field(title="Agent version", description="Software version that closed the interval.")
    anomaly: IntervalAnomaly | None = Field(
        None,
        title="Anomaly scores",
        description="Expected count, z-score, anomaly and fault per count (see Anomaly detection); null "
        "when detection is disabled or the interval could not be scored.",
    )


def metric_score(score: Score) -> MetricScore:
    """Rounded for the wire: the payload is stored and replayed as bytes, the detector keeps full precision."""
    return MetricScore(
        expected=None if score.expected is None else round(score.expected, 2),
        z=None if score.z is None else round(score.z, 2),
        anomaly=score.anomaly,
        fault=score.fault,  # type: ignore[arg-type]  # the detector only returns FaultKind values
    )


def interval_payload(
    closed: ClosedInterval, site: str, device: str, tz: Any, anomaly: IntervalAnomaly | None = None
) -> IntervalPayload:
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
        lines=None
        if closed.lines is None
        else {name: LineCounts(ins=line.ins, outs=line.outs) for name, line in closed.lines.items()},
        zones=None
        if closed.zones is None
        else {
            name: ZoneCounts(
                entries=zone.entries,
                exits=zone.exits,
                occupancy=zone.occupancy,
                dwell_count=zone.dwell_count,
                dwell_median_s=_seconds(zone.dwell_median_s),
                dwell_mean_s=_seconds(zone.dwell_mean_s),
            )
            for name, zone in closed.zones.items()
        },
        agent_version=__version__,
        anomaly=anomaly,
    )


def _seconds(value: float | None) -> float | None:
    """Dwell times to a tenth of a second: the detector's frame rate allows no finer."""
    return None if value is None else round(value, 1)


class AnomalyEventPayload(BaseModel):
    """An anomaly or sensor-fault episode starting or ending, on `<prefix>/sensors/<sensor>/anomaly`.

    Sent durably (QoS 1, through the outbox) when an interval closes: `phase` `start` with the first
    flagged interval, `end` once the episode has been quiet for a few intervals or turned into another
    kind. Built once and stored, so a re-send carries the same bytes and `id`.
    """

    model_config = ConfigDict(defer_build=True, extra="forbid", title="Anomaly event")

    schema_version: int = Field(SCHEMA_VERSION, title="Schema version", description="Bumped on incompatible changes.")
    id: str = Field(
        title="Message id",
        description="`<site>/<device>/<sensor>/<metric>/<kind>/<start>/<phase>`, with `kind` the fault "
        "(`no-data`, ...) or `traffic`: stable across re-sends, so consumers drop duplicates by it.",
    )
    site: str = Field(title="Site", description="Site id from the config.")
    device: str = Field(title="Device", description="Device id from the config.")
    sensor: str = Field(title="Sensor", description="Sensor id from the config.")
    metric: Literal["ins", "outs"] = Field(title="Metric", description="The count the episode is about.")
    phase: Literal["start", "end"] = Field(
        title="Phase", description="`start` when the episode opens, `end` when it is over."
    )
    kind: Literal["traffic", "fault"] = Field(
        title="Kind",
        description="`traffic`: people behaved unusually (alert the shop); `fault`: the sensor looks broken "
        "(alert maintenance).",
    )
    fault: FaultKind | None = Field(
        title="Fault", description="`no-data`, `stuck-zero` or `flat-line` for a fault; null for traffic."
    )
    start: str = Field(title="Start", description="Start of the episode's first interval, ISO-8601 local time.")
    start_ts: float = Field(title="Start (epoch)", description="`start` as Unix seconds.")
    end: str | None = Field(
        title="End",
        description="End of the episode's last flagged interval, ISO-8601 local time; null in a `start` event.",
    )
    end_ts: float | None = Field(title="End (epoch)", description="`end` as Unix seconds.")
    peak_z: float | None = Field(
        title="Peak z",
        description="The z-score of largest magnitude in the episode so far (signed); null when none was "
        "published (warm-up, no data).",
    )
    peak_count: float | None = Field(title="Peak count", description="The count at the peak; null without data.")
    peak_expected: float | None = Field(title="Peak expected", description="The expected count at the peak.")
    intervals: int = Field(ge=1, title="Intervals", description="Flagged intervals in the episode so far.")
    agent_version: str = Field(title="Agent version", description="Software version that detected the episode.")


def anomaly_event_payload(event: AnomalyEvent, site: str, device: str, tz: Any) -> AnomalyEventPayload:
    start = local_iso(event.start, tz)
    kind = event.fault if event.fault is not None else event.kind
    return AnomalyEventPayload(
        id=f"{site}/{device}/{event.sensor}/{event.metric}/{kind}/{start}/{event.phase}",
        site=site,
        device=device,
        sensor=event.sensor,
        metric=event.metric,  # type: ignore[arg-type]  # the runtime scores ins and outs only
        phase=event.phase,
        kind=event.kind,
        fault=event.fault,  # type: ignore[arg-type]
        start=start,
        start_ts=event.start,
        end=None if event.end is None else local_iso(event.end, tz),
        end_ts=event.end,
        peak_z=None if event.peak_z is None else round(event.peak_z, 2),
        peak_count=event.peak_count,
        peak_expected=None if event.peak_expected is None else round(event.peak_expected, 2),
        intervals=event.intervals,
        agent_version=__version__,
    )


PAYLOAD_MODELS: dict[str, type[BaseModel]] = {
    "interval": IntervalPayload,
    "anomaly": AnomalyEventPayload,
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
