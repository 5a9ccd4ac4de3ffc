"""Backoff: the delay sequence between reconnect attempts."""

from __future__ import annotations

import random

import pytest

from agent.backoff import Backoff


def test_doubles_from_minimum_up_to_the_cap_without_jitter() -> None:
    b = Backoff(0.5, 30, jitter=0)
    assert [b.next_delay() for _ in range(9)] == [0.5, 1, 2, 4, 8, 16, 30, 30, 30]
    assert b.attempt == 9


def test_reset_after_success_starts_again_from_minimum() -> None:
    b = Backoff(1, 10, factor=3, jitter=0)
    assert [b.next_delay() for _ in range(3)] == [1, 3, 9]
    b.reset()
    assert b.attempt == 0
    assert b.peek() == 1
    assert [b.next_delay() for _ in range(3)] == [1, 3, 9]


def test_a_very_long_outage_stays_at_the_cap() -> None:
    b = Backoff(0.5, 30, jitter=0)
    for _ in range(100_000):
        delay = b.next_delay()
    assert delay == 30


def test_jitter_only_shortens_and_spreads_delays_at_the_cap() -> None:
    b = Backoff(1, 8, jitter=0.2, rng=random.Random(3))
    delays = [b.next_delay() for _ in range(200)]
    bases = [1, 2, 4] + [8] * 197
    assert all(base * 0.8 <= d <= base for d, base in zip(delays, bases, strict=True))
    at_cap = delays[3:]
    assert max(at_cap) - min(at_cap) > 1.0  # devices that failed together retry apart


def test_jitter_is_reproducible_with_a_seeded_rng() -> None:
    a = Backoff(0.5, 30, rng=random.Random(42))
    b = Backoff(0.5, 30, rng=random.Random(42))
    assert [a.next_delay() for _ in range(10)] == [b.next_delay() for _ in range(10)]


@pytest.mark.parametrize(
    ("minimum", "maximum", "factor", "jitter"),
    [(0, 1, 2, 0), (2, 1, 2, 0), (1, 2, 0.5, 0), (1, 2, 2, 1.0), (1, 2, 2, -0.1)],
)
def test_rejects_nonsense_parameters(minimum: float, maximum: float, factor: float, jitter: float) -> None:
    with pytest.raises(ValueError):
        Backoff(minimum, maximum, factor=factor, jitter=jitter)
