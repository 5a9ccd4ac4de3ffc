"""The source for a configured sensor, by its `type`.

Each source's module is imported only when a sensor of its type is configured: the camera brings numpy, OpenCV
and the detector, Modbus brings pymodbus, and an agent that does not use them should not carry them in memory.
"""

from __future__ import annotations

import time
from datetime import tzinfo

from agent.config.agent import SensorConfig
from agent.sources.base import Clock, CountSink, Source


def build_source(cfg: SensorConfig, sink: CountSink, tz: tzinfo, clock: Clock = time.time) -> Source:
    """The source for one configured sensor (not started yet); `clock` stamps its events."""
    if cfg.type == "serial-lines":
        from agent.sources.serial_lines import LineSource

        return LineSource(cfg, sink, clock)
    if cfg.type == "modbus":
        from agent.sources.modbus import ModbusSource

        return ModbusSource(cfg, sink, clock)
    if cfg.type == "simulated":
        from agent.sources.simulated import SimulatedSource

        return SimulatedSource(cfg, sink, tz, clock)
    if cfg.type == "camera":
        from agent.sources.camera import CameraSource

        return CameraSource(cfg, sink, clock)
    raise ValueError(f"unknown sensor type {cfg.type!r}")
