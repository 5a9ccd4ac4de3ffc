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

import numpy as np


def linear_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a minimum-total-cost matching that pairs min(rows, columns) of them, sorted
    by row; the same optimum as `scipy.optimize.linear_sum_assignment` (ties may be broken differently)."""
    cost = np.asarray(cost, dtype=float)
    if cost.ndim != 2:
        raise ValueError(f"expected a 2-D cost matrix, got shape {cost.shape}")
    if np.count_nonzero(np.isfinite(cost)) != cost.size:  # (`.all()` costs more on a tracker's tiny blocks)
        raise ValueError("the cost matrix must be finite")
    n, m = cost.shape
    if n == 0 or m == 0:
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    if n > m:
        cols, rows = _rows_into_columns(cost.T)
        order = np.argsort(rows)
        return rows[order], cols[order]
    rows, cols = _rows_into_columns(cost)
    return rows, cols


def _rows_into_columns(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every row matched to a distinct column (n <= m)."""
    n, m = cost.shape
    best = cost.argmin(axis=1)
    if len(set(best.tolist())) == n:  # a set of a dozen ints is cheaper than np.unique
        return np.arange(n), best
    return np.arange(n), _hungarian(cost)


def _hungarian(cost: np.ndarray) -> np.ndarray:
    """The column of each row in an optimal assignment (n <= m), by shortest augmenting paths.

    Column 0 is a virtual column that holds the row being inserted; `owner[j]` is the 1-based row matched to
    column j (0: free), `via[j]` the previous column on the shortest path to j, `reach[j]` that path's length.
    Plain Python lists: for a dozen columns they are several times faster than numpy's per-call overhead.
    """
    n, m = cost.shape
    rows = cost.tolist()
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
    column_of = np.zeros(n, dtype=int)
    for j in range(1, m + 1):
        if owner[j]:
            column_of[owner[j] - 1] = j - 1
    return column_of
