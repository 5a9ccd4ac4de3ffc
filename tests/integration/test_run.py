"""`footfall-agent run` as a process: signals, exit codes, the built-in demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import AgentProcess, PtyPair, agent_config, read_intervals

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_flushes_and_exits_0_within_5s(tmp_path: Path, pty_pair: PtyPair, sig: int) -> None:
    config = agent_config(
        tmp_path,
        broker=None,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n",
    )
    agent = AgentProcess(config, tmp_path / "agent.log")
    fd = pty_pair.open_peer()
    try:
        deadline = time.monotonic() + 15
        db = tmp_path / "data" / "footfall.db"
        while not (db.exists() and read_intervals(db)) and time.monotonic() < deadline:
            os.write(fd, b"IN 1\n")
            time.sleep(0.1)
        assert read_intervals(db), (tmp_path / "agent.log").read_text()
        t0 = time.monotonic()
        agent.signal(sig)
        assert agent.wait(5) == 0
        assert time.monotonic() - t0 < 5
    finally:
        os.close(fd)
        agent.kill()


def test_bad_config_exits_2_without_traceback(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("site: s\nsensors:\n  - id: a\n    type: serial-lines\n    prot: /dev/ttyUSB0\n")
    r = subprocess.run(
        [sys.executable, "-m", "agent", "run", "--config", str(cfg)], cwd=REPO, capture_output=True, text=True
    )
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert "sensors[0].prot" in r.stderr and "line 5" in r.stderr
    assert "sensors[0].port" in r.stderr


def test_demo_runs_without_hardware_or_broker(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent", "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=5)
    assert proc.returncode == 0, err
    assert "demo" in out
    db = tmp_path / "footfall-agent" / "demo" / "footfall.db"
    assert db.exists()
    assert "Traceback" not in err
