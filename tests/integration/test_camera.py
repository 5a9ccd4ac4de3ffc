"""A camera sensor through the whole agent: a real video file, the real int8 detector, stored intervals."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.clips import LINE, write_walk
from tests.integration.conftest import AgentProcess, agent_config, read_intervals


def camera_sensor(source: Path | str, extra: str = "") -> str:
    return (
        f"  - id: cam\n    type: camera\n    source: '{source}'\n    fps: 20\n{extra}"
        f"    reconnect_min: 0.2s\n    reconnect_max: 1s\n"
        f"    counting:\n      lines:\n        - {{name: door, points: {LINE}, in_direction: right}}\n"
    )


def stored(tmp_path: Path) -> list[dict]:
    db = tmp_path / "data" / "footfall.db"
    payloads = [json.loads(p) for p in read_intervals(db).values()] if db.exists() else []
    return sorted(payloads, key=lambda p: p["start_ts"])


def run_agent(tmp_path: Path, sensors: str, until: float) -> list[dict]:
    agent = AgentProcess(agent_config(tmp_path, broker=None, sensors=sensors), tmp_path / "agent.log")
    try:
        deadline = time.monotonic() + until
        while time.monotonic() < deadline and agent.proc.poll() is None:
            time.sleep(0.2)
        assert agent.proc.poll() is None, agent.log_text()
        agent.signal(signal.SIGTERM)
        assert agent.wait(15) == 0, agent.log_text()
    finally:
        agent.kill()
    return stored(tmp_path)


def test_a_person_walking_across_the_line_and_back_counts_one_in_and_one_out(tmp_path: Path) -> None:
    clip = tmp_path / "walk.avi"
    frames = write_walk(clip)
    payloads = run_agent(tmp_path, camera_sensor(clip), until=frames / 20 + 4)
    log = (tmp_path / "agent.log").read_text()
    assert sum(p["ins"] for p in payloads) == 1, log
    assert sum(p["outs"] for p in payloads) == 1, log
    assert any(p["coverage"] > 0 for p in payloads), "the clip was playing: some coverage"
    assert payloads[-1]["coverage"] == 0, "a file played once leaves the sensor down"
    assert "end of the video file" in log


def test_a_missing_video_file_is_a_down_sensor_not_a_crash(tmp_path: Path) -> None:
    payloads = run_agent(tmp_path, camera_sensor(tmp_path / "nowhere.avi"), until=3.5)
    assert payloads, "intervals still close"
    assert all(p["coverage"] == 0 and p["ins"] == 0 and p["outs"] == 0 for p in payloads)
    assert "no video file" in (tmp_path / "agent.log").read_text()
