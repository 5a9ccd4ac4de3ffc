"""`footfall-agent doctor [--config FILE]`: the first thing an installer or a support desk runs.

Checks the machine (Python and packages, CPU, memory, temperature and throttling, the clock and the time zone)
and, with a config (by default the service's, /etc/footfall-agent/config.yaml, when there is one), the config
itself, the store's disk, every serial port, every camera and the broker. Each finding is printed as it is made,
ok, warn or fail with what to do; the exit status is 1 when anything failed. No secret is ever printed.
"""

from __future__ import annotations

import argparse
import os
import socket
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config.agent import AgentConfig
    from agent.doctor.checks import Check

SERVICE_CONFIG = Path("/etc/footfall-agent/config.yaml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        "-c",
        type=Path,
        help=f"the agent config to check ports, cameras and the broker of (default: {SERVICE_CONFIG} if present)",
    )


def _config(args: argparse.Namespace, show: Callable[[Check], None]) -> AgentConfig | None:
    """The config to check against, its findings shown; None when there is none or it does not load."""
    from agent.config.errors import ConfigError
    from agent.config.loader import load_config
    from agent.config.summary import summary
    from agent.doctor.checks import fail, ok, warn

    path = args.config
    if path is None:
        if not SERVICE_CONFIG.is_file():
            show(ok("config", "none given: ports, cameras and the broker not checked (use --config FILE)"))
            return None
        path = SERVICE_CONFIG
    if path.is_file() and not os.access(path, os.R_OK):
        show(fail("config", f"{path} is not readable by this user", "run doctor with sudo (as the service reads it)"))
        return None
    unreadable: list[str] = []
    mistakes: list[str] = []
    try:
        cfg = load_config(path, unreadable, mistakes)
    except ConfigError as e:
        for error in e.errors:
            show(fail("config", error, f"fix it: footfall-agent check-config {path}"))
        return None
    show(ok("config", f"{path}: {summary(cfg)}"))
    for warning in unreadable + mistakes:
        show(warn("config", warning, "see footfall-agent check-config"))
    return cfg


def run(args: argparse.Namespace) -> int:
    from agent import __version__
    from agent.config.camera import CameraSensorConfig
    from agent.config.demo import local_timezone
    from agent.config.modbus import ModbusSensorConfig
    from agent.config.serial_lines import LineSensorConfig
    from agent.doctor import broker, cameras, machine, ports
    from agent.doctor.checks import exit_status, ok, render, summary
    from agent.runtime.health import read_system
    from agent.runtime.log_format import Secrets, config_secrets

    secrets = Secrets()
    checks: list[Check] = []

    def show(check: Check) -> None:
        checks.append(check)
        for line in render([check], secrets.mask):
            print(line, flush=True)

    now = datetime.now().astimezone()
    print(f"footfall-agent {__version__} doctor on {socket.gethostname()}, {now:%Y-%m-%d %H:%M:%S %Z}", flush=True)
    cfg = _config(args, show)
    if cfg is not None:
        secrets.add(config_secrets(cfg))
    has_camera = None if cfg is None else any(isinstance(s, CameraSensorConfig) for s in cfg.sensors)
    for check in machine.python_and_packages(has_camera):
        show(check)
    for check in machine.system(read_system()):
        show(check)
    show(machine.memory(machine.read_available_memory()))
    show(machine.clock(machine.read_clock_state(), machine.read_ntp_enabled(), time.time()))
    system_zone = local_timezone()
    if cfg is None:
        show(ok("time zone", f"{system_zone or 'unknown'} (the system's)"))
        print(summary(checks), flush=True)
        return exit_status(checks)
    show(machine.timezone(cfg, system_zone))
    show(machine.store(cfg))
    for sensor in cfg.sensors:
        if isinstance(sensor, LineSensorConfig | ModbusSensorConfig):
            show(
                ports.serial_port(
                    sensor.id, sensor.port, sensor.baudrate, sensor.bytesize, sensor.parity, sensor.stopbits
                )
            )
        elif isinstance(sensor, CameraSensorConfig):
            for check in cameras.camera(sensor):
                show(check)
    for check in broker.broker(cfg):
        show(check)
    print(summary(checks), flush=True)
    return exit_status(checks)
