"""Multi-object tracking of detected people across frames (ByteTrack-style, constant-velocity Kalman filter).

Why this shape:
- Detectors miss people for a frame or a few (occlusion, motion blur) and report low scores for partly
  hidden ones. Two-stage association (confident detections first, then the low-score ones, offered only to
  tracks that already exist) keeps identities through those frames without letting low-score clutter start
  tracks.
- A constant-velocity Kalman filter on the box centre and size predicts where a person is during a gap, so
  the same id picks them up again on the far side of an occlusion, and it smooths box jitter before the
  counters look at the anchor point.
- Of the detections close enough to a track's prediction (IoU), the one that also keeps its top and bottom
  is preferred (`match_overlaps`): in a side view a near person's tall box holds most of a far person's short
  one as they pass, and only the vertical extents tell the two pairings apart.
- A detector often reports two people walking close together as one box around both. A track matched to such
  a box would be dragged to the pair's middle while the other person's track drifts off on its own: the box
  measures neither, both tracks keep their predictions held inside it, and they continue separately when the
  detector sees the two apart again (`Tracker._hold_merged`).
- A track is tentative until it has `min_hits` matches: isolated false positives never become tracks that
  count. Confirmed tracks that lose their person are kept as lost for `max_age` frames and then evicted, so
  the state is bounded by the number of people in view, however long the agent runs.
- A lost track re-found after missing as many frames as a tentative track may miss (`max_tentative_misses`),
  or more, is on probation, reported as tentative again, until it has `min_hits` matches since (`_Live.lost`).
  A lost track is a catch basin: over its seconds of life, false positives fall near its stale box, and each
  one it takes gives it a new position, a made-up velocity and a new life, until it reaches a real person,
  often across the line. A re-find that does not last as long as a new track must is undone: the track is
  lost again where it would have been without it, and the counters undo what they saw of it (they keep their
  state of the track from before the re-find). bench/counting_accuracy.py --in-process, doors and MOT15, seeds
  1-10, in / out, without / with it: false positives alone 0.933 / 0.882, 0.941 / 0.941 (greedy 0.942 / 0.973);
  moderate 0.898 / 0.867, 0.903 / 0.879; hard 0.806 / 0.710, 0.826 / 0.766; clean the same. Probation only
  after one more missed frame: hard 0.827 / 0.743. Hiding a re-find from the counters until it is confirmed
  instead (hard 0.827 / 0.787) lost a true crossing on bench/real_video.py's clip (fp32): the person's only
  frames on one side of the line were those of the re-find. bench/video_accuracy.py counts the same.
- Each track's filter is a few floats, predicted and updated with plain float arithmetic (`kalman`): a frame
  has a handful to a few dozen tracks, where numpy's cost per call would be most of the work. numpy is kept
  for the tracks-by-detections matrices (`iou_matrix`, re-finding distances).

Pure: no I/O, no threads, no clocks; the frame index is passed in.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Sequence
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from agent.config.counting import TrackerConfig
from agent.vision.assignment import assign
from agent.vision.kalman import Filter, box, correct, initial, measurement_noise, predict

_BIG = 1e6
# Merged boxes (`Tracker._hold_merged`): another person's predicted box at least this much inside the
# detection, the detection at least this much larger than the matched track's prediction (two people side by
# side make 1.5-2x one person's box; 10% edge jitter alone rarely makes 1.4x), and that person seen within
# this many frames (the longest merge of the noise model). Holding merged pairs against not doing so, on
# bench/counting_accuracy.py's grid (seeds 1-2, worse direction, all walks): moderate 0.918 vs 0.908 (door
# side view 0.903 vs 0.679), hard 0.838 vs 0.850, clean equal; the three values themselves were not swept.
MERGE_COVER = 0.6
MERGE_GROWTH = 1.4
MERGE_RECENT = 15
# Partly hidden people (`Tracker._kalman_update`): a detection of a confirmed or lost track narrower or shorter than
# PARTIAL_SIZE of the track's predicted box is taken for a person partly behind someone: its centre is measured from
# its edges that fit the prediction (the visible side) with the predicted size, and its size with PARTIAL_NOISE
# times the usual noise (so that a track born on two people seen as one still shrinks to one person within a few
# frames). A track that goes unmatched stops extrapolating its size. Measured in one run on the same NanoDet
# int8 detections of bench/video_accuracy.py's clips (the 15 default ones and all 12 groups of the bi-directional
# corridor, pooled, before / after): in 94.1% / 94.4%, out 85.9% / 91.2%; PARTIAL_NOISE 2 out 90.4%, 5 out 91.6%;
# PARTIAL_SIZE 0.75 out 93.6%, but bench/real_video.py then counted 5 outs of 3 (0.6: 3 ins and 3 outs of 3 and 3,
# before 5 and 3); never measuring a partial box's size out 93.2%, but real_video 8 and 8 (tracks kept a merged
# pair's width); freezing unmatched sizes alone changed nothing. bench/counting_accuracy.py --quick, all walks,
# worse direction, before / after: clean 0.995 / 0.995, moderate 0.935 / 0.942, hard 0.868 / 0.893; its doors and
# MOT15 alone: 0.961 / 0.961, 0.833 / 0.863, 0.775 / 0.706 (hard loses there: 7 more out errors of 102).
PARTIAL_SIZE = 0.6
PARTIAL_NOISE = 3.0
_PARTIAL_VARIANCE = PARTIAL_NOISE**2
_TENTATIVE, _CONFIRMED, _LOST = 0, 1, 2


class TrackState(enum.IntEnum):
    """Life cycle of a track; only confirmed and lost tracks stand for a person.

    REMOVED tracks are dropped from memory at once, so `Tracker.update` never returns one: a track missing
    from the returned list has been removed.
    """

    TENTATIVE = 0
    CONFIRMED = 1
    LOST = 2
    REMOVED = 3


class Track(NamedTuple):
    """A snapshot of one live track after an update.

    `box` is the filtered estimate (xyxy pixels): the Kalman posterior when the track was matched in this
    frame (`time_since_update == 0`), the prediction otherwise. A named tuple because tens of these are
    made per frame and they must be cheap.
    """

    id: int
    state: TrackState
    box: tuple[float, float, float, float]
    score: float
    hits: int
    time_since_update: int
    first_frame: int
    last_frame: int

    @property
    def confirmed(self) -> bool:
        """Confirmed now or lost after having been confirmed: a real person, who may count."""
        return self.state in _COUNTING_STATES  # a tuple: an enum's hash is a Python-level call

    @property
    def observed(self) -> bool:
        """Matched to a detection in the latest frame (its box is a measurement, not an extrapolation)."""
        return self.time_since_update == 0


_COUNTING_STATES = (TrackState.CONFIRMED, TrackState.LOST)
_STATES = list(TrackState)
_new_track = functools.partial(tuple.__new__, Track)


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every box in `a` with every box in `b` (xyxy); degenerate boxes give 0."""
    return match_overlaps(a, b)[0]


def match_overlaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IoU of every box in `a` with every box in `b` (xyxy), and IoU times the overlap over union of their
    vertical extents (top to bottom): the tracker gates matches by the first and ranks them by the second.

    Two people passing each other in a side view, one nearer the camera (a taller box) than the other, overlap
    by about as much in either pairing of their predicted boxes with their detections, and IoU alone can pick
    the swapped one (a tall box holds most of a short one); only the right pairing keeps each one's top and
    bottom. Which detections a track may take at all is still decided by IoU alone (`match_iou` and the other
    thresholds). On bench/counting_accuracy.py --quick --in-process, doors and MOT15, seeds 1-10, worse
    direction, IoU alone / ranked by the product: clean 0.967 / 0.970 (the side-view door's swaps of passing
    people: 1 in and 1 out missed, now none), moderate 0.852 / 0.858, hard 0.660 / 0.698. Gating on the product
    as well (moderate 0.876, the rest the same) broke real tracks where NanoDet's boxes change height from frame
    to frame: bench/real_video.py, int8, counted 4 in and 6 out of 3 and 3 with it, 3 and 3 without, as by IoU
    alone (fp32: 5 / 4, 4 / 3, 5 / 3). The composited clips of bench/video_accuracy.py, int8, in / out: 94.0 /
    95.4 % with it, 93.6 / 90.8 % without, 94.0 / 92.3 % by IoU alone."""
    a = a.reshape(-1, 4)
    b = b.reshape(-1, 4)
    overlap = np.maximum(
        np.minimum(a[:, None, 2:4], b[None, :, 2:4]) - np.maximum(a[:, None, 0:2], b[None, :, 0:2]), 0.0
    )
    inter = overlap[:, :, 0] * overlap[:, :, 1]
    size_a = np.maximum(a[:, 2:4] - a[:, 0:2], 0.0)
    size_b = np.maximum(b[:, 2:4] - b[:, 0:2], 0.0)
    union = (size_a[:, 0] * size_a[:, 1])[:, None] + (size_b[:, 0] * size_b[:, 1])[None, :] - inter
    # the vertical extents' union where they overlap; where they do not, `inter` is 0 and so is the product
    both = union * (size_a[:, 1, None] + size_b[None, :, 1] - overlap[:, :, 1])
    iou = np.divide(inter, union, out=np.zeros(inter.shape), where=union > 0.0)
    return iou, np.divide(inter * overlap[:, :, 1], both, out=np.zeros(inter.shape), where=both > 0.0)


def _assign(cost: Sequence[Sequence[float]], max_cost: float) -> list[tuple[int, int]]:
    """Minimum-cost one-to-one matching, as (row, column) pairs sorted by row; pairs costlier than `max_cost`
    are never matched.

    Most frames have no conflict: every track's cheapest detection within the gate is a different one, or
    (with more tracks than detections, lost ones waiting) every detection's cheapest track is, and no
    matching can then beat those minima. Only otherwise does the exact solver run, on the tracks and
    detections that have some pair within the gate (a lost track far from everyone takes no part).

    Plain Python on the rows (`min` and `index` run in C): a block is a few tracks by a few detections at a
    door, a few dozen by a dozen in a crowd, where numpy's per-call cost would dominate. A row's minimum is
    within the gate exactly when some entry of the row is (pairs ruled out beforehand cost `_BIG`), and it is
    then the first cheapest gated entry (the one `argmin` takes on ties)."""
    pairs: list[tuple[int, int]] = []
    for i, row in enumerate(cost):
        best = min(row)
        if best <= max_cost:
            pairs.append((i, row.index(best)))
    if len({j for _, j in pairs}) == len(pairs):
        return pairs
    pairs = []
    for j, column in enumerate(zip(*cost, strict=True)):
        best = min(column)
        if best <= max_cost:
            pairs.append((column.index(best), j))
    if len({i for i, _ in pairs}) == len(pairs):
        return sorted(pairs)
    return _solve_groups(cost, max_cost)


def _solve_groups(cost: Sequence[Sequence[float]], max_cost: float) -> list[tuple[int, int]]:
    """`_assign` when the minima conflict: each group of tracks linked through shared candidate detections
    is solved on its own (a crowd falls apart into pairs and threes, and the exact solver's cost grows with
    the cube of its size); a track alone in its group takes its cheapest detection. Groups are found by
    union-find over the lists, rows joined through each shared candidate column."""
    gated = [[c if c <= max_cost else _BIG for c in row] for row in cost]
    candidates = [[j for j, c in enumerate(row) if c <= max_cost] for row in cost]
    group_of = list(range(len(cost)))  # union-find over rows; a group's root is its first row
    owner: dict[int, int] = {}
    for i, js in enumerate(candidates):
        for j in js:
            if j in owner:
                a, b = _root(group_of, owner[j]), _root(group_of, i)
                group_of[max(a, b)] = min(a, b)
            else:
                owner[j] = i
    groups: dict[int, list[int]] = {}
    for i, js in enumerate(candidates):
        if js:
            groups.setdefault(_root(group_of, i), []).append(i)
    pairs = []
    for members in groups.values():
        if len(members) == 1:
            row = gated[members[0]]
            pairs.append((members[0], row.index(min(row))))
            continue
        group_cols = sorted({j for i in members for j in candidates[i]})
        for a, b in assign([[gated[i][j] for j in group_cols] for i in members]):
            if gated[members[a]][group_cols[b]] < _BIG:
                pairs.append((members[a], group_cols[b]))
    return sorted(pairs)


def _root(group_of: list[int], i: int) -> int:
    while group_of[i] != i:
        i = group_of[i]
    return i


def _measurement(f: Filter, found: Sequence[float], established: bool) -> tuple[Sequence[float], Sequence[float]]:
    """The box (cx, cy, w, h) a detection (xyxy) measures for the filter `f`, and its noise variances.

    A person walking behind someone is seen ever less for a few frames before the detector loses them: a
    shrinking partial box whose centre lags behind. Measured as it is, it would teach the filter a shrinking
    size and a slower walk, which the prediction then carries on through the gap, so the person seen whole
    again would not be matched. An established track's box much smaller than its prediction (`PARTIAL_SIZE`)
    therefore measures the centre from its edges that fit the prediction (the visible side) at the predicted
    size, and the size only weakly (`PARTIAL_NOISE`).
    """
    x1, y1, x2, y2 = found
    cx, cy, w, h = f[0], f[1], f[2], f[3]
    zw, zh = x2 - x1, y2 - y1
    zx, zy = x1 + zw * 0.5, y1 + zh * 0.5
    r = measurement_noise(f)
    if established and (zw < PARTIAL_SIZE * w or zh < PARTIAL_SIZE * h):
        hx, hy = abs(w) * 0.5, abs(h) * 0.5  # the predicted box's half size
        half_w, half_h = w * 0.5, h * 0.5
        zx = x1 + half_w if abs(x1 - (cx - hx)) <= abs(x2 - (cx + hx)) else x2 - half_w
        zy = y1 + half_h if abs(y1 - (cy - hy)) <= abs(y2 - (cy + hy)) else y2 - half_h
        return (zx, zy, zw, zh), (r[0], r[1], r[2] * _PARTIAL_VARIANCE, r[3] * _PARTIAL_VARIANCE)
    return (zx, zy, zw, zh), r


@dataclasses.dataclass(slots=True)
class _Lost:
    """A lost track as it would be had a re-find on probation never happened, kept up to date (its filter is
    predicted on each frame) so that an undone re-find leaves no trace."""

    kf: Filter
    since: int
    hits: int
    last: int
    score: float


class _Live:
    """One live track's mutable state (`Track` is its snapshot). A plain object: each frame reads and writes
    a few fields of a few dozen tracks, which as rows of numpy arrays would cost a call each."""

    __slots__ = ("id", "state", "hits", "since", "first", "last", "score", "kf", "box", "lost", "refound")

    def __init__(self, track_id: int, state: int, score: float, frame_index: int, kf: Filter) -> None:
        self.id = track_id
        self.state = state
        self.hits = 1
        self.since = 0  # frames since the last match (time_since_update)
        self.first = frame_index
        self.last = frame_index
        self.score = score
        self.kf = kf
        self.box = box(kf)  # kept in step with `kf`: the cost matrix and the snapshot both need it
        self.lost: _Lost | None = None  # on probation after a re-find: the track as it would be without it
        self.refound = 0  # matches since the re-find


class Tracker:
    """ByteTrack-style tracker: `update()` once per frame with that frame's detections.

    Each track has a constant-velocity Kalman filter of its box (`kalman`: four independent
    position/velocity filters, for cx, cy, w and h), predicted and updated with a few float operations.

    At a door a frame has a handful of tracks and detections, so what an update costs is the number of
    Python-level and numpy calls, not their size: hence per-track state in plain objects, one
    tracks-by-detections matrix per frame and matching on Python lists (`_match`, `_assign`).
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._next_id = 1
        self._last_frame: int | None = None
        self._live: list[_Live] = []  # oldest first

    def __len__(self) -> int:
        """Number of tracks held in memory (tentative, confirmed and lost)."""
        return len(self._live)

    @property
    def next_id(self) -> int:
        """The id the next new track will get (ids only ever increase)."""
        return self._next_id

    def update(self, boxes: np.ndarray, scores: np.ndarray, frame_index: int) -> list[Track]:
        """Advance to `frame_index` with its detections (xyxy pixels, scores 0..1); return the live tracks.

        Frames skipped since the previous call are predicted through (the camera may drop frames).
        """
        cfg = self.config
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        scores = np.asarray(scores, dtype=float).reshape(-1)
        if len(scores) != len(boxes):
            raise ValueError("boxes and scores differ in length")
        steps = 1 if self._last_frame is None else frame_index - self._last_frame
        steps = min(max(steps, 1), cfg.max_age + 1)
        self._last_frame = frame_index
        live = self._live
        if not live and len(boxes) == 0:
            return []
        for t in live:
            kf = t.kf
            for _ in range(steps):
                kf = predict(kf)
            t.kf = kf
            t.box = box(kf)
            t.since += steps
            if t.lost is not None:
                kf = t.lost.kf
                for _ in range(steps):
                    kf = predict(kf)
                t.lost.kf = kf
                t.lost.since += steps
        found = boxes.tolist()
        confidence = scores.tolist()
        high = [s >= cfg.high_score for s in confidence]
        det_free = [True] * len(found)
        if live:
            held: list[int] = []
            if found:
                predicted = [t.box for t in live]
                pairs, track_free = self._match(found, boxes, confidence, high, det_free, predicted)
            else:
                pairs, track_free = [], [True] * len(live)
            if pairs:
                if MERGE_COVER > 0:
                    pairs, held = self._hold_merged(pairs, found, predicted, track_free)
                for i, j in pairs:
                    t = live[i]
                    if t.state == _LOST and t.since > cfg.max_tentative_misses and t.lost is None:
                        t.lost = _Lost(t.kf, t.since, t.hits, t.last, t.score)
                        t.refound = 0
                    t.kf = kf = correct(t.kf, *_measurement(t.kf, found[j], t.state != _TENTATIVE))
                    t.box = box(kf)
                    t.hits += 1
                    t.since = 0
                    t.last = frame_index
                    if t.lost is not None:
                        t.refound += 1
                        if t.refound >= cfg.min_hits:
                            t.lost = None
                    if t.state == _LOST or (t.state == _TENTATIVE and t.hits >= cfg.min_hits):
                        t.state = _CONFIRMED
                    t.score = confidence[j]
            held_set = set(held)
            kept = []
            for i, t in enumerate(live):
                if track_free[i]:
                    if i in held_set:
                        # seen, as one of the pair: still confirmed, and the counters follow its held prediction
                        t.since = 0
                        t.last = frame_index
                        t.state = _CONFIRMED
                    else:
                        if t.state == _CONFIRMED:
                            t.state = _LOST
                        if t.lost is not None and t.since > cfg.max_tentative_misses:
                            lost, t.lost = t.lost, None  # the re-find did not last: undone
                            t.kf, t.since, t.hits, t.last, t.score = (
                                lost.kf,
                                lost.since,
                                lost.hits,
                                lost.last,
                                lost.score,
                            )
                            t.box = box(t.kf)
                        # unmatched: keep the size (a partial box's shrinking must not go on through the gap)
                        kf = t.kf
                        t.kf = (*kf[:6], 0.0, 0.0, *kf[8:])
                        if (t.state == _TENTATIVE and t.since > cfg.max_tentative_misses) or (
                            t.state == _LOST and t.since > cfg.max_age
                        ):
                            continue  # evicted
                kept.append(t)
            self._live = live = kept
        start = _CONFIRMED if cfg.min_hits <= 1 else _TENTATIVE
        for j, (found_box, s) in enumerate(zip(found, confidence, strict=True)):
            if high[j] and det_free[j] and s >= cfg.new_track_score:
                live.append(_Live(self._next_id, start, s, frame_index, initial(found_box)))
                self._next_id += 1
        return self.tracks()

    def _match(
        self,
        found: list[list[float]],
        boxes: np.ndarray,
        confidence: list[float],
        high: list[bool],
        det_free: list[bool],
        predicted: list[tuple[float, float, float, float]],
    ) -> tuple[list[tuple[int, int]], list[bool]]:
        """Match tracks to the frame's detections stage by stage: the (track row, detection) pairs in the order
        matched, and which tracks are left free (the detections left free are marked in `det_free`).

        1. confident detections to confirmed and lost tracks; 2. low-score detections to tracks that were
        matched last frame; 3. tentative tracks; 4. re-finding by centre distance. The overlap stages rank
        every track against every detection (`predicted` holds the tracks' boxes) by one cost matrix per frame
        (`match_overlaps`), with the pairs below the stage's IoU threshold ruled out, and each stage takes its
        block of it. Lists, one `tolist` per stage: the blocks are small (see `_assign`)."""
        cfg = self.config
        live = self._live
        states = [t.state for t in live]
        track_free = [True] * len(states)
        pairs: list[tuple[int, int]] = []

        def stage(tracks: list[bool], dets: list[bool], cost: list[list[float]], max_cost: float) -> None:
            """Match the free tracks among `tracks` to the free detections among `dets` on their block of
            `cost`."""
            cols = [j for j, ok in enumerate(dets) if ok and det_free[j]]
            if not cols:
                return
            rows = [i for i, ok in enumerate(tracks) if ok and track_free[i]]
            if not rows:
                return
            if len(cols) == 1:
                block: list[Sequence[float]] = [[cost[i][cols[0]]] for i in rows]
            else:
                pick = itemgetter(*cols)
                block = [pick(cost[i]) for i in rows]
            for r, c in _assign(block, max_cost):
                i, j = rows[r], cols[c]
                track_free[i] = det_free[j] = False
                pairs.append((i, j))

        iou, ranked = match_overlaps(np.array(predicted), boxes)
        rank = 1.0 - ranked

        def gated(min_iou: float) -> list[list[float]]:
            """The ranking costs, with the pairs whose IoU is below `min_iou` ruled out."""
            return np.where(iou >= min_iou, rank, _BIG).tolist()

        low = [not h and s >= cfg.low_score for h, s in zip(high, confidence, strict=True)]
        tentative = [s == _TENTATIVE for s in states]
        established = [not t for t in tentative]
        any_tentative = any(tentative)
        stage(established, high, gated(cfg.match_iou), 1.0)
        if any(low):
            stage([s == _CONFIRMED for s in states], low, gated(cfg.low_match_iou), 1.0)
        if any_tentative:
            stage(tentative, high, gated(cfg.tentative_match_iou), 1.0)
        if cfg.recover_distance > 0 and any(f and h for f, h in zip(det_free, high, strict=True)) and any(track_free):
            # distance between predicted and detected centres, in box sizes (sqrt of the box area)
            x = np.array([t.kf[:4] for t in live])
            wh = np.maximum(x[:, 2:4], 1.0)
            size = np.sqrt(wh[:, 0] * wh[:, 1])
            z = (boxes[:, 0:2] + boxes[:, 2:4]) * 0.5
            apart = np.hypot(x[:, None, 0] - z[None, :, 0], x[:, None, 1] - z[None, :, 1])
            apart /= size[:, None]
            distances = apart.tolist()
            stage(established, high, distances, cfg.recover_distance)
            if any_tentative:
                stage(tentative, high, distances, cfg.recover_distance)
        return pairs, track_free

    def _hold_merged(
        self,
        pairs: list[tuple[int, int]],
        found: list[list[float]],
        predicted: list[tuple[float, float, float, float]],
        track_free: list[bool],
    ) -> tuple[list[tuple[int, int]], list[int]]:
        """Matches whose detection is two people seen as one box: the matched track's predicted box and
        that of another recently seen person both lie mostly inside the detection, which is clearly larger
        than the matched track's prediction. The detection then measures neither (it would drag one track
        to the pair's middle and leave the other to drift away): both keep their predictions, pulled inside
        the union box, and count as seen (the tracks returned second), until the detector sees them apart
        again. The detection starts no track. Tentative tracks take no part. `predicted` is every track's
        predicted box (xyxy), as the frame's cost matrix saw it."""
        live = self._live
        grown = [
            live[i].state != _TENTATIVE
            and (found[j][2] - found[j][0]) * (found[j][3] - found[j][1])
            >= MERGE_GROWTH * live[i].kf[2] * live[i].kf[3]
            for i, j in pairs
        ]
        if not any(grown):
            return pairs, []
        others = [i for i, t in enumerate(live) if track_free[i] and t.state != _TENTATIVE and t.since <= MERGE_RECENT]
        if not others:
            return pairs, []
        kept: list[tuple[int, int]] = []
        held: list[int] = []
        for (i, j), is_grown in zip(pairs, grown, strict=True):
            inside = (
                [o for o in others if _cover(predicted[o], live[o].kf, found[j]) >= MERGE_COVER] if is_grown else []
            )
            if not inside:
                kept.append((i, j))
                continue
            x1, y1, x2, y2 = found[j]
            for m in (i, *inside):
                kf = live[m].kf
                half_w, half_h = min(kf[2], x2 - x1) * 0.5, min(kf[3], y2 - y1) * 0.5
                cx = min(max(kf[0], x1 + half_w), x2 - half_w)
                cy = min(max(kf[1], y1 + half_h), y2 - half_h)
                live[m].kf = kf = (cx, cy, *kf[2:])
                live[m].box = box(kf)
                held.append(m)
            track_free[i] = True
        return kept, held

    def tracks(self) -> list[Track]:
        """Snapshots of all live tracks (tentative, confirmed, lost), oldest first."""
        # tuple.__new__ directly, as Track._make does but without a Python-level call per track: tens of
        # these per frame
        return [
            _new_track(
                (
                    t.id,
                    _STATES[t.state if t.lost is None else _TENTATIVE],
                    t.box,
                    t.score,
                    t.hits,
                    t.since,
                    t.first,
                    t.last,
                )
            )
            for t in self._live
        ]


def _cover(other: Sequence[float], kf: Filter, found: Sequence[float]) -> float:
    """How much of another track's predicted box (xyxy; its filter `kf` for the size) lies inside the
    detection `found` (xyxy)."""
    iw = min(other[2], found[2]) - max(other[0], found[0])
    ih = min(other[3], found[3]) - max(other[1], found[1])
    area = kf[2] * kf[3]
    return (iw if iw > 0.0 else 0.0) * (ih if ih > 0.0 else 0.0) / (area if area > 1.0 else 1.0)
