"""`footfall-agent run` driven as systemd drives it: a notify socket, a watchdog, a wedged store."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.integration.conftest import PtyPair, agent_config

REPO = Path(__file__).resolve().parents[2]


def collect(sock: socket.socket, seconds: float) -> list[str]:
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            pass
    return got


def test_ready_watchdog_stopping_and_silence_while_the_store_is_wedged(tmp_path: Path, pty_pair: PtyPair) -> None:
    config = agent_config(
        tmp_path, broker=None, sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n"
    )
    sock_dir = Path(tempfile.mkdtemp(prefix="sdn-"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_dir / "notify"))
    sock.settimeout(0.05)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_dir / "notify"), "WATCHDOG_USEC": "1000000"}
    env.pop("WATCHDOG_PID", None)
    log = open(tmp_path / "agent.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "--config", str(config)], cwd=REPO, env=env, stdout=log, stderr=log
    )
    try:
        first = collect(sock, 3.0)
        assert first and first[0].startswith("READY=1"), (tmp_path / "agent.log").read_text()
        assert first.count("WATCHDOG=1") >= 3, "pings every quarter of WATCHDOG_USEC while the loop runs"
        db = sqlite3.connect(tmp_path / "data" / "footfall.db", timeout=10, isolation_level=None)
        db.execute("BEGIN EXCLUSIVE")  # the store's next write now blocks: the interval loop is wedged
        try:
            collect(sock, 1.5)  # let an iteration that was already past its write finish
            assert "WATCHDOG=1" not in collect(sock, 2.0), "the watchdog kept pinging while the loop was wedged"
        finally:
            db.execute("ROLLBACK")
            db.close()
        assert "WATCHDOG=1" in collect(sock, 2.0), "pings did not resume after the store recovered"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        assert any(m.startswith("STOPPING=1") for m in collect(sock, 0.5))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        sock.close()
        shutil.rmtree(sock_dir, ignore_errors=True)
