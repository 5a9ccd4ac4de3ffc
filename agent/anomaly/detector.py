"""Online anomaly z-scores and sensor-fault detection for interval counts (pure: no I/O, no threads).

One `AnomalyDetector` follows one count series (one sensor and one metric, e.g. `ins`). For each closed
interval `update()` returns the count it expected, a z-score and two separate verdicts, because an
operations team acts differently on them: a *traffic anomaly* (people really behaved unusually) and a
*sensor fault* (the data looks like a broken sensor: zeros where it is normally busy, a flat-lined
counter, no data at all). The score of an interval uses only what came before it.

The model, and why:

- Expected count = weekly profile x level. The profile holds one value per interval-of-week (168 for
  hourly data), so the weekly cycle (Saturday afternoon is not Monday morning) is learned directly; it
  follows drifts over weeks (`profile_halflife_weeks`). The level is the recent ratio of data to profile
  and follows a change within hours (`level_halflife_hours`); once an anomaly has been flagged it catches
  up within a few intervals, so a lasting change alarms at its start and not for days.
- Residuals are measured on the axis `asinh(sqrt(count / 100))`: square-root-like for small counts
  (Poisson noise, so the quiet hours of the night do not explode) and log-like for large ones (people
  come in groups and with the weather, so busy hours vary proportionally). The noise is an
  overdispersed-Poisson variance `d*mu + c2*mu^2`, with d and c2 fitted per sensor from clipped squared
  residuals, times a per-interval-of-week multiplier learned only from intervals near their expectation.
- z is measured from the nearer end of the range between the level-adjusted forecast and the usual
  count: a count back at its usual value after a lockdown, or at the new level after a sensor was moved,
  is not news; a count outside both is. Above the forecast, the usual count is the profile scaled down
  by a slow level (a week or two of busy hours) when that is lower, so that a site whose counts have
  been down for weeks is judged against that and not against its old normal. When the level has been far
  down for a day and a half and the day's busy intervals have confirmed it, the range closes to the
  forecast: a jump back to the old count within such a day is news, a return to normal overnight (a
  lockdown ends) is not.
- A deviation of few people is not news either: below `min_deviation` of the sensor's mean count it
  scales z down in proportion (a handful more at 4 a.m. is many noise units on a busy door).
- Learning is robust: the profile moves towards an observation clipped to `clip` noise units around
  itself, so a holiday or a one-off event in the history shifts it by a few per cent. Faulty intervals
  and implausible zeros (the possible start of a stuck sensor) are not learned at all.
- A traffic anomaly is an interval with |z| >= `threshold`; or two consecutive ones on the same side
  whose mean |z| is beyond 0.845 x `threshold`, neither below 0.775 x (a crowd for two hours); or
  evidence built up over consecutive intervals (a one-sided CUSUM of |z| - 0.45) worth `sustained_hours`
  at `sustained_z` (a halving, or a lockdown on a quiet Sunday, is a few sigma for hours, rarely one
  extreme interval).
- A fault is a run of zeros, or of one repeated count, that the model finds less likely than
  `fault_probability`, or an interval without data. Faults are reported instead of anomalies.

State is O(slots): four numbers per interval-of-week plus a few scalars, JSON-serialisable via
`snapshot()` and restored with `AnomalyDetector(settings, interval_s, state=...)`, giving identical
subsequent scores. The defaults were calibrated on seven years of hourly city-centre pedestrian counts
(see bench/anomaly_backtest.py).

Why one module: `score_into` runs hundreds of thousands of times a second in `score`, so the model's update
is written out in one loop over local variables rather than spread over helper calls; the snapshot and
restore beside it must mirror that loop's state exactly. Settings and events, which need none of it, are
in `settings.py` and `events.py`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, Literal, NamedTuple

from agent.anomaly.settings import ALLOWANCE, AnomalySettings

WEEK_S = 7 * 86400
STATE_VERSION = 1

FAULT_NO_DATA = "no-data"
FAULT_STUCK_ZERO = "stuck-zero"
FAULT_FLAT_LINE = "flat-line"
FaultKind = Literal["no-data", "stuck-zero", "flat-line"]

_LOG_2PI = math.log(2.0 * math.pi)
# Residual axis asinh(sqrt(count / _K)): square-root-like below _K, log-like above.
_K = 100.0
_IK = 1.0 / _K
# Noise model var(count) = d * mu + c2 * mu^2, learned; the prior is typical of busy pedestrian sensors
# (overdispersion 2, 14 % proportional noise) and keeps a small weight for ever (_RIDGE).
_PRIOR_DISPERSION = 2.0
_PRIOR_REL_VAR = 0.02
_RIDGE = 0.02
_D_MIN, _D_MAX = 0.5, 100.0
_C2_MIN, _C2_MAX = 1e-4, 4.0
_NOISE_CLIP = 2.5
_NOISE_CAP = _NOISE_CLIP * _NOISE_CLIP
_M_MIN, _M_MAX = 0.25, 16.0
_MULT_GATE2 = 9.0  # the multiplier learns from intervals within 3 noise units of their expectation
_LOG_P_LEARN_ZERO = math.log(0.05)
_INV_2PI = 1.0 / (2.0 * math.pi)
_CONFIRMED_GAIN = 0.5
# Two consecutive intervals on the same side flag when their mean |z| is at least this fraction of the
# threshold and neither is below the second fraction (a crowd for two hours).
_PAIR_FRACTION = 0.845
_PAIR_MIN_FRACTION = 0.775
# Busy hours after which the slow level (the level of the last week or two) has moved half-way.
_SLOW_HALFLIFE_HOURS = 168.0
# A confirmed low level: today's busy intervals favour the forecast over the usual count by this much
# evidence (log-likelihood ratio, weighted by busyness, decaying by _CONFIRM_DECAY an hour; each hour adds
# at most _CONFIRM_GAIN and takes away at most _CONFIRM_LOSS), and the forecast has been below
# _CONFIRM_RATIO of the usual count (on the square-root axis: 0.64 of the count) for _CONFIRM_DAYS.
_CONFIRM_ON = 2.5
_CONFIRM_DECAY = 0.7
_CONFIRM_GAIN = 4.0
_CONFIRM_LOSS = 1.0
_CONFIRM_RATIO = 0.8
_CONFIRM_DAYS = 1.5


class OrderError(ValueError):
    """An interval start that is not after the previous one; `index` is its position in the input."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(message)
        self.index = index


class Score(NamedTuple):
    """Verdict for one interval. `z` is None during warm-up and without data; `expected` is None until the
    interval-of-week has been seen once. `anomaly` is never true for a faulty interval."""

    expected: float | None
    z: float | None
    anomaly: bool
    fault: str | None


def week_slot(local_s: float, interval_s: int) -> int:
    """Interval-of-week index (Monday 00:00 = 0) of a wall-clock time.

    `local_s` is epoch seconds plus the local UTC offset, so the slot follows local opening hours across
    daylight-saving changes. 1970-01-01 was a Thursday, hence the shift by three days.
    """
    return int(((local_s + 3 * 86400) % WEEK_S) // interval_s)


def _clipped_second_moment(c: float) -> float:
    """E[min(Z^2, c^2)] for a standard normal Z: divides clipped squares back to an unbiased variance."""
    tail = math.erfc(c / math.sqrt(2.0))
    density = math.exp(-0.5 * c * c) / math.sqrt(2.0 * math.pi)
    return (1.0 - tail) - 2.0 * c * density + c * c * tail


def _halflife_rate(halflife: float) -> float:
    """EWMA weight per step for a half-life counted in steps."""
    return 1.0 - 0.5 ** (1.0 / halflife)


_NOISE_CORR = 1.0 / _clipped_second_moment(_NOISE_CLIP)


def _prior_accumulators() -> tuple[float, float, float, float, float]:
    """Weighted least-squares sums of the noise prior: two pseudo-points, a quiet and a busy interval."""
    acc = [0.0] * 5
    for mu in (0.0, 4.0 * _K):
        u = _PRIOR_DISPERSION + _PRIOR_REL_VAR * mu
        w = 1.0 / (u * u)
        for i, x in enumerate((w, w * mu, w * mu * mu, w * u, w * mu * u)):
            acc[i] += 0.5 * x
    return acc[0], acc[1], acc[2], acc[3], acc[4]


_PRIOR_ACC = _prior_accumulators()


def _solve_noise(s0: float, s1: float, s2: float, t0: float, t1: float, d: float, c2: float) -> tuple[float, float]:
    """Weighted least squares for E[u] = d + c2 mu from the running sums, with a little of the prior
    mixed in so that a sensor that is never busy (or never quiet) keeps a sane value."""
    p = _PRIOR_ACC
    s0 += _RIDGE * p[0]
    s1 += _RIDGE * p[1]
    s2 += _RIDGE * p[2]
    t0 += _RIDGE * p[3]
    t1 += _RIDGE * p[4]
    det = s0 * s2 - s1 * s1
    if det > 1e-300:
        d = (s2 * t0 - s1 * t1) / det
        c2 = (s0 * t1 - s1 * t0) / det
    d = _D_MIN if d < _D_MIN else (_D_MAX if d > _D_MAX else d)
    c2 = _C2_MIN if c2 < _C2_MIN else (_C2_MAX if c2 > _C2_MAX else c2)
    return d, c2


# Counts repeat a lot, so their position on the residual axis is memoised (bounded, shared, pure).
_G_CACHE: dict[float, float] = {}
_G_CACHE_MAX = 100_000


class AnomalyDetector:
    """Causal detector for one count series at a fixed interval length (any divisor of a week; hourly and
    sub-hourly intervals are the intended use).

    Per interval-of-week it keeps the profile on the residual axis, the noise standard deviation around
    it, a noise multiplier and how often it was seen; everything else is a handful of scalars. The
    scoring loop keeps that state in local variables for a whole batch and makes few calls, because
    `score` runs it hundreds of thousands of times a second; `update()` is the same loop for one interval.
    """

    __slots__ = (
        "settings",
        "interval_s",
        "slots",
        "fresh_starts",
        "_gb",
        "_sb",
        "_sdb",
        "_mult",
        "_nobs",
        "_lv",
        "_lvs",
        "_bsum",
        "_d",
        "_c2",
        "_acc",
        "_steps",
        "_hi",
        "_zp",
        "_lo",
        "_flagged",
        "_zrun",
        "_flat",
        "_prev",
        "_last_t",
        "_learned_t",
        "_confirmation",
        "_low_until",
    )

    def __init__(self, settings: AnomalySettings, interval_s: int, state: dict[str, Any] | None = None) -> None:
        if interval_s <= 0 or WEEK_S % interval_s:
            raise ValueError(f"interval of {interval_s} s does not divide a week")
        self.settings = settings
        self.interval_s = interval_s
        self.slots = WEEK_S // interval_s
        self._last_t = -math.inf
        self.fresh_starts = -1  # the warm-up every detector begins with is not counted
        self._forget()
        if state is not None:
            self._restore(state)

    def _forget(self) -> None:
        """Drop everything learned (keeping the clock): the start of a fresh warm-up.

        Counted in `fresh_starts`, so that whoever persists the state knows every slot was reset at once."""
        self.fresh_starts += 1
        n = self.slots
        self._gb = [0.0] * n
        self._sb = [0.0] * n
        self._sdb = [1.0] * n
        self._mult = [1.0] * n
        self._nobs = [0] * n
        self._lv = 0.0
        self._lvs = 0.0
        self._bsum = 0.0
        self._d = _PRIOR_DISPERSION
        self._c2 = _PRIOR_REL_VAR
        self._acc = list(_PRIOR_ACC)
        self._steps = 0
        self._hi = 0.0
        self._zp = 0.0
        self._lo = 0.0
        self._flagged = False
        self._zrun = 0.0
        self._flat = 0.0
        self._prev = -1.0
        self._learned_t = math.inf
        self._confirmation = 0.0
        self._low_until = math.inf

    # -- scoring ------------------------------------------------------------------------------------------

    def seen(self, slot: int) -> int:
        """How many intervals of `slot` the detector has learned from since its last fresh start."""
        return self._nobs[slot]

    def update(self, t_start: float, count: float | None, slot: int) -> Score:
        """Score the interval starting at `t_start` (epoch s) whose interval-of-week is `slot` (see
        `week_slot`), then learn from it. `count` None means the source delivered no data."""
        e, z, a, f = self.score_many((t_start,), (count,), (slot,))
        return Score(e[0], z[0], a[0], f[0])

    def score_many(
        self, times: Sequence[float], counts: Sequence[float | None], slots: Sequence[int]
    ) -> tuple[list[float | None], list[float | None], list[bool], list[str | None]]:
        """Score consecutive intervals of this series in order; returns the columns `expected`, `z`,
        `anomaly` and `fault`, exactly what calling `update()` on each would give. Raises OrderError at
        the first start time that is not after the previous one (the intervals before it are learned)."""
        n = len(times)
        expected: list[float | None] = [None] * n
        z: list[float | None] = [None] * n
        anomaly = [False] * n
        fault: list[str | None] = [None] * n
        self.score_into(times, counts, slots, range(n), expected, z, anomaly, fault)
        return expected, z, anomaly, fault

    def score_into(
        self,
        times: Sequence[float],
        counts: Sequence[float | None],
        slots: Sequence[int],
        rows: Iterable[int],
        out_e: list[float | None],
        out_z: list[float | None],
        out_a: list[bool],
        out_f: list[str | None],
    ) -> None:
        """The scoring loop: for each index in `rows` (this series' rows of a larger table, in time
        order) score `times[i]`, `counts[i]`, `slots[i]` and write the verdict at index i of the output
        columns, which the caller fills beforehand with None, None, False and None.

        Raises OrderError (with the index) at the first start time that is not after the previous one;
        the rows before it are scored and learned.
        """
        cfg = self.settings
        per_hour = 3600.0 / self.interval_s
        ivl = self.interval_s
        thr = cfg.threshold
        warm = cfg.warmup_weeks
        alpha = _halflife_rate(cfg.profile_halflife_weeks)
        # Level steps are weighted by how informative an interval is (near 1 when busy), so the half-life
        # counts busy hours.
        gamma = _halflife_rate(cfg.level_halflife_hours * per_hour)
        gslow = _halflife_rate(_SLOW_HALFLIFE_HOURS * per_hour / 4.0)
        cf_decay = _CONFIRM_DECAY ** (1.0 / per_hour)
        cf_gain = _CONFIRM_GAIN / per_hour
        cf_loss = -_CONFIRM_LOSS / per_hour
        cf_on = _CONFIRM_ON
        cf_after = _CONFIRM_DAYS * 86400.0
        rho = cfg.min_deviation / self.slots
        a_noise = _halflife_rate(cfg.noise_halflife_weeks * 7 * 24 * per_hour / 4.0)
        a_mult = _halflife_rate(cfg.noise_halflife_weeks)
        clip = cfg.clip
        kal = ALLOWANCE
        hev = (cfg.sustained_z - kal) * max(1, round(cfg.sustained_hours * per_hour))
        logfp = math.log(cfg.fault_probability)
        relearn_s = cfg.relearn_after_days * 86400.0
        asinh = math.asinh
        sqrt = math.sqrt
        sinh = math.sinh
        exp = math.exp

        gbs = self._gb
        sbs = self._sb
        sds = self._sdb
        mults = self._mult
        nobs = self._nobs
        lv = self._lv
        sl = exp(0.5 * lv)
        lvs = self._lvs
        sls = exp(0.5 * lvs)
        # The level is far down when below this (the usual count's fraction on the square-root axis).
        low_bound = _CONFIRM_RATIO * (sls if sls < 1.0 else 1.0)
        bsum = self._bsum
        d = self._d
        c2 = self._c2
        s0, s1, s2, t0, t1 = self._acc
        steps = self._steps
        hi = self._hi
        zp = self._zp
        lo = self._lo
        flagged = self._flagged
        zrun = self._zrun
        flat = self._flat
        prev = self._prev
        last = self._last_t
        learned = self._learned_t
        cf = self._confirmation
        low_until = self._low_until
        inf = math.inf

        gcache = _G_CACHE
        K = _K
        IK = _IK
        conf = _CONFIRMED_GAIN
        gate2 = _MULT_GATE2
        cap = _NOISE_CAP
        corr = _NOISE_CORR
        m_min = _M_MIN
        m_max = _M_MAX
        nthr = -thr
        nhev = -hev
        pair = _PAIR_MIN_FRACTION * thr
        npair = -pair
        pair2 = 2.0 * _PAIR_FRACTION * thr
        npair2 = -pair2
        log = math.log
        log1p = math.log1p
        log_2pi = _LOG_2PI
        inv_2pi = _INV_2PI
        log_p_learn_zero = _LOG_P_LEARN_ZERO
        g_cache_max = _G_CACHE_MAX
        bad = -1
        for i in rows:
            t = times[i]
            c = counts[i]
            s = slots[i]
            if t <= last:
                bad = i
                break
            if t - last > ivl:
                # A gap breaks runs: a sustained deviation or a stuck counter must be seen in consecutive data.
                hi = lo = zp = 0.0
                flagged = False
                zrun = flat = 0.0
                prev = -1.0
                cf = 0.0
            last = t
            if c is None:
                hi = lo = zp = 0.0
                flagged = False
                zrun = flat = 0.0
                prev = -1.0
                cf = 0.0
                sb = sbs[s]
                out_e[i] = K * sl * sl * sb * sb if nobs[s] else None
                out_z[i] = None
                out_f[i] = FAULT_NO_DATA
                continue
            if t - learned > relearn_s:
                # The profile is stale after a long outage: start afresh.
                self._forget()
                gbs, sbs, sds, mults, nobs = self._gb, self._sb, self._sdb, self._mult, self._nobs
                lv, d, c2, steps = self._lv, self._d, self._c2, self._steps
                lvs, bsum = self._lvs, self._bsum
                cf, low_until = self._confirmation, self._low_until
                low_bound = _CONFIRM_RATIO
                s0, s1, s2, t0, t1 = self._acc
                sl = sls = 1.0
                learned = math.inf
            n = nobs[s]
            try:
                gy = gcache[c]
            except KeyError:
                gy = asinh(sqrt(c * IK))
                if len(gcache) < g_cache_max:
                    gcache[c] = gy
            if n == 0:
                gbs[s] = gy
                sb = sinh(gy)
                sbs[s] = sb
                b = K * sb * sb
                bsum += b
                sds[s] = sqrt((d + c2 * b) / (4.0 * (b + K)))
                nobs[s] = 1
                learned = t
                prev = c
                out_e[i] = None
                out_z[i] = None
                continue
            gb = gbs[s]
            sd = sds[s]
            sb = sbs[s]
            x = sl * sb
            mu = K * x * x
            e = gy - asinh(x)
            eb = gy - gb
            zf = e / sd
            # z is measured from the nearer end of the range between the recent-level forecast and the
            # usual count: a count back at its usual value after a lockdown is not news, and neither is
            # one at the new level after a sensor was moved. Above the forecast, "usual" is the profile
            # scaled down by the slow level when that is lower, so that a site whose counts have been
            # down for a week or two is judged against that and not against its old normal. But when the
            # level has been far down for days and today's busy intervals have confirmed it, a jump back
            # to the usual count within the day is news (a crowd), so the range closes to the forecast:
            # a return to normal after a lockdown comes overnight, when the confirmation has faded.
            if zf > 0.0:
                if t > low_until and cf >= cf_on:
                    ub = x
                    z = zf
                else:
                    ub = sls * sb if sls < 1.0 else sb
                    zs = (gy - asinh(ub)) / sd if sls < 1.0 else eb / sd
                    z = (zf if zf < zs else zs) if zs > 0.0 else 0.0
            else:
                ub = sb
                zs = eb / sd
                z = (zf if zf > zs else zs) if zs < 0.0 else 0.0
            if sl < low_bound:
                # The level is far down: since when, and how much better today's busy intervals fitted
                # the forecast than the usual count (a log-likelihood ratio weighted by busyness, so that
                # the quiet hours of a night say little; decaying within hours; one interval against it
                # takes away little).
                if low_until == inf:
                    low_until = t + cf_after
                cmu = c2 * mu
                cfl = (eb * eb - e * e) * cmu / (2.0 * sd * sd * (d + cmu))
                cf = cf * cf_decay + (cf_gain if cfl > cf_gain else (cf_loss if cfl < cf_loss else cfl))
            elif low_until != inf:
                low_until = inf
                cf = 0.0
            zev = z
            if z and rho:
                # A deviation of few people (against the nearer end) is discounted: minimum deviation.
                # The sustained evidence (zev, summed by the CUSUM below) gets a gentler discount, from
                # half the floor, because a drop of a third for a day is mostly small deviations once
                # the evening comes.
                ref = mu if z == zf else K * ub * ub
                dev = c - ref if c > ref else ref - c
                floor = rho * bsum
                if dev < floor:
                    z *= dev / floor
                    if dev < 0.5 * floor:
                        zev *= 2.0 * dev / floor

            learn = True
            if c != prev and c:
                zrun = flat = 0.0
            elif c == 0:
                flat = 0.0
                if mu > 0.0:
                    # log P(0) under a negative binomial with the model's mean and variance.
                    q = d - 1.0 + c2 * mu
                    lp = -(mu * log1p(q) / q if q > 1e-9 else mu)
                    zrun += lp
                    if zrun < logfp:
                        hi = lo = zp = cf = 0.0
                        flagged = False
                        prev = c
                        out_e[i] = mu
                        out_z[i] = z if n >= warm else None
                        out_f[i] = FAULT_STUCK_ZERO
                        continue
                    # An implausible zero is not learned, whether or not more follow: if they do, it was
                    # the start of a stuck sensor, and faulty data must not shape the profile.
                    learn = lp > log_p_learn_zero
            else:
                zrun = 0.0
                cvar = (d + c2 * mu) * mu
                if cvar > inv_2pi:
                    flat -= 0.5 * (log_2pi + log(cvar))
                    if flat < logfp:
                        hi = lo = zp = cf = 0.0
                        flagged = False
                        out_e[i] = mu
                        out_z[i] = z if n >= warm else None
                        out_f[i] = FAULT_FLAT_LINE
                        continue
            prev = c

            if learn:
                m = mults[s]
                cm = c2 * mu
                v = d + cm
                if n < warm:
                    gb += (gy - gb) / (n + 1)
                else:
                    # The profile moves towards the observation clipped around the profile itself: a
                    # holiday, an event or a lockdown shifts it by a few per cent a week, a drift fully.
                    lim = clip * sd
                    nlim = -lim
                    gb += alpha * (eb if nlim <= eb <= lim else (lim if eb > 0.0 else nlim))
                    if gb < 0.0:
                        gb = 0.0
                    if x > 0.0:
                        # The level is the recent ratio of data to profile; its step is the clipped
                        # log-ratio weighted by the interval's precision relative to a busy one, and it
                        # returns to 1 by itself as the profile absorbs a lasting change. Once an anomaly
                        # is flagged it is news already: the level then catches up within a few intervals,
                        # so a lockdown or a closed entrance stops alarming soon after its start, while
                        # the profile keeps the normal to come back to.
                        ec = e if nlim <= e <= lim else (lim if e > 0.0 else nlim)
                        lv += (conf if flagged else gamma) * (cm / v) * 2.0 * ec * sqrt(1.0 + x * x) / x
                        lv = -7.0 if lv < -7.0 else (7.0 if lv > 7.0 else lv)
                        sl = exp(0.5 * lv)
                        if not steps & 3:
                            # The slow level follows the same evidence over a week or two of busy hours;
                            # every fourth interval is plenty for it.
                            xs = sls * sb
                            es = gy - asinh(xs)
                            es = es if nlim <= es <= lim else (lim if es > 0.0 else nlim)
                            lvs += gslow * (cm / v) * 2.0 * es * sqrt(1.0 + xs * xs) / xs
                            lvs = -7.0 if lvs < -7.0 else (7.0 if lvs > 7.0 else lvs)
                            sls = exp(0.5 * lvs)
                            low_bound = _CONFIRM_RATIO * (sls if sls < 1.0 else 1.0)
                # Noise model: E[4 (mu + K) e^2 / m] = d + c2 mu, fitted by exponentially weighted least
                # squares (weights 1 / variance^2) on clipped squares, so that outliers barely count; m is
                # the interval-of-week's own multiplier (Saturday nights vary more than Tuesday mornings),
                # learned only from intervals near their expectation (holidays say nothing about noise).
                r = 4.0 * (mu + K) * e * e / v
                if r < gate2 * m:
                    m += a_mult * ((r if r < cap * m else cap * m) * corr - m)
                    m = m_min if m < m_min else (m_max if m > m_max else m)
                    mults[s] = m
                steps += 1
                if not steps & 3:
                    # The sensor-wide part moves over months: every fourth interval is plenty.
                    r /= m
                    u = (r if r < cap else cap) * corr * v
                    w = 1.0 / (v * v)
                    wx = w * mu
                    s0 += a_noise * (w - s0)
                    s1 += a_noise * (wx - s1)
                    s2 += a_noise * (wx * mu - s2)
                    t0 += a_noise * (w * u - t0)
                    t1 += a_noise * (wx * u - t1)
                    if not steps & 63:
                        d, c2 = _solve_noise(s0, s1, s2, t0, t1, d, c2)
                bsum -= K * sb * sb
                sb = sinh(gb)
                b = K * sb * sb
                bsum += b
                gbs[s] = gb
                sbs[s] = sb
                sds[s] = sqrt(m * (d + c2 * b) / (4.0 * (b + K)))
                learned = t
            # Seen, learned or held back: warm-up counts the weeks this interval-of-week was observed.
            nobs[s] = n + 1

            if n < warm:
                out_e[i] = mu
                out_z[i] = None
                continue
            # Evidence that builds up over consecutive intervals (a CUSUM per side): a level shift such
            # as a halving or a lockdown on a quiet day is a few sigma for hours, rarely one extreme
            # interval. It starts afresh once flagged, so one long episode is not flagged hour after hour.
            hi += zev - kal
            if hi < 0.0:
                hi = 0.0
            lo += zev + kal
            if lo > 0.0:
                lo = 0.0
            out_e[i] = mu
            out_z[i] = z
            # A short burst (a crowd for two intervals) is caught by a pair of high |z| on the same side.
            # Nearly every interval passes the first test (pair < threshold), so it is the only one made.
            if npair < z < pair and hi < hev and lo > nhev:
                flagged = False
                zp = z
            elif (
                z >= thr
                or z <= nthr
                or hi >= hev
                or lo <= nhev
                or (z >= pair and zp >= pair and z + zp >= pair2)
                or (z <= npair and zp <= npair and z + zp <= npair2)
            ):
                flagged = True
                hi = lo = zp = 0.0
                out_a[i] = True
            else:
                flagged = False
                zp = z

        self._lv = lv
        self._lvs = lvs
        self._bsum = bsum
        self._d = d
        self._c2 = c2
        self._acc = [s0, s1, s2, t0, t1]
        self._steps = steps
        self._hi = hi
        self._zp = zp
        self._lo = lo
        self._flagged = flagged
        self._zrun = zrun
        self._flat = flat
        self._prev = prev
        self._last_t = last
        self._learned_t = learned
        self._confirmation = cf
        self._low_until = low_until
        if bad >= 0:
            raise OrderError(bad, f"interval start {times[bad]} is not after the previous one ({last})")

    # -- persistence --------------------------------------------------------------------------------------

    def snapshot(self, slots: Sequence[int] | None = None) -> dict[str, Any]:
        """JSON-serialisable state, O(slots); `AnomalyDetector(settings, interval_s, state=...)` restores it.

        With `slots`, the per-slot lists hold only those slots (listed under "slots"), so that a caller
        persisting slot by slot copies one slot per interval instead of the whole week.
        """
        if slots is None:
            per_slot: dict[str, Any] = {
                "profile": list(self._gb),
                "profile_sd": list(self._sdb),
                "noise_mult": list(self._mult),
                "seen": list(self._nobs),
            }
        else:
            per_slot = {
                "slots": list(slots),
                "profile": [self._gb[s] for s in slots],
                "profile_sd": [self._sdb[s] for s in slots],
                "noise_mult": [self._mult[s] for s in slots],
                "seen": [self._nobs[s] for s in slots],
            }
        return {
            "version": STATE_VERSION,
            "interval_s": self.interval_s,
            **per_slot,
            "level": self._lv,
            "slow_level": self._lvs,
            "profile_sum": self._bsum,
            "noise": [self._d, self._c2, *self._acc],
            "steps": self._steps,
            "run": [self._hi, self._lo, self._zp, self._flagged],
            "fault_runs": [self._zrun, self._flat, self._prev],
            "confirmation": [self._confirmation, None if self._low_until == math.inf else self._low_until],
            "last_t": None if self._last_t == -math.inf else self._last_t,
            "learned_t": None if self._learned_t == math.inf else self._learned_t,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        if state.get("version") != STATE_VERSION:
            raise ValueError(f"anomaly state version {state.get('version')!r} is not {STATE_VERSION}")
        if state.get("interval_s") != self.interval_s:
            raise ValueError(f"anomaly state is for {state.get('interval_s')} s intervals, not {self.interval_s} s")
        lists = [state["profile"], state["profile_sd"], state["noise_mult"], state["seen"]]
        sparse = state.get("slots")
        if any(len(x) != (self.slots if sparse is None else len(sparse)) for x in lists):
            raise ValueError("anomaly state has the wrong number of slots")
        noise = [float(x) for x in state["noise"]]
        if len(noise) != 2 + len(_PRIOR_ACC):
            raise ValueError("anomaly state has a malformed noise model")
        if sparse is None:
            self._gb = [float(x) for x in state["profile"]]
            self._sdb = [float(x) for x in state["profile_sd"]]
            self._mult = [float(x) for x in state["noise_mult"]]
            self._nobs = [int(x) for x in state["seen"]]
        else:
            # Slots not listed keep the values `_forget` gave them: never seen.
            for i, s in enumerate(int(x) for x in sparse):
                if not 0 <= s < self.slots:
                    raise ValueError(f"anomaly state has slot {s} out of range")
                self._gb[s] = float(state["profile"][i])
                self._sdb[s] = float(state["profile_sd"][i])
                self._mult[s] = float(state["noise_mult"][i])
                self._nobs[s] = int(state["seen"][i])
        self._sb = [math.sinh(g) for g in self._gb]
        self._lv = float(state["level"])
        # Saved before these were kept: the slow level starts at the level, the sum from the profile.
        self._lvs = float(state.get("slow_level", self._lv))
        bsum = state.get("profile_sum")
        self._bsum = float(bsum) if bsum is not None else sum(_K * sb * sb for sb in self._sb)
        self._d, self._c2 = noise[0], noise[1]
        self._acc = noise[2:]
        self._steps = int(state["steps"])
        run = state["run"]
        if len(run) == 2:
            # Saved before evidence was kept (a run length and the flag): the evidence starts afresh.
            run = [0.0, 0.0, 0.0, run[1]]
        self._hi, self._lo, self._zp = float(run[0]), float(run[1]), float(run[2])
        self._flagged = bool(run[3])
        self._zrun, self._flat, self._prev = (float(x) for x in state["fault_runs"])
        last_t, learned_t = state["last_t"], state["learned_t"]
        self._last_t = -math.inf if last_t is None else float(last_t)
        self._learned_t = math.inf if learned_t is None else float(learned_t)
        # Saved before the confirmation was kept: none yet, and a low level counts from the next interval.
        cf, low_until = state.get("confirmation", [0.0, None])
        self._confirmation = float(cf)
        self._low_until = math.inf if low_until is None else float(low_until)
