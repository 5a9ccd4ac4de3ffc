"""Power-cut safety: SIGKILL the agent at random moments; no closed interval is ever lost or changed."""

from __future__ import annotations

import json
import os
import random
import threading
import time
from pathlib import Path

from tests.integration.agent_process import afternoon_timezone, read_pending_ids
from tests.integration.conftest import AgentProcess, Broker, PtyPair, Subscriber, agent_config, read_intervals

TRIALS = 24
MIN_CLOSED = 12
"""Fewer closed intervals than this and the trials exercised too little to mean anything."""


def test_sigkill_at_random_moments_loses_no_closed_interval(tmp_path: Path, broker: Broker, pty_pair: PtyPair) -> None:
    config = agent_config(
        tmp_path,
        broker=broker,
        sensors=(
            f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n    preset: event\n"
            "  - id: sim\n    type: simulated\n    peak_per_hour: 36000\n    opening: '00:00'\n"
            "    closing: '23:59'\n    mean_dwell: 2s\n    seed: 7\n"
        ),
        # This test is about the store; test_anomaly_live kills and restores the detector.
        extra="anomaly:\n  enabled: false\n",
        timezone=afternoon_timezone(),
    )
    db = tmp_path / "data" / "footfall.db"
    sub = Subscriber(broker, "footfall/test/d1/sensors/+/interval")
    rng = random.Random(20261127)
    fd = pty_pair.open_peer()
    os.set_blocking(fd, False)
    stop_writing = threading.Event()

    def writer() -> None:
        while not stop_writing.is_set():
            try:
                os.write(fd, b"IN 1\nOUT 1\n")
            except BlockingIOError:
                pass
            time.sleep(0.01)

    thread = threading.Thread(target=writer)
    thread.start()
    seen: dict[tuple[str, float], bytes] = {}
    try:
        for trial in range(TRIALS):
            agent = AgentProcess(config, tmp_path / "agent.log")
            time.sleep(rng.uniform(0.5, 3.0))
            agent.kill()
            now = read_intervals(db) if db.exists() else {}
            for key, payload in seen.items():
                assert now.get(key) == payload, f"trial {trial}: interval {key} lost or changed after SIGKILL"
            seen = now
        agent = AgentProcess(config, tmp_path / "agent.log")
        time.sleep(3)
        stop_writing.set()
        assert agent.stop() == 0
        final = read_intervals(db)
        assert all(final.get(k) == v for k, v in seen.items())
        assert len(final) >= MIN_CLOSED, "too few intervals closed to have tested anything"
        ids = {json.loads(p)["id"]: p for p in final.values()}
        delivered = set(ids) - read_pending_ids(db)
        assert len(delivered) >= len(ids) - 2, "intervals closed while running must have been published"
        assert sub.wait_for(lambda: {json.loads(p)["id"] for _, p, _ in sub.snapshot()} >= delivered, 20)
    finally:
        stop_writing.set()
        thread.join()
        os.close(fd)
        sub.close()

    for _, payload, _ in sub.snapshot():
        assert ids[json.loads(payload)["id"]] == payload, "a published interval differs from the stored one"
    by_sensor: dict[str, list[tuple[float, float]]] = {}
    for p in (json.loads(v) for v in final.values()):
        by_sensor.setdefault(p["sensor"], []).append((p["start_ts"], p["start_ts"] + p["duration_s"]))
    for spans in by_sensor.values():
        spans.sort()
        assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:], strict=False)), (
            "overlapping intervals"
        )
