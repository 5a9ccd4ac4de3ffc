"""A small synthetic shop door seen from an elevated camera: exact full-body boxes of people queueing through
it in both directions, for the noise-class tests (each failure of tests/vision/detector_noise.py on top).

People walk in two columns through the door (down the image, "in") and leave in a third column (up, "out"),
close enough that boxes of neighbours and of people one behind the other overlap (IoU 0.1-0.3), at 10 fps
like the agent's camera. Every person crosses the door line once, so the truth is the number of people
per direction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIZE = (640, 480)
FPS = 10.0
LINE = [(60.0, 240.0), (580.0, 240.0)]
INSIDE = (320.0, 400.0)
BOX_W, BOX_H = 40.0, 100.0


@dataclass(frozen=True)
class DoorWalk:
    """Exact boxes, one row per person-frame, and the true (in, out)."""

    pid: np.ndarray
    frame: np.ndarray
    boxes: np.ndarray
    truth: tuple[int, int]


def door_walk(seed: int, ins: int = 10, outs: int = 4) -> DoorWalk:
    """`ins` people in two columns walking down through the line, `outs` walking up beside them."""
    rng = np.random.default_rng(seed)
    pid, frame, boxes = [], [], []
    for i in range(ins + outs):
        going_in = i < ins
        column = (i % 2) if going_in else 2
        x0 = 270.0 + 30.0 * column + rng.normal(0, 3)
        speed = rng.uniform(8.0, 12.0) * (1 if going_in else -1)  # px per frame: ~1 m/s at 10 fps
        start = (i // 2) * 7 + rng.integers(0, 3) if going_in else 10 + (i - ins) * 12
        y0 = 60.0 if going_in else 440.0
        n = int(380 / abs(speed))
        t = np.arange(n)
        feet_y = y0 + speed * t
        x = x0 + 4.0 * np.sin(t * 0.6 + i)  # body sway
        pid += [i] * n
        frame += (start + t).tolist()
        boxes.append(np.column_stack([x - BOX_W / 2, feet_y - BOX_H, x + BOX_W / 2, feet_y]))
    return DoorWalk(np.array(pid), np.array(frame), np.concatenate(boxes), (ins, outs))
