"""The assignment solver against brute force: every optimum found, on square and rectangular matrices."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from agent.vision.assignment import linear_assignment


def brute_force(cost: np.ndarray) -> float:
    n, m = cost.shape
    if n <= m:
        return min(sum(cost[i, c] for i, c in enumerate(cols)) for cols in itertools.permutations(range(m), n))
    return brute_force(cost.T)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (4, 4), (5, 5), (6, 6), (3, 6), (6, 3), (2, 7), (7, 4)])
def test_the_optimum_of_random_matrices(shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(sum(shape))
    for trial in range(60):
        # Integer costs make ties common; float costs make the optimum unique.
        cost = rng.integers(0, 5, shape).astype(float) if trial % 2 else rng.random(shape)
        rows, cols = linear_assignment(cost)
        assert len(rows) == min(shape) and len(set(rows)) == len(rows) and len(set(cols)) == len(cols)
        assert list(rows) == sorted(rows)
        assert cost[rows, cols].sum() == pytest.approx(brute_force(cost))


def test_a_crossed_pair_is_not_taken_greedily() -> None:
    # Greedy by the smallest entry takes (0, 0) = 1 and is left with (1, 1) = 100: 101. The optimum is 2 + 3.
    cost = np.array([[1.0, 2.0], [3.0, 100.0]])
    rows, cols = linear_assignment(cost)
    assert list(zip(rows, cols, strict=True)) == [(0, 1), (1, 0)]


def test_gated_entries_are_avoided_when_they_can_be() -> None:
    big = 1e6
    cost = np.array([[0.1, big, big], [0.2, 0.3, big], [big, 0.4, 0.5]])
    rows, cols = linear_assignment(cost)
    assert cost[rows, cols].sum() == pytest.approx(0.1 + 0.3 + 0.5)


def test_empty_and_bad_input() -> None:
    for shape in [(0, 0), (0, 3), (3, 0)]:
        rows, cols = linear_assignment(np.zeros(shape))
        assert rows.size == 0 and cols.size == 0
    with pytest.raises(ValueError, match="finite"):
        linear_assignment(np.array([[np.inf, 1.0]]))
    with pytest.raises(ValueError, match="2-D"):
        linear_assignment(np.zeros(3))
