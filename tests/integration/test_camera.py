"""A camera sensor through the whole agent: a real video file, the real int8 detector, stored intervals."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.clips import LINE, write_walk
from tests.integration.conftest import AgentProcess, agent_config, read_intervals

# The right half of the picture, reaching beyond the frame so that only its left edge (the door line) is
# crossed; and a zone nobody enters.
ZONES = (
    "      zones:\n"
    "        - {name: right, points: [[320, -100], [800, -100], [800, 500], [320, 500]]}\n"
    "        - {name: corner, points: [[0, 0], [40, 0], [40, 40], [0, 40]]}\n"
)


def camera_sensor(source: Path | str, extra: str = "") -> str:
    return (
        f"  - id: cam\n    type: camera\n    source: '{source}'\n    fps: 20\n{extra}"
        f"    reconnect_min: 0.2s\n    reconnect_max: 1s\n"
        f"    counting:\n      lines:\n        - {{name: door, points: {LINE}, in_direction: right}}\n{ZONES}"
    )


def summed(payloads: list[dict]) -> dict:
    """Per-line and per-zone counts over all intervals; every payload must name every line and zone."""
    assert all(set(p["lines"]) == {"door"} and set(p["zones"]) == {"right", "corner"} for p in payloads)
    lines = {"door": [sum(p["lines"]["door"][k] for p in payloads) for k in ("in", "out")]}
    zones = {
        name: [sum(p["zones"][name][k] for p in payloads) for k in ("in", "out", "dwell_count")]
        for name in ("right", "corner")
    }
    return {"lines": lines, "zones": zones}


def stored(tmp_path: Path) -> list[dict]:
    db = tmp_path / "data" / "footfall.db"
    payloads = [json.loads(p) for p in read_intervals(db).values()] if db.exists() else []
    return sorted(payloads, key=lambda p: p["start_ts"])


def run_agent(
    tmp_path: Path, sensors: str, until: float, interval: str = "1s", logged: str | None = None
) -> list[dict]:
    """Run the agent for `until` seconds, or, with `logged`, until its log says so (then two intervals more):
    on a busy machine loading the detector alone can take seconds."""
    config = agent_config(tmp_path, broker=None, sensors=sensors, interval=interval)
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        deadline = time.monotonic() + (60.0 if logged else until)
        while time.monotonic() < deadline and agent.proc.poll() is None:
            if logged is not None and logged in agent.log_text():
                time.sleep(2.5)
                break
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
    payloads = run_agent(tmp_path, camera_sensor(clip), until=frames / 20 + 4, logged="end of the video file")
    log = (tmp_path / "agent.log").read_text()
    assert sum(p["ins"] for p in payloads) == 1, log
    assert sum(p["outs"] for p in payloads) == 1, log
    assert summed(payloads) == {"lines": {"door": [1, 1]}, "zones": {"right": [1, 1, 1], "corner": [0, 0, 0]}}
    dwell = [p["zones"]["right"]["dwell_median_s"] for p in payloads if p["zones"]["right"]["dwell_count"]]
    assert len(dwell) == 1 and 0.5 < dwell[0] < 5, "she walks out of the right half a few seconds after entering"
    assert payloads[-1]["zones"]["right"]["occupancy"] == 0
    assert any(p["coverage"] > 0 for p in payloads), "the clip was playing: some coverage"
    assert payloads[-1]["coverage"] == 0, "a file played once leaves the sensor down"
    assert "end of the video file" in log


def test_a_file_ending_while_a_crossing_waits_to_be_sure_still_counts_it(tmp_path: Path) -> None:
    """She walks slowly: her crossing waits to be sure (HOLD_S) from frame 79 to 89, and the file ends after
    frame 85. The live source counts it when the file ends, as `replay --video` does."""
    clip = tmp_path / "walk.avi"
    write_walk(clip, step=4, length=86)
    payloads = run_agent(tmp_path, camera_sensor(clip), until=10, logged="end of the video file")
    log = (tmp_path / "agent.log").read_text()
    assert (sum(p["ins"] for p in payloads), sum(p["outs"] for p in payloads)) == (1, 0), log
    assert summed(payloads)["lines"] == {"door": [1, 0]}


def test_a_missing_video_file_is_a_down_sensor_not_a_crash(tmp_path: Path) -> None:
    payloads = run_agent(tmp_path, camera_sensor(tmp_path / "nowhere.avi"), until=3.5, logged="no video file")
    assert payloads, "intervals still close"
    assert all(p["coverage"] == 0 and p["ins"] == 0 and p["outs"] == 0 for p in payloads)
    assert "no video file" in (tmp_path / "agent.log").read_text()


def test_line_and_zone_counts_survive_a_sigkill_before_their_interval_closes(tmp_path: Path) -> None:
    clip = tmp_path / "walk.avi"
    # A long first pause: on a busy machine the detector's first frame can come a second late, after the
    # person has crossed; this test is about keeping counts, not about that.
    write_walk(clip, pause=40)
    length = 20
    # Start early in an interval, so that the clip is counted and the agent killed before it ends.
    while not 0.3 <= time.time() % length <= 3:
        time.sleep(0.1)
    started = time.time()
    agent = AgentProcess(
        agent_config(tmp_path, broker=None, sensors=camera_sensor(clip), interval=f"{length}s"), tmp_path / "agent.log"
    )
    try:
        deadline = time.monotonic() + 12
        while "end of the video file" not in agent.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # past the next checkpoint (store.checkpoint: 1s)
        assert time.time() // length == started // length, "the interval ended before the kill: nothing to test"
    finally:
        agent.kill()
    assert all(p["lines"]["door"] == {"in": 0, "out": 0} for p in stored(tmp_path)), "only the checkpoint has them"
    # The camera is gone after the restart: the interval closes with what the checkpoint held.
    gone = camera_sensor(tmp_path / "gone.avi")
    payloads = run_agent(tmp_path, gone, until=length - time.time() % length + 2, interval=f"{length}s")
    assert summed(payloads) == {"lines": {"door": [1, 1]}, "zones": {"right": [1, 1, 1], "corner": [0, 0, 0]}}
    assert sum(p["ins"] for p in payloads) == 1 and sum(p["outs"] for p in payloads) == 1
