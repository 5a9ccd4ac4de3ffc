"""Hand-made track snapshots for the counter tests: each frame says exactly where a person's anchor was."""

from __future__ import annotations

from agent.vision.tracking import Track, TrackState

FPS = 25.0
BOX_W, BOX_H = 20.0, 40.0


def track(tid: int, x: float, y: float, state: TrackState = TrackState.CONFIRMED, since: int = 0) -> Track:
    """A track whose bottom-centre anchor is at (x, y)."""
    return Track(tid, state, (x - BOX_W / 2, y - BOX_H, x + BOX_W / 2, y), 0.9, 5, since, 0, 0)


# One frame is {track id: (x, y)}, or {track id: (x, y, state)} or {track id: (x, y, state, frames since seen)}.
Frame = dict[int, tuple]


def walk(tid: int, x: float, ys: list[float], state: TrackState = TrackState.CONFIRMED) -> list[Frame]:
    return [{tid: (x, y, state)} for y in ys]


def lost(tid: int, x: float, y: float, frames: int) -> list[Frame]:
    """The tracker keeps reporting a lost track (with its predicted box) for `frames` frames."""
    return [{tid: (x, y, TrackState.LOST, k + 1)} for k in range(frames)]


def merge(*sequences: list[Frame]) -> list[Frame]:
    """Frame-by-frame union of several people's frames (sequences padded with empty frames)."""
    length = max(len(s) for s in sequences)
    out: list[Frame] = [{} for _ in range(length)]
    for seq in sequences:
        for i, frame in enumerate(seq):
            out[i].update(frame)
    return out


def steps(a: float, b: float, step: float = 5.0) -> list[float]:
    n = int(round(abs(b - a) / step))
    return [a + (b - a) * i / n for i in range(n + 1)]


# An anchor wobbling around y = 100 (the door line of the tests) by up to 4 px.
JITTER = [97.0, 103.0, 98.0, 102.0, 96.0, 104.0] * 8
