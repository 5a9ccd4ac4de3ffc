"""Plane geometry for counting: signed distances to polylines and polygons, box anchors.

Everything is vectorised over many points at once because the counters evaluate every visible track on
every frame; a Python loop per track and segment would dominate the frame budget on a small device.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from agent.config.counting import Anchor

_EPS = 1e-12


def anchor_points(boxes: np.ndarray, anchor: Anchor) -> np.ndarray:
    """The point of each xyxy box that stands for the person: feet for a side view, head for overhead."""
    boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
    cx = (boxes[:, 0] + boxes[:, 2]) * 0.5
    if anchor == "bottom-center":
        y = boxes[:, 3]
    elif anchor == "top-center":
        y = boxes[:, 1]
    else:
        y = (boxes[:, 1] + boxes[:, 3]) * 0.5
    return np.stack([cx, y], axis=1)


def _clean_vertices(points: Sequence[Sequence[float]], minimum: int, what: str) -> np.ndarray:
    """Drop repeated consecutive vertices: a zero-length segment has no direction and no side."""
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    if len(pts) == 0:
        raise ValueError(f"a {what} needs at least {minimum} distinct points")
    keep = np.ones(len(pts), dtype=bool)
    keep[1:] = np.any(np.abs(np.diff(pts, axis=0)) > _EPS, axis=1)
    pts = pts[keep]
    if len(pts) < minimum:
        raise ValueError(f"a {what} needs at least {minimum} distinct points")
    return pts


def _nearest_on_segments(p: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distance of each point to each segment, the unclamped projection parameter, and the cross product.

    Shapes: p (N,2), a and b (S,2) -> three (N,S) arrays.
    """
    dx, dy = b[:, 0] - a[:, 0], b[:, 1] - a[:, 1]
    length2 = np.maximum(dx * dx + dy * dy, _EPS)
    rx = p[:, 0:1] - a[:, 0]
    ry = p[:, 1:2] - a[:, 1]
    t = (rx * dx + ry * dy) / length2
    tc = np.clip(t, 0.0, 1.0)
    dist = np.hypot(rx - tc * dx, ry - tc * dy)
    cross = dx * ry - dy * rx
    return dist, t, cross


class Polyline:
    """An open polyline with two sides, for counting crossings.

    The side of a point is taken from the nearest segment. Where the nearest point is a shared vertex, the
    point lies in the wedge between the two segments' normals on the convex side, where both segments give
    the same sign, so picking either is consistent. A point whose nearest point is one of the two outer ends
    (beyond the line's extent) has no side: somebody walking past the end of a door line did not cross it.
    """

    def __init__(self, points: Sequence[Sequence[float]]) -> None:
        self.points = _clean_vertices(points, 2, "line")
        self._a = self.points[:-1]
        self._b = self.points[1:]
        self._lengths = np.hypot(*(self._b - self._a).T)

    def signed_distance(self, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(distance signed by side, within the extent?) for each point.

        Positive is the right-hand side of the drawing direction as seen on screen (image y grows downwards).
        """
        p = np.asarray(p, dtype=float).reshape(-1, 2)
        if len(p) == 0:
            return np.zeros(0), np.zeros(0, dtype=bool)
        dist, t, cross = _nearest_on_segments(p, self._a, self._b)
        if len(self._a) == 1:  # a straight line: no choice of segment
            nearest_t, d, c = t[:, 0], dist[:, 0], cross[:, 0]
            within = (nearest_t >= 0.0) & (nearest_t <= 1.0)
            return np.where(c >= 0.0, d, -d), within
        # Among equally near segments (a point level with a vertex) take the one the point is most clearly
        # beside: on the extension of one segment its cross product is 0 and says nothing about the side.
        near = dist <= dist.min(axis=1, keepdims=True) + 1e-9
        perpendicular = np.abs(cross) / self._lengths
        k = np.argmax(np.where(near, perpendicular, -1.0), axis=1)
        rows = np.arange(len(p))
        nearest_t = t[rows, k]
        last = len(self._a) - 1
        within = ~(((k == 0) & (nearest_t < 0.0)) | ((k == last) & (nearest_t > 1.0)))
        sign = np.where(cross[rows, k] >= 0.0, 1.0, -1.0)
        return sign * dist[rows, k], within

    def side_of(self, point: Sequence[float]) -> int:
        """+1 on the positive side (see `signed_distance`), -1 on the other, 0 on the line."""
        d, _ = self.signed_distance(np.asarray(point, dtype=float).reshape(1, 2))
        if abs(d[0]) <= _EPS:
            return 0
        return 1 if d[0] > 0 else -1

    def side_of_direction(self, direction: Sequence[float]) -> int:
        """Which side a step in `direction` from the line leads to, judged against the chord end to end."""
        chord = self.points[-1] - self.points[0]
        cross = chord[0] * direction[1] - chord[1] * direction[0]
        norm = float(np.hypot(*chord) * np.hypot(*direction))
        if norm <= _EPS or abs(cross) / norm < 0.2:
            return 0
        return 1 if cross > 0 else -1


class Polygon:
    """A closed polygon (zone); signed distance to its boundary is positive inside."""

    def __init__(self, points: Sequence[Sequence[float]]) -> None:
        pts = _clean_vertices(points, 3, "zone")
        if len(pts) > 3 and np.all(np.abs(pts[0] - pts[-1]) <= _EPS):
            pts = pts[:-1]
        if len(pts) < 3:
            raise ValueError("a zone needs at least 3 distinct points")
        area2 = float(np.sum(pts[:, 0] * np.roll(pts[:, 1], -1) - np.roll(pts[:, 0], -1) * pts[:, 1]))
        if abs(area2) <= _EPS:
            raise ValueError("a zone must enclose an area (its points are collinear)")
        self.points = pts
        self._a = pts
        self._b = np.roll(pts, -1, axis=0)

    def contains(self, p: np.ndarray) -> np.ndarray:
        """Even-odd rule, so that a self-touching outline still behaves predictably."""
        p = np.asarray(p, dtype=float).reshape(-1, 2)
        ax, ay = self._a[:, 0], self._a[:, 1]
        bx, by = self._b[:, 0], self._b[:, 1]
        px, py = p[:, 0:1], p[:, 1:2]
        straddles = (ay > py) != (by > py)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_at = ax + (py - ay) * (bx - ax) / (by - ay)
        hits = straddles & (px < x_at)
        return (np.count_nonzero(hits, axis=1) % 2) == 1

    def signed_distance(self, p: np.ndarray) -> np.ndarray:
        """Distance to the outline, positive inside, negative outside."""
        p = np.asarray(p, dtype=float).reshape(-1, 2)
        if len(p) == 0:
            return np.zeros(0)
        dist, _, _ = _nearest_on_segments(p, self._a, self._b)
        d = dist.min(axis=1)
        return np.where(self.contains(p), d, -d)
