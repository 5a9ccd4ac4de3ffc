"""A constant-velocity Kalman filter of a person's box (cx, cy, w, h), unrolled into plain float arithmetic.

The textbook filter has the state x = (cx, cy, w, h, v_cx, v_cy, v_w, v_h), the transition F = [[I, I], [0, I]]
(each velocity added to its coordinate once a frame), the measurement H = [I, 0] (a detected box), and
diagonal process noise Q, measurement noise R and initial covariance P, all scaling with the box (the weights
ByteTrack and DeepSORT use). Predict is x' = F x, P' = F P F^T + Q; update with a box z is S = H P H^T + R,
K = P H^T S^-1, x' = x + K (z - H x), P' = (I - K H) P.

With these matrices P never couples two coordinates: it stays four symmetric 2x2 blocks, one per coordinate
(position variance pp, covariance pv, velocity variance vv), and the 8-state filter is exactly four
independent position/velocity filters. A filter is therefore 20 floats (`Filter`), and `predict` and
`correct` write out the products of those 2x2 blocks: a frame has a handful to a few dozen tracks, where
numpy's cost per call on 8x8 matrices would be most of the work. tests/vision/test_kalman.py checks them
against the matrix form.

Pure: no I/O, no threads.
"""

from __future__ import annotations

from collections.abc import Sequence

# Process and measurement noise as fractions of the box size (the weights ByteTrack and DeepSORT use).
STD_POSITION = 1.0 / 20.0
STD_VELOCITY = 1.0 / 160.0

Filter = tuple[float, ...]
"""A Kalman filter of a box, 20 floats: the box (centre x, y and size w, h), their velocities, then for each
of the four the position variance pp, the position-velocity covariance pv and the velocity variance vv."""


def initial(box: Sequence[float]) -> Filter:
    """A new track's filter: at the detected box (xyxy), at rest, with a spread that scales with the box."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    sw, sh = abs(w), abs(h)
    sw, sh = (sw if sw > 1.0 else 1.0), (sh if sh > 1.0 else 1.0)
    pw, ph = 2 * STD_POSITION * sw, 2 * STD_POSITION * sh
    vw, vh = 10 * STD_VELOCITY * sw, 10 * STD_VELOCITY * sh
    pw, ph, vw, vh = pw * pw, ph * ph, vw * vw, vh * vh
    return (x1 + w * 0.5, y1 + h * 0.5, w, h, 0.0, 0.0, 0.0, 0.0, pw, ph, pw, ph, 0.0, 0.0, 0.0, 0.0, vw, vh, vw, vh)


def predict(f: Filter) -> Filter:
    """One frame of the constant-velocity model, for each coordinate (x, y: the box centre; w, h: its size).

    F = [[1, 1], [0, 1]] on each coordinate's (position, velocity): x' = x + v, and P' = F P F^T + Q on its
    block [[pp, pv], [pv, vv]] is pp' = pp + 2 pv + vv + q_pos, pv' = pv + vv, vv' = vv + q_vel. The noise
    scales with the box: x and w with its width, y and h with its height (a near, large person jitters by more
    pixels than a far one). Sizes stay at least one pixel: a shrinking box extrapolated through a long gap
    must not turn inside out.
    """
    x, y, w, h, vx, vy, vw, vh, pp_x, pp_y, pp_w, pp_h, pv_x, pv_y, pv_w, pv_h, vv_x, vv_y, vv_w, vv_h = f
    sw, sh = abs(w), abs(h)
    sw, sh = (sw if sw > 1.0 else 1.0), (sh if sh > 1.0 else 1.0)
    qw, qh = STD_POSITION * sw, STD_POSITION * sh  # q_pos = qw^2 for x and w, qh^2 for y and h
    qw, qh = qw * qw, qh * qh
    rw, rh = STD_VELOCITY * sw, STD_VELOCITY * sh  # q_vel
    rw, rh = rw * rw, rh * rh
    w, h = w + vw, h + vh
    return (
        x + vx,
        y + vy,
        w if w > 1.0 else 1.0,
        h if h > 1.0 else 1.0,
        vx,
        vy,
        vw,
        vh,
        pp_x + (2.0 * pv_x + vv_x + qw),
        pp_y + (2.0 * pv_y + vv_y + qh),
        pp_w + (2.0 * pv_w + vv_w + qw),
        pp_h + (2.0 * pv_h + vv_h + qh),
        pv_x + vv_x,
        pv_y + vv_y,
        pv_w + vv_w,
        pv_h + vv_h,
        vv_x + rw,
        vv_y + rh,
        vv_w + rw,
        vv_h + rh,
    )


def correct(f: Filter, z: Sequence[float], r: Sequence[float]) -> Filter:
    """The update with a measured box `z` (x, y, w, h; centre and size) of noise variances `r`.

    Per coordinate (see `predict`), H = [1, 0]: S = pp + r, the gain K = (pp, pv) / S = (kx, kv), the state
    moves by K e for the innovation e = z - x, and P' = (I - K H) P is pp' = pp - kx pp, pv' = pv - kx pv,
    vv' = vv - kv pv.
    """
    x, y, w, h, vx, vy, vw, vh, pp_x, pp_y, pp_w, pp_h, pv_x, pv_y, pv_w, pv_h, vv_x, vv_y, vv_w, vv_h = f
    z_x, z_y, z_w, z_h = z
    r_x, r_y, r_w, r_h = r
    s_x, s_y, s_w, s_h = pp_x + r_x, pp_y + r_y, pp_w + r_w, pp_h + r_h
    kx_x, kx_y, kx_w, kx_h = pp_x / s_x, pp_y / s_y, pp_w / s_w, pp_h / s_h
    kv_x, kv_y, kv_w, kv_h = pv_x / s_x, pv_y / s_y, pv_w / s_w, pv_h / s_h
    e_x, e_y, e_w, e_h = z_x - x, z_y - y, z_w - w, z_h - h
    return (
        x + kx_x * e_x,
        y + kx_y * e_y,
        w + kx_w * e_w,
        h + kx_h * e_h,
        vx + kv_x * e_x,
        vy + kv_y * e_y,
        vw + kv_w * e_w,
        vh + kv_h * e_h,
        pp_x - kx_x * pp_x,
        pp_y - kx_y * pp_y,
        pp_w - kx_w * pp_w,
        pp_h - kx_h * pp_h,
        pv_x - kx_x * pv_x,
        pv_y - kx_y * pv_y,
        pv_w - kx_w * pv_w,
        pv_h - kx_h * pv_h,
        vv_x - kv_x * pv_x,
        vv_y - kv_y * pv_y,
        vv_w - kv_w * pv_w,
        vv_h - kv_h * pv_h,
    )


def measurement_noise(f: Filter) -> tuple[float, float, float, float]:
    """The variances R of a box measured for the filter `f`, per coordinate (cx, cy, w, h): proportional to
    the predicted size, as the process noise (see `predict`)."""
    sw, sh = abs(f[2]), abs(f[3])
    sw, sh = (sw if sw > 1.0 else 1.0), (sh if sh > 1.0 else 1.0)
    rw, rh = STD_POSITION * sw, STD_POSITION * sh
    rw, rh = rw * rw, rh * rh
    return (rw, rh, rw, rh)


def box(f: Filter) -> tuple[float, float, float, float]:
    """The filter's box, xyxy."""
    cx, cy = f[0], f[1]
    hw, hh = abs(f[2]) * 0.5, abs(f[3]) * 0.5
    return (cx - hw, cy - hh, cx + hw, cy + hh)
