"""`footfall-agent run` as a real subprocess, its config, and its database read back."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from tests.integration.mosquitto import Broker


def agent_config(
    tmp_path: Path,
    *,
    broker: Broker | None,
    sensors: str,
    interval: str = "1s",
    extra: str = "",
    timezone: str = "Europe/Berlin",
) -> Path:
    """Write a config file for a test agent: short intervals, store under tmp_path, the test broker."""
    mqtt = (
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n  keepalive: 5\n"
        "  reconnect_min: 0.2\n  reconnect_max: 1\n"
        if broker is not None
        else "mqtt:\n  enabled: false\n"
    )
    text = (
        "site: test\n"
        "device: d1\n"
        f"timezone: {timezone}\n"
        f"intervals:\n  length: {interval}\n"
        f"store:\n  path: {tmp_path / 'data'}\n  checkpoint: 1s\n"
        f"{mqtt}"
        f"sensors:\n{sensors}"
        f"{extra}"
    )
    path = tmp_path / "agent.yaml"
    path.write_text(text)
    return path


def afternoon_timezone() -> str:
    """A fixed-offset zone where it is now early afternoon: a simulated shop open '00:00'-'23:59' is busy there
    whenever the test runs, never in its quiet first hours after opening nor closed in the minute before
    midnight (a test run near midnight in Europe/Berlin saw three 1-second intervals with nobody in them)."""
    offset = (13 - time.gmtime().tm_hour + 12) % 24 - 12  # UTC-12 .. UTC+11
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"  # the Etc zones' signs are POSIX's: GMT-2 is UTC+2


class AgentProcess:
    """`footfall-agent run` as a real subprocess, as systemd would start it."""

    def __init__(self, config: Path, log_path: Path, env: dict[str, str] | None = None) -> None:
        import sys

        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(config)],
            stdout=self.log,
            stderr=self.log,
            cwd=Path(__file__).resolve().parents[2],
            env=env,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, text: str, timeout: float = 30.0) -> bool:
        """Whether `text` appears in the log within `timeout` seconds (False at once if the process ended)."""
        return wait_until(lambda: text in self.log_text() or self.proc.poll() is not None, timeout) and (
            text in self.log_text()
        )

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout)

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, as `systemctl stop` sends it, and the exit status within `timeout` seconds."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.log.close()


def wait_until(predicate: Callable[[], object], timeout: float, step: float = 0.05) -> bool:
    """Poll `predicate` until it is true or `timeout` seconds have passed; its last verdict."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return bool(predicate())


def read_intervals(db: Path) -> dict[tuple[str, float], bytes]:
    """Every stored interval, read straight from the SQLite file, the way an auditor would."""
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        if not con.execute("SELECT 1 FROM sqlite_master WHERE name = 'intervals'").fetchone():
            return {}  # the agent has created the file but not yet its tables
        return {(s, start): bytes(p) for s, start, p in con.execute("SELECT sensor, start, payload FROM intervals")}
    finally:
        con.close()


def read_pending_ids(db: Path) -> set[str]:
    """Ids of interval messages still waiting in the outbox (not yet acknowledged by a broker)."""
    import json
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {json.loads(p)["id"] for (p,) in con.execute("SELECT payload FROM outbox")}
    finally:
        con.close()
