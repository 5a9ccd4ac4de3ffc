"""Broker outage: the agent keeps counting, buffers to disk and replays in order once the broker is back."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from tests.integration.conftest import AgentProcess, Broker, PtyPair, Subscriber, agent_config, read_intervals


def test_outage_of_several_intervals_loses_nothing(tmp_path: Path, broker: Broker, pty_pair: PtyPair) -> None:
    config = agent_config(
        tmp_path,
        broker=broker,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n    preset: event\n",
    )
    sub = Subscriber(broker, "footfall/test/d1/sensors/+/interval")
    agent = AgentProcess(config, tmp_path / "agent.log")
    written = {"in": 0, "out": 0}
    stop_writing = threading.Event()
    fd = pty_pair.open_peer()

    def writer() -> None:
        i = 0
        while not stop_writing.is_set():
            direction = "IN" if i % 3 else "OUT"
            os.write(fd, f"{direction} 1\r\n".encode())
            written[direction.lower()] += 1
            i += 1
            time.sleep(0.02)

    try:
        assert sub.wait_for(lambda: len(sub.json_payloads()) >= 1, 15), "no interval before the outage"
        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(2.0)
        broker.stop()
        outage_start = time.time()
        time.sleep(4.5)  # at least 3 one-second intervals close while the broker is away
        outage_end = time.time()
        broker.start()
        time.sleep(2.0)
        stop_writing.set()
        thread.join()
        time.sleep(2.5)  # let the last interval with events close
        assert agent.stop() == 0
        db = read_intervals(tmp_path / "data" / "footfall.db")
        assert sub.wait_for(lambda: len({p["id"] for p in sub.json_payloads()}) >= len(db), 15)
    finally:
        os.close(fd)
        agent.kill()
        sub.close()

    received = sub.json_payloads()
    first_seen: dict[str, dict] = {}
    for p in received:
        if p["id"] in first_seen:
            assert first_seen[p["id"]] == p, "a re-sent interval differs from the first copy"
        else:
            first_seen[p["id"]] = p
    unique = list(first_seen.values())
    stored = {json.loads(payload)["id"]: json.loads(payload) for payload in db.values()}
    assert {p["id"] for p in unique} == set(stored), "subscriber and store disagree on the set of intervals"
    assert unique == sorted(unique, key=lambda p: p["start_ts"]), "intervals arrived out of order"
    starts = [p["start_ts"] for p in unique]
    assert all(b - a == 1.0 for a, b in zip(starts, starts[1:], strict=False)), (
        "a gap or overlap in the interval sequence"
    )
    during = [p for p in unique if outage_start + 1 <= p["start_ts"] + p["duration_s"] <= outage_end]
    assert len(during) >= 3, "fewer than 3 intervals closed during the outage"
    assert sum(p["ins"] for p in unique) == written["in"]
    assert sum(p["outs"] for p in unique) == written["out"]
    assert all(p["coverage"] > 0.99 for p in during), "the serial source was up all along"
