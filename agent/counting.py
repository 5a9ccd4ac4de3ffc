"""Counting people from tracks: crossings of lines and presence in zones, plus the pipeline that feeds them.

A count has to survive what trackers and detectors really deliver, so the rules are:
- Each track is reduced to one anchor point of its box (bottom-centre by default: the feet in a side view;
  use `center` for an overhead camera, where the box centre is the head).
- A line has a band of `min_distance` on both sides (hysteresis). A side is only taken when the anchor is
  beyond the band; a crossing is a change from one taken side to the other. Jitter, stop-and-go and
  someone lingering on the line therefore count once; walking in and back out counts one in and one out.
- Past the ends of a (poly)line there is no side at all: walking around the end of a line is no crossing.
- Tentative tracks are followed from birth but their crossings are held back; they are released when the
  track is confirmed (so somebody confirmed just after the line still counts) and dropped if it never is.
- Hand-over of a lost track: when a person's track is lost near the line and a new track is born for the same
  person on the other side, neither track alone saw a crossing. A new track whose first side is S is linked
  to a confirmed track that is now lost, was last seen on the other side within `handover_time` seconds,
  and whose predicted position (its own motion carried on by the tracker) has reached side S or the band
  within `handover_distance` box heights of the new track. When the new track is confirmed, and the lost
  track is still lost and still on its side, the crossing is counted once and the lost track's side is
  cleared, so that if it re-appears it cannot count the same passage again. A lost track can give its side
  away only once; a new track that never confirms takes nothing away; someone standing beside the line
  does not inherit the side of a neighbour whose track was lost walking away from it.
- Zones use the same band on the polygon outline: entries, exits, occupancy now, and the dwell time of
  people who were seen both entering and leaving (someone first seen inside has no known entry time).
  A lost track inside still counts as present (hidden, not gone) until the tracker evicts it; it then
  leaves the occupancy without an exit, since nobody saw it leave.

Pure: no I/O, no threads; time is passed in as float seconds.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from agent.aggregation import LineInterval, ZoneInterval
from agent.counting_config import DIRECTIONS, CountingConfig
from agent.geometry import Anchor, Polygon, Polyline, anchor_points
from agent.tracking import Track, Tracker

Direction = Literal["in", "out"]


@dataclass(frozen=True)
class Crossing:
    """One person crossing one line; `t` is when the anchor got past the band on the new side."""

    line: str
    track_id: int
    direction: Direction
    t: float


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
class _LineTrack:
    born_t: float
    side: int = 0
    sided: bool = False
    last_t: float = 0.0
    last_height: float = 0.0
    donor: int | None = None
    pending: list[Crossing] = field(default_factory=list)


class LineCounter:
    """Counts crossings of one (poly)line by confirmed tracks; see the module docstring for the rules."""

    def __init__(
        self,
        name: str,
        points: Sequence[Sequence[float]],
        in_sign: int,
        anchor: Anchor = "bottom-center",
        min_distance: float = 0.0,
        min_distance_box: float = 0.15,
        handover_distance: float = 2.5,
        handover_time: float = 2.0,
    ) -> None:
        if in_sign not in (1, -1):
            raise ValueError("in_sign must be +1 or -1")
        self.name = name
        self.line = Polyline(points)
        self.in_sign = in_sign
        self.anchor: Anchor = anchor
        self.min_distance = min_distance
        self.min_distance_box = min_distance_box
        self.handover_distance = handover_distance
        self.handover_time = handover_time
        self.ins = 0
        self.outs = 0
        self._tracks: dict[int, _LineTrack] = {}
        self._waiting: set[int] = set()  # tracks with crossings held back or a hand-over to settle

    @classmethod
    def from_points(
        cls,
        name: str,
        points: Sequence[Sequence[float]],
        in_point: Sequence[float],
        anchor: Anchor = "bottom-center",
        min_distance: float = 0.0,
        min_distance_box: float = 0.15,
        handover_distance: float = 2.5,
        handover_time: float = 2.0,
    ) -> LineCounter:
        """A line whose inside is the side `in_point` lies on (as with `replay --in-side`)."""
        side = Polyline(points).side_of(in_point)
        if side == 0:
            raise ValueError("the inside point lies on the line")
        return cls(name, points, side, anchor, min_distance, min_distance_box, handover_distance, handover_time)

    def __len__(self) -> int:
        """Per-track states held (bounded by the tracker's live tracks)."""
        return len(self._tracks)

    def _emit(self, crossing: Crossing, out: list[Crossing]) -> None:
        if crossing.direction == "in":
            self.ins += 1
        else:
            self.outs += 1
        out.append(crossing)

    def _find_donor(
        self, tid: int, side: int, anchor: Sequence[float], height: float, t: float, live: dict[int, Track]
    ) -> int | None:
        """A lost track last seen on the other side whose own motion puts it where the new track appeared.

        The lost track's box is the tracker's prediction: it must have reached the new track's side (or the
        band) and be near the new track. Someone waiting beside the line while a neighbour's track is lost
        walking away from it therefore takes nothing over.
        """
        candidates = [
            (other_id, st, tr)
            for other_id, st in self._tracks.items()
            if other_id != tid
            and st.side == -side
            and t - st.last_t <= self.handover_time
            and (tr := live.get(other_id)) is not None
            and not tr.observed
            and tr.confirmed
        ]
        if not candidates:
            return None
        boxes = np.array([tr.box for _, _, tr in candidates], dtype=float)
        predicted = anchor_points(boxes, self.anchor)
        dist, within = self.line.signed_distance(predicted)
        reach = np.hypot(predicted[:, 0] - anchor[0], predicted[:, 1] - anchor[1])
        best: int | None = None
        best_d = float("inf")
        for (other_id, st, _), d, inside_extent, r in zip(
            candidates, (dist * self.in_sign).tolist(), within.tolist(), reach.tolist(), strict=True
        ):
            band = max(self.min_distance, self.min_distance_box * st.last_height)
            if inside_extent and d * side >= -band and r <= self.handover_distance * max(height, st.last_height):
                if r < best_d:
                    best, best_d = other_id, r
        return best

    def update(self, tracks: Sequence[Track], t: float) -> list[Crossing]:
        """Feed the tracker's live tracks for one frame; returns the crossings counted in this call."""
        live = {tr.id: tr for tr in tracks}
        states = self._tracks
        if len(states) > len(live) or any(tid not in live for tid in states):
            for tid in [tid for tid in states if tid not in live]:
                del states[tid]
                self._waiting.discard(tid)
        out: list[Crossing] = []
        observed = [tr for tr in tracks if tr.time_since_update == 0]
        if observed:
            boxes = np.array([tr.box for tr in observed], dtype=float)
            anchors = anchor_points(boxes, self.anchor)
            dist, within = self.line.signed_distance(anchors)
            dist *= self.in_sign
            heights = boxes[:, 3] - boxes[:, 1]
            bands = np.maximum(self.min_distance, self.min_distance_box * heights)
            # 2: beyond the line's ends (no side), +1/-1: past the band on that side, 0: within the band
            codes = np.where(within, np.where(dist > bands, 1, np.where(dist < -bands, -1, 0)), 2)
            for tr, code, anchor, height in zip(
                observed, codes.tolist(), anchors.tolist(), heights.tolist(), strict=True
            ):
                st = states.get(tr.id)
                if st is None:
                    st = states[tr.id] = _LineTrack(born_t=t)
                if code == 2:
                    st.side = 0
                    st.donor = None
                elif code != 0 and code != st.side:
                    self._new_side(tr, st, code, anchor, height, t, live, out)
                st.last_t = t
                st.last_height = height
        for tid in list(self._waiting):
            st = states[tid]
            if not live[tid].confirmed:
                continue
            self._waiting.discard(tid)
            if st.donor is not None:
                self._hand_over(tid, st, live, t, out)
            for crossing in st.pending:
                self._emit(crossing, out)
            st.pending.clear()
        return out

    def _new_side(
        self,
        tr: Track,
        st: _LineTrack,
        side: int,
        anchor: Sequence[float],
        height: float,
        t: float,
        live: dict[int, Track],
        out: list[Crossing],
    ) -> None:
        """The anchor got past the band on `side`: a crossing if it had a side before, else maybe a hand-over."""
        if st.side != 0:
            crossing = Crossing(self.name, tr.id, "in" if side > 0 else "out", t)
            if tr.confirmed and not st.pending:
                self._emit(crossing, out)
            else:
                st.pending.append(crossing)
                self._waiting.add(tr.id)
        elif not st.sided and self.handover_distance > 0 and t - st.born_t <= self.handover_time:
            st.donor = self._find_donor(tr.id, side, anchor, height, t, live)
            if st.donor is not None:
                self._waiting.add(tr.id)
        st.side = side
        st.sided = True

    def _hand_over(self, tid: int, st: _LineTrack, live: dict[int, Track], t: float, out: list[Crossing]) -> None:
        donor_id, st.donor = st.donor, None
        donor = self._tracks.get(donor_id) if donor_id is not None else None
        donor_track = live.get(donor_id) if donor_id is not None else None
        if donor is None or donor_track is None or donor_track.observed:
            return
        if st.pending or st.side == 0 or donor.side != -st.side:
            return
        donor.side = 0
        donor.sided = True
        self._emit(Crossing(self.name, tid, "in" if st.side > 0 else "out", t), out)


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

    def __len__(self) -> int:
        """Per-track states held (bounded by the tracker's live tracks)."""
        return len(self._tracks)

    @property
    def occupancy(self) -> int:
        """Confirmed tracks inside now (a lost track is taken as hidden, not gone, until it is evicted)."""
        return sum(1 for tid, st in self._tracks.items() if st.inside == 1 and tid in self._confirmed_ids)

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


class DetectionFilter:
    """Drops detections that cannot be people of interest before they reach the tracker."""

    def __init__(
        self,
        min_width: float = 0.0,
        min_height: float = 0.0,
        roi: Sequence[Sequence[float]] | None = None,
        masks: Sequence[Sequence[Sequence[float]]] = (),
    ) -> None:
        self.min_width = min_width
        self.min_height = min_height
        self.roi = Polygon(roi) if roi is not None else None
        self.masks = [Polygon(m) for m in masks]

    def apply(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The detections that pass (xyxy pixel boxes and their scores)."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        scores = np.asarray(scores, dtype=float).reshape(-1)
        if len(boxes) == 0:
            return boxes, scores
        keep = ((boxes[:, 2] - boxes[:, 0]) >= self.min_width) & ((boxes[:, 3] - boxes[:, 1]) >= self.min_height)
        if self.roi is not None or self.masks:
            centres = anchor_points(boxes, "center")
            if self.roi is not None:
                keep &= self.roi.contains(centres)
            for mask in self.masks:
                keep &= ~mask.contains(centres)
        return boxes[keep], scores[keep]


@dataclass(frozen=True)
class FrameResult:
    """What one frame produced: the live tracks and the counts they triggered."""

    tracks: list[Track]
    crossings: list[Crossing]
    zone_events: list[ZoneEvent]


class CountingPipeline:
    """Detections in, counts out: the one code path shared by the live camera and `replay`."""

    def __init__(self, config: CountingConfig, frame_size: tuple[int, int] | None = None) -> None:
        if config.units == "normalized" and frame_size is None:
            raise ValueError("normalized coordinates need the frame size (width, height)")
        sx, sy = (
            (float(frame_size[0]), float(frame_size[1])) if config.units == "normalized" and frame_size else (1.0, 1.0)
        )
        sd = min(sx, sy)

        def px(points: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
            return [(float(x) * sx, float(y) * sy) for x, y in points]

        self.config = config
        self.tracker = Tracker(config.tracker)
        self.filter = DetectionFilter(
            config.min_box_width * sx,
            config.min_box_height * sy,
            px(config.roi) if config.roi is not None else None,
            [px(m) for m in config.masks],
        )
        self.lines: dict[str, LineCounter] = {}
        for lc in config.lines:
            points = px(lc.points)
            line = Polyline(points)
            if lc.in_point is not None:
                side = line.side_of(px([lc.in_point])[0])
            else:
                side = line.side_of_direction(DIRECTIONS[lc.in_direction or "down"])
            if side == 0:
                raise ValueError(f"line {lc.name}: cannot tell its inside in this frame size")
            self.lines[lc.name] = LineCounter(
                lc.name,
                points,
                side,
                lc.anchor,
                lc.min_distance * sd,
                lc.min_distance_box,
                lc.handover_distance,
                lc.handover_time,
            )
        self.zones: dict[str, ZoneCounter] = {
            zc.name: ZoneCounter(zc.name, px(zc.points), zc.anchor, zc.min_distance * sd, zc.min_distance_box)
            for zc in config.zones
        }

    def process(self, frame_index: int, boxes: np.ndarray, scores: np.ndarray, t: float) -> FrameResult:
        """Run one frame's detections (xyxy pixels) through filter, tracker, lines and zones."""
        boxes, scores = self.filter.apply(boxes, scores)
        tracks = self.tracker.update(boxes, scores, frame_index)
        crossings = [c for line in self.lines.values() for c in line.update(tracks, t)]
        events = [e for zone in self.zones.values() for e in zone.update(tracks, t)]
        return FrameResult(tracks, crossings, events)

    def totals(self) -> dict[str, dict[str, dict[str, int | float | None]]]:
        """Counts since start: ins and outs per line; entries, exits, occupancy and mean dwell per zone."""
        return {
            "lines": {name: {"in": line.ins, "out": line.outs} for name, line in self.lines.items()},
            "zones": {
                name: {
                    "in": zone.entries,
                    "out": zone.exits,
                    "occupancy": zone.occupancy,
                    "dwell_count": zone.dwell_count,
                    "dwell_mean_s": zone.dwell_total_s / zone.dwell_count if zone.dwell_count else None,
                }
                for name, zone in self.zones.items()
            },
        }


class IntervalCounts:
    """Per-line and per-zone counts of one interval, summed from a pipeline's frame results (`replay`'s
    intervals). The counters themselves keep only totals since start, so a live camera, whose intervals
    the agent's SensorAggregator keeps, holds nothing that grows with the number of people counted."""

    def __init__(self, config: CountingConfig) -> None:
        self._lines = [line.name for line in config.lines]
        self._zones = [zone.name for zone in config.zones]
        self._reset()

    def _reset(self) -> None:
        self._line_counts = {name: [0, 0] for name in self._lines}
        self._zone_counts = {name: [0, 0] for name in self._zones}
        self._dwell: dict[str, list[float]] = {name: [] for name in self._zones}

    def add(self, result: FrameResult) -> None:
        for c in result.crossings:
            self._line_counts[c.line][0 if c.direction == "in" else 1] += 1
        for e in result.zone_events:
            self._zone_counts[e.zone][0 if e.kind == "entry" else 1] += 1
            if e.kind == "exit" and e.dwell_s is not None:
                self._dwell[e.zone].append(e.dwell_s)

    def close(self, occupancy: Mapping[str, int]) -> tuple[dict[str, LineInterval], dict[str, ZoneInterval]]:
        """Counts per line and zone since the previous close, with each zone's `occupancy` now."""
        lines = {name: LineInterval(ins, outs) for name, (ins, outs) in self._line_counts.items()}
        zones = {}
        for name, (entries, exits) in self._zone_counts.items():
            dwell = self._dwell[name]
            zones[name] = ZoneInterval(
                entries=entries,
                exits=exits,
                occupancy=occupancy[name],
                dwell_count=len(dwell),
                dwell_median_s=statistics.median(dwell) if dwell else None,
                dwell_mean_s=statistics.fmean(dwell) if dwell else None,
            )
        self._reset()
        return lines, zones
