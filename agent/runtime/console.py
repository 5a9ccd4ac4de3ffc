"""Human-readable live view on a terminal: one line per closed interval, plus a refreshing line on a TTY."""

from __future__ import annotations

import sys
from typing import TextIO
from zoneinfo import ZoneInfo

from agent.aggregation.clock import local_iso
from agent.aggregation.records import ClosedInterval

REFRESH_S = 1.0


class Console:
    def __init__(self, out: TextIO = sys.stdout) -> None:
        self.out = out
        self.live_line = out.isatty()
        self._next_refresh = 0.0
        self._dirty = False

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
        self.out.write("\r\x1b[2Know  " + "  |  ".join(parts))
        self.out.flush()
        self._dirty = True

    def _clear(self) -> None:
        if self._dirty:
            self.out.write("\r\x1b[2K")
            self._dirty = False
