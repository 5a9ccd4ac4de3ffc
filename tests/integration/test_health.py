"""The health report and the `systemctl status` line of a real agent process, through a real Mosquitto."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path

from agent import __version__
from agent.mqtt.discovery import SensorState
from agent.runtime.health import HealthPayload, read_temperatures, read_throttled
from tests.clips import LINE, write_walk
from tests.integration.conftest import AgentProcess, Broker, PtyPair, Subscriber, agent_config
from tests.integration.mosquitto import retained_messages

PREFIX = "footfall/test/d1"
EVERY_SECOND = "health:\n  period: 1s\n"
# Intervals here close every second, each waiting for its PUBACK in the outbox for a moment; a report every
# second can stay in step with the closes and see that one interval every time, so the status test reports
# out of step with them to see the outbox empty.
OUT_OF_STEP = "health:\n  period: 1.3\n"


def statuses(sock: socket.socket, seconds: float) -> list[str]:
    got, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            message = sock.recv(4096).decode()
        except TimeoutError:
            continue
        got += [line[len("STATUS=") :] for line in message.splitlines() if line.startswith("STATUS=")]
    return got


def wait_status(sock: socket.socket, words: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in statuses(sock, 0.2):
            if words in line:
                return line
    raise AssertionError(f"no STATUS= line with {words!r} within {timeout} s")


def test_health_is_retained_every_period_with_the_listed_fields(
    tmp_path: Path, broker: Broker, pty_pair: PtyPair
) -> None:
    config = agent_config(
        tmp_path,
        broker=broker,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n",
        extra=EVERY_SECOND,
    )
    sub = Subscriber(broker, f"{PREFIX}/health", "health-test")
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        assert sub.wait_for(lambda: len(sub.snapshot()) >= 3, 15), agent.log_text()
        reports = [HealthPayload.model_validate_json(p) for _, p, _ in sub.snapshot()]
        assert all(b.ts - a.ts < 2.5 for a, b in zip(reports, reports[1:], strict=False)), "one report per period"
        retained = json.loads(retained_messages(broker, f"{PREFIX}/health")[f"{PREFIX}/health"])
        report = HealthPayload.model_validate(retained)
        assert report.agent_version == __version__ and report.uptime_s > 0
        assert report.sources["door"].state == "up" and report.sources["door"].since
        assert not {"fps", "inference_ms", "frames", "dropped_frames"} & set(retained["sources"]["door"]), "camera only"
        assert report.system.load_1m is not None and report.system.cpu_count
        # Temperature and throttling only where the platform reports them; never a made-up value.
        has_temperature = bool(read_temperatures())
        assert ("cpu_temperature_c" in retained["system"]) == has_temperature
        assert ("throttling" in retained["system"]) == (read_throttled() is not None)
        assert report.store.used_bytes > 0 and report.store.files_bytes > 0
        assert report.store.max_bytes == 256 * 1024 * 1024
        assert report.outbox.depth >= 0
        assert report.outbox.oldest_age_s is None or report.outbox.depth > 0
        assert report.mqtt is not None and report.mqtt.connected
        assert agent.stop() == 0
    finally:
        agent.kill()
        sub.close()


def test_status_line_follows_sources_and_the_backlog(
    tmp_path: Path, broker: Broker, pty_pair: PtyPair, notify_socket: socket.socket
) -> None:
    config = agent_config(
        tmp_path,
        broker=broker,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n",
        extra=OUT_OF_STEP,
    )
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.getsockname()}
    agent = AgentProcess(config, tmp_path / "agent.log", env=env)
    try:
        wait_status(notify_socket, "1/1 sources up, mqtt connected, outbox 0", 15)
        pty_pair.unplug()
        down = wait_status(notify_socket, "0/1 sources up (down: door)", 10)
        assert "mqtt connected" in down
        pty_pair.replug()
        wait_status(notify_socket, "1/1 sources up", 10)
        broker.stop()
        backlog = wait_status(notify_socket, "(oldest", 10)  # intervals keep closing into the outbox
        assert "mqtt disconnected" in backlog
        broker.start()
        wait_status(notify_socket, "mqtt connected, outbox 0", 15)
        assert agent.stop() == 0
    finally:
        agent.kill()


def test_a_camera_reports_its_inference_time_and_dropped_frames(tmp_path: Path, broker: Broker) -> None:
    clip = tmp_path / "walk.avi"
    write_walk(clip)  # 20 fps, analysed at 5: about three frames in four are dropped by design
    sensors = (
        f"  - id: cam\n    type: camera\n    source: '{clip}'\n    loop: true\n    fps: 5\n"
        f"    counting:\n      lines:\n        - {{name: door, points: {LINE}, in_direction: right}}\n"
        "      zones:\n        - {name: right, points: [[320, -100], [800, -100], [800, 500], [320, 500]]}\n"
    )
    config = agent_config(tmp_path, broker=broker, sensors=sensors, extra=EVERY_SECOND)
    sub = Subscriber(broker, f"{PREFIX}/health", "health-camera-test")
    states = Subscriber(broker, f"{PREFIX}/sensors/cam/state", "state-camera-test")
    agent = AgentProcess(config, tmp_path / "agent.log")

    def camera() -> list:
        reports = [HealthPayload.model_validate_json(p) for _, p, _ in sub.snapshot()]
        return [r.sources["cam"] for r in reports if (r.sources["cam"].frames or 0) >= 10]

    try:
        assert sub.wait_for(lambda: len(camera()) >= 2, 30), agent.log_text()
        first, later = camera()[0], camera()[-1]
        assert later.state == "up"
        assert later.inference_ms is not None and later.inference_ms > 0
        assert later.fps is not None and later.latency_ms is not None
        assert first.frames is not None and later.frames is not None and later.frames > first.frames
        assert later.dropped_frames is not None and later.dropped_frames > 0
        assert later.dropped_frames_recent is not None and 0 < later.dropped_frames_recent <= later.dropped_frames
        assert states.wait_for(lambda: bool(states.snapshot()), 10)
        state = SensorState.model_validate_json(states.snapshot()[-1][1])
        assert state.zone_occupancy is not None and set(state.zone_occupancy) == {"right"}
        assert agent.stop() == 0
    finally:
        agent.kill()
        sub.close()
        states.close()
