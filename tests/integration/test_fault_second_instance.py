"""Fault: a second `run` on the same store (by hand, while the service runs) must leave at once, not fight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.integration.agent_process import wait_until
from tests.integration.conftest import AgentProcess, Broker, agent_config

REPO = Path(__file__).resolve().parents[2]
SIMULATED = "  - id: sim\n    type: simulated\n    seed: 1\n"


def test_a_second_instance_exits_2_naming_the_store_and_the_pid(tmp_path: Path, broker: Broker) -> None:
    config = agent_config(tmp_path, broker=broker, sensors=SIMULATED)
    first = AgentProcess(config, tmp_path / "first.log")
    try:
        assert first.wait_for_log("running:"), first.log_text()
        second = subprocess.run(
            [sys.executable, "-m", "agent", "run", "--config", str(config)],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2, second.stderr
        assert "Traceback" not in second.stderr
        assert str(tmp_path / "data") in second.stderr
        assert f"PID {first.proc.pid}" in second.stderr
        assert first.proc.poll() is None, "the running instance must not be disturbed"
        assert "closed again with different content" not in first.log_text()
    finally:
        first.kill()


def test_the_lock_goes_with_a_killed_instance(tmp_path: Path) -> None:
    config = agent_config(tmp_path, broker=None, sensors=SIMULATED)
    first = AgentProcess(config, tmp_path / "first.log")
    assert first.wait_for_log("running:"), first.log_text()
    first.kill()
    again = AgentProcess(config, tmp_path / "again.log")
    try:
        assert again.wait_for_log("running:"), again.log_text()
        assert wait_until(lambda: again.proc.poll() is None, 1)
        assert again.stop() == 0
    finally:
        again.kill()
