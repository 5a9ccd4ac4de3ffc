"""One finding of `doctor` and how a list of them is shown and judged.

A finding is `ok`, `warn` (works, but may not for long or not as meant) or `fail` (will not count or not
deliver), with a detail line and, unless it is ok, what to do. Any fail makes `doctor` exit non-zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

Status = Literal["ok", "warn", "fail"]
EXIT_FAIL = 1


@dataclass(frozen=True)
class Check:
    """One thing looked at: its status, what was found and, unless ok, what to do."""

    status: Status
    name: str
    detail: str
    advice: str = ""


def ok(name: str, detail: str) -> Check:
    return Check("ok", name, detail)


def warn(name: str, detail: str, advice: str) -> Check:
    return Check("warn", name, detail, advice)


def fail(name: str, detail: str, advice: str) -> Check:
    return Check("fail", name, detail, advice)


def render(checks: Iterable[Check], mask: Callable[[str], str] = lambda text: text) -> list[str]:
    """One line per finding (`ok   name  detail`), the advice indented below a warning or a failure; every
    line goes through `mask`, which hides the configured secrets should one ever be in an error text."""
    lines = []
    for check in checks:
        lines.append(mask(f"{check.status:<4}  {check.name:<20} {check.detail}"))
        if check.advice:
            lines.append(mask(f"{'':<4}  {'':<20} -> {check.advice}"))
    return lines


def summary(checks: list[Check]) -> str:
    counts = {status: sum(1 for c in checks if c.status == status) for status in ("ok", "warn", "fail")}
    return f"{counts['ok']} ok, {counts['warn']} warning(s), {counts['fail']} failure(s)"


def exit_status(checks: Iterable[Check]) -> int:
    """0 unless something failed: warnings do not stop an installation."""
    return EXIT_FAIL if any(c.status == "fail" for c in checks) else 0
