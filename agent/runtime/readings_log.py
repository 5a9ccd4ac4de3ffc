"""Log lines for running-total readings that were not a plain step: one line per event worth a look."""

from __future__ import annotations

import logging

from agent.aggregation.cumulative import Reading

log = logging.getLogger("agent.runtime.agent")

_WHAT = {
    "reset": "reset by the device",
    "jump": "jumped implausibly",
    "wrap": "wrapped around",
}


def log_readings(sensor: str, readings: tuple[Reading, Reading], values: tuple[int, int]) -> None:
    """A confirmed reset, jump or wrap as a warning; a held reading at debug; a dropped glitch as a warning."""
    for direction, reading, value in zip(("in", "out"), readings, values, strict=True):
        if reading.kind in _WHAT:
            log.warning(
                "%s: %s counter %s (value now %d, counted %d)",
                sensor,
                direction,
                _WHAT[reading.kind],
                value,
                reading.delta,
            )
        elif reading.kind == "held":
            log.debug(
                "%s: %s counter reading %d breaks the sequence; held until the next one", sensor, direction, value
            )
        elif reading.kind == "glitch":
            log.warning(
                "%s: %s counter reading %d ignored: it broke the sequence and the next one (%d) returned to it",
                sensor,
                direction,
                reading.ignored,
                value,
            )
