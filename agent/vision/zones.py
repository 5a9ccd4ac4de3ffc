"""Counting zones: entries, exits, occupancy and dwell times of tracked people in a polygon.

Zones use the same band as lines (`min_distance`) on the polygon outline, so jitter on the outline does not
count. The dwell time is known only for people seen both entering and leaving (someone first seen inside has
no known entry time). A lost track inside still counts as present (hidden, not gone) until the tracker
evicts it; it then leaves the occupancy without an exit, since nobody saw it leave. A lost track re-found
after a gap is tentative until the tracker confirms the re-find: its entries and exits meanwhile wait, it
counts in the occupancy as it did before the re-find, and if the re-find is undone everything the zone saw
of it goes back to how it was (see `agent.vision.tracking`).

Pure: no I/O, no threads; time is passed in as float seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from agent.config.counting import Anchor
from agent.vision.geometry import Polygon, anchor_points
from agent.vision.refinds import ReFinds
from agent.vision.tracking import Track


@dataclass(frozen=True)
class ZoneEvent:
    """One person entering or leaving a zone; `dwell_s` is set on exits with a seen entry."""

    zone: str
    track_id: int
    kind: Literal["entry", "exit"]
    t: float
    dwell_s: float | None = None


def _box_heights(tracks: Sequence[Track]) -> np.ndarray:
    return np.array([tr.box[3] - tr.box[1] for tr in tracks], dtype=float)


@dataclass(slots=True)
class _ZoneTrack:
    inside: int = 0
    entered_t: float | None = None
    pending: list[ZoneEvent] = field(default_factory=list)


class ZoneCounter:
    """Occupancy, entries, exits and dwell times of one polygon zone."""

    def __init__(
        self,
        name: str,
        points: Sequence[Sequence[float]],
        anchor: Anchor = "bottom-center",
        min_distance: float = 0.0,
        min_distance_box: float = 0.15,
    ) -> None:
        self.name = name
        self.polygon = Polygon(points)
        self.anchor: Anchor = anchor
        self.min_distance = min_distance
        self.min_distance_box = min_distance_box
        self.entries = 0
        self.exits = 0
        self.dwell_count = 0
        self.dwell_total_s = 0.0
        self._tracks: dict[int, _ZoneTrack] = {}
        self._confirmed_ids: set[int] = set()
        self._refinds: ReFinds[_ZoneTrack | None] = ReFinds()  # on probation after a re-find: the state before it

    def __len__(self) -> int:
        """Per-track states held (bounded by the tracker's live tracks)."""
        return len(self._tracks)

    @property
    def occupancy(self) -> int:
        """Confirmed tracks inside now (a lost track is taken as hidden, not gone, until it is evicted)."""
        before = self._refinds.before
        count = 0
        for tid, st in self._tracks.items():
            if tid in before:  # on probation: as it was before the re-find
                seen = before[tid]
                count += seen is not None and seen.inside == 1
            elif tid in self._confirmed_ids:
                count += st.inside == 1
        return count

    def _emit(self, event: ZoneEvent, out: list[ZoneEvent]) -> None:
        if event.kind == "entry":
            self.entries += 1
        else:
            self.exits += 1
            if event.dwell_s is not None:
                self.dwell_count += 1
                self.dwell_total_s += event.dwell_s
        out.append(event)

    def update(self, tracks: Sequence[Track], t: float) -> list[ZoneEvent]:
        """Feed the tracker's live tracks for one frame; returns the entries and exits counted in this call."""
        live = {tr.id for tr in tracks}
        for tid in [tid for tid in self._tracks if tid not in live]:
            del self._tracks[tid]
        self._refinds.drop_gone(live)
        self._refinds.update(tracks, self._save, self._restore)
        self._confirmed_ids = {tr.id for tr in tracks if tr.confirmed}
        out: list[ZoneEvent] = []
        observed = [tr for tr in tracks if tr.observed]
        if observed:
            anchors = anchor_points(np.array([tr.box for tr in observed], dtype=float), self.anchor)
            dist = self.polygon.signed_distance(anchors)
            bands = np.maximum(self.min_distance, self.min_distance_box * _box_heights(observed))
            for tr, d, band in zip(observed, dist.tolist(), bands.tolist(), strict=True):
                st = self._tracks.get(tr.id)
                if st is None:
                    st = self._tracks[tr.id] = _ZoneTrack()
                new = 1 if d > band else -1 if d < -band else 0
                if new == 0 or new == st.inside:
                    continue
                event: ZoneEvent | None = None
                if new == 1 and st.inside == -1:
                    event = ZoneEvent(self.name, tr.id, "entry", t)
                    st.entered_t = t
                elif new == -1 and st.inside == 1:
                    dwell = None if st.entered_t is None else t - st.entered_t
                    event = ZoneEvent(self.name, tr.id, "exit", t, dwell)
                    st.entered_t = None
                st.inside = new
                if event is not None:
                    if tr.confirmed and not st.pending:
                        self._emit(event, out)
                    else:
                        st.pending.append(event)
        for tr in tracks:
            st = self._tracks.get(tr.id)
            if st is not None and st.pending and tr.confirmed:
                for event in st.pending:
                    self._emit(event, out)
                st.pending.clear()
        return out

    def _save(self, tid: int) -> _ZoneTrack | None:
        """This zone's state of a track whose re-find starts, for `_restore` if the re-find is undone."""
        st = self._tracks.get(tid)
        return None if st is None else dataclasses.replace(st, pending=list(st.pending))

    def _restore(self, tid: int, saved: _ZoneTrack | None) -> None:
        if saved is None:
            self._tracks.pop(tid, None)
        else:
            self._tracks[tid] = saved
