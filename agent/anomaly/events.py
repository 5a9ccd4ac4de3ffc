"""Anomaly and fault episodes: the scores of one count series turned into start and end events (pure)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from agent.anomaly.detector import Score


@dataclass(frozen=True)
class AnomalyEvent:
    """One message for the events topic: an anomaly or fault episode starting or ending.

    `phase` "start" is sent when the first flagged interval closes, "end" once the episode is over;
    both carry the episode's start, the peak |z| seen so far (signed) and the count and expectation at
    that peak. `end` is the end of the last flagged interval (None while ongoing).
    """

    sensor: str
    metric: str
    phase: Literal["start", "end"]
    kind: Literal["traffic", "fault"]
    fault: str | None
    start: float
    end: float | None
    peak_z: float | None
    peak_count: float | None
    peak_expected: float | None
    intervals: int

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for the MQTT payload."""
        return {
            "sensor": self.sensor,
            "metric": self.metric,
            "phase": self.phase,
            "kind": self.kind,
            "fault": self.fault,
            "start": self.start,
            "end": self.end,
            "peak_z": self.peak_z,
            "peak_count": self.peak_count,
            "peak_expected": self.peak_expected,
            "intervals": self.intervals,
        }


class AnomalyEvents:
    """Turns the score stream of one sensor+metric into episode events (pure, restorable).

    Flags less than `quiet + 1` intervals apart belong to one episode, so a flickering anomaly pages
    once. A change of kind (traffic <-> fault, or one fault kind to another) ends one episode and starts
    the next. Intervals without a verdict (warm-up) count as quiet.
    """

    def __init__(self, sensor: str, metric: str, quiet: int = 2, state: dict[str, Any] | None = None) -> None:
        if quiet < 0:
            raise ValueError("quiet must be >= 0")
        self.sensor = sensor
        self.metric = metric
        self.quiet = quiet
        self._open: dict[str, Any] | None = None
        if state is not None:
            self._open = dict(state["open"]) if state.get("open") else None

    def feed(self, start: float, end: float, count: float | None, score: Score) -> list[AnomalyEvent]:
        """Take the score of the interval [start, end) and return the events it completes or opens."""
        if score.fault is not None:
            key = "fault:" + score.fault
        elif score.anomaly:
            key = "traffic"
        else:
            key = None
        out: list[AnomalyEvent] = []
        ep = self._open
        if ep is not None and (key is not None and key != ep["key"]):
            out.append(self._event(ep, "end"))
            ep = self._open = None
        if key is None:
            if ep is not None:
                ep["quiet"] += 1
                if ep["quiet"] > self.quiet:
                    out.append(self._event(ep, "end"))
                    self._open = None
            return out
        z = score.z
        if ep is None:
            ep = self._open = {
                "key": key,
                "start": start,
                "end": end,
                "peak_z": z,
                "peak_count": count,
                "peak_expected": score.expected,
                "intervals": 1,
                "quiet": 0,
            }
            out.append(self._event(ep, "start"))
            return out
        ep["end"] = end
        ep["intervals"] += 1
        ep["quiet"] = 0
        if z is not None and (ep["peak_z"] is None or abs(z) > abs(ep["peak_z"])):
            ep["peak_z"] = z
            ep["peak_count"] = count
            ep["peak_expected"] = score.expected
        return out

    def close(self) -> list[AnomalyEvent]:
        """End an open episode (e.g. at shutdown of a backtest); the live agent keeps it in its snapshot."""
        if self._open is None:
            return []
        ev = self._event(self._open, "end")
        self._open = None
        return [ev]

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable state: the open episode, if any."""
        return {"open": dict(self._open) if self._open is not None else None}

    def _event(self, ep: dict[str, Any], phase: Literal["start", "end"]) -> AnomalyEvent:
        key: str = ep["key"]
        fault = key[6:] if key.startswith("fault:") else None
        return AnomalyEvent(
            sensor=self.sensor,
            metric=self.metric,
            phase=phase,
            kind="fault" if fault is not None else "traffic",
            fault=fault,
            start=ep["start"],
            end=ep["end"] if phase == "end" else None,
            peak_z=ep["peak_z"],
            peak_count=ep["peak_count"],
            peak_expected=ep["peak_expected"],
            intervals=ep["intervals"],
        )
