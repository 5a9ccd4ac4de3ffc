"""The source for a configured sensor, by its `type`.

The camera source is imported only when a camera is configured: it brings numpy, OpenCV and the detector,
which an agent with serial counters only does not need.
"""

from __future__ import annotations

import time
from datetime import tzinfo

from agent.config.agent import SensorConfig
from agent.sources.base import Clock, CountSink, Source
from agent.sources.modbus import ModbusSource
from agent.sources.serial_lines import LineSource
from agent.sources.simulated import SimulatedSource


def build_source(cfg: SensorConfig, sink: CountSink, tz: tzinfo, clock: Clock = time.time) -> Source:
    """The source for one configured sensor (not started yet); `clock` stamps its events."""
    if cfg.type == "serial-lines":
        return LineSource(cfg, sink, clock)
    if cfg.type == "modbus":
        return ModbusSource(cfg, sink, clock)
    if cfg.type == "simulated":
        return SimulatedSource(cfg, sink, tz, clock)
    if cfg.type == "camera":
        from agent.sources.camera import CameraSource

        return CameraSource(cfg, sink, clock)
    raise ValueError(f"unknown sensor type {cfg.type!r}")
