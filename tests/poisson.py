"""A seeded Poisson draw for simulated traffic (the tests' doors, the benchmarks' devices).

Knuth's product of uniforms for small means, the normal approximation above 30 where the two are
indistinguishable for a door count and the product would take hundreds of draws.
"""

from __future__ import annotations

import math
import random

NORMAL_ABOVE = 30.0


def poisson(rng: random.Random, mean: float) -> int:
    """A draw from Poisson(`mean`); 0 for a mean of 0 or less, drawing nothing."""
    if mean <= 0:
        return 0
    if mean > NORMAL_ABOVE:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k
