"""Capped exponential backoff for reconnect loops.

A counter that went away (USB adapter pulled, RS-485 slave powered off, broker down) should be retried
quickly at first and then ever more rarely, so that a long outage neither floods the log and the bus nor
delays recovery by more than the cap. Jitter spreads many devices that lost the same broker or power
feed so they do not all retry in the same instant. Pure: no clock, no sleeping; the caller waits.
"""

from __future__ import annotations

import random


class Backoff:
    """Delays `minimum, minimum*factor, minimum*factor**2, ...` capped at `maximum`, shortened by jitter.

    Jitter only ever shortens a delay (by up to `jitter` of it), so the cap is a hard upper bound and
    delays at the cap still spread out. With `jitter=0` the sequence is fully deterministic.
    """

    def __init__(
        self,
        minimum: float,
        maximum: float,
        factor: float = 2.0,
        jitter: float = 0.1,
        rng: random.Random | None = None,
    ) -> None:
        if minimum <= 0:
            raise ValueError("minimum must be > 0")
        if maximum < minimum:
            raise ValueError("maximum must be >= minimum")
        if factor < 1:
            raise ValueError("factor must be >= 1")
        if not 0 <= jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        self.minimum = minimum
        self.maximum = maximum
        self.factor = factor
        self.jitter = jitter
        self._rng = rng if rng is not None else random.Random()
        self._attempt = 0
        self._base = minimum

    @property
    def attempt(self) -> int:
        """How many delays were handed out since the last success."""
        return self._attempt

    def peek(self) -> float:
        """The un-jittered delay the next `next_delay()` call is based on."""
        return self._base

    def next_delay(self) -> float:
        """The seconds to wait before the next attempt; each call advances the sequence."""
        delay = self._base
        self._attempt += 1
        self._base = min(self.maximum, self._base * self.factor)
        if self.jitter:
            delay *= 1.0 - self.jitter * self._rng.random()
        return delay

    def reset(self) -> None:
        """Call after a success: the next failure starts again from `minimum`."""
        self._attempt = 0
        self._base = self.minimum
