"""Real video of a crowd with known counts: photographed people composited along real trajectories.

The trajectories are real (tests/trajectories.py: people tracked in published crowd experiments), and so
are the people: crops of the two photographs of people in scikit-image (the astronaut, and the cameraman,
a grayscale photo), each person given a look of their own (which photo, mirrored or not, brightness, the
suit's hue, a little taller or shorter; see `dress`). Each person's crop stands with its bottom-centre on
their projected floor position, scaled with depth, on a plain floor, and nearer people are drawn over
farther ones, so people hide each other as they pass or queue. The clip is written with OpenCV (MJPG in
AVI) and read back by the camera path like any recorded clip.

Camera: a pinhole camera beside the walkway, 2.5 m up, pitched down, looking across the walking direction
from 6 m in front of the near edge, so people walk left and right through the frame; it is centred on the
counting line, which therefore projects to the vertical image line x = width / 2 at every depth, and the
side of a person's feet in the image is their side in the world. Persons at mid depth are about 60% of the
frame height, the size at which the shipped detector finds these photos reliably (smaller, it misses
many); near ones are bigger.

The truth is computed from the positions actually drawn (the trajectory sampled at the clip's frame rate),
not taken from a table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from skimage import data as photos

from tests.trajectories import Person, Recording, crossing_steps

WIDTH, HEIGHT = 640, 480
CAMERA_HEIGHT_M = 2.5
NEAR_DISTANCE_M = 6.0
VIEW_WIDTH_M = 4.0  # floor width seen across the frame at mid depth
NEAR_FEET_ROW = 0.95  # where the feet of the nearest people are, as a fraction of the frame height
FLOOR_GRAY = 120


@dataclass(frozen=True)
class Camera:
    """Pinhole camera looking across a recording's walking direction; image right is the +axis side."""

    axis: int  # world coordinate across the counting line (the walking direction)
    near: float  # world coordinate along the line of the walkway edge nearest to the camera
    towards: int  # +1 or -1: the direction along the line in which depth grows
    focal: float  # pixels
    pitch: float  # radians below the horizon

    @classmethod
    def beside(cls, rec: Recording, people: list[Person]) -> Camera:
        """The camera for a recording: on the side where, looking across the walkway, +axis is on the right."""
        along = np.concatenate([p.pos[:, 1 - rec.axis] for p in people])
        lo, hi = float(along.min()), float(along.max())
        # looking along +y, +x is on the right; looking along +x, +y is on the right only when looking along -x
        near, towards = (lo, +1) if rec.axis == 0 else (hi, -1)
        mid_depth = NEAR_DISTANCE_M + (hi - lo) / 2
        focal = WIDTH * mid_depth / VIEW_WIDTH_M
        below_axis = math.atan((NEAR_FEET_ROW * HEIGHT - HEIGHT / 2) / focal)
        pitch = math.atan(CAMERA_HEIGHT_M / NEAR_DISTANCE_M) - below_axis
        return cls(rec.axis, near, towards, focal, pitch)

    def project(self, pos: np.ndarray, z: np.ndarray | float = 0.0) -> np.ndarray:
        """World floor positions (N, 2) at height z (metres) -> image points (N, 2) in pixels."""
        across = pos[:, self.axis]
        forward = NEAR_DISTANCE_M + (pos[:, 1 - self.axis] - self.near) * self.towards
        up = np.asarray(z, dtype=float) - CAMERA_HEIGHT_M
        zc = forward * math.cos(self.pitch) - up * math.sin(self.pitch)
        yc = forward * math.sin(self.pitch) + up * math.cos(self.pitch)
        return np.stack([WIDTH / 2 + self.focal * across / zc, HEIGHT / 2 - self.focal * yc / zc], axis=1)

    def depth(self, pos: np.ndarray) -> np.ndarray:
        """Horizontal distance from the camera, for drawing far people first."""
        return NEAR_DISTANCE_M + (pos[:, 1 - self.axis] - self.near) * self.towards


def line_points() -> list[list[int]]:
    """The counting line in pixels: the image of the world line through the camera's centre column."""
    return [[WIDTH // 2, 0], [WIDTH // 2, HEIGHT]]


def in_direction(rec: Recording) -> str:
    """The image direction of an "in": +axis is on the right of the image."""
    return "right" if rec.in_sign > 0 else "left"


def photographs() -> list[np.ndarray]:
    """The two photographed people, cropped to the person: the astronaut (colour) and the cameraman (gray)."""
    astronaut = cv2.cvtColor(photos.astronaut(), cv2.COLOR_RGB2BGR)[15:512, 20:365]
    cameraman = cv2.cvtColor(photos.camera(), cv2.COLOR_GRAY2BGR)[40:512, 0:335]
    return [astronaut, cameraman]


def dress(person_id: int, seed: int, bases: list[np.ndarray]) -> tuple[np.ndarray, float]:
    """One person's look (a varied photo) and height factor, the same for the same id and seed.

    The variations stay within what the shipped detector was measured to see in these photos (alone,
    200-240 px tall, on this floor): the astronaut with her suit's hue turned from orange towards red and
    pink (found in 95-100% of frames; turned towards yellow or green, in under 10%), the cameraman in gray
    (97%; tinted reddish, 36%). `bench/video_accuracy.py --looks` prints these rates.
    """
    rng = np.random.default_rng([seed, person_id])
    which = int(rng.integers(len(bases)))
    img = bases[which]
    if rng.random() < 0.5:
        img = img[:, ::-1]
    if which == 0:  # colour photo: the suit's hue turned towards red
        hsv = cv2.cvtColor(np.ascontiguousarray(img), cv2.COLOR_BGR2HSV).astype(np.int16)
        hsv[:, :, 0] = (hsv[:, :, 0] + int(rng.integers(-30, -4))) % 180
        img = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)
    img = np.clip(img.astype(np.float32) * rng.uniform(0.9, 1.1), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(img), float(rng.normal(1.0, 0.04))


def floor() -> np.ndarray:
    """A plain gray floor: a real texture (scikit-image's gravel photo, even at low contrast) was measured to
    halve the rate at which the detector finds the cameraman, which would test the photo, not the counting."""
    return np.full((HEIGHT, WIDTH, 3), FLOOR_GRAY, np.uint8)


@dataclass(frozen=True)
class CrowdClip:
    """A written clip and what a counter should find in it: each crossing drawn, with its clip time."""

    path: Path
    frames: int
    fps: float
    people: int
    crossings: tuple[tuple[float, str], ...]  # (seconds from the clip's start, "in" or "out"), in time order

    @property
    def truth_in(self) -> int:
        return sum(1 for _, d in self.crossings if d == "in")

    @property
    def truth_out(self) -> int:
        return sum(1 for _, d in self.crossings if d == "out")


def pick(people: list[Person], every: int, offset: int = 0, window: tuple[int, int] | None = None) -> list[Person]:
    """Every `every`-th person (by id, from the `offset`-th), of those whose whole track lies in `window`
    (trajectory frames): a sparser crowd made of whole, real walks."""
    inside = [p for p in people if window is None or (window[0] <= p.frames[0] and p.frames[-1] <= window[1])]
    return inside[offset::every]


def sample(people: list[Person], first: int, last: int, step: int) -> list[Person]:
    """The people seen between trajectory frames first..last, every `step`-th frame from `first`."""
    out = []
    for p in people:
        keep = (p.frames >= first) & (p.frames <= last) & ((p.frames - first) % step == 0)
        if keep.any():
            out.append(Person(p.id, p.frames[keep], p.pos[keep], p.height_m))
    return out


def truth(rec: Recording, drawn: list[Person], first: int, fps: float, step: int) -> tuple[tuple[float, str], ...]:
    """Every crossing of the line by the positions drawn, with its clip time (the first frame past it)."""
    events = []
    for p in drawn:
        for i, sign in crossing_steps(p.pos[:, rec.axis]):
            direction = "in" if sign == rec.in_sign else "out"
            events.append(((int(p.frames[i]) - first) / step / fps, direction))
    return tuple(sorted(events))


def write_crowd(
    path: Path,
    rec: Recording,
    people: list[Person],
    camera: Camera,
    step: int = 2,
    seed: int = 0,
    window: tuple[int, int] | None = None,
) -> CrowdClip:
    """Write the clip of `people` (all of them, or what is seen of them in the trajectory-frame `window`) at
    25/step fps. The truth counts the crossings of the positions drawn: those of the sampled frames.
    """
    first = window[0] if window else min(int(p.frames[0]) for p in people)
    last = window[1] if window else max(int(p.frames[-1]) for p in people)
    drawn = sample(people, first, last, step)
    bases = photographs()
    looks = {p.id: dress(p.id, seed, bases) for p in drawn}
    feet = {p.id: camera.project(p.pos) for p in drawn}
    tall = {p.id: feet[p.id][:, 1] - camera.project(p.pos, p.height_m * looks[p.id][1])[:, 1] for p in drawn}
    depth = {p.id: camera.depth(p.pos) for p in drawn}
    photo = {p.id: shrink(looks[p.id][0], float(tall[p.id].max())) for p in drawn}  # resizing per frame is cheaper
    background = floor()
    n_frames = (last - first) // step + 1
    fps = 25.0 / step
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (WIDTH, HEIGHT))
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write {path}")
    try:
        for k in range(n_frames):
            f = first + k * step
            frame = background.copy()
            here = []
            for p in drawn:
                i = (f - int(p.frames[0])) // step
                if 0 <= i < len(p.frames) and p.frames[i] == f:
                    here.append((float(depth[p.id][i]), p.id, i))
            for _, pid, i in sorted(here, reverse=True):
                paste(frame, photo[pid], feet[pid][i], float(tall[pid][i]))
            writer.write(frame)
    finally:
        writer.release()
    return CrowdClip(path, n_frames, fps, len(drawn), truth(rec, drawn, first, fps, step))


def shrink(look: np.ndarray, height: float) -> np.ndarray:
    """The photo scaled down to `height` pixels (aspect kept), if it is taller."""
    h = max(2, math.ceil(height))
    if h >= look.shape[0]:
        return look
    return cv2.resize(look, (max(2, round(h * look.shape[1] / look.shape[0])), h), interpolation=cv2.INTER_AREA)


def paste(frame: np.ndarray, look: np.ndarray, foot: np.ndarray, height: float) -> None:
    """Draw a person's photo with its bottom-centre on `foot`, `height` pixels tall, clipped to the frame."""
    h = max(2, round(height))
    w = max(2, round(h * look.shape[1] / look.shape[0]))
    x0, y0 = round(foot[0] - w / 2), round(foot[1]) - h
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + w, frame.shape[1]), min(y0 + h, frame.shape[0])
    if fx1 <= fx0 or fy1 <= fy0:
        return
    img = cv2.resize(look, (w, h), interpolation=cv2.INTER_AREA)
    frame[fy0:fy1, fx0:fx1] = img[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]


def camera_sensor_yaml(clip: CrowdClip, rec: Recording, model: str = "int8", detector: str | None = None) -> str:
    """The camera sensor (an agent config's `sensors:` entry) that counts the clip on its line, with the given
    detector `type` (None: the camera default)."""
    kind = f"type: {detector}, " if detector else ""
    return (
        f"  - id: cam\n    type: camera\n    source: '{clip.path}'\n    fps: {clip.fps}\n"
        f"    detector: {{{kind}model: {model}}}\n"
        f"    counting:\n      lines:\n"
        f"        - {{name: door, points: {line_points()}, in_direction: {in_direction(rec)}}}\n"
    )
