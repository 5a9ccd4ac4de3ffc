"""Fault: SIGKILL an agent reading event lines, right after it has read them. No event it read may be lost.

A burst of `IN` lines is written to a real pseudo-terminal; once the agent has taken every byte of it from
the terminal (the device's input queue is empty), its store must hold them within seconds, long before its
30 s checkpoint (the batch is committed after the read, not at the checkpoint), and the agent is then killed
at a random moment. After all the kills a last run stops cleanly, and the lifetime total it stored must equal
the lines written. Waiting for the commit rather than for a fixed time keeps the test true on a busy disk.
"""

from __future__ import annotations

import fcntl
import json
import os
import random
import sqlite3
import struct
import termios
import time
from pathlib import Path

from tests.integration.agent_process import wait_until
from tests.integration.conftest import AgentProcess, PtyPair, agent_config

KILLS = 20
SEED = 20261207


def queued(fd: int, request: int) -> int:
    return struct.unpack("i", fcntl.ioctl(fd, request, b"\0\0\0\0"))[0]


def stored_total(db: Path) -> int:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        row = con.execute("SELECT state FROM sensor_state WHERE sensor = 'door'").fetchone()
        return int(json.loads(row[0])["total_in"]) if row else 0
    finally:
        con.close()


def test_sigkill_after_reading_event_lines_loses_none_of_them(tmp_path: Path, pty_pair: PtyPair) -> None:
    config = agent_config(
        tmp_path,
        broker=None,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n    preset: event\n",
        # Checkpoints and closes far apart: only the commit of each read batch can keep the events.
        interval="1m",
        extra="anomaly:\n  enabled: false\n",
    )
    config.write_text(config.read_text().replace("checkpoint: 1s", "checkpoint: 30s"))
    rng = random.Random(SEED)
    peer = pty_pair.open_peer()
    # A second handle on the agent's end of the terminal, never read: it shows what the agent has not read yet.
    device = os.open(pty_pair.device, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    written = 0
    db = tmp_path / "data" / "footfall.db"

    def all_read() -> bool:
        return queued(peer, termios.TIOCOUTQ) == 0 and queued(device, termios.FIONREAD) == 0

    try:
        for kill in range(KILLS):
            agent = AgentProcess(config, tmp_path / f"agent-{kill}.log")
            try:
                # Opening the port discards what it held (pyserial flushes input): write only once it is open.
                assert agent.wait_for_log("door: source up"), agent.log_text()
                burst = rng.randint(1, 40)
                os.write(peer, b"IN 1\n" * burst)
                written += burst
                assert wait_until(lambda: all_read() and (time.sleep(0.02) or all_read()), 30), "the agent never read"
                # Committed after the read: well before the 30 s checkpoint, however busy the disk.
                assert wait_until(lambda n=written: stored_total(db) == n, 10), (
                    f"events read but not committed\n{agent.log_text()[-3000:]}"
                )
                time.sleep(rng.uniform(0.0, 0.5))
            finally:
                agent.kill()
        final = AgentProcess(config, tmp_path / "final.log")
        try:
            assert final.wait_for_log("running:"), final.log_text()
            assert final.stop() == 0
        finally:
            final.kill()
    finally:
        os.close(device)
        os.close(peer)
    assert stored_total(db) == written, f"{KILLS} kills lost events the agent had read"
