"""`systemctl reload` (SIGHUP) on a real agent process: broken configs are refused, valid ones lose no count."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
from pathlib import Path

from tests.integration.conftest import AgentProcess, Broker, PtyPair, Subscriber, agent_config, read_intervals

PREFIX = "footfall/test/d1"


def drain(sock: socket.socket) -> list[str]:
    got = []
    while True:
        try:
            got.append(sock.recv(4096).decode())
        except TimeoutError:
            return got


def serial(sensor: str, pty: PtyPair, extra: str = "") -> str:
    return f"  - id: {sensor}\n    type: serial-lines\n    port: {pty.device}\n{extra}"


def interval_docs(sub: Subscriber, sensor: str = "door") -> list[dict]:
    return [json.loads(p) for t, p, _ in sub.snapshot() if t == f"{PREFIX}/sensors/{sensor}/interval"]


def wait_in_log(agent: AgentProcess, text: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in agent.log_text():
        assert time.monotonic() < deadline, f"{text!r} not logged:\n{agent.log_text()}"
        time.sleep(0.05)


def test_sighup_with_a_broken_config_keeps_the_old_one_running(
    tmp_path: Path, broker: Broker, pty_pair: PtyPair, notify_socket: socket.socket
) -> None:
    config = agent_config(tmp_path, broker=broker, sensors=serial("door", pty_pair))
    good = config.read_text()
    sub = Subscriber(broker, f"{PREFIX}/#", "reload-broken")
    env = {**os.environ, "NOTIFY_SOCKET": notify_socket.getsockname()}
    agent = AgentProcess(config, tmp_path / "agent.log", env=env)
    fd = pty_pair.open_peer()
    try:
        assert sub.wait_for(lambda: len(interval_docs(sub)) >= 1, 15), agent.log_text()
        drain(notify_socket)

        config.write_text(good.replace("    port:", "    prot:"))  # a typo
        agent.signal(signal.SIGHUP)
        wait_in_log(agent, "reload rejected: the running config stays in effect")
        log = agent.log_text()
        assert "reload rejected:" in log and "sensors[0].prot" in log and "line " in log
        messages = drain(notify_socket)
        reloading = next(i for i, m in enumerate(messages) if m.startswith("RELOADING=1"))
        assert any(m.startswith("READY=1") for m in messages[reloading:]), messages

        config.write_text(good.replace("site: test", "site: elsewhere"))  # valid, but only with a restart
        agent.signal(signal.SIGHUP)
        wait_in_log(agent, "site changed from 'test' to 'elsewhere', which needs a restart")

        mark = len(interval_docs(sub))
        os.write(fd, b"IN\r\nIN\r\n")  # the old config's sensor still counts, under the old site
        assert sub.wait_for(lambda: sum(d["ins"] for d in interval_docs(sub)[mark:]) == 2, 10), agent.log_text()
        assert {d["site"] for d in interval_docs(sub)} == {"test"}
        assert "config reloaded" not in agent.log_text()
        assert agent.stop() == 0
    finally:
        os.close(fd)
        agent.kill()
        sub.close()


def test_sighup_with_a_valid_config_applies_it_without_losing_counts(
    tmp_path: Path, broker: Broker, pty_pair: PtyPair
) -> None:
    lobby = PtyPair(tmp_path, "ttyV1")
    lobby.replug()
    config = agent_config(tmp_path, broker=broker, sensors=serial("door", pty_pair))
    sub = Subscriber(broker, f"{PREFIX}/#", "reload-valid")
    agent = AgentProcess(config, tmp_path / "agent.log")
    door_fd, lobby_fd = pty_pair.open_peer(), lobby.open_peer()
    written = {"door": 0}
    stop = threading.Event()

    def writer() -> None:
        while not stop.is_set():
            os.write(door_fd, b"IN\r\n")
            written["door"] += 1
            time.sleep(0.02)

    thread = threading.Thread(target=writer)
    try:
        assert sub.wait_for(lambda: len(interval_docs(sub)) >= 1, 15), agent.log_text()
        thread.start()
        time.sleep(0.5)
        # Add a sensor, reconnect to the broker with other settings, log more: the door keeps counting.
        text = config.read_text().replace("  keepalive: 5\n", "  keepalive: 7\n")
        config.write_text(text + serial("lobby", lobby) + "log_level: debug\n")
        agent.signal(signal.SIGHUP)
        wait_in_log(agent, "config reloaded: added lobby; new MQTT settings; new log level")
        os.write(lobby_fd, b"IN\r\nOUT\r\nIN\r\n")
        assert sub.wait_for(lambda: sum(d["ins"] for d in interval_docs(sub, "lobby")) == 2, 10), agent.log_text()
        time.sleep(0.5)
        stop.set()
        thread.join()

        # Now the door's own settings change: its source restarts and its counts carry on.
        time.sleep(0.5)  # nothing in flight on the line while the port is reopened
        config.write_text(
            config.read_text().replace(
                f"port: {pty_pair.device}\n", (f"port: {pty_pair.device}\n    in_values: [IN, ENTER]\n"), 1
            )
        )
        agent.signal(signal.SIGHUP)
        wait_in_log(agent, "config reloaded: restarted the source of door")
        time.sleep(0.5)
        os.write(door_fd, b"ENTER\r\n" * 3)
        written["door"] += 3
        time.sleep(1.5)  # the last interval with events closes
        db = tmp_path / "data" / "footfall.db"
        closed = {json.loads(p)["id"] for p in read_intervals(db).values()}
        assert sub.wait_for(
            lambda: {d["id"] for d in interval_docs(sub)} | {d["id"] for d in interval_docs(sub, "lobby")} >= closed, 10
        ), "closed intervals did not all arrive"
        assert agent.stop() == 0
    finally:
        stop.set()
        if thread.is_alive():
            thread.join()
        os.close(door_fd)
        os.close(lobby_fd)
        agent.kill()
        sub.close()
        lobby.unplug()

    stored = [json.loads(p) for (sensor, _), p in read_intervals(tmp_path / "data" / "footfall.db").items()]
    door = sorted((d for d in stored if d["sensor"] == "door"), key=lambda d: d["start_ts"])
    assert sum(d["ins"] for d in door) == written["door"], "counts were lost across the reloads"
    starts = [d["start_ts"] for d in door]
    assert all(b - a == 1.0 for a, b in zip(starts, starts[1:], strict=False)), "a gap in the door's intervals"
    assert sum(d["ins"] for d in stored if d["sensor"] == "lobby") == 2
    assert "DEBUG" in agent.log_text(), "the new log level did not apply"


def test_sighup_with_only_new_anomaly_settings_applies_them(tmp_path: Path) -> None:
    sensors = "  - id: door\n    type: simulated\n"
    config = agent_config(tmp_path, broker=None, sensors=sensors, interval="1m")
    text = config.read_text()
    agent = AgentProcess(config, tmp_path / "agent.log")
    try:
        wait_in_log(agent, "running: 1 sensor(s)")
        for anomaly, count in (("anomaly:\n  enabled: false\n", 1), ("anomaly:\n  threshold: 6\n", 2)):
            config.write_text(text + anomaly)
            agent.signal(signal.SIGHUP)
            deadline = time.monotonic() + 10
            while agent.log_text().count("config reloaded: new anomaly settings") < count:
                assert time.monotonic() < deadline, agent.log_text()
                time.sleep(0.05)
        assert "nothing changed" not in agent.log_text()
        assert agent.stop() == 0
    finally:
        agent.kill()
