"""Running counters read from a device turned into increments.

Counters with registers (Modbus, `in=1042,out=1017` lines) report totals, not passages, so the agent
differences consecutive readings. A decrease is ambiguous: the register wrapped at its width, or the device
rebooted and restarted from zero. `max_step` (the largest increase plausible between two readings) decides:
a wrap that would imply more than `max_step` passages is taken for a reboot. Whatever happens, an increment
is never negative and no passage is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReadingKind = Literal["first", "ok", "wrap", "reset", "jump"]


@dataclass
class Reading:
    """Passages to count from one reading, and how the reading related to the previous one."""

    delta: int
    kind: ReadingKind


class CumulativeCounter:
    """One device register of `bits` width, differenced against the previous reading kept in `last`.

    - first reading: the baseline, counts nothing (unless `last` was restored from a saved state);
    - increase up to `max_step`: counted ("ok");
    - decrease where the wrap-around distance is at most `max_step`: counted across the wrap ("wrap");
    - other decrease: a device reboot ("reset"); the new value is what was counted since the reboot, so it is
      counted if plausible (<= `max_step`), else nothing;
    - increase above `max_step`: implausible ("jump"), counts nothing and re-baselines, because a corrupted
      reading or a swapped device must not invent thousands of visitors.
    """

    def __init__(self, bits: int, max_step: int, last: int | None = None) -> None:
        if bits < 1:
            raise ValueError(f"counter width must be at least 1 bit, not {bits}")
        if max_step < 0:
            raise ValueError(f"max_step must not be negative, not {max_step}")
        self.bits = bits
        self.max_step = max_step
        self.modulus = 1 << bits
        self.last = last

    def update(self, value: int) -> Reading:
        if value < 0:
            raise ValueError(f"a counter reading cannot be negative: {value}")
        last, self.last = self.last, value
        if last is None:
            return Reading(0, "first")
        if value >= last:
            step = value - last
            return Reading(step, "ok") if step <= self.max_step else Reading(0, "jump")
        # A register cannot have held a value at or above its width; such a `last` means a misconfigured
        # width, and a "wrap" from it would be computed as a negative count.
        if last < self.modulus:
            wrapped = self.modulus - last + value
            if wrapped <= self.max_step:
                return Reading(wrapped, "wrap")
        return Reading(value if value <= self.max_step else 0, "reset")
