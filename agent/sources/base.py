"""What every source talks to (`CountSink`), what the runtime drives (`Source`), and up/down tracking.

Sources run on their own threads and only ever call the sink, so the runtime can swap a serial counter
for a simulated door without either side knowing. `LinkStatus` turns a source's stream of "it works" /
"it failed" observations into edge-triggered `source_up`/`source_down` calls (coverage and disconnect
counts need transitions, not repeats) and into a few readable log lines instead of one per retry.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol

from agent.aggregation.records import CameraCounts

Clock = Callable[[], float]

# While a source stays down, repeat the "still down" line at most this often.
STILL_DOWN_LOG_EVERY_S = 60.0


class CountSink(Protocol):
    """Receives counts and health from sources; thread-safe and fast (never blocks on I/O)."""

    def add(self, sensor: str, ins: int, outs: int, at: float) -> None: ...

    def add_camera(self, sensor: str, ins: int, outs: int, counts: CameraCounts, at: float) -> None:
        """A camera's ins and outs with its per-line and per-zone counts, in one call so that they land in
        the same interval."""
        ...

    def add_totals(self, sensor: str, in_total: int, out_total: int, at: float) -> None: ...

    def reject(self, sensor: str, n: int, at: float) -> None: ...

    def commit(self, sensor: str) -> None:
        """Make durable what the sensor's source delivered so far: called after each read batch of events that
        cannot be read again (event lines), so a crash right after a read loses none of them. Blocks on disk."""
        ...

    def source_up(self, sensor: str, at: float) -> None: ...

    def source_down(self, sensor: str, at: float, reason: str) -> None: ...


class Source(Protocol):
    """A counter the runtime starts and stops; it feeds a `CountSink` from its own daemon thread."""

    sensor_id: str

    def start(self) -> None: ...

    def stop(self, timeout: float) -> None: ...

    def readings(self) -> dict[str, float | int | None]: ...


def describe_gap(seconds: float) -> str:
    """A gap length people can read at a glance in a log line."""
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


class LinkStatus:
    """Edge-triggered up/down reporting for one sensor, with sparse logging.

    The first state is unknown, so the first observation is always reported. Repeated `mark_down`
    calls while down (every failed reconnect attempt) reach neither the sink nor, more often than
    once a minute, the log.
    """

    def __init__(
        self,
        sensor_id: str,
        sink: CountSink,
        clock: Clock = time.time,
        log: logging.Logger | None = None,
        monotonic: Clock = time.monotonic,
    ) -> None:
        self.sensor_id = sensor_id
        self._sink = sink
        self._clock = clock
        self._log = log if log is not None else logging.getLogger("agent.sources")
        self._monotonic = monotonic
        self.is_up: bool | None = None
        self.reason = ""
        self._changed_at = monotonic()
        self._last_down_log = 0.0

    def mark_up(self) -> None:
        if self.is_up:
            return
        now = self._monotonic()
        if self.is_up is False:
            self._log.info("%s: source up again after %s down", self.sensor_id, describe_gap(now - self._changed_at))
        else:
            self._log.info("%s: source up", self.sensor_id)
        self.is_up, self.reason, self._changed_at = True, "", now
        self._sink.source_up(self.sensor_id, self._clock())

    def mark_down(self, reason: str) -> None:
        now = self._monotonic()
        if self.is_up is False:
            self.reason = reason
            if now - self._last_down_log >= STILL_DOWN_LOG_EVERY_S:
                self._last_down_log = now
                self._log.warning(
                    "%s: source still down after %s: %s", self.sensor_id, describe_gap(now - self._changed_at), reason
                )
            return
        if self.is_up:
            self._log.warning(
                "%s: source down after %s up: %s; retrying",
                self.sensor_id,
                describe_gap(now - self._changed_at),
                reason,
            )
        else:
            self._log.warning("%s: source not available: %s; retrying", self.sensor_id, reason)
        self.is_up, self.reason, self._changed_at, self._last_down_log = False, reason, now, now
        self._sink.source_down(self.sensor_id, self._clock(), reason)


class ThreadedSource:
    """Start/stop plumbing shared by every source: one daemon thread runs `_run` until `_stop` is set.

    Subclasses block in `_run` on their device and poll `_stop` at least every fraction of a second,
    so `stop()` returns promptly.
    """

    def __init__(self, sensor_id: str, sink: CountSink, clock: Clock, logger: logging.Logger) -> None:
        self.sensor_id = sensor_id
        self._sink = sink
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.link = LinkStatus(sensor_id, sink, clock, logger)

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"source-{self.sensor_id}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def readings(self) -> dict[str, float | int | None]:
        """Source-specific fields of the health report (`SourceReport`); a serial counter has none."""
        return {}

    def _run(self) -> None:
        raise NotImplementedError
