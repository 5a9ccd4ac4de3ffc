"""A person detector's failures, simulated on exact boxes: the noise model of the counting tests and benchmark.

Counting has to hold up against what a real detector delivers, so every failure that breaks trackers is a
parameter of its own (`Noise`), and each can be switched on alone or together with the others:

- `miss`: independent misses, the share of person-frames with no box (motion blur, a weak frame);
- `burst_rate`, `burst_frames`: occlusion bursts, a person missed for several consecutive frames (hidden
  behind someone); `burst_rate` is the chance per person-frame that a burst starts;
- `merge`, `merge_frames`, `merge_iou`: merged boxes, two overlapping people (IoU of their exact boxes
  >= `merge_iou`) reported as one union box for a few frames; `merge` is the chance per frame that an
  overlapping pair starts a merge. The pair is reported only as the union while it lasts;
- `jitter`: gaussian noise on each box edge, sigma = jitter x box width (x edges) or height (y edges);
- `fp`, `fp_frames`: short false positives, started per frame on average, each lasting a few frames,
  person-sized and at a plausible place: a real person's box of the same scene moved sideways;
- `score`: mean detector score of true boxes (sd 0.1, clipped to 0.05..1); false positives and merged
  boxes draw from the same distribution, so a score threshold cannot tell them apart;
- `hidden`: people the scene marks as hidden behind a nearer person (a side view of a queue) get no box.

`LEVELS` are the three combined levels of the counting goals, exactly issue 14's: clean is the exact box
of every person, moderate and hard combine the first six classes. `CLASSES` is each failure alone at its hard
value. `SCENARIOS` are the side view's hidden people, alone and with the hard level: not one of the issue's
classes and reported apart, since no tracker can count someone it never gets a box of. Detections carry no
identity, as a detector's do.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SCORE_SD = 0.1


@dataclass(frozen=True)
class Noise:
    """Failure rates of a simulated detector; all zero is exact boxes (see the module docstring)."""

    miss: float = 0.0
    burst_rate: float = 0.0
    burst_frames: tuple[int, int] = (5, 10)
    merge: float = 0.0
    merge_frames: tuple[int, int] = (5, 15)
    merge_iou: float = 0.1
    jitter: float = 0.0
    fp: float = 0.0
    fp_frames: tuple[int, int] = (1, 3)
    score: float = 0.9
    hidden: bool = False

    def label(self) -> str:
        """Only what differs from exact boxes, e.g. 'miss 0.2 jitter 0.1'."""
        base = Noise()
        parts = [
            f"{f.name} {getattr(self, f.name):g}"
            for f in dataclasses.fields(self)
            if isinstance(getattr(self, f.name), float) and getattr(self, f.name) != getattr(base, f.name)
        ]
        return " ".join(parts) or "exact"


CLEAN = Noise()
MODERATE = Noise(miss=0.1, burst_rate=0.004, merge=0.05, jitter=0.05, fp=0.1, score=0.8)
HARD = Noise(miss=0.2, burst_rate=0.008, merge=0.05, jitter=0.1, fp=0.2, score=0.7)
LEVELS = {"clean": CLEAN, "moderate": MODERATE, "hard": HARD}
CLASSES = {
    "misses": Noise(miss=HARD.miss),
    "bursts": Noise(burst_rate=HARD.burst_rate),
    "merges": Noise(merge=HARD.merge),
    "jitter": Noise(jitter=HARD.jitter),
    "false positives": Noise(fp=HARD.fp),
    "low scores": Noise(score=HARD.score),
}
SCENARIOS = {"hidden": Noise(hidden=True), "hard + hidden": dataclasses.replace(HARD, hidden=True)}


def _iou_pairs(boxes: np.ndarray) -> np.ndarray:
    a, b = boxes[:, None, :], boxes[None, :, :]
    iw = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = iw * ih
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    union = area[:, None] + area[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _scores(rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
    return np.clip(rng.normal(mean, SCORE_SD, n), 0.05, 1.0)


def simulate(
    pid: np.ndarray,
    frame: np.ndarray,
    boxes: np.ndarray,
    size: tuple[int, int],
    noise: Noise,
    seed: int | list[int],
    hidden: np.ndarray | None = None,
) -> np.ndarray:
    """Detections (frame, x1, y1, x2, y2, score), sorted by frame, of people whose exact boxes are `boxes`
    (one row per person-frame: `pid`, `frame`); boxes centred outside the image of `size` are dropped and
    the rest clipped to it. `hidden` marks the person-frames that `noise.hidden` leaves out."""
    if noise.hidden and hidden is not None and hidden.any():
        pid, frame, boxes = pid[~hidden], frame[~hidden], boxes[~hidden]
    rng = np.random.default_rng(seed)
    order = np.lexsort((pid, frame))
    pid, frame, exact = pid[order], frame[order].astype(int), boxes[order].astype(float)
    n = len(pid)
    w = exact[:, 2] - exact[:, 0]
    h = exact[:, 3] - exact[:, 1]
    noisy = exact + rng.normal(0.0, 1.0, (n, 4)) * noise.jitter * np.stack([w, h, w, h], axis=1)
    scores = _scores(rng, noise.score, n)
    keep = rng.random(n) >= noise.miss
    if noise.burst_rate > 0:
        by_person = np.lexsort((frame, pid))
        starts = np.flatnonzero(rng.random(n) < noise.burst_rate)
        position = np.empty(n, dtype=int)
        position[by_person] = np.arange(n)
        lo, hi = noise.burst_frames
        for s in starts:
            length = int(rng.integers(lo, hi + 1))
            k = position[s]
            rows = by_person[k : k + length]
            keep[rows[(pid[rows] == pid[s]) & (frame[rows] < frame[s] + length)]] = False
    extra: list[list[float]] = []
    if noise.merge > 0:
        merged_until: dict[int, int] = {}  # pair key (pid_a << 32 | pid_b) -> last merged frame
        live = np.zeros(0, dtype=np.int64)
        bounds = np.flatnonzero(np.diff(frame)) + 1
        for rows in np.split(np.arange(n), bounds):
            if len(rows) < 2:
                continue
            f = int(frame[rows[0]])
            iou = _iou_pairs(exact[rows])
            ii, jj = np.nonzero(np.triu(iou > 0, 1))
            if len(ii) == 0:
                continue
            # only pairs that start a merge now or are in one matter: found with whole-array operations
            keys = pid[rows[ii]].astype(np.int64) * (1 << 32) + pid[rows[jj]]
            active = np.array([merged_until.get(int(k), -1) >= f for k in keys[np.isin(keys, live)]])
            ongoing = np.zeros(len(ii), dtype=bool)
            ongoing[np.isin(keys, live)] = active
            starting = (iou[ii, jj] >= noise.merge_iou) & (rng.random(len(ii)) < noise.merge) & ~ongoing
            busy: set[int] = set()
            for k in np.flatnonzero(ongoing | starting).tolist():
                ri, rj = int(rows[ii[k]]), int(rows[jj[k]])
                if ri in busy or rj in busy:
                    continue
                if starting[k]:
                    lo, hi = noise.merge_frames
                    merged_until[int(keys[k])] = f + int(rng.integers(lo, hi + 1)) - 1
                busy.update((ri, rj))
                pair = noisy[[ri, rj]]
                union = [pair[:, 0].min(), pair[:, 1].min(), pair[:, 2].max(), pair[:, 3].max()]
                extra.append([f, *union, float(_scores(rng, noise.score, 1)[0])])
                keep[ri] = keep[rj] = False
            live = np.array([k for k, until in merged_until.items() if until >= f], dtype=np.int64)
    if noise.fp > 0 and n:
        first, last = int(frame.min()), int(frame.max())
        lo, hi = noise.fp_frames
        for f in np.flatnonzero(rng.random(last - first + 1) < noise.fp) + first:
            template = exact[int(rng.integers(n))]
            bw = template[2] - template[0]
            x = rng.uniform(0, size[0] - bw)
            score = float(_scores(rng, noise.score, 1)[0])
            for k in range(int(rng.integers(lo, hi + 1))):
                j = rng.normal(0.0, noise.jitter, 4) * np.tile([bw, template[3] - template[1]], 2)
                extra.append([f + k, x + j[0], template[1] + j[1], x + bw + j[2], template[3] + j[3], score])
    rows = np.column_stack([frame[keep].astype(float), noisy[keep], scores[keep]])
    if extra:
        rows = np.vstack([rows, np.array(extra, dtype=float)])
    rows[:, [1, 3]] = np.sort(rows[:, [1, 3]], axis=1)
    rows[:, [2, 4]] = np.sort(rows[:, [2, 4]], axis=1)
    cx = (rows[:, 1] + rows[:, 3]) / 2
    cy = (rows[:, 2] + rows[:, 4]) / 2
    rows = rows[(cx >= 0) & (cx < size[0]) & (cy >= 0) & (cy < size[1])]
    rows[:, [1, 3]] = np.clip(rows[:, [1, 3]], 0, size[0])
    rows[:, [2, 4]] = np.clip(rows[:, [2, 4]], 0, size[1])
    return rows[np.argsort(rows[:, 0], kind="stable")]


def write_csv(rows: np.ndarray, path: Path) -> None:
    """The detections as `replay --detections` reads them."""
    with path.open("w") as f:
        f.write("frame,x1,y1,x2,y2,score\n")
        for r in rows:
            f.write(f"{int(r[0])},{r[1]:.1f},{r[2]:.1f},{r[3]:.1f},{r[4]:.1f},{r[5]:.3f}\n")
