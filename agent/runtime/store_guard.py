"""Counting goes on whatever the store does: a full disk, a damaged file, a store that will not open.

Every store write of the interval loop and the sources goes through here when it fails. A full disk holds
closed intervals in memory (in order, bounded in bytes) and retries; each retry first makes room by the
store's retention rules (the oldest intervals the broker already has), and the held intervals are stored,
oldest first, as soon as a write succeeds again. A damaged file is checked and replaced (see
`agent.store.integrity`). Whatever happened is kept for the health report and the STATUS= line.
"""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from agent.runtime.health import StoreFaults
from agent.store.integrity import is_damage, is_disk_full

if TYPE_CHECKING:
    from agent.aggregation.records import ClosedInterval
    from agent.store.database import Store

log = logging.getLogger(__name__)

HELD_MAX_BYTES = 8 << 20
"""Closed intervals kept in memory while the disk is full: 8 MiB is some 10,000 interval messages, a month of
15-minute intervals of 4 sensors; past it the oldest are dropped, each logged as lost."""
RETRY_MAX_S = 1.0
"""A full disk is retried at least this often, and twice per interval for intervals shorter than 2 s, so held
intervals are stored within one interval once space returns (tests/integration/test_fault_full_disk.py)."""
RECORD_OVERHEAD_BYTES = 256
"""What a held interval costs besides its payload (the ClosedInterval and the list entries)."""

Record = tuple["ClosedInterval", str, bytes]


@dataclass
class Held:
    """Closed intervals and their event messages that could not be stored yet, oldest first."""

    records: list[Record] = field(default_factory=list)
    events: list[tuple[str, bytes]] = field(default_factory=list)
    size: int = 0


class StoreGuard:
    """What went wrong with the store and what waits in memory because of it; used on the loop thread (and
    `failed` from source threads, whose writes hold nothing back)."""

    def __init__(self, store: Store, interval_s: float) -> None:
        self.store = store
        self.retry_s = min(RETRY_MAX_S, interval_s / 2)
        self.held = Held()
        self.disk_full_since: float | None = None
        self.lost = 0
        """Held intervals dropped to stay within HELD_MAX_BYTES since start."""
        self.last_error: str | None = None
        self._next_retry = 0.0
        self._logged = ""

    def failed(self, what: str, exc: sqlite3.Error, now: float) -> bool:
        """Record a failed store write; True if it was a full disk (retry later), False otherwise."""
        self.last_error = f"{what}: {type(exc).__name__}: {exc}"
        self._next_retry = now + self.retry_s
        if is_disk_full(exc, self.store.directory):
            if self.disk_full_since is None:
                self.disk_full_since = now
                log.error(
                    "store %s: disk full while %s; counting goes on in memory, retrying every %.1f s",
                    self.store.directory,
                    what,
                    self.retry_s,
                )
            return True
        if is_damage(exc):
            try:
                self.store.recover_if_damaged()
            except sqlite3.Error as again:
                self._log_once(f"the damaged store could not be replaced: {again}")
            return False
        self._log_once(self.last_error)
        return False

    def room(self) -> bool:
        """On a full disk, free what retention allows; True if anything was freed (worth trying again at once)."""
        try:
            return self.store.make_room() > 0
        except sqlite3.Error:
            return False

    def retry_due(self, now: float) -> bool:
        return bool(self.held.records or self.held.events) and now >= self._next_retry

    def hold(self, records: list[Record], events: list[tuple[str, bytes]]) -> None:
        """Keep intervals that could not be stored; the oldest go when the bound is reached."""
        held = self.held
        held.records.extend(records)
        held.events.extend(events)
        held.size += sum(len(p) + len(t) + RECORD_OVERHEAD_BYTES for _, t, p in records)
        held.size += sum(len(p) + len(t) + RECORD_OVERHEAD_BYTES for t, p in events)
        while held.size > HELD_MAX_BYTES and held.records:
            interval, topic, payload = held.records.pop(0)
            held.size -= len(payload) + len(topic) + RECORD_OVERHEAD_BYTES
            self.lost += 1
            log.error(
                "disk still full: interval %s@%s dropped from memory (%d held, bound %d bytes); it is lost",
                interval.sensor,
                interval.start,
                len(held.records),
                HELD_MAX_BYTES,
            )

    def take(self) -> Held:
        held, self.held = self.held, Held()
        return held

    def stored(self, now: float) -> None:
        """A write succeeded: the disk has room (again)."""
        if self.disk_full_since is not None:
            log.warning(
                "store %s: writing again after %.1f s of full disk; held intervals stored",
                self.store.directory,
                now - self.disk_full_since,
            )
            self.disk_full_since = None
        self.last_error = None

    def faults(self) -> StoreFaults:
        """The health report's view of the store's troubles."""
        recovery = self.store.recovery
        return StoreFaults(
            disk_full_since=self.disk_full_since,
            held_intervals=len(self.held.records),
            lost_intervals=self.lost,
            recovered_at=recovery.at if recovery else None,
            recovered_reason=recovery.reason if recovery else None,
            recovered_to=recovery.moved_to.name if recovery and recovery.moved_to else None,
            error=self.last_error
            or (f"store cannot be opened: {self.store.unavailable}" if self.store.unavailable else None),
        )

    def _log_once(self, text: str) -> None:
        if text != self._logged:
            self._logged = text
            log.error("store error: %s; counting goes on", text)
