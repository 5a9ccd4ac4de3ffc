"""Real video clips for the camera tests, made on the fly: a photographed person walking through the frame.

The person is the astronaut from scikit-image's photographs (cropped to her, without the helmet), which
the shipped detector finds reliably; the clip is written with OpenCV's own encoder (MJPG in AVI), so
decoding it exercises the same capture path as a recorded camera clip.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from skimage import data as photos

WIDTH, HEIGHT = 640, 400
PERSON_W, PERSON_H = 207, 298
FLOOR = 20  # pixels of floor below the feet, so the feet stay inside the frame (and on the line)
LINE = "[[320, 0], [320, 400]]"


def person() -> np.ndarray:
    """The astronaut from scikit-image's photographs, cropped to her (no helmet) and scaled down."""
    bgr = cv2.cvtColor(photos.astronaut(), cv2.COLOR_RGB2BGR)[15:512, 20:365]
    return cv2.resize(bgr, (PERSON_W, PERSON_H), interpolation=cv2.INTER_AREA)


def write_walk(path: Path, fps: int = 20, step: int = 16, pause: int = 10, length: int | None = None) -> int:
    """An MJPG clip of one person walking left to right across the frame and back, pausing `pause` frames at
    both ends; with `length`, only its first `length` frames."""
    figure = person()
    right = WIDTH - PERSON_W
    xs = [0] * pause + list(range(0, right, step)) + [right] * pause + list(range(right, -1, -step)) + [0] * pause
    xs = xs[:length]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for x in xs:
        frame = np.full((HEIGHT, WIDTH, 3), 120, np.uint8)
        frame[HEIGHT - FLOOR - PERSON_H : HEIGHT - FLOOR, x : x + PERSON_W] = figure
        writer.write(frame)
    writer.release()
    return len(xs)


def read_frames(path: Path) -> list[np.ndarray]:
    """Every frame of a clip, decoded by OpenCV."""
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok or frame is None:
            break
        frames.append(frame)
    capture.release()
    return frames
