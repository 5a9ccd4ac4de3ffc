"""What a failing store costs: classification of errors, closed intervals held in memory within a bound."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.runtime import store_guard
from agent.runtime.store_guard import StoreGuard
from agent.store.database import Store
from tests.store.test_database import record


def test_a_full_disk_holds_intervals_and_drops_the_oldest_past_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_guard, "HELD_MAX_BYTES", 3 * (1000 + 40 + store_guard.RECORD_OVERHEAD_BYTES))
    with Store(tmp_path, 90, 1 << 30) as store:
        guard = StoreGuard(store, 60.0)
        assert guard.failed("storing", sqlite3.OperationalError("database or disk is full"), 100.0)
        for i in range(5):
            rec = record("door", 60.0 * i, size=1000 - 40)
            guard.hold([rec], [])
        assert [r[0].start for r in guard.held.records] == [120.0, 180.0, 240.0]
        assert guard.lost == 2 and guard.disk_full_since == 100.0
        assert not guard.retry_due(100.5) and guard.retry_due(101.0)
        faults = guard.faults()
        assert (faults.disk_full_since, faults.held_intervals, faults.lost_intervals) == (100.0, 3, 2)
        guard.stored(102.0)
        assert guard.disk_full_since is None


def test_other_errors_are_no_full_disk(tmp_path: Path) -> None:
    with Store(tmp_path, 90, 1 << 30) as store:
        guard = StoreGuard(store, 1.0)
        assert not guard.failed("storing", sqlite3.OperationalError("database is locked"), 5.0)
        assert guard.disk_full_since is None and guard.last_error is not None
