"""A broker started after the agent (the usual order on a fresh install): noticed within seconds, however long the
reconnect backoff has grown, and logged as the first connection, not as a reconnect."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest

from agent.config.mqtt import MqttConfig
from agent.mqtt.publisher import REFUSED_RETRY_S, Publisher
from agent.store.database import Store
from tests.integration.conftest import Broker

WAIT_BEFORE_START_S = 8.0
"""Long enough for the backoff (0.1 s doubling, 60 s cap) to reach 12.8 s between attempts."""


def test_a_broker_started_later_is_noticed_promptly_and_logged_as_the_first_connection(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    broker = Broker(tmp_path)  # its port is chosen; nothing listens there yet
    cfg = MqttConfig(host=broker.host, port=broker.port, keepalive=5, reconnect_min=0.1, reconnect_max=60)
    store = Store(tmp_path / "data", 90, 1 << 30)
    publisher = Publisher(cfg, "late-test", "footfall/t/d/status", store)
    with caplog.at_level(logging.INFO, logger="agent.mqtt.publisher"):
        publisher.start()
        try:
            time.sleep(WAIT_BEFORE_START_S)
            assert not publisher.connected and publisher.stats().connect_failures >= 6
            broker.start()
            started = time.monotonic()
            while not publisher.connected and time.monotonic() - started < 10:
                time.sleep(0.05)
            noticed = time.monotonic() - started
            assert publisher.connected
            assert noticed <= REFUSED_RETRY_S + 1.0, f"the broker was noticed {noticed:.1f} s after it started"
        finally:
            publisher.stop()
            broker.stop()
            store.close()
    (up,) = [r.getMessage() for r in caplog.records if "MQTT connected" in r.getMessage()]
    assert up.startswith(f"MQTT connected to {broker.host}:{broker.port} as late-test for the first time, "), up
    assert "again" not in up
