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
  is preferred (`vertical_iou`): in a side view a near person's tall box holds most of a far person's short
  one as they pass, and only the vertical extents tell the two pairings apart.
- A detector often reports two people walking close together as one box around both. A track matched to such
  a box would be dragged to the pair's middle while the other person's track drifts off on its own: the box
  measures neither, both tracks keep their predictions held inside it, and they continue separately when the
  detector sees the two apart again (`Tracker._hold_merged`).
- A track is tentative until it has `min_hits` matches: isolated false positives never become tracks that
  count. Confirmed tracks that lose their person are kept as lost for `max_age` frames and then evicted, so
  the state is bounded by the number of people in view, however long the agent runs.
- All filter state lives in arrays (one row per track), so predicting and updating 50 people is a handful of
  element-wise numpy calls per frame rather than 50 small matrix products (see `Tracker`).

Pure: no I/O, no threads, no clocks; the frame index is passed in.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Sequence
from operator import itemgetter
from typing import NamedTuple

import numpy as np

from agent.config.counting import TrackerConfig
from agent.vision.assignment import linear_assignment

# Process and measurement noise as fractions of the box size (the weights ByteTrack and DeepSORT use).
_STD_POSITION = 1.0 / 20.0
_STD_VELOCITY = 1.0 / 160.0
_BIG = 1e6
_NONE = np.zeros(0, dtype=int)
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
_TENTATIVE, _CONFIRMED, _LOST = 0, 1, 2
_WH4 = np.array([2, 3, 2, 3])  # for cx, cy, w, h: the column (w or h) that scales its noise
_X, _V, _PP, _PV, _VV = range(5)  # rows of a track's filter state: position, velocity, three covariances


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
    a = a.reshape(-1, 4)
    b = b.reshape(-1, 4)
    # x and y together (the last axis), to keep the number of numpy calls down for a door's few boxes
    overlap = np.maximum(
        np.minimum(a[:, None, 2:4], b[None, :, 2:4]) - np.maximum(a[:, None, 0:2], b[None, :, 0:2]), 0.0
    )
    inter = overlap[:, :, 0] * overlap[:, :, 1]
    size_a = np.maximum(a[:, 2:4] - a[:, 0:2], 0.0)
    size_b = np.maximum(b[:, 2:4] - b[:, 0:2], 0.0)
    union = (size_a[:, 0] * size_a[:, 1])[:, None] + (size_b[:, 0] * size_b[:, 1])[None, :] - inter
    return np.divide(inter, union, out=np.zeros(inter.shape), where=union > 0.0)


def vertical_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Overlap over union of the vertical extents (top to bottom) of every box in `a` with every box in `b`.

    The tracker ranks the detections a track may take by IoU times this. Two people passing each other in a side
    view, one nearer the camera (a taller box) than the other, overlap by about as much in either pairing of
    their predicted boxes with their detections, and IoU alone can pick the swapped one (a tall box holds most
    of a short one); only the right pairing keeps each one's top and bottom. Which detections a track may take
    at all is still decided by IoU alone (`match_iou` and the other thresholds). On bench/counting_accuracy.py
    --quick --in-process, doors and MOT15, seeds 1-10, worse direction, IoU alone / ranked with this: clean
    0.967 / 0.970 (the side-view door's swaps of passing people: 1 in and 1 out missed, now none), moderate
    0.852 / 0.858, hard 0.660 / 0.698. Gating on the product as well (moderate 0.876, the rest the same) broke
    real tracks where NanoDet's boxes change height from frame to frame: bench/real_video.py, int8, counted 4 in
    and 6 out of 3 and 3 with it, 3 and 3 without, as by IoU alone (fp32: 5 / 4, 4 / 3, 5 / 3). The composited
    clips of bench/video_accuracy.py, int8, in / out: 94.0 / 95.4 % with it, 93.6 / 90.8 % without, 94.0 / 92.3 %
    by IoU alone."""
    a = a.reshape(-1, 4)
    b = b.reshape(-1, 4)
    overlap = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    span = np.maximum(a[:, None, 3], b[None, :, 3]) - np.minimum(a[:, None, 1], b[None, :, 1])
    return np.divide(np.maximum(overlap, 0.0), span, out=np.zeros(overlap.shape), where=span > 0.0)


def _xyxy_to_cxcywh(boxes: np.ndarray) -> np.ndarray:
    wh = boxes[:, 2:4] - boxes[:, 0:2]
    return np.concatenate([boxes[:, 0:2] + wh * 0.5, wh], axis=1)


def _cxcywh_to_xyxy(s: np.ndarray) -> np.ndarray:
    half = np.abs(s[:, 2:4]) * 0.5
    return np.concatenate([s[:, 0:2] - half, s[:, 0:2] + half], axis=1)


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
        block = np.array([[gated[i][j] for j in group_cols] for i in members])
        r, c = linear_assignment(block)
        for a, b in zip(r.tolist(), c.tolist(), strict=True):
            if gated[members[a]][group_cols[b]] < _BIG:
                pairs.append((members[a], group_cols[b]))
    return sorted(pairs)


def _root(group_of: list[int], i: int) -> int:
    while group_of[i] != i:
        i = group_of[i]
    return i


def _size_scale(x: np.ndarray) -> np.ndarray:
    """Noise per coordinate of (cx, cy, w, h), scaling with the box: a near (large) person jitters by more
    pixels than a far one. x-like coordinates scale with the width, y-like ones with the height."""
    return np.maximum(np.abs(x[:, _WH4]), 1.0)


# Columns of the integer per-track table (one row per live track).
_ID, _STATE, _HITS, _SINCE, _FIRST, _LAST = range(6)


class Tracker:
    """ByteTrack-style tracker: `update()` once per frame with that frame's detections.

    The Kalman filter tracks (cx, cy, w, h) and their velocities. Its transition only adds each velocity to
    its own coordinate and the process noise, measurement noise and initial covariance are all diagonal, so
    the 8-state filter is exactly four independent position/velocity filters per track: the covariance is
    kept as three numbers per coordinate (position variance, covariance, velocity variance) and predict and
    update are element-wise array operations, with no matrix products or inversions.

    At a door a frame has a handful of tracks and detections, so what an update costs is the number of numpy
    calls, not their size: hence one predicted box array per frame, `np.count_nonzero` and `.nonzero()` rather
    than `.any()` and `np.flatnonzero` (which go through Python-level wrappers), and matching on Python lists
    (`_match`, `_assign`).
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self._next_id = 1
        self._last_frame: int | None = None
        self._info = np.zeros((0, 6), dtype=np.int64)
        self._score = np.zeros(0, dtype=float)
        self._kf = np.zeros((0, 5, 4), dtype=float)  # per track: _X, _V, _PP, _PV, _VV rows of (cx, cy, w, h)

    def __len__(self) -> int:
        """Number of tracks held in memory (tentative, confirmed and lost)."""
        return len(self._info)

    @property
    def next_id(self) -> int:
        """The id the next new track will get (ids only ever increase)."""
        return self._next_id

    def _predict(self, steps: int) -> None:
        """x' = x + v; P' = F P F^T + Q for F = [[1, 1], [0, 1]], per coordinate."""
        kf = self._kf
        for _ in range(steps):
            scale = _size_scale(kf[:, _X])
            kf[:, _X] += kf[:, _V]
            kf[:, _PP] += 2.0 * kf[:, _PV] + kf[:, _VV] + (_STD_POSITION * scale) ** 2
            kf[:, _PV] += kf[:, _VV]
            kf[:, _VV] += (_STD_VELOCITY * scale) ** 2
            # keep sizes positive: a shrinking box extrapolated through a long gap must not turn inside out
            np.maximum(kf[:, _X, 2:4], 1.0, out=kf[:, _X, 2:4])

    def _kalman_update(self, rows: np.ndarray, boxes: np.ndarray) -> None:
        """Measure the box (cx, cy, w, h) with noise proportional to its size.

        A person walking behind someone is seen ever less for a few frames before the detector loses them: a
        shrinking partial box whose centre lags behind. Measured as it is, it would teach the filter a shrinking
        size and a slower walk, which the prediction then carries on through the gap, so the person seen whole
        again would not be matched. An established track's box much smaller than its prediction (`PARTIAL_SIZE`)
        therefore measures the centre from its edges that fit the prediction (the visible side) at the predicted
        size, and the size only weakly (`PARTIAL_NOISE`).
        """
        kf = self._kf[rows]
        pp, pv = kf[:, _PP].copy(), kf[:, _PV].copy()
        r = (_STD_POSITION * _size_scale(kf[:, _X])) ** 2
        z = _xyxy_to_cxcywh(boxes)
        size = kf[:, _X, 2:4]
        partial = (self._info[rows, _STATE] != _TENTATIVE) & (z[:, 2:4] < PARTIAL_SIZE * size).any(axis=1)
        if partial.any():
            seen = boxes[partial]
            predicted = _cxcywh_to_xyxy(kf[partial, _X])
            half = size[partial] * 0.5
            low_fits = np.abs(seen[:, 0:2] - predicted[:, 0:2]) <= np.abs(seen[:, 2:4] - predicted[:, 2:4])
            z[partial, 0:2] = np.where(low_fits, seen[:, 0:2] + half, seen[:, 2:4] - half)
            r[partial, 2:4] *= PARTIAL_NOISE**2
        s = pp + r
        gain_x, gain_v = pp / s, pv / s
        innovation = z - kf[:, _X]
        kf[:, _X] += gain_x * innovation
        kf[:, _V] += gain_v * innovation
        kf[:, _PP] = pp - gain_x * pp
        kf[:, _PV] = pv - gain_x * pv
        kf[:, _VV] -= gain_v * pv
        self._kf[rows] = kf

    def _new_tracks(self, boxes: np.ndarray, scores: np.ndarray, frame_index: int) -> None:
        n = len(boxes)
        kf = np.zeros((n, 5, 4))
        kf[:, _X] = _xyxy_to_cxcywh(boxes)
        scale = _size_scale(kf[:, _X])
        kf[:, _PP] = (2 * _STD_POSITION * scale) ** 2
        kf[:, _VV] = (10 * _STD_VELOCITY * scale) ** 2
        info = np.empty((n, 6), dtype=np.int64)
        info[:, _ID] = np.arange(self._next_id, self._next_id + n)
        info[:, _STATE] = _CONFIRMED if self.config.min_hits <= 1 else _TENTATIVE
        info[:, _HITS] = 1
        info[:, _SINCE] = 0
        info[:, _FIRST] = frame_index
        info[:, _LAST] = frame_index
        self._next_id += n
        self._info = np.concatenate([self._info, info])
        self._score = np.concatenate([self._score, scores])
        self._kf = np.concatenate([self._kf, kf])

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
        info = self._info
        n_tracks = len(info)
        if n_tracks == 0 and len(boxes) == 0:
            return []
        if n_tracks:
            self._predict(steps)
            info[:, _SINCE] += steps
        high_mask = scores >= cfg.high_score
        high = high_mask.nonzero()[0]
        if n_tracks:
            state = info[:, _STATE]
            if len(boxes):
                predicted = _cxcywh_to_xyxy(self._kf[:, _X])
                pairs, free_tracks, free_dets = self._match(boxes, scores, high_mask, predicted)
                track_free = np.array(free_tracks, dtype=bool)
                det_free = np.array(free_dets, dtype=bool)
            else:
                pairs, track_free, det_free = [], np.ones(n_tracks, dtype=bool), np.zeros(0, dtype=bool)
            held = np.zeros(0, dtype=int)
            if pairs:
                rows = np.array([i for i, _ in pairs], dtype=np.intp)
                dets = np.array([j for _, j in pairs], dtype=np.intp)
                if MERGE_COVER > 0:
                    rows, dets, held = self._hold_merged(rows, dets, boxes, predicted, track_free)
                self._kalman_update(rows, boxes[dets])
                matched = info[rows]  # a copy of the matched tracks' rows (each once), written back below
                matched[:, _HITS] += 1
                matched[:, _SINCE] = 0
                matched[:, _LAST] = frame_index
                was = matched[:, _STATE]
                was[(was == _LOST) | ((was == _TENTATIVE) & (matched[:, _HITS] >= cfg.min_hits))] = _CONFIRMED
                info[rows] = matched
                self._score[rows] = scores[dets]
            state[track_free & (state == _CONFIRMED)] = _LOST
            # unmatched: keep the size (a partial box's shrinking must not go on through the gap)
            missed = track_free.copy()
            missed[held] = False
            self._kf[missed, _V, 2:4] = 0.0
            if len(held):
                # seen, as one of the pair: still confirmed, and the counters follow its held prediction
                track_free[held] = False
                info[held, _SINCE] = 0
                info[held, _LAST] = frame_index
                state[held] = _CONFIRMED
            since = info[:, _SINCE]
            remove = track_free & (
                ((state == _TENTATIVE) & (since > cfg.max_tentative_misses))
                | ((state == _LOST) & (since > cfg.max_age))
            )
            if np.count_nonzero(remove):
                keep = ~remove
                self._info = info[keep]
                self._score = self._score[keep]
                self._kf = self._kf[keep]
            fresh = high[det_free[high]]
        else:
            fresh = high
        fresh = fresh[scores[fresh] >= cfg.new_track_score]
        if len(fresh):
            self._new_tracks(boxes[fresh], scores[fresh], frame_index)
        return self.tracks()

    def _match(
        self, boxes: np.ndarray, scores: np.ndarray, high_mask: np.ndarray, predicted: np.ndarray
    ) -> tuple[list[tuple[int, int]], list[bool], list[bool]]:
        """Match tracks to the frame's detections stage by stage: the (track row, detection) pairs in the order
        matched, and which tracks and which detections are left free.

        1. confident detections to confirmed and lost tracks; 2. low-score detections to tracks that were
        matched last frame; 3. tentative tracks; 4. re-finding by centre distance. The overlap stages rank
        every track against every detection (`predicted` holds the tracks' boxes) by one cost matrix per frame
        (`vertical_iou`), with the pairs below the stage's IoU threshold ruled out, and each stage takes its
        block of it. Lists, one `tolist` per stage: the blocks are small (see `_assign`)."""
        cfg = self.config
        states = self._info[:, _STATE].tolist()
        track_free = [True] * len(states)
        det_free = [True] * len(boxes)
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

        iou = iou_matrix(predicted, boxes)
        rank = 1.0 - iou * vertical_iou(predicted, boxes)

        def gated(min_iou: float) -> list[list[float]]:
            """The ranking costs, with the pairs whose IoU is below `min_iou` ruled out."""
            return np.where(iou >= min_iou, rank, _BIG).tolist()

        high = high_mask.tolist()
        low = [not h and s >= cfg.low_score for h, s in zip(high, scores.tolist(), strict=True)]
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
            kf = self._kf
            wh = np.maximum(kf[:, _X, 2:4], 1.0)
            size = np.sqrt(wh[:, 0] * wh[:, 1])
            z = (boxes[:, 0:2] + boxes[:, 2:4]) * 0.5
            apart = np.hypot(kf[:, None, _X, 0] - z[None, :, 0], kf[:, None, _X, 1] - z[None, :, 1])
            apart /= size[:, None]
            distances = apart.tolist()
            stage(established, high, distances, cfg.recover_distance)
            if any_tentative:
                stage(tentative, high, distances, cfg.recover_distance)
        return pairs, track_free, det_free

    def _hold_merged(
        self, rows: np.ndarray, dets: np.ndarray, boxes: np.ndarray, predicted: np.ndarray, track_free: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Matches whose detection is two people seen as one box: the matched track's predicted box and
        that of another recently seen person both lie mostly inside the detection, which is clearly larger
        than the matched track's prediction. The detection then measures neither (it would drag one track
        to the pair's middle and leave the other to drift away): both keep their predictions, pulled inside
        the union box, and count as seen (returned as the third array), until the detector sees them apart
        again. The detection starts no track. Tentative tracks take no part. `predicted` is every track's
        predicted box (xyxy), as the frame's cost matrix saw it."""
        none = _NONE
        info, kf = self._info, self._kf
        # which matches are grown, in plain Python (the same products): most frames have none, and few pairs
        found, sizes, states = boxes.tolist(), kf[:, _X, 2:4].tolist(), info[:, _STATE].tolist()
        grown_at = [
            k
            for k, (i, j) in enumerate(zip(rows.tolist(), dets.tolist(), strict=True))
            if states[i] != _TENTATIVE
            and (found[j][2] - found[j][0]) * (found[j][3] - found[j][1]) >= MERGE_GROWTH * sizes[i][0] * sizes[i][1]
        ]
        if not grown_at:
            return rows, dets, none
        grown = np.zeros(len(rows), dtype=bool)
        grown[grown_at] = True
        d = boxes[dets]
        others = (track_free & (info[:, _STATE] != _TENTATIVE) & (info[:, _SINCE] <= MERGE_RECENT)).nonzero()[0]
        if len(others) == 0:
            return rows, dets, none
        o = predicted[others]
        iw = np.minimum(o[:, None, 2], d[None, :, 2]) - np.maximum(o[:, None, 0], d[None, :, 0])
        ih = np.minimum(o[:, None, 3], d[None, :, 3]) - np.maximum(o[:, None, 1], d[None, :, 1])
        wh = kf[others, _X, 2:4]
        area = np.maximum(wh[:, 0] * wh[:, 1], 1.0)
        cover = np.maximum(iw, 0.0) * np.maximum(ih, 0.0) / area[:, None]
        inside = cover >= MERGE_COVER
        merged = grown & inside.any(axis=0)
        if not np.count_nonzero(merged):
            return rows, dets, none
        held: list[np.ndarray] = []
        for k in np.flatnonzero(merged):
            members = np.concatenate([rows[k : k + 1], others[inside[:, k]]])
            x1, y1, x2, y2 = d[k]
            half = np.minimum(kf[members, _X, 2:4], [x2 - x1, y2 - y1]) * 0.5
            kf[members, _X, 0] = np.clip(kf[members, _X, 0], x1 + half[:, 0], x2 - half[:, 0])
            kf[members, _X, 1] = np.clip(kf[members, _X, 1], y1 + half[:, 1], y2 - half[:, 1])
            held.append(members)
        track_free[rows[merged]] = True
        return rows[~merged], dets[~merged], np.concatenate(held)

    def tracks(self) -> list[Track]:
        """Snapshots of all live tracks (tentative, confirmed, lost), oldest first."""
        if len(self._info) == 0:
            return []
        xyxy = map(tuple, _cxcywh_to_xyxy(self._kf[:, _X]).tolist())
        ids, states, hits, since, first, last = self._info.T.tolist()
        states = [_STATES[k] for k in states]
        # tuple.__new__ directly, as Track._make does but without a Python-level call per track: tens of
        # these per frame
        rows = zip(ids, states, xyxy, self._score.tolist(), hits, since, first, last, strict=True)
        return list(map(_new_track, rows))
