"""What counting produces: a closed interval of one sensor, and the camera's per-line and per-zone figures in it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ZoneStep:
    """One zone in a camera's report: entries and exits since its previous report, the dwell times of those
    exits whose entry was seen, and the people inside now."""

    entries: int = 0
    exits: int = 0
    occupancy: int = 0
    dwell_s: tuple[float, ...] = ()


@dataclass(frozen=True)
class CameraCounts:
    """What a camera counted since its previous report: (ins, outs) per line name, and its zones."""

    lines: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    zones: Mapping[str, ZoneStep] = field(default_factory=dict)


@dataclass(frozen=True)
class LineInterval:
    """One counting line's crossings over an interval."""

    ins: int
    outs: int


@dataclass(frozen=True)
class ZoneInterval:
    """A zone's counts over an interval, and its occupancy at the interval's end."""

    entries: int
    exits: int
    occupancy: int
    dwell_count: int
    dwell_median_s: float | None
    dwell_mean_s: float | None

    def as_dict(self) -> dict[str, int | float | None]:
        """JSON shape shared by the replay output and the interval payload."""
        return {
            "in": self.entries,
            "out": self.exits,
            "occupancy": self.occupancy,
            "dwell_count": self.dwell_count,
            "dwell_median_s": self.dwell_median_s,
            "dwell_mean_s": self.dwell_mean_s,
        }


@dataclass(frozen=True)
class ClosedInterval:
    """One sensor's final figures for [start, end); `end - start` is the true duration (see `agent.aggregation.clock`).

    `lines` and `zones` are set for camera sensors only (by name, every configured one), None otherwise.
    """

    sensor: str
    start: float
    end: float
    ins: int
    outs: int
    occupancy: int
    total_in: int
    total_out: int
    coverage_s: float
    rejected_lines: int
    disconnects: int
    counter_resets: int
    lines: dict[str, LineInterval] | None = None
    zones: dict[str, ZoneInterval] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ClosedInterval:
        """The inverse of `dataclasses.asdict`, as a closed interval comes back from a saved state."""
        lines, zones = d.get("lines"), d.get("zones")
        return cls(
            **{
                **d,
                "lines": None if lines is None else {name: LineInterval(**v) for name, v in lines.items()},
                "zones": None if zones is None else {name: ZoneInterval(**v) for name, v in zones.items()},
            }
        )
