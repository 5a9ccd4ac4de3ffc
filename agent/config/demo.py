"""The built-in demo configuration: `footfall-agent run` with no config file, no hardware and no broker needed."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping
from datetime import time
from pathlib import Path

from agent.config.agent import AgentConfig, HomeAssistantConfig, IntervalConfig, StoreConfig, valid_timezone
from agent.config.mqtt import MqttConfig
from agent.config.simulated import SimulatedSensorConfig


def local_timezone(env: Mapping[str, str] | None = None, etc: Path = Path("/etc")) -> str | None:
    """The machine's IANA zone name if it can be found (TZ, /etc/timezone, the /etc/localtime link), else None."""
    candidates: list[str] = []
    tz_env = (os.environ if env is None else env).get("TZ", "").lstrip(":")
    if tz_env:
        candidates.append(tz_env.split("zoneinfo/", 1)[1] if "zoneinfo/" in tz_env else tz_env)
    with contextlib.suppress(OSError):
        candidates.append((etc / "timezone").read_text().strip())
    try:
        target = str((etc / "localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if name and not name.startswith("/") and valid_timezone(name):
            return name
    return None


def _local_timezone() -> str:
    return local_timezone() or "UTC"


def demo_config(data_dir: Path, host: str = "localhost", port: int = 1883) -> AgentConfig:
    """The hardware-free demo: one simulated door, 1-minute intervals, a broker on localhost if there is one.

    The simulated shop is open around the clock (a station shop), so the demo shows traffic whenever it is run.
    No Home Assistant discovery: the broker may be Home Assistant's, which must not get a permanent demo device
    (what the demo does retain is deleted on exit, see `agent.runtime.demo`).
    """
    return AgentConfig(
        site="demo",
        device="demo",
        timezone=_local_timezone(),
        intervals=IntervalConfig(length=60),
        store=StoreConfig(path=Path(data_dir)),
        mqtt=MqttConfig(host=host, port=port),
        homeassistant=HomeAssistantConfig(enabled=False),
        sensors=[SimulatedSensorConfig(id="door", peak_per_hour=600, opening=time(0, 0), closing=time(23, 59))],
    )
