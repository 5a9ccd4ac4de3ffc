"""Commands from the broker, taken on the interval loop: each gets exactly one answer, within a budget per tick.

A flood of commands must not starve the loop that closes intervals, and must not be dropped in silence
either: the first `COMMANDS_PER_TICK` of a tick are carried out, the rest (and those the inbox could only
keep as a stub, see `agent.mqtt.inbox`) are answered `busy` with their id, so a sender knows to retry.
"""

from __future__ import annotations

import logging
from collections.abc import Collection

from agent.mqtt.commands import CommandHandler, CommandResponse, busy_response, dispatch
from agent.mqtt.inbox import Received

log = logging.getLogger(__name__)

COMMANDS_PER_TICK = 20
"""Commands carried out per loop tick (200 a second at 10 ticks a second). A `health` command builds a whole
report, a few milliseconds on a Pi, so 20 keep a flooded tick well inside its 100 ms; a `busy` answer costs
a few microseconds (tests/integration/test_fault_commands.py floods 20,000 at once)."""


class CommandDesk:
    """Answers command messages; `new_tick` renews the budget."""

    def __init__(self, per_tick: int = COMMANDS_PER_TICK) -> None:
        self.per_tick = per_tick
        self._left = per_tick
        self.busy = 0
        """Commands answered `busy` so far."""

    def new_tick(self) -> None:
        self._left = self.per_tick

    def answer(
        self, message: Received, handler: CommandHandler, sensors: Collection[str], now: float
    ) -> CommandResponse:
        if message.overflow or self._left <= 0:
            self.busy += 1
            if self.busy & (self.busy - 1) == 0:  # 1, 2, 4, 8 ...: visible, but never a flood
                log.warning(
                    "%d command(s) answered busy so far: they arrived faster than they can be carried out", self.busy
                )
            return busy_response(message.payload, now)
        self._left -= 1
        return dispatch(message.payload, handler, now, sensors=sensors, size=message.wire_size)
