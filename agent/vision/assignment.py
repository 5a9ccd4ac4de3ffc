"""Minimum-cost one-to-one matching of tracks to detections (the linear assignment problem), for the tracker.

The matrices are tiny: the people at a door, rarely more than a dozen on either side. In most frames every
track's cheapest detection is a different one, and that is then the optimum (no matching can beat every row's
own minimum), so it is taken at once. Otherwise the Hungarian method solves it exactly: row and column
potentials, one shortest augmenting path per row (the Jonker-Volgenant form of Kuhn-Munkres), O(n^2 m) for
n <= m. A general solver library would cost tens of megabytes
and a noticeable start-up for matrices this size.

Pure: no I/O, no threads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a minimum-total-cost matching that pairs min(rows, columns) of them, sorted
    by row; the same optimum as `scipy.optimize.linear_sum_assignment` (ties may be broken differently)."""
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise ValueError(f"expected a 2-D cost matrix, got shape {cost.shape}")
    if np.count_nonzero(np.isfinite(cost)) != cost.size:  # (`.all()` costs more on a tracker's tiny blocks)
        raise ValueError("the cost matrix must be finite")
    pairs = assign(cost.tolist())
    rows = np.array([i for i, _ in pairs], dtype=int)
    cols = np.array([j for _, j in pairs], dtype=int)
    return rows, cols


def assign(cost: Sequence[Sequence[float]]) -> list[tuple[int, int]]:
    """`linear_assignment` on the rows of a finite matrix as lists, as (row, column) pairs sorted by row: the
    tracker's blocks are a few entries, where converting to and from arrays would cost more than solving."""
    if not cost or not cost[0]:
        return []
    if len(cost) > len(cost[0]):
        return sorted((r, c) for c, r in enumerate(_rows_into_columns(list(zip(*cost, strict=True)))))
    return list(enumerate(_rows_into_columns(cost)))


def _rows_into_columns(cost: Sequence[Sequence[float]]) -> list[int]:
    """The column of every row, each a distinct one (n <= m)."""
    best = [row.index(min(row)) for row in cost]
    if len(set(best)) == len(best):
        return best
    return _hungarian(cost)


def _hungarian(rows: Sequence[Sequence[float]]) -> list[int]:
    """The column of each row in an optimal assignment (n <= m), by shortest augmenting paths.

    Column 0 is a virtual column that holds the row being inserted; `owner[j]` is the 1-based row matched to
    column j (0: free), `via[j]` the previous column on the shortest path to j, `reach[j]` that path's length.
    Plain Python lists: for a dozen columns they are several times faster than numpy's per-call overhead.
    """
    n, m = len(rows), len(rows[0])
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    owner = [0] * (m + 1)
    via = [0] * (m + 1)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        reach = [math.inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0 = owner[j0]
            row, ui = rows[i0 - 1], u[i0]
            delta, j1 = math.inf, 0
            for j in range(1, m + 1):
                if not used[j]:
                    slack = row[j - 1] - ui - v[j]
                    if slack < reach[j]:
                        reach[j], via[j] = slack, j0
                    if reach[j] < delta:
                        delta, j1 = reach[j], j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    reach[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = via[j0]
            owner[j0] = owner[j1]
            j0 = j1
    column_of = [0] * n
    for j in range(1, m + 1):
        if owner[j]:
            column_of[owner[j] - 1] = j - 1
    return column_of
