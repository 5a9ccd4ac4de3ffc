"""Text lines from serial people-counters turned into counts, by one regular expression per sensor.

Counters speak one of two dialects: *events* ("IN 1", "OUT" - one line per passage or batch) and
*cumulative totals* ("in=1042,out=1017" - running counters the agent differences itself). A regex with
named groups covers both without a parser per vendor: `direction` (+ optional `count`) for events,
`in` and `out` for totals. Pure: no I/O, so every dialect is tested directly.

A line that matches but carries an impossible number (`IN 999999999999999999999`, a total beyond the
device's register) is not garbage in form but in content: it is `IMPLAUSIBLE`, rejected and counted apart.
Nothing above a signed 64-bit integer ever leaves this module (SQLite and most consumers stop there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

PRESETS: dict[str, str] = {
    # `IN 1`, `OUT 2`, `in`, `OUT`, `+`, `EXIT:3`: a direction word, then an optional count (default 1).
    "event": r"(?P<direction>[A-Za-z]+|[+-])(?:[\s:=,]*(?P<count>\d+))?",
    # `in=1042,out=1017`, `IN:1042;OUT:1017`, `in=1042 out=1017`, either order, other keys ignored.
    "cumulative-kv": r"(?i)(?=.*?\bin\s*[=:]\s*(?P<in>\d+)\b)(?=.*?\bout\s*[=:]\s*(?P<out>\d+)\b).*",
    # `1042,1017` (also `;`, tab or space separated): ins first, then outs.
    "cumulative-csv": r"(?P<in>\d+)\s*[,;\s]\s*(?P<out>\d+)",
    # `{"in": 1042, "out": 1017}` in any key order with extra keys; quoted numbers are accepted too.
    "cumulative-json": (r'(?i)\{(?=.*?"in"\s*:\s*"?(?P<in>\d+)\b)(?=.*?"out"\s*:\s*"?(?P<out>\d+)\b).*\}'),
}


INT64_MAX = 2**63 - 1
DEFAULT_MAX_COUNT = 1000
"""Largest count one event line may carry by default: a door lets about one person a second through per
lane, so even a device that reports its passages in batches once a minute stays far below it, while a
corrupted number (a run of digits, a register dump) lands far above it."""
_MAX_DIGITS = len(str(INT64_MAX))


def max_total(counter_bits: int) -> int:
    """Largest running total a register of `counter_bits` can hold, and never above int64."""
    return min((1 << counter_bits) - 1, INT64_MAX)


class Implausible:
    """A line of the right form whose number cannot be true; see `IMPLAUSIBLE`."""

    def __repr__(self) -> str:
        return "IMPLAUSIBLE"


IMPLAUSIBLE = Implausible()


@dataclass(frozen=True)
class Increment:
    """People counted by one event line (the aggregator adds them)."""

    ins: int
    outs: int


@dataclass(frozen=True)
class Totals:
    """A device's running counters (the aggregator differences consecutive readings)."""

    in_total: int
    out_total: int


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile a line regex and check its named groups, so a bad pattern fails at config load, not on the first line."""
    try:
        rx = re.compile(pattern)
    except re.error as e:
        raise ValueError(f"invalid regex: {e}") from None
    groups = set(rx.groupindex)
    has_direction = "direction" in groups
    has_in, has_out = "in" in groups, "out" in groups
    if has_direction and (has_in or has_out):
        raise ValueError("regex has both a 'direction' group and 'in'/'out' groups; use one style")
    if not has_direction and not (has_in and has_out):
        if has_in or has_out:
            missing = "out" if has_in else "in"
            raise ValueError(f"regex has no (?P<{missing}>...) group; cumulative patterns need both 'in' and 'out'")
        raise ValueError(
            "regex needs named groups: (?P<direction>...) with optional (?P<count>...) for events, "
            "or (?P<in>...) and (?P<out>...) for cumulative totals"
        )
    if "count" in groups and not has_direction:
        raise ValueError("a 'count' group only makes sense together with a 'direction' group")
    return rx


class LineParser:
    """Turns one received line into an `Increment`, a `Totals` or None for garbage.

    The pattern must match the whole line after surrounding whitespace (including a CR) is stripped;
    anything else is garbage, because a partial match on a corrupted line would invent people.
    """

    def __init__(
        self,
        pattern: str,
        in_values: Iterable[str],
        out_values: Iterable[str],
        max_count: int = DEFAULT_MAX_COUNT,
        max_total: int = INT64_MAX,
    ) -> None:
        self._rx = compile_pattern(pattern)
        self._max_count = min(max_count, INT64_MAX)
        self._max_total = min(max_total, INT64_MAX)
        self._events = "direction" in self._rx.groupindex
        self._has_count = "count" in self._rx.groupindex
        self._in = {v.strip().casefold() for v in in_values if v.strip()}
        self._out = {v.strip().casefold() for v in out_values if v.strip()}
        if self._events and not (self._in and self._out):
            raise ValueError("in_values and out_values must each name at least one value")
        both = self._in & self._out
        if both:
            raise ValueError(f"values listed as both in and out: {', '.join(sorted(both))}")

    @property
    def events(self) -> bool:
        """True for event lines (`Increment`), False for cumulative totals (`Totals`)."""
        return self._events

    def parse(self, line: str) -> Increment | Totals | Implausible | None:
        m = self._rx.fullmatch(line.strip())
        if m is None:
            return None
        try:
            if self._events:
                return self._increment(m)
            ins, outs = m.group("in"), m.group("out")
            if ins is None or outs is None:
                return None
            if len(ins) > _MAX_DIGITS or len(outs) > _MAX_DIGITS:
                return IMPLAUSIBLE
            totals = Totals(int(ins), int(outs))
            if totals.in_total < 0 or totals.out_total < 0:
                return None
            if totals.in_total > self._max_total or totals.out_total > self._max_total:
                return IMPLAUSIBLE
            return totals
        except ValueError:
            return None

    def _increment(self, m: re.Match[str]) -> Increment | Implausible | None:
        direction = m.group("direction")
        if direction is None:
            return None
        raw = m.group("count") if self._has_count else None
        if raw is not None and len(raw) > _MAX_DIGITS:
            return IMPLAUSIBLE
        count = 1 if raw is None else int(raw)
        if count < 0:
            return None
        if count > self._max_count:
            return IMPLAUSIBLE
        key = direction.strip().casefold()
        if key in self._in:
            return Increment(count, 0)
        if key in self._out:
            return Increment(0, count)
        return None
