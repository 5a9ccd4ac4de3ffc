"""Fault: SIGTERM right at an interval boundary. The interval closed while stopping must reach the broker."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tests.integration.agent_process import read_pending_ids, wait_until
from tests.integration.conftest import AgentProcess, Broker, PtyPair, Subscriber, agent_config, read_intervals

STOPS = 5


def test_the_interval_closed_during_sigterm_is_published_before_exit(
    tmp_path: Path, broker: Broker, pty_pair: PtyPair
) -> None:
    config = agent_config(
        tmp_path,
        broker=broker,
        sensors=f"  - id: door\n    type: serial-lines\n    port: {pty_pair.device}\n    preset: event\n",
        extra="anomaly:\n  enabled: false\n",
    )
    db = tmp_path / "data" / "footfall.db"
    sub = Subscriber(broker, "footfall/test/d1/sensors/+/interval")
    fd = pty_pair.open_peer()
    try:
        for stop in range(STOPS):
            agent = AgentProcess(config, tmp_path / f"agent-{stop}.log")
            try:
                assert agent.wait_for_log("MQTT connected"), agent.log_text()
                os.write(fd, b"IN 1\n")
                assert wait_until(lambda: read_intervals(db) if db.exists() else False, 30)
                # SIGTERM right after a 1-second boundary: the interval ending there is being closed and stored
                # while the agent stops.
                time.sleep(1.0 - time.time() % 1.0 + 0.02 * stop)
                assert agent.stop() == 0
            finally:
                agent.kill()
            assert read_pending_ids(db) == set(), f"stop {stop}: stored intervals left unpublished at exit"
        stored = {p for p in read_intervals(db).values()}
        assert sub.wait_for(lambda: stored <= {p for _, p, _ in sub.snapshot()}, 20)
    finally:
        os.close(fd)
        sub.close()
