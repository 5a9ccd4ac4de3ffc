"""Settings of the anomaly detector: the `anomaly:` section of the config and the options of `score`."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Sustained evidence: each interval adds |z| minus this allowance (on its side); tuned to shifts of about
# one noise unit, the size of a halving on a busy, noisy sensor.
ALLOWANCE = 0.45


class AnomalySettings(BaseModel):
    """Detector settings; embedded in the agent config as `anomaly:` and exposed as `score` options."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = Field(
        True,
        title="Enabled",
        description="Score every closed interval and publish anomaly and fault events.",
    )
    threshold: float = Field(
        4.5,
        gt=0,
        title="Threshold",
        description="An interval with |z| at or above this is a traffic anomaly, and so are two consecutive "
        "intervals on the same side whose mean |z| is beyond 0.845 times this (neither below 0.775 times "
        "this). z counts noise units (learned per sensor and "
        "time of week) from the nearer end of the expected range; the default "
        "keeps false alarms to a few per thousand hours on real city-centre sensors.",
    )
    warmup_weeks: int = Field(
        3,
        ge=1,
        le=52,
        title="Warm-up",
        description="Weeks of data an interval-of-week needs before its z is published (null until then).",
    )
    profile_halflife_weeks: float = Field(
        16.0,
        gt=0,
        title="Profile half-life",
        description="Weeks after which an observation has half its weight in the weekly profile.",
    )
    level_halflife_hours: float = Field(
        8.0,
        gt=0,
        title="Level half-life",
        description="Busy hours after which the overall level has moved half-way to a new regime "
        "(clipped, so a single odd day moves it little).",
    )
    noise_halflife_weeks: float = Field(
        52.0,
        gt=0,
        title="Noise half-life",
        description="Weeks after which a residual has half its weight in the noise scale.",
    )
    relearn_after_days: float = Field(
        56.0,
        gt=0,
        title="Relearn after",
        description="After this many days without usable data (outage, fault, gap) the profile is stale: "
        "the detector starts afresh, with a new warm-up.",
    )
    clip: float = Field(
        3.0,
        gt=0,
        title="Learning clip",
        description="Residuals are clipped to this many noise units before they are learned, so one-off "
        "events and holidays barely move the baseline.",
    )
    sustained_z: float = Field(
        3.2,
        gt=ALLOWANCE,
        title="Sustained z",
        description="A run of `sustained_hours` of consecutive intervals with |z| at or above this, all "
        "on the same side, is a traffic anomaly too, and so is any run with as much evidence (|z| - 0.45 "
        "summed over consecutive intervals on one side): a halving for hours is rarely one extreme interval.",
    )
    sustained_hours: float = Field(
        4.0,
        gt=0,
        title="Sustained run",
        description="Length of the run at `sustained_z` that makes a sustained anomaly, in hours (rounded to "
        "whole intervals).",
    )
    min_deviation: float = Field(
        0.1,
        ge=0,
        lt=1,
        title="Minimum deviation",
        description="A deviation smaller than this fraction of the sensor's mean count per interval has its "
        "z scaled down in proportion: a few dozen people more than expected at 4 a.m. can be many noise units "
        "but is not worth an alarm on a door that counts thousands an hour by day. 0 turns this off.",
    )
    fault_probability: float = Field(
        1e-6,
        gt=0,
        lt=1,
        title="Fault probability",
        description="A run of zeros or of one repeated count that the model finds less likely than this "
        "is reported as a sensor fault.",
    )
