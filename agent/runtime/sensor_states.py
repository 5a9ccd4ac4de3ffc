"""The retained state of each sensor (`…/sensors/<sensor>/state`): today's ins and outs, the latest closed
interval and the detector's verdict on it, for dashboards that connect at any time.

Today's totals are read from the store once per counting day and then kept up as intervals close, so renewing
a state costs no disk read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import time, tzinfo
from typing import Any

from agent.aggregation.aggregator import day_start
from agent.aggregation.clock import local_iso
from agent.aggregation.records import ClosedInterval
from agent.mqtt.discovery import LastInterval, SensorState
from agent.mqtt.payloads import IntervalAnomaly
from agent.store.database import Store

STATE_MIN_PERIOD_S = 5.0
"""Occupancy and source changes renew a sensor's retained state at most this often (interval closes always do)."""


@dataclass(frozen=True)
class LatestScore:
    """The detector's verdict on a sensor's latest closed interval, for its retained state."""

    z: float | None
    anomaly: bool
    fault: str | None


@dataclass
class Today:
    """Closed-interval totals of one sensor since the start of the counting day (the daily occupancy reset)."""

    day_start: float
    ins: int
    outs: int


class SensorStates:
    """What the retained states are made of, per sensor, beyond the aggregator's live figures."""

    def __init__(self, store: Store, tz: tzinfo, occupancy_reset: time) -> None:
        self.store = store
        self.tz = tz
        self.occupancy_reset = occupancy_reset
        self._today: dict[str, Today] = {}
        self._last_closed: dict[str, LastInterval] = {}
        self._latest_score: dict[str, LatestScore] = {}
        self._sent: dict[str, float] = {}

    def scored(self, sensor: str, anomaly: IntervalAnomaly | None) -> None:
        self._latest_score[sensor] = latest_score(anomaly)

    def sent(self, sensor: str, now: float) -> None:
        self._sent[sensor] = now

    def due(self, dirty: Iterable[str], now: float) -> list[str]:
        """The changed sensors whose state was last sent at least `STATE_MIN_PERIOD_S` ago."""
        return [s for s in dirty if now - self._sent.get(s, -math.inf) >= STATE_MIN_PERIOD_S]

    def forget(self, sensor: str) -> None:
        """A sensor removed by a reload."""
        self._today.pop(sensor, None)
        self._last_closed.pop(sensor, None)
        self._sent.pop(sensor, None)
        self._latest_score.pop(sensor, None)

    def state(
        self,
        site: str,
        device: str,
        sensor: str,
        now: float,
        live: dict[str, Any],
        unstored: list[ClosedInterval],
        up: bool,
        since: float,
    ) -> SensorState:
        """The retained state as of `now`, from the aggregator's `live` figures and its closed intervals that
        are not stored yet (`unstored`)."""
        today = self.today(sensor, now)
        # Intervals count towards the day when they end after its start: the stored ones, those a source
        # thread closed a moment ago (not stored yet) and the open one.
        counted = [(c.end, c.ins, c.outs) for c in unstored] + [(live["end"], live["ins"], live["outs"])]
        open_ins = sum(ins for end, ins, _ in counted if end > today.day_start)
        open_outs = sum(outs for end, _, outs in counted if end > today.day_start)
        score = self._latest_score.get(sensor)
        return SensorState(
            site=site,
            device=device,
            sensor=sensor,
            ts=now,
            at=local_iso(now, self.tz),
            source_up=up,
            occupancy=live["occupancy"],
            zone_occupancy=live["zone_occupancy"],
            day_start=local_iso(today.day_start, self.tz),
            ins_today=today.ins + open_ins,
            outs_today=today.outs + open_outs,
            last_interval=self._last_closed.get(sensor),
            z=score.z if score is not None else None,
            anomaly=score.anomaly if score is not None else False,
            fault="source-down" if since and not up else (score.fault if score is not None else None),
        )

    def today(self, sensor: str, now: float) -> Today:
        """Closed-interval ins and outs of the counting day; read from the store once per day, then kept up."""
        start = day_start(now, self.occupancy_reset, self.tz)
        today = self._today.get(sensor)
        if today is not None and today.day_start == start:
            return today
        today = Today(start, 0, 0)
        # An interval is at most an hour long, so nothing that ends after the day start began before this.
        stored = self.store.intervals(sensor, since=start - 3600.0)
        for row in stored:
            if row.end > start:
                doc = json.loads(row.payload)
                today.ins += int(doc["ins"])
                today.outs += int(doc["outs"])
        if stored and sensor not in self._last_closed:
            latest = json.loads(stored[-1].payload)
            self._last_closed[sensor] = _last_interval(latest)
            anomaly = latest.get("anomaly")
            self._latest_score.setdefault(
                sensor, latest_score(IntervalAnomaly.model_validate(anomaly) if anomaly else None)
            )
        self._today[sensor] = today
        return today

    def count_closed(self, c: ClosedInterval) -> None:
        """Keep today's totals and the latest interval current without going back to the store."""
        duration = c.end - c.start
        self._last_closed[c.sensor] = LastInterval(
            start=local_iso(c.start, self.tz),
            end=local_iso(c.end, self.tz),
            ins=c.ins,
            outs=c.outs,
            coverage=round(min(1.0, c.coverage_s / duration), 4) if duration > 0 else 0.0,
        )
        today = self._today.get(c.sensor)
        if today is not None and c.end > today.day_start:
            # A stale day is recomputed from the store (which has this interval) on the next read.
            today.ins += c.ins
            today.outs += c.outs


def latest_score(anomaly: IntervalAnomaly | None) -> LatestScore:
    """A sensor's verdict in its state: z of ins (the count dashboards watch); anomaly or fault of either."""
    if anomaly is None:
        return LatestScore(None, False, None)
    ins, outs = anomaly.ins, anomaly.outs
    return LatestScore(ins.z, ins.anomaly or outs.anomaly, ins.fault or outs.fault)


def _last_interval(doc: dict[str, Any]) -> LastInterval:
    return LastInterval(start=doc["start"], end=doc["end"], ins=doc["ins"], outs=doc["outs"], coverage=doc["coverage"])
