"""The built-in demo configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.demo import demo_config
from agent.config.summary import summary


def test_demo_config(tmp_path: Path) -> None:
    cfg = demo_config(tmp_path)
    assert (cfg.site, cfg.device, cfg.intervals.length) == ("demo", "demo", 60)
    assert cfg.store.path == tmp_path
    assert [(s.id, s.type) for s in cfg.sensors] == [("door", "simulated")]
    assert (cfg.mqtt.host, cfg.mqtt.effective_port()) == ("localhost", 1883)
    assert not cfg.homeassistant.enabled, "a broker on localhost may be Home Assistant's"
    assert cfg.tz is not None
    assert summary(cfg).endswith("1 sensor (door simulated), mqtt mqtt://localhost:1883 as footfall-demo-demo")


def test_demo_config_follows_tz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    assert demo_config(tmp_path).timezone == "Asia/Kolkata"
