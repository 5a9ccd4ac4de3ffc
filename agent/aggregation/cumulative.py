"""Running counters read from a device turned into increments.

Counters with registers (Modbus, `in=1042,out=1017` lines) report totals, not passages, so the agent
differences consecutive readings. A reading that continues the sequence (an increase up to `max_step`, or a
wrap-around at the register's width within `max_step`) is counted at once. A reading that breaks it (a
decrease that is no wrap, or an increase above `max_step`) may be a device reboot or a swapped device, or a
single corrupted reading (a lost digit: 10421, 1042, 10422). The two look the same until the next reading,
so a breaking reading is held, counting nothing, and judged by the one after it:

- back on the old sequence: the held reading was a glitch; it is dropped and the step from the old value is
  counted, so a single corrupted reading never counts anyone;
- on from the held value: the break was real. A reboot ("reset") counts the held value (what the device has
  counted since it restarted, if at most `max_step`); a jump counts nothing; both then count the step since
  the held value;
- neither: the newer reading is held instead.

Whatever happens, an increment is never negative and no passage is counted twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ReadingKind = Literal["first", "ok", "wrap", "held", "glitch", "reset", "jump"]


@dataclass
class Reading:
    """Passages to count from one reading, and how the reading related to the previous one.

    `ignored` is the held reading a "glitch" dropped, for the log.
    """

    delta: int
    kind: ReadingKind
    ignored: int | None = None


class CumulativeCounter:
    """One device register of `bits` width, differenced against the previous reading kept in `last`.

    `held` is a reading that broke the sequence and waits for the next one to be judged (see the module);
    `last` and `held` are what a restart must restore.
    """

    def __init__(self, bits: int, max_step: int, last: int | None = None, held: int | None = None) -> None:
        if bits < 1:
            raise ValueError(f"counter width must be at least 1 bit, not {bits}")
        if max_step < 0:
            raise ValueError(f"max_step must not be negative, not {max_step}")
        self.bits = bits
        self.max_step = max_step
        self.modulus = 1 << bits
        self.last = last
        self.held = held if last is not None else None

    def update(self, value: int) -> Reading:
        if value < 0:
            raise ValueError(f"a counter reading cannot be negative: {value}")
        last, held = self.last, self.held
        if last is None:
            self.last = value
            return Reading(0, "first")
        step = self._continuing(last, value)
        if step is not None:
            self.last, self.held = value, None
            if held is not None:
                return Reading(step.delta, "glitch", ignored=held)
            return step
        if held is not None:
            since_held = self._continuing(held, value)
            if since_held is not None:
                self.last, self.held = value, None
                if held > last:
                    return Reading(since_held.delta, "jump")
                counted_by_reboot = held if held <= self.max_step else 0
                return Reading(counted_by_reboot + since_held.delta, "reset")
        self.held = value
        return Reading(0, "held")

    def _continuing(self, last: int, value: int) -> Reading | None:
        """The count from `last` to `value` if `value` plausibly follows it, else None."""
        if value >= last:
            step = value - last
            return Reading(step, "ok") if step <= self.max_step else None
        # A register cannot have held a value at or above its width; such a `last` means a misconfigured
        # width, and a "wrap" from it would be computed as a negative count.
        if last < self.modulus:
            wrapped = self.modulus - last + value
            if wrapped <= self.max_step:
                return Reading(wrapped, "wrap")
        return None
