"""`run --console` on a real terminal (a pseudo-terminal): the refreshing status line and log lines share the
screen, and a log line never runs into the status line."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.integration.conftest import agent_config

REPO = Path(__file__).resolve().parents[2]
CLEAR_LINE = "\r\x1b[2K"


def read_until(fd: int, predicate, timeout: float) -> str:  # type: ignore[no-untyped-def]
    """Everything the terminal shows until `predicate(text)` holds (or the time is up)."""
    text = ""
    deadline = time.monotonic() + timeout
    while not predicate(text) and time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                text += os.read(fd, 65536).decode("utf-8", "replace")
            except OSError:
                break
    return text


def test_log_lines_start_on_a_line_of_their_own_while_the_status_line_refreshes(tmp_path: Path) -> None:
    config = agent_config(tmp_path, broker=None, sensors="  - id: door\n    type: simulated\n    peak_per_hour: 3600\n")
    master, terminal = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "--config", str(config), "--console"],
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=terminal,
        stderr=terminal,
    )
    os.close(terminal)
    try:
        screen = read_until(master, lambda text: "now  door: in" in text, 20)
        assert "now  door: in" in screen, screen
        # A broken config and a reload: log lines from the interval loop while the status line is up.
        config.write_text(config.read_text() + "bogus: 1\n")
        proc.send_signal(signal.SIGHUP)
        screen += read_until(master, lambda text: text.count("reload rejected") >= 2 and "now  door" in text, 20)
        assert "reload rejected" in screen, screen
        for match in re.finditer(r"(INFO|WARNING|ERROR) agent", screen):
            before = screen[: match.start()]
            if before:
                assert before.endswith(("\n", CLEAR_LINE)), f"a log line ran into the status line: {before[-80:]!r}"
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        os.close(master)
