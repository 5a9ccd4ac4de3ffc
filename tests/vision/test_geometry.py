"""Signed distances to polylines and polygons: the sides the counters take."""

from __future__ import annotations

import numpy as np
import pytest

from agent.vision.geometry import Polygon, Polyline


@pytest.mark.parametrize(
    ("point", "distance", "within"),
    [
        ((50, 90), -10.0, True),  # above the first segment (drawn rightwards): its left on screen, negative
        ((50, 110), 10.0, True),
        ((150, 150), -50.0, True),  # right of the second segment (drawn downwards): its left on screen
        ((110, 90), -(10.0 * 2**0.5), True),  # outer corner wedge: nearest is the vertex, sign agrees
        ((150, 100), -50.0, True),  # level with the vertex, on the first segment's extension
        ((-5, 100), 5.0, False),  # before the first end
        ((100, 230), 30.0, False),  # past the last end
    ],
)
def test_polyline_signed_distance(point: tuple[float, float], distance: float, within: bool) -> None:
    line = Polyline([(0, 100), (100, 100), (100, 200)])
    d, w = line.signed_distance(np.array([point], dtype=float))
    assert w[0] == within
    assert d[0] == pytest.approx(distance) if within else abs(d[0]) == pytest.approx(distance)


def test_polyline_sides_are_consistent_around_a_corner() -> None:
    line = Polyline([(0, 100), (100, 100), (100, 200)])
    inner = [(50, 150), (90, 110), (95, 190), (10, 120)]
    outer = [(50, 80), (120, 90), (150, 150), (130, 60)]
    d_in, _ = line.signed_distance(np.array(inner, dtype=float))
    d_out, _ = line.signed_distance(np.array(outer, dtype=float))
    assert len(set(np.sign(d_in))) == 1 and len(set(np.sign(d_out))) == 1
    assert np.sign(d_in[0]) == -np.sign(d_out[0])


def test_polygon_signed_distance() -> None:
    square = Polygon([(0, 0), (100, 0), (100, 100), (0, 100)])
    d = square.signed_distance(np.array([(50, 50), (10, 50), (-10, 50), (150, 150)], dtype=float))
    assert d.tolist() == pytest.approx([50.0, 10.0, -10.0, -50.0 * 2**0.5])
