"""Counting lines: crossings of a (poly)line by tracked people, with hysteresis and hand-over of lost tracks.

A count has to survive what trackers and detectors really deliver, so the rules are:
- Each track is reduced to one anchor point of its box (bottom-centre by default: the feet in a side view;
  use `center` for an overhead camera, where the box centre is the head).
- A line has a band of `min_distance` on both sides (hysteresis). A side is only taken when the anchor is
  beyond the band; a crossing is a change from one taken side to the other. Jitter, stop-and-go and
  someone lingering on the line therefore count once; walking in and back out counts one in and one out.
- Past the ends of a (poly)line there is no side at all: walking around the end of a line is no crossing.
- Where a track is on the line is judged by the median of its last `WINDOW` observed distances (in bands):
  a detector's box edges jitter by 5-10% of the box, comparable to the band, so single-frame excursions of
  the anchor would otherwise take a side. The crossing keeps the time of the sample the median came from.
- A crossing is sure once the track is `SURE` bands past the line on its new side or has stayed on that side
  for `HOLD_S` seconds; it is counted then. A track that comes back before that (an anchor hopping between
  two people in a crowd, a box pulled across by a neighbour) counts neither way. A track that ends (is
  evicted) while its crossing waits, or ends on the line past its middle walking away from its side, is
  judged by where it was going: the crossing counts.
- When the input ends (a replayed file or clip, a camera's file or stream, `LineCounter.finish`), a confirmed
  track's crossing that only waits to be sure counts; nothing else is judged then: the end of the input is not
  the end of a person.
- Tentative tracks are followed from birth but their crossings are held back; they are released when the
  track is confirmed (so somebody confirmed just after the line still counts) and dropped if it never is.
- A lost track re-found after a gap is tentative again until the tracker confirms the re-find (see
  `agent.vision.tracking`); its crossings meanwhile are held back in the same way. If the re-find is undone
  (the track is lost again, not confirmed), the track's state here goes back to what it was before the
  re-find: a false positive near a lost track's stale box moves neither its side nor its count.
- Hand-over of a lost track: when a person's track is lost near the line and a new track is born for the same
  person on the other side, neither track alone saw a crossing. A new track whose first side is S is linked to a
  confirmed track that is now lost, was last seen on the other side within `handover_time` seconds, and whose
  predicted position (its own motion carried on by the tracker) has reached side S or the band within
  `handover_distance` box heights of the new track. When the new track is confirmed and has been seen on its side
  for `HOLD_S` (a detector's false positive of a few frames near where someone was lost is gone by then), and the
  lost track is still lost and still on its side, the crossing is counted once and the lost track's side is
  cleared, so that if it re-appears it cannot count the same passage again. If the lost track is evicted while the
  new one waits, the crossing is the new track's to count once it is sure (the lost track's own end then judges
  nothing); a new track back over the line before then counts only its own crossing. A lost track can give its
  side away only once; a new track that never confirms takes nothing away; someone standing beside the line does
  not inherit the side of a neighbour whose track was lost walking away from it, and someone walking towards the
  line from its far side (coming the other way) does not inherit the side of a track lost on its way over.

Pure: no I/O, no threads; time is passed in as float seconds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from agent.config.counting import Anchor
from agent.vision.geometry import Polyline, anchor_points
from agent.vision.refinds import ReFinds
from agent.vision.tracking import Track

Direction = Literal["in", "out"]
# Measured on bench/counting_accuracy.py's combined levels (Juelich and door walks, overhead and side views;
# accuracy of the worse direction over all walks, seed 1; clean / moderate / hard):
# WINDOW, observed frames in the median, measured before HOLD_S existed: 1 (no median) 0.947 / 0.795 / 0.576,
#   3 0.941 / 0.833 / 0.696, 5 0.947 / 0.844 / 0.751, 7 0.956 / 0.833 / 0.808. 7 looked better under hard
#   noise and was not re-measured with the hold; 5 keeps the lag at two frames (0.2 s at 10 fps).
# HOLD_S, seconds on the new side before a crossing is sure: 0.4 hard 0.785, 0.8 0.844, 1.5 0.829.
#   HOLD_S is also how long a new track must be seen on its side before it takes over a lost track's crossing
#   (hand-over); on all families (Juelich, doors, MOT15), seeds 1-3, `--quick`, worse direction clean /
#   moderate / hard: hand-over at confirmation 0.995 / 0.931 / 0.855, after HOLD_S 0.995 / 0.935 / 0.868
#   (greedy 0.994 / 0.751 / 0.577). The "in" direction alone lost 0.005-0.008 (more Juelich side-view misses).
# SURE, bands past the line that make it sure at once: 2 was not swept; one band past can still be jitter.
WINDOW = 5
HOLD_S = 0.8
SURE = 2.0


@dataclass(frozen=True)
class Crossing:
    """One person crossing one line; `t` is when the anchor got past the band on the new side."""

    line: str
    track_id: int
    direction: Direction
    t: float


@dataclass(slots=True)
class _LineTrack:
    born_t: float
    side: int = 0
    sided: bool = False
    last_t: float = 0.0
    last_height: float = 0.0
    recent: list[tuple[float, float]] = field(default_factory=list)  # (distance in bands, t), latest WINDOW
    confirmed: bool = False
    held: Crossing | None = None  # a crossing waiting to be sure (see HOLD_S)
    held_until: float = 0.0
    donor: int | None = None
    sided_t: float = 0.0  # when the track first took a side
    donor_ended: bool = False  # the donor was evicted, never seen again, while this track waited
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
        # a straight line (the usual door line) measured at an anchor on the box's vertical centre line: its
        # start, unit direction and length, for `_measure_boxes`; None: the polyline measures
        self._straight: tuple[float, float, float, float, float] | None = None
        if len(self.line.points) == 2 and self.anchor in ("bottom-center", "center"):
            (ax, ay), (bx, by) = self.line.points.tolist()
            length = float(np.hypot(bx - ax, by - ay))
            self._straight = (ax, ay, (bx - ax) / length, (by - ay) / length, length)
        self._tracks: dict[int, _LineTrack] = {}
        self._waiting: set[int] = set()  # tracks with crossings held back or a hand-over to settle
        self._holding: set[int] = set()  # tracks with a crossing not yet sure (HOLD_S)
        # tracks on probation after a re-find: their state from before it (None: there was none), and whether
        # they were in _waiting and _holding then
        self._refinds: ReFinds[tuple[_LineTrack | None, bool, bool]] = ReFinds()

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

    def _measure(self, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Anchor points of xyxy boxes, their signed distances to the line and whether they are within its
        extent, as `Polyline.signed_distance` gives them. Beyond the extent the distance is the one to the
        infinite line, not to the nearest end: no caller uses a distance there."""
        if self._straight is None:
            anchors = anchor_points(boxes, self.anchor)
            dist, within = self.line.signed_distance(anchors)
            return anchors, dist, within
        anchors, dist, within = self._measure_boxes(boxes.tolist())
        return np.array(anchors, dtype=float).reshape(-1, 2), np.array(dist, dtype=float), np.array(within, dtype=bool)

    def _measure_boxes(
        self, boxes: Sequence[Sequence[float]]
    ) -> tuple[list[tuple[float, float]], list[float], list[bool]]:
        """`_measure` on a list of boxes, as lists: for a straight line by one projection onto it in plain
        floats (the counters do this for every track on every frame, a handful to a few dozen boxes, where
        numpy's cost per call would be most of the work)."""
        if self._straight is None:
            anchors, dist, within = self._measure(np.array(boxes, dtype=float).reshape(-1, 4))
            return [(x, y) for x, y in anchors.tolist()], dist.tolist(), within.tolist()
        ax, ay, ux, uy, length = self._straight
        bottom = self.anchor == "bottom-center"
        points: list[tuple[float, float]] = []
        distances: list[float] = []
        inside: list[bool] = []
        for x1, y1, x2, y2 in boxes:
            x = (x1 + x2) * 0.5
            y = y2 if bottom else (y1 + y2) * 0.5
            rx, ry = x - ax, y - ay
            along = rx * ux + ry * uy
            points.append((x, y))
            distances.append(ux * ry - uy * rx)
            inside.append(0.0 <= along <= length)
        return points, distances, inside

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
        predicted, dist, within = self._measure(boxes)
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
        self._refinds.update(tracks, self._save, self._restore)
        before = self._refinds.before
        gone = [] if states.keys() <= live.keys() else [tid for tid in states if tid not in live]
        out: list[Crossing] = []
        for tid in gone:
            st = states.pop(tid)
            self._waiting.discard(tid)
            self._holding.discard(tid)
            if tid in before:  # ended on probation: judged as the lost track it was before the re-find
                saved = before.pop(tid)[0]
                if saved is None:
                    continue
                st = saved
            heir = next((h for w in self._waiting if (h := states.get(w)) is not None and h.donor == tid), None)
            if heir is not None and heir.side == -st.side:
                heir.donor_ended = True  # its crossing is the heir's to count, once the heir is sure
                continue
            if st.confirmed and not st.pending:
                self._judge_end(tid, st, t, out)
        self._refinds.drop_gone(live)
        observed = [tr for tr in tracks if tr.time_since_update == 0]
        if observed:
            anchors, distances, within = self._measure_boxes([tr.box for tr in observed])
            in_sign, min_distance, min_distance_box = self.in_sign, self.min_distance, self.min_distance_box
            for tr, dist, inside_extent, anchor in zip(observed, distances, within, anchors, strict=True):
                height = tr.box[3] - tr.box[1]
                band = max(min_distance, min_distance_box * height)
                margin = dist * in_sign / (band if band > 1e-9 else 1e-9)
                st = states.get(tr.id)
                if st is None:
                    st = states[tr.id] = _LineTrack(born_t=t)
                if not inside_extent:
                    st.side = 0
                    st.donor = None
                    st.recent.clear()
                else:
                    st.recent.append((margin, t))
                    if len(st.recent) > WINDOW:
                        del st.recent[0]
                    m, m_t = sorted(st.recent)[(len(st.recent) - 1) // 2]
                    code = 1 if m > 1.0 else -1 if m < -1.0 else 0
                    if st.held is not None and m * st.side >= SURE:
                        st.held_until = t  # well past the band on its new side: sure now
                    if code != 0 and code != st.side:
                        self._new_side(tr, st, code, anchor, height, m_t, t, live, out)
                st.last_t = t
                st.last_height = height
                st.confirmed = tr.confirmed
        for tid in list(self._holding):
            st = states[tid]
            if t >= st.held_until and st.held is not None:
                self._holding.discard(tid)
                crossing, st.held = st.held, None
                self._release(live[tid], st, crossing, out)
        for tid in list(self._waiting):
            st = states[tid]
            if not live[tid].confirmed:
                continue
            if st.donor is not None and not self._handover_sure(st):
                continue
            self._waiting.discard(tid)
            if st.donor is not None:
                self._hand_over(tid, st, live, t, out)
            for crossing in st.pending:
                self._emit(crossing, out)
            st.pending.clear()
        return out

    def _save(self, tid: int) -> tuple[_LineTrack | None, bool, bool]:
        """This line's state of a track whose re-find starts, for `_restore` if the re-find is undone."""
        st = self._tracks.get(tid)
        copy = None if st is None else dataclasses.replace(st, recent=list(st.recent), pending=list(st.pending))
        return copy, tid in self._waiting, tid in self._holding

    def _restore(self, tid: int, saved: tuple[_LineTrack | None, bool, bool]) -> None:
        st, waiting, holding = saved
        if st is None:
            self._tracks.pop(tid, None)
        else:
            self._tracks[tid] = st
        for flag, members in ((waiting, self._waiting), (holding, self._holding)):
            if flag:
                members.add(tid)
            else:
                members.discard(tid)

    def finish(self) -> list[Crossing]:
        """The input has ended (a replayed file or clip, a camera's file or stream): count every confirmed
        track's crossings that only wait, to be sure (`HOLD_S`) or for a hand-over to settle, and forget all
        tracks.

        Such a crossing is already past the band on its new side, and only the wait was cut short: the same
        person in a live stream would count a moment later. Nothing else is judged: the end of the input is
        not the end of a person (as an evicted track is), so a track on the line when it stops has not crossed,
        and a hand-over not yet sure takes nothing over. (Judging every track as evicted instead, on
        bench/counting_accuracy.py --quick, seeds 1-3: door side view hard in / out 0.753 / 0.571 against 0.774 /
        0.619 this way, Juelich within one crossing.)
        """
        out: list[Crossing] = []
        for tid, saved in self._refinds.before.items():
            self._restore(tid, saved)
        for st in self._tracks.values():
            if not st.confirmed:
                continue
            for crossing in [*st.pending, *([st.held] if st.held is not None else [])]:
                self._emit(crossing, out)
        self._tracks.clear()
        self._waiting.clear()
        self._holding.clear()
        self._refinds.clear()
        return out

    def _new_side(
        self,
        tr: Track,
        st: _LineTrack,
        side: int,
        anchor: Sequence[float],
        height: float,
        t_cross: float,
        t: float,
        live: dict[int, Track],
        out: list[Crossing],
    ) -> None:
        """The anchor got past the band on `side`: a crossing if it had a side before, else maybe a hand-over."""
        if st.side != 0:
            # an heir back over the line before its hand-over was sure takes nothing over: its own crossing
            # counts, never that one and the lost track's in the same direction
            st.donor, st.donor_ended = None, False
            crossing = Crossing(self.name, tr.id, "in" if side > 0 else "out", t_cross)
            if st.held is not None:  # back where it came from before the crossing was sure: neither counts
                st.held = None
                self._holding.discard(tr.id)
            elif HOLD_S > 0:
                st.held, st.held_until = crossing, t + HOLD_S
                self._holding.add(tr.id)
            else:
                self._release(tr, st, crossing, out)
        elif not st.sided and self.handover_distance > 0 and t - st.born_t <= self.handover_time:
            st.donor = self._find_donor(tr.id, side, anchor, height, t, live)
            if st.donor is not None:
                self._waiting.add(tr.id)
        if not st.sided:
            st.sided_t = t
        st.side = side
        st.sided = True

    @staticmethod
    def _handover_sure(st: _LineTrack) -> bool:
        """A new track takes a lost track's side over only once it has been seen on its own side for
        `HOLD_S`, as long as a crossing must wait to be sure: a detector's short false positive near where
        someone was lost (1-3 frames) is gone before then, and takes nothing. (Distance from the line proves
        nothing here: a false positive may appear anywhere.)"""
        return st.last_t - st.sided_t >= HOLD_S

    def _judge_end(self, tid: int, st: _LineTrack, t: float, out: list[Crossing]) -> None:
        """A confirmed track has ended: a crossing still waiting to be sure counts, and so does one that ended
        on the line past its middle, walking away from the side it had (where it was going): furthest from
        that side at its last sighting, give or take half a band of jitter."""
        if st.held is not None:
            self._emit(st.held, out)
            return
        if st.side == 0 or len(st.recent) < 2:
            return
        away = [-m * st.side for m, _ in st.recent]  # bands towards the other side
        if away[-1] > 0 and away[-1] > away[0] and away[-1] >= max(away) - 0.5:
            self._emit(Crossing(self.name, tid, "out" if st.side > 0 else "in", st.recent[-1][1]), out)

    def _release(self, tr: Track, st: _LineTrack, crossing: Crossing, out: list[Crossing]) -> None:
        """Count a sure crossing now, or hold it until the track is confirmed."""
        if tr.confirmed and not st.pending:
            self._emit(crossing, out)
        else:
            st.pending.append(crossing)
            self._waiting.add(tr.id)

    def _hand_over(self, tid: int, st: _LineTrack, live: dict[int, Track], t: float, out: list[Crossing]) -> None:
        donor_id, st.donor = st.donor, None
        ended, st.donor_ended = st.donor_ended, False
        if st.pending or st.side == 0:
            return
        if len(st.recent) >= 2 and (st.recent[-1][0] - st.recent[0][0]) * st.side < 0:
            return  # walking back towards the line: someone coming the other way, not the lost person going on
        if not ended:
            donor = self._tracks.get(donor_id) if donor_id is not None else None
            donor_track = live.get(donor_id) if donor_id is not None else None
            if donor is None or donor_track is None or donor_track.observed or donor.side != -st.side:
                return
            donor.side = 0
            donor.sided = True
            donor.recent.clear()
        self._emit(Crossing(self.name, tid, "in" if st.side > 0 else "out", t), out)
