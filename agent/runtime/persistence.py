"""Writing what the interval loop and the sources counted to the store, safe from the store's failures.

Every write of aggregator state goes through `Persistence` under one lock (`lock`), taken around the snapshot
and its write, so an older snapshot never overwrites a newer one or a close. A write that fails is handed to
the `StoreGuard`: on a full disk, closed intervals wait in memory and are stored, oldest first, by the next
write that succeeds; the loop retries on its own (`retry_due`). After each stored close or checkpoint the
same states go to the side checkpoint (`agent.store.side_checkpoint`), from which a replaced store resumes.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.aggregation.aggregator import MAX_CATCH_UP_S
from agent.runtime.store_guard import Record, StoreGuard
from agent.store.database import Store

log = logging.getLogger(__name__)

SIDE_MIN_PERIOD_S = 1.0
"""The side checkpoint is written at most this often (and at every stop): its two fsyncs at every close slowed
a fast run of closes by a quarter (tests/integration/test_anomaly_live.py), and a damaged store loses the
counts since the last write anyway."""

Changes = Callable[[list[str]], dict[str, Any]]


class Persistence:
    """The store, its guard and the write-ordering lock; `store_closes` and `save` never raise a store error."""

    def __init__(self, store: Store, interval_s: float) -> None:
        self.store = store
        self.guard = StoreGuard(store, interval_s)
        self.lock = threading.Lock()
        self._stats: tuple[int, float | None, int] = (0, None, 0)
        self._side_at = -SIDE_MIN_PERIOD_S
        self._side_states: dict[str, dict] | None = None
        self._side_final = False

    def saved_states(self) -> dict[str, dict]:
        """The store's aggregator states; for a sensor it lacks (a replaced or unopenable store), the side copy's."""
        try:
            states = self.store.load_states()
        except sqlite3.Error as exc:
            log.error("saved counting state unreadable from the store (%s); using %s", exc, self.store.side.path.name)
            states = {}
        side = self.store.side.load()
        return {**{k: v for k, v in side.items() if k not in states}, **states}

    def store_stats(self) -> tuple[int, float | None, int]:
        """(outbox depth, its oldest message's time, bytes used); the last known figures while the store fails."""
        try:
            depth, oldest = self.store.outbox_stats()
            self._stats = (depth, oldest, self.store.size_bytes())
        except sqlite3.Error:
            pass
        return self._stats

    def store_closes(
        self,
        records: list[Record],
        events: list[tuple[str, bytes]],
        states: dict[str, dict],
        changes: Changes,
        now: float,
    ) -> dict[str, Any] | None:
        """Commit held and new intervals with `states`; the detector changes committed, or None if held."""
        held = self.guard.take()
        records = held.records + records
        events = held.events + events
        for attempt in (1, 2):
            detectors = changes(list(dict.fromkeys(r[0].sensor for r in records)))
            try:
                self.store.commit_close(records, states, events, detectors)
            except sqlite3.Error as exc:
                if attempt == 1 and self._worth_retrying("storing closed intervals", exc, now):
                    continue
                self.guard.hold(records, events)
                return None
            self.guard.stored(now)
            self._side(states)
            return detectors
        return None

    def save(self, states: dict[str, dict], now: float, what: str, side: bool = True, final: bool = False) -> None:
        """Checkpoint aggregator states; on failure they stay in memory, to be written by a later save or close.
        `final` (at a stop) writes the side checkpoint whenever it was last written."""
        try:
            self.store.save_states(states)
        except sqlite3.Error as exc:
            self.guard.failed(what, exc, now)
            return
        if self.guard.disk_full_since is not None and not self.guard.held.records:
            self.guard.stored(now)
        if side:
            self._side(states, final)

    def _worth_retrying(self, what: str, exc: sqlite3.Error, now: float) -> bool:
        full = self.guard.failed(what, exc, now)
        if full:
            return self.guard.room()
        return self.store.recovery is not None and self.store.unavailable is None

    def _side(self, states: dict[str, dict], final: bool = False) -> None:
        """Note the states for the side checkpoint; `write_side` writes them outside the write-ordering lock."""
        self._side_states = states
        self._side_final = self._side_final or final

    def write_side(self) -> None:
        """Write the noted states to the side checkpoint (from the loop thread, after `lock` is released, so a
        source's batch commit never waits for its fsyncs); at most every SIDE_MIN_PERIOD_S unless final."""
        states, final = self._side_states, self._side_final
        at = time.monotonic()
        if states is None or (not final and at - self._side_at < SIDE_MIN_PERIOD_S):
            return
        self._side_states, self._side_final = None, False
        try:
            self.store.side.save(states)
        except OSError as exc:
            log.debug("side checkpoint not written: %s", exc)
            return
        self._side_at = at


def last_seen(states: dict[str, dict], wall: float) -> float | None:
    """The latest time the saved states saw, if the wall clock is now behind it by less than a day: counting time
    continues from there (a clock stepped back across a restart). Further back, the saved time is the wrong one."""
    seen = max((float(s.get("seen", 0.0)) for s in states.values() if isinstance(s, dict)), default=0.0)
    return seen if 0 < seen - wall <= MAX_CATCH_UP_S else None
