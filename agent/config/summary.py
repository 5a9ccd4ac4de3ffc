"""One line that says what a config will do, for the log at start and for `check-config`; never a secret."""

from __future__ import annotations

from agent.config.agent import AgentConfig
from agent.config.camera import CameraSensorConfig
from agent.config.modbus import ModbusSensorConfig
from agent.config.serial_lines import LineSensorConfig
from agent.config.simulated import SimulatedSensorConfig
from agent.config.units import interval_text


def _sensor_text(sensor: LineSensorConfig | ModbusSensorConfig | SimulatedSensorConfig | CameraSensorConfig) -> str:
    if isinstance(sensor, SimulatedSensorConfig):
        return f"{sensor.id} {sensor.type}"
    if isinstance(sensor, CameraSensorConfig):
        return f"{sensor.id} {sensor.type} {sensor.source}"
    return f"{sensor.id} {sensor.type} {sensor.port}"


def summary(cfg: AgentConfig) -> str:
    """One line for logs and `check-config`: what this config will do, without any secret."""
    n = len(cfg.sensors)
    sensors = ", ".join(_sensor_text(s) for s in cfg.sensors)
    if cfg.mqtt.enabled:
        scheme = "mqtts" if cfg.mqtt.tls is not None else "mqtt"
        host = f"[{cfg.mqtt.host}]" if ":" in cfg.mqtt.host else cfg.mqtt.host
        client_id = cfg.mqtt.client_id or f"footfall-{cfg.site}-{cfg.device}"
        mqtt = f"mqtt {scheme}://{host}:{cfg.mqtt.effective_port()} as {client_id}"
    else:
        mqtt = "mqtt disabled"
    return (
        f"site {cfg.site}, device {cfg.device}, timezone {cfg.timezone}, "
        f"{interval_text(cfg.intervals.length)} intervals, {n} sensor{'' if n == 1 else 's'} ({sensors}), {mqtt}"
    )
