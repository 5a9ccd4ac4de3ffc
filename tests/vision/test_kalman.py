"""The unrolled filter against the textbook matrix form: the same constant-velocity Kalman filter, to 1e-9."""

from __future__ import annotations

import numpy as np
import pytest

from agent.vision.kalman import STD_POSITION, STD_VELOCITY, Filter, box, correct, initial, measurement_noise, predict

F = np.block([[np.eye(4), np.eye(4)], [np.zeros((4, 4)), np.eye(4)]])
H = np.hstack([np.eye(4), np.zeros((4, 4))])


def matrices(f: Filter) -> tuple[np.ndarray, np.ndarray]:
    """The 8-state mean and the 8x8 covariance that the 20 floats stand for."""
    a = np.array(f, dtype=float)
    pp, pv, vv = np.diag(a[8:12]), np.diag(a[12:16]), np.diag(a[16:20])
    return a[:8], np.block([[pp, pv], [pv, vv]])


def random_filter(rng: np.random.Generator) -> Filter:
    """A filter with a positive definite covariance (every 2x2 block) and sizes of a few to a few hundred
    pixels, some below the one-pixel floor of the noise."""
    x = np.concatenate([rng.uniform(-100, 700, 2), rng.uniform(0.2, 300, 2), rng.normal(0, 5, 4)])
    pp = rng.uniform(0.5, 400, 4)
    vv = rng.uniform(0.01, 50, 4)
    pv = rng.uniform(-0.9, 0.9, 4) * np.sqrt(pp * vv)
    return tuple(np.concatenate([x, pp, pv, vv]).tolist())


def noise_scale(w: float, h: float) -> np.ndarray:
    """Per coordinate (x, y, w, h): the box size its noise scales with, at least one pixel."""
    return np.maximum(np.abs([w, h, w, h]), 1.0)


def close(a: np.ndarray, b: np.ndarray) -> bool:
    return np.allclose(a, b, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_predict_is_the_matrix_form(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(200):
        f = random_filter(rng)
        x, p = matrices(f)
        s = noise_scale(x[2], x[3])
        q = np.diag(np.concatenate([(STD_POSITION * s) ** 2, (STD_VELOCITY * s) ** 2]))
        want_x, want_p = F @ x, F @ p @ F.T + q
        want_x[2:4] = np.maximum(want_x[2:4], 1.0)
        got_x, got_p = matrices(predict(f))
        assert close(got_x, want_x)
        assert close(got_p, want_p)


@pytest.mark.parametrize("seed", range(5))
def test_correct_is_the_matrix_form(seed: int) -> None:
    rng = np.random.default_rng(100 + seed)
    for _ in range(200):
        f = random_filter(rng)
        x, p = matrices(f)
        z = H @ x + rng.normal(0, 10, 4)
        r = np.array(measurement_noise(f)) * rng.choice([1.0, 9.0], 4)
        s = H @ p @ H.T + np.diag(r)
        k = p @ H.T @ np.linalg.inv(s)
        want_x, want_p = x + k @ (z - H @ x), (np.eye(8) - k @ H) @ p
        got_x, got_p = matrices(correct(f, z.tolist(), r.tolist()))
        assert close(got_x, want_x)
        assert close(got_p, want_p)
        assert close(got_p, got_p.T)


def test_measurement_noise_scales_with_the_predicted_box() -> None:
    f = initial([10.0, 20.0, 50.0, 100.0])
    assert measurement_noise(f) == pytest.approx(tuple((STD_POSITION * noise_scale(40.0, 80.0)) ** 2))
    tiny = initial([10.0, 20.0, 10.5, 20.25])
    assert measurement_noise(tiny) == pytest.approx((STD_POSITION**2,) * 4)


def test_initial_filter_is_the_box_at_rest() -> None:
    f = initial([10.0, 20.0, 50.0, 100.0])
    x, p = matrices(f)
    assert x.tolist() == [30.0, 60.0, 40.0, 80.0, 0.0, 0.0, 0.0, 0.0]
    s = noise_scale(40.0, 80.0)
    want = np.diag(np.concatenate([(2 * STD_POSITION * s) ** 2, (10 * STD_VELOCITY * s) ** 2]))
    assert close(p, want)
    assert box(f) == (10.0, 20.0, 50.0, 100.0)


def test_a_shrinking_box_keeps_a_size_of_one_pixel() -> None:
    f = initial([0.0, 0.0, 4.0, 4.0])
    f = (*f[:6], -3.0, -5.0, *f[8:])
    for _ in range(3):
        f = predict(f)
    assert f[2:4] == (1.0, 1.0)
    x1, y1, x2, y2 = box(f)
    assert (x2 - x1, y2 - y1) == (1.0, 1.0)
