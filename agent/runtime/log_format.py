"""Log lines for a terminal and for the systemd journal: one line per event, a level prefix, never a secret.

Under systemd, stderr is a stream into journald, which says so in `$JOURNAL_STREAM` (`<device>:<inode>` of
that stream). Each line then starts with its syslog priority in angle brackets (`<3>` for an error), which
journald strips and keeps as the entry's priority, so `journalctl -p warning` shows warnings and worse. On a
terminal the priority is left out. Either way a multi-line message (a traceback) is folded into one line,
because journald makes one entry per line and a traceback split over twenty entries is unreadable.

Secrets are never logged on purpose; as a second line of defence the configured ones (the broker password,
the TLS key password) are masked in every line, should one ever end up in an error text.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterable, Mapping
from typing import TextIO

from agent.config.agent import AgentConfig

FORMAT = "%(levelname)s %(name)s: %(message)s"
MASK = "********"
MIN_SECRET_LEN = 4
"""Shorter values are not masked: masking every `ab` in the log would garble it and hide nothing."""
FOLD = " | "

# syslog(3) priorities: journald files each line under the priority its `<N>` prefix names.
_PRIORITIES = ((logging.CRITICAL, 2), (logging.ERROR, 3), (logging.WARNING, 4), (logging.INFO, 6))


def syslog_priority(levelno: int) -> int:
    for threshold, priority in _PRIORITIES:
        if levelno >= threshold:
            return priority
    return 7


def is_journal_stream(stream: TextIO, env: Mapping[str, str] | None = None) -> bool:
    """Whether `stream` is the journald stream systemd connected (not just inherited the variable)."""
    value = (os.environ if env is None else env).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        st = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (st.st_dev, st.st_ino) == (int(device), int(inode))


class Secrets:
    """Values that must not appear in a log line."""

    def __init__(self, values: Iterable[str | None] = ()) -> None:
        self._values: tuple[str, ...] = ()
        self.add(values)

    def add(self, values: Iterable[str | None]) -> None:
        """Mask these too; old values stay masked (a rejected reload keeps the old config running)."""
        kept = {*self._values, *(v for v in values if v and len(v) >= MIN_SECRET_LEN)}
        self._values = tuple(sorted(kept, key=len, reverse=True))  # longest first: a secret inside another

    def mask(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, MASK)
        return text


def config_secrets(cfg: AgentConfig) -> list[str]:
    """The secret values a config resolves to; one that cannot be read now is simply not known."""
    found: list[str] = []
    readers = [cfg.mqtt.resolved_password]
    if cfg.mqtt.tls is not None:
        readers.append(cfg.mqtt.tls.resolved_key_password)
    for read in readers:
        try:
            value = read()
        except Exception:  # noqa: BLE001 - an unreadable secret is reported where it is used, not here
            continue
        if value:
            found.append(value)
    return found


class LineFormatter(logging.Formatter):
    """`LEVEL logger: message` on one line, with a `<N>` priority prefix for journald."""

    def __init__(self, journal: bool, secrets: Secrets | None = None) -> None:
        super().__init__(FORMAT)
        self.journal = journal
        self.secrets = secrets or Secrets()

    def format(self, record: logging.LogRecord) -> str:
        text = self.secrets.mask(super().format(record))
        line = FOLD.join(part.rstrip() for part in text.splitlines() if part.strip())
        return f"<{syslog_priority(record.levelno)}>{line}" if self.journal else line


def error_lines(text: str, stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> str:
    """Errors printed before logging is set up (a broken config at start), at error priority in the journal."""
    if not is_journal_stream(sys.stderr if stream is None else stream, env):
        return text
    return "\n".join(f"<{syslog_priority(logging.ERROR)}>{line}" for line in text.splitlines())


def configure(level: str, stream: TextIO | None = None, env: Mapping[str, str] | None = None) -> Secrets:
    """Log to `stream` (stderr) at `level`; returns the secrets to mask, to be added from each config loaded."""
    out = sys.stderr if stream is None else stream
    secrets = Secrets()
    handler = logging.StreamHandler(out)
    handler.setFormatter(LineFormatter(is_journal_stream(out, env), secrets))
    logging.basicConfig(level=getattr(logging, level.upper()), handlers=[handler], force=True)
    return secrets
