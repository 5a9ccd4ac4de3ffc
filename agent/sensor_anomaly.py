"""Anomaly scoring of one sensor's intervals as the agent closes them (pure: no I/O, no threads).

The agent scores every closed interval before it builds the payload, so the verdict is stored and
replayed with the counts. One `AnomalyDetector` and one `AnomalyEvents` follow each count (ins and
outs: a blocked exit shows in outs only); occupancy is derived from both and would only repeat them.
An interval without any coverage is scored as "no data", which the detector reports as a fault and does
not learn from, so a dead source never teaches the profile that the shop is empty.

The state goes to the store with every close, so it is kept compact: the detector's per-slot lists are
written only for the slots this sensor has touched (a one-second test interval has 604800 slots per
week, a few of which are used), and restored to exactly the detector's own snapshot. The restore is
checked at once but carried out when the first interval closes, so that short intervals (many slots)
do not delay the start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from agent.aggregation import ClosedInterval
from agent.anomaly import AnomalyDetector, AnomalyEvent, AnomalyEvents, AnomalySettings, Score, week_slot

METRICS = ("ins", "outs")
STATE_VERSION = 1
_SLOT_DEFAULTS: dict[str, float | int] = {"profile": 0.0, "profile_sd": 1.0, "noise_mult": 1.0, "seen": 0}
"""The detector's per-slot lists and the value a slot holds before it is first scored."""


@dataclass(frozen=True)
class IntervalScores:
    """The verdict on one closed interval: a score per metric, and the episode events it starts or ends."""

    scores: dict[str, Score]
    events: list[AnomalyEvent]


class SensorAnomaly:
    """Scores the closed intervals of one sensor, in order; `snapshot()` / `state=` carry it across restarts.

    A restored instance gives exactly the scores and events the original would have given.
    """

    def __init__(
        self,
        sensor: str,
        settings: AnomalySettings,
        interval_s: int,
        tz: tzinfo,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.sensor = sensor
        self.settings = settings
        self.interval_s = interval_s
        self.tz = tz
        self._touched: set[int] = set()
        self._detectors: dict[str, AnomalyDetector] | None = None
        self._saved: dict[str, Any] | None = None
        self.events = {m: AnomalyEvents(sensor, m) for m in METRICS}
        if state is not None:
            try:
                self._check(state)
            except (KeyError, TypeError, IndexError, AttributeError) as e:
                raise ValueError(f"malformed anomaly state ({type(e).__name__}: {e})") from None
            self._saved = state

    @property
    def detectors(self) -> dict[str, AnomalyDetector]:
        """The detector of each metric, restored from the saved state on first use."""
        if self._detectors is None:
            saved, self._saved = self._saved, None
            self._detectors = {m: AnomalyDetector(self.settings, self.interval_s) for m in METRICS}
            if saved is not None:
                self._detectors = self._restore(saved)
        return self._detectors

    def slot(self, start: float) -> int:
        """Interval-of-week of an interval starting at `start`, on the local wall clock (opening hours)."""
        offset = datetime.fromtimestamp(start, self.tz).utcoffset()
        return week_slot(start + (offset.total_seconds() if offset is not None else 0.0), self.interval_s)

    def score(self, closed: ClosedInterval) -> IntervalScores:
        """Score `closed` (after every interval scored before it) and learn from it."""
        slot = self.slot(closed.start)
        no_data = closed.coverage_s <= 0.0
        scores: dict[str, Score] = {}
        events: list[AnomalyEvent] = []
        self._touched.add(slot)
        for metric in METRICS:
            count = None if no_data else float(getattr(closed, metric))
            score = self.detectors[metric].update(closed.start, count, slot)
            scores[metric] = score
            events.extend(self.events[metric].feed(closed.start, closed.end, count, score))
        return IntervalScores(scores, events)

    def snapshot(self) -> dict[str, Any]:
        """JSON-serialisable state: per metric, the detector (touched slots only) and the open episode."""
        if self._saved is not None:
            return self._saved
        slots = sorted(self._touched)
        metrics = {}
        for metric in METRICS:
            detector = self.detectors[metric].snapshot()
            for key in _SLOT_DEFAULTS:
                full = detector[key]
                detector[key] = [full[s] for s in slots]
            metrics[metric] = {"detector": detector, "events": self.events[metric].snapshot()}
        return {"version": STATE_VERSION, "interval_s": self.interval_s, "slots": slots, "metrics": metrics}

    def _check(self, state: dict[str, Any]) -> None:
        """Refuse a state that cannot be restored, and take over the open episodes and touched slots."""
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"anomaly state version {state.get('version')!r} is not {STATE_VERSION}")
        if state.get("interval_s") != self.interval_s:
            raise ValueError(f"anomaly state is for {state.get('interval_s')} s intervals, not {self.interval_s} s")
        slots = [int(s) for s in state["slots"]]
        n = 7 * 86400 // self.interval_s
        if any(not 0 <= s < n for s in slots):
            raise ValueError("anomaly state has a slot out of range")
        events = {}
        for metric in METRICS:
            saved = state["metrics"][metric]
            detector = saved["detector"]
            if detector.get("interval_s") != self.interval_s:
                raise ValueError(f"anomaly state of {metric} is for another interval length")
            for key in _SLOT_DEFAULTS:
                values = detector[key]
                if len(values) != len(slots):
                    raise ValueError(f"anomaly state of {metric} has {len(values)} {key} values for {len(slots)} slots")
            missing = [
                k for k in ("level", "noise", "steps", "run", "fault_runs", "last_t", "learned_t") if k not in detector
            ]
            if missing:
                raise ValueError(f"anomaly state of {metric} lacks {', '.join(missing)}")
            events[metric] = AnomalyEvents(self.sensor, metric, state=saved["events"])
        self.events = events
        self._touched = set(slots)

    def _restore(self, state: dict[str, Any]) -> dict[str, AnomalyDetector]:
        """The detectors of a checked state, their slot lists expanded to the detector's own format."""
        slots = state["slots"]
        n = 7 * 86400 // self.interval_s
        detectors = {}
        for metric in METRICS:
            detector = dict(state["metrics"][metric]["detector"])
            for key, default in _SLOT_DEFAULTS.items():
                full = [default] * n
                for s, v in zip(slots, detector[key], strict=True):
                    full[s] = v
                detector[key] = full
            detectors[metric] = AnomalyDetector(self.settings, self.interval_s, state=detector)
        return detectors
