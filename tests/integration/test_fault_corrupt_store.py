"""Fault: the store's database file damaged while the agent was stopped. The next start must count on.

No traceback, no exit: the damaged file is moved aside, a fresh store is started, the health report says
so, and the lifetime totals go on from where they were (a consumer's `total_increasing` never drops to 0).
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.integration.agent_process import afternoon_timezone, wait_until
from tests.integration.conftest import AgentProcess, Broker, Subscriber, agent_config, read_intervals
from tests.store.damage import DAMAGE

SENSORS = (
    "  - id: sim\n    type: simulated\n    peak_per_hour: 36000\n    opening: '00:00'\n    closing: '23:59'\n"
    "    mean_dwell: 2s\n    seed: 11\n"
)


def last_total(db: Path) -> int:
    payloads = [json.loads(p) for p in read_intervals(db).values()]
    return max((p["total_in"] for p in payloads), default=0)


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_store_is_replaced_and_counting_goes_on(tmp_path: Path, broker: Broker, kind: str) -> None:
    config = agent_config(
        tmp_path, broker=broker, sensors=SENSORS, extra="health:\n  period: 1s\n", timezone=afternoon_timezone()
    )
    db = tmp_path / "data" / "footfall.db"
    first = AgentProcess(config, tmp_path / "first.log")
    try:
        assert wait_until(lambda: db.exists() and len(read_intervals(db)) >= 20 and last_total(db) > 0, 90), (
            first.log_text()
        )
        assert first.stop() == 0
    finally:
        first.kill()
    before = last_total(db)
    DAMAGE[kind](db)

    health = Subscriber(broker, "footfall/test/d1/health", f"health-{len(kind)}")
    again = AgentProcess(config, tmp_path / "again.log")
    try:

        def counting_on() -> bool:
            try:
                return len(read_intervals(db)) >= 3
            except sqlite3.Error:
                return False

        assert wait_until(counting_on, 60), again.log_text()
        assert wait_until(
            lambda: any("recovered" in json.loads(p).get("store", {}) for _, p, _ in health.snapshot()), 30
        ), "the health report must say the store was replaced"
        assert again.proc.poll() is None
        assert again.stop() == 0
    finally:
        again.kill()
        health.close()
    log = again.log_text()
    assert "Traceback" not in log
    assert "is damaged" in log, "the replacement must be logged as an error"
    assert min(json.loads(p)["total_in"] for p in read_intervals(db).values()) >= before, "lifetime totals dropped"
    if kind != "zero bytes":
        assert list(db.parent.glob("footfall.db.broken-*")), "the damaged file is kept aside"
