"""Anomaly scoring of one sensor's intervals as the agent closes them (pure: no I/O, no threads).

The agent scores every closed interval before it builds the payload, so the verdict is stored and
replayed with the counts. One `AnomalyDetector` and one `AnomalyEvents` follow each count (ins and
outs: a blocked exit shows in outs only); occupancy is derived from both and would only repeat them.
An interval without any coverage is scored as "no data", which the detector reports as a fault and does
not learn from, so a dead source never teaches the profile that the shop is empty.

The state is committed with every close, in the same transaction as the interval, and a close changes
one interval-of-week per detector plus a few scalars. So the state is kept in the form of a small
document (the scalars and the open episodes) and one row per (slot, metric) the sensor has used:
`changes()` gives the document and the rows scored since the last commit, not the whole week. The one
exception is a detector that starts afresh (relearning after a long outage, or a fresh start replacing
an unusable state): every slot it had learned is forgotten at once, so its changes replace all rows.
The restore is checked at once but carried out when the first interval closes.

Slots are on the local wall clock, so the document names the time zone they were learned in. A state
restored under another zone (the installer corrected it) has its slots moved by the difference of the two
UTC offsets, to the nearest whole interval: what was learned about 13:00 in one zone is about the same
hour of trade in the other, and a detector left unmoved would alarm for weeks at every opening and closing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from agent.aggregation.records import ClosedInterval
from agent.anomaly.detector import AnomalyDetector, Score, week_slot
from agent.anomaly.events import AnomalyEvent, AnomalyEvents
from agent.anomaly.settings import AnomalySettings

METRICS = ("ins", "outs")
STATE_VERSION = 2
LEGACY_STATE_VERSION = 1
"""The whole-state document (every touched slot in one JSON value) written by earlier agents."""
SLOT_FIELDS = ("profile", "profile_sd", "noise_mult", "seen")
"""The detector's per-slot values, in the order of a `SlotRow` after its slot and metric."""

SlotRow = tuple[int, str, float, float, float, int]
"""(slot, metric, profile, profile_sd, noise_mult, seen): one interval-of-week of one detector."""


@dataclass(frozen=True)
class AnomalyState:
    """A sensor's detector state as the store keeps it: everything but the per-slot values in `document`,
    and one row per (slot, metric).

    As changes of a running scorer, `rows` are the slots scored since the last commit and update the stored
    rows; with `replace` they are all there is, and stored rows of this sensor not among them are deleted.
    """

    document: dict[str, Any]
    rows: list[SlotRow] = field(default_factory=list)
    replace: bool = False


@dataclass(frozen=True)
class IntervalScores:
    """The verdict on one closed interval: a score per metric, and the episode events it starts or ends."""

    scores: dict[str, Score]
    events: list[AnomalyEvent]


class SensorAnomaly:
    """Scores the closed intervals of one sensor, in order; `changes()` / `state=` carry it across restarts.

    A restored instance gives exactly the scores and events the original would have given.
    """

    def __init__(
        self,
        sensor: str,
        settings: AnomalySettings,
        interval_s: int,
        tz: tzinfo,
        state: AnomalyState | None = None,
    ) -> None:
        self.sensor = sensor
        self.settings = settings
        self.interval_s = interval_s
        self.tz = tz
        self.tz_name = getattr(tz, "key", None) or str(tz)
        self.slot_shift = 0
        """Intervals by which a restored state's slots were moved because it was learned in another zone."""
        self.saved_tz_name: str | None = None
        self._detectors: dict[str, AnomalyDetector] | None = None
        self._saved: AnomalyState | None = None
        self._dirty: set[int] = set()
        # A fresh scorer replaces whatever an earlier (unusable, or abandoned) state left in the store.
        self._replace = state is None
        self.events = {m: AnomalyEvents(sensor, m) for m in METRICS}
        if state is not None:
            try:
                self._check(state)
            except (KeyError, TypeError, IndexError, AttributeError) as e:
                raise ValueError(f"malformed anomaly state ({type(e).__name__}: {e})") from None
            self._saved = state
            if self.slot_shift:
                self._replace = True  # every stored row is at its old slot

    @property
    def detectors(self) -> dict[str, AnomalyDetector]:
        """The detector of each metric, restored from the saved state on first use."""
        if self._detectors is None:
            saved, self._saved = self._saved, None
            self._detectors = {m: AnomalyDetector(self.settings, self.interval_s) for m in METRICS}
            if saved is not None:
                try:
                    self._detectors = self._restore(saved)
                except BaseException:
                    self._replace = True  # the fresh detectors must not be mixed with the stored rows
                    raise
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
        detectors = self.detectors
        for metric in METRICS:
            detector = detectors[metric]
            count = None if no_data else float(getattr(closed, metric))
            fresh_starts = detector.fresh_starts
            score = detector.update(closed.start, count, slot)
            if detector.fresh_starts != fresh_starts:
                self._replace = True  # every slot was reset at once: the stored rows are all stale
            scores[metric] = score
            events.extend(self.events[metric].feed(closed.start, closed.end, count, score))
        # Stored rows are the slots either detector has seen (as in `state()`): an interval it did not learn
        # from (no data, a fault) leaves its slot as it was, so there is nothing of it to write.
        if any(detectors[m].seen(slot) for m in METRICS):
            self._dirty.add(slot)
        return IntervalScores(scores, events)

    def retune(self, settings: AnomalySettings) -> None:
        """Score from now on with new settings, keeping everything learned (see `agent.runtime.reload`)."""
        self.settings = settings
        if self._detectors is not None:
            self._detectors = {
                m: AnomalyDetector(settings, self.interval_s, state=d.snapshot()) for m, d in self._detectors.items()
            }

    def changes(self) -> AnomalyState:
        """What to commit with the intervals scored since the last `saved()`: the document and their slots
        (all slots, replacing the stored ones, after a fresh start)."""
        return self.state() if self._replace else self._state(sorted(self._dirty), False)

    def saved(self, changes: AnomalyState) -> None:
        """`changes` are committed: they need not be written again."""
        if changes.replace:
            self._replace = False
            self._dirty.clear()
        else:
            self._dirty.difference_update(row[0] for row in changes.rows)

    def state(self) -> AnomalyState:
        """The whole state: the document and a row for every slot either detector has seen."""
        seen = [self.detectors[m].snapshot()["seen"] for m in METRICS]
        slots = [s for s, counts in enumerate(zip(*seen, strict=True)) if any(counts)]
        return self._state(slots, True)

    def _state(self, slots: list[int], replace: bool) -> AnomalyState:
        metrics: dict[str, Any] = {}
        rows: list[SlotRow] = []
        for metric in METRICS:
            detector = self.detectors[metric].snapshot(slots)
            del detector["slots"]
            columns = [detector.pop(key) for key in SLOT_FIELDS]
            rows.extend((s, metric, *values) for s, *values in zip(slots, *columns, strict=True))  # type: ignore[misc]
            metrics[metric] = {"detector": detector, "events": self.events[metric].snapshot()}
        rows.sort(key=lambda row: row[0])
        document = {
            "version": STATE_VERSION,
            "interval_s": self.interval_s,
            "timezone": self.tz_name,
            "metrics": metrics,
        }
        return AnomalyState(document, rows, replace)

    def _check(self, state: AnomalyState) -> None:
        """Refuse a state that cannot be restored, and take over the open episodes."""
        document = state.document
        if document.get("version") != STATE_VERSION:
            raise ValueError(f"anomaly state version {document.get('version')!r} is not {STATE_VERSION}")
        if document.get("interval_s") != self.interval_s:
            raise ValueError(f"anomaly state is for {document.get('interval_s')} s intervals, not {self.interval_s} s")
        n = 7 * 86400 // self.interval_s
        for row in state.rows:
            if len(row) != 2 + len(SLOT_FIELDS) or row[1] not in METRICS:
                raise ValueError(f"anomaly state has a malformed slot row {row!r}")
            if not 0 <= int(row[0]) < n:
                raise ValueError(f"anomaly state has slot {row[0]} out of range")
        events = {}
        for metric in METRICS:
            saved = document["metrics"][metric]
            if saved["detector"].get("interval_s") != self.interval_s:
                raise ValueError(f"anomaly state of {metric} is for another interval length")
            events[metric] = AnomalyEvents(self.sensor, metric, state=saved["events"])
        self.events = events
        self.saved_tz_name = document.get("timezone")
        self.slot_shift = self._zone_shift(self.saved_tz_name, document["metrics"]["ins"]["detector"].get("last_t"))

    def _zone_shift(self, saved: str | None, last_t: float | None) -> int:
        """Slots to add to a state learned in zone `saved`: the offsets' difference when it was last scored.

        A state without a zone (written before zones were recorded), with one this machine does not know,
        or that never scored an interval stays where it is."""
        if saved is None or saved == self.tz_name or last_t is None:
            return 0
        try:
            old_zone = ZoneInfo(saved)
        except (ZoneInfoNotFoundError, ValueError):
            return 0
        old, new = (datetime.fromtimestamp(float(last_t), z).utcoffset() for z in (old_zone, self.tz))
        if old is None or new is None:
            return 0
        return round((new - old).total_seconds() / self.interval_s)

    def _restore(self, state: AnomalyState) -> dict[str, AnomalyDetector]:
        """The detectors of a checked state: the document's scalars with the rows as sparse slot lists."""
        detectors = {}
        for metric in METRICS:
            rows = sorted(row for row in state.rows if row[1] == metric)
            detector = dict(state.document["metrics"][metric]["detector"])
            n = 7 * 86400 // self.interval_s
            detector["slots"] = [(int(row[0]) + self.slot_shift) % n for row in rows]
            for i, key in enumerate(SLOT_FIELDS, start=2):
                detector[key] = [row[i] for row in rows]
            detectors[metric] = AnomalyDetector(self.settings, self.interval_s, state=detector)
        return detectors


def legacy_state(blob: dict[str, Any]) -> AnomalyState:
    """The rows and document of a whole-state document written by an earlier agent (version 1).

    Raises ValueError if it is not one.
    """
    try:
        if blob.get("version") != LEGACY_STATE_VERSION:
            raise ValueError(f"anomaly state version {blob.get('version')!r} is not {LEGACY_STATE_VERSION}")
        slots = [int(s) for s in blob["slots"]]
        metrics: dict[str, Any] = {}
        rows: list[SlotRow] = []
        for metric in METRICS:
            saved = blob["metrics"][metric]
            detector = dict(saved["detector"])
            columns = [detector.pop(key) for key in SLOT_FIELDS]
            if any(len(column) != len(slots) for column in columns):
                raise ValueError(f"anomaly state of {metric} has slot lists of the wrong length")
            rows.extend(
                (s, metric, float(p), float(sd), float(m), int(n))
                for s, p, sd, m, n in zip(slots, *columns, strict=True)
            )
            metrics[metric] = {"detector": detector, "events": saved["events"]}
    except (KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"malformed anomaly state ({type(e).__name__}: {e})") from None
    rows.sort(key=lambda row: row[0])
    return AnomalyState(
        {"version": STATE_VERSION, "interval_s": blob.get("interval_s"), "metrics": metrics}, rows, True
    )
