"""Human-readable live view on a terminal: one line per closed interval, plus a refreshing line on a TTY.

The refreshing line has no newline, so anything else written to the terminal (log lines on stderr, from any
thread) would run into it: `guard_logging` makes each log record clear it first, under one lock with the
console's own writes; the next refresh draws it again below the log line.
"""

from __future__ import annotations

import logging
import sys
import threading
from typing import TextIO
from zoneinfo import ZoneInfo

from agent.aggregation.clock import local_iso
from agent.aggregation.records import ClosedInterval

REFRESH_S = 1.0
CLEAR_LINE = "\r\x1b[2K"


class Console:
    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.live_line = out.isatty()
        self._next_refresh = 0.0
        self._dirty = False
        self._lock = threading.RLock()

    def interval_closed(self, c: ClosedInterval, tz: ZoneInfo, outbox_depth: int, connected: bool) -> None:
        start = local_iso(c.start, tz)
        end = local_iso(c.end, tz)[11:19]
        state = "published" if connected and outbox_depth == 0 else f"buffered ({outbox_depth} waiting)"
        if connected and outbox_depth:
            state = f"publishing ({outbox_depth} waiting)"
        cover = 100.0 * c.coverage_s / (c.end - c.start) if c.end > c.start else 0.0
        line = (
            f"{start[:10]} {start[11:19]}-{end}  {c.sensor:<12} in {c.ins:>4}  out {c.outs:>4}  "
            f"inside {c.occupancy:>4}  coverage {cover:5.1f}%  {state}"
        )
        if c.rejected_lines:
            line += f"  rejected {c.rejected_lines}"
        with self._lock:
            self._clear()
            print(line, file=self.out, flush=True)

    def tick(self, now: float, live: dict[str, dict]) -> None:
        if not self.live_line or now < self._next_refresh:
            return
        self._next_refresh = now + REFRESH_S
        parts = [
            f"{sensor}: in {v.get('ins', 0)} out {v.get('outs', 0)} inside {v.get('occupancy', 0)}"
            for sensor, v in live.items()
        ]
        with self._lock:
            self.out.write(CLEAR_LINE + "now  " + "  |  ".join(parts))
            self.out.flush()
            self._dirty = True

    def guard_logging(self, logger: logging.Logger | None = None) -> None:
        """Make every handler of `logger` (the root logger) clear the live line before it writes a record."""
        target = logging.getLogger() if logger is None else logger
        target.handlers = [_ClearingHandler(self, h) for h in target.handlers]

    def _clear(self) -> None:
        if self._dirty:
            self.out.write(CLEAR_LINE)
            self.out.flush()
            self._dirty = False


class _ClearingHandler(logging.Handler):
    """Wraps a handler: the console's live line is cleared, under the console's lock, before each record."""

    def __init__(self, console: Console, inner: logging.Handler) -> None:
        super().__init__(inner.level)
        self.console = console
        self.inner = inner

    def emit(self, record: logging.LogRecord) -> None:
        with self.console._lock:
            self.console._clear()
            self.inner.handle(record)

    def flush(self) -> None:
        self.inner.flush()

    def close(self) -> None:
        self.inner.close()
        super().close()
