"""The simple baseline every counter is measured against: a greedy-IoU tracker and a hysteresis band.

What a first attempt at a people counter looks like, and what issue 14 compared the agent with:
- tracking: each frame, the (track, detection) pairs are taken greedily by overlap, largest first, down to
  IoU 0.3; a track is its last matched box (no motion model) and is dropped after 5 frames unmatched; an
  unmatched detection with score >= 0.5 starts a track;
- counting: the track's anchor takes a side of the line only beyond a band of 0.15 box heights (the agent's
  default band), and every change between taken sides is a crossing. No confirmation, no hand-over.

It uses the agent's line geometry (the same sides and extent), nothing of its tracker or counters.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from agent.vision.geometry import Polyline, anchor_points  # noqa: E402
from agent.vision.tracking import iou_matrix  # noqa: E402

MATCH_IOU = 0.3
MAX_MISSES = 5
NEW_SCORE = 0.5
BAND = 0.15


def frames_of(rows: np.ndarray) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """(frame, boxes, scores) for every frame from 0 to the last row's, empty ones included (as replay)."""
    if len(rows) == 0:
        return
    frames = rows[:, 0].astype(int)
    starts = np.searchsorted(frames, np.arange(frames[-1] + 2))
    for f in range(frames[-1] + 1):
        part = rows[starts[f] : starts[f + 1]]
        yield f, part[:, 1:5], part[:, 5]


def count(rows: np.ndarray, line: Sequence[Sequence[float]], in_point: Sequence[float], anchor: str) -> tuple[int, int]:
    """(in, out) counted from detections (frame, x1, y1, x2, y2, score) sorted by frame."""
    poly = Polyline(line)
    in_sign = poly.side_of(in_point)
    boxes = np.zeros((0, 4))
    misses = np.zeros(0, dtype=int)
    sides = np.zeros(0, dtype=int)
    ins = outs = 0
    for _, dets, scores in frames_of(rows):
        matched_t = np.zeros(len(boxes), dtype=bool)
        matched_d = np.zeros(len(dets), dtype=bool)
        if len(boxes) and len(dets):
            iou = iou_matrix(boxes, dets)
            for flat in np.argsort(-iou, axis=None):
                t, d = divmod(int(flat), len(dets))
                if iou[t, d] < MATCH_IOU:
                    break
                if matched_t[t] or matched_d[d]:
                    continue
                matched_t[t] = matched_d[d] = True
                boxes[t] = dets[d]
                misses[t] = 0
        misses[~matched_t] += 1
        fresh = ~matched_d & (scores >= NEW_SCORE)
        boxes = np.concatenate([boxes, dets[fresh]])
        misses = np.concatenate([misses, np.zeros(int(fresh.sum()), dtype=int)])
        sides = np.concatenate([sides, np.zeros(int(fresh.sum()), dtype=int)])
        seen = misses == 0
        if seen.any():
            dist, within = poly.signed_distance(anchor_points(boxes[seen], anchor))  # type: ignore[arg-type]
            band = BAND * (boxes[seen, 3] - boxes[seen, 1])
            dist = dist * in_sign
            new = np.where(within, np.where(dist > band, 1, np.where(dist < -band, -1, 0)), 2)
            idx = np.flatnonzero(seen)
            old = sides[idx]
            crossed = (new != 2) & (new != 0) & (old != 0) & (new != old)
            ins += int(np.sum(crossed & (new > 0)))
            outs += int(np.sum(crossed & (new < 0)))
            sides[idx] = np.where(new == 2, 0, np.where(new == 0, old, new))
        alive = misses <= MAX_MISSES
        boxes, misses, sides = boxes[alive], misses[alive], sides[alive]
    return ins, outs
