"""`footfall-agent run` as a process: signals, exit codes, the built-in demo."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.integration.conftest import (
    AgentProcess,
    Broker,
    PtyPair,
    Subscriber,
    agent_config,
    free_port,
    read_intervals,
)
from tests.integration.mosquitto import retained_messages

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


def demo(tmp_path: Path, broker: str) -> subprocess.Popen[str]:
    """`footfall-agent run` with no config, its store under tmp_path and its broker given: never the user's
    localhost:1883."""
    return subprocess.Popen(
        [sys.executable, "-m", "agent", "run", "--broker", broker],
        cwd=REPO,
        env={**os.environ, "XDG_DATA_HOME": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_demo_runs_without_hardware_or_broker(tmp_path: Path) -> None:
    proc = demo(tmp_path, f"127.0.0.1:{free_port()}")
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "demo" in out and "no Home Assistant discovery" in out
    assert "nothing retained there" in out
    db = tmp_path / "footfall-agent" / "demo" / "footfall.db"
    assert db.exists()
    assert "Traceback" not in err


def test_the_demo_leaves_nothing_retained_on_the_broker(tmp_path: Path, broker: Broker) -> None:
    """It announces no Home Assistant device, and deletes what it retained (and an earlier version's discovery
    config) when it stops: a broker shared with Home Assistant keeps no "Footfall demo" device."""
    earlier = "homeassistant/sensor/footfall_demo_demo/door_ins_today/config"
    seed = Subscriber(broker, "unused/#", client_id="seed")
    seed.client.publish(earlier, b'{"name": "Footfall demo"}', qos=1, retain=True).wait_for_publish(5)
    seed.close()
    watcher = Subscriber(broker, "#", client_id="watcher")
    proc = demo(tmp_path, f"{broker.host}:{broker.port}")
    try:
        online = ("footfall/demo/demo/status", b"online")
        assert watcher.wait_for(lambda: online in [(t, p) for t, p, _ in watcher.snapshot()], 15)
        assert watcher.wait_for(lambda: any(t.endswith("/state") for t, _, _ in watcher.snapshot()), 15)
        assert retained_messages(broker, "footfall/#"), "the demo retains while it runs"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=15)
    finally:
        proc.kill()
        watcher.close()
    assert proc.returncode == 0, err
    published = {t for t, payload, retained in watcher.snapshot() if payload and not retained}  # sent by the demo
    assert not [t for t in published if t.startswith("homeassistant/")], "the demo announced discovery"
    assert retained_messages(broker, "#") == {}, "the demo left retained messages behind"
    assert "deleted its" in out and "nothing of the demo is left there" in out
