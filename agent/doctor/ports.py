"""Serial ports of the configured counters: the device node is there, this user may open it, and it opens.

Opening takes the same exclusive lock the agent takes, so a port the running service holds shows as busy: that
is a warning (it is most likely the agent itself), not a failure.
"""

from __future__ import annotations

import grp
import os
import pwd

from agent.doctor.checks import Check, fail, ok, warn

LIST_PORTS = "ls -l /dev/serial/by-id/ /dev/ttyUSB* /dev/ttyACM* /dev/ttyAMA* /dev/ttySC*"


def _owner_group(path: str) -> str:
    try:
        return grp.getgrgid(os.stat(path).st_gid).gr_name
    except (OSError, KeyError):
        return "?"


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def serial_port(
    sensor_id: str, port: str, baudrate: int = 9600, bytesize: int = 8, parity: str = "N", stopbits: float = 1
) -> Check:
    """One counter's port: present, permitted, and open-able with its line settings."""
    import serial

    name = f"serial {sensor_id}"
    if os.path.isabs(port):
        if not os.path.lexists(port):
            return fail(name, f"{port}: no such device node", f"plug the adapter in; list the ports: {LIST_PORTS}")
        if not os.path.exists(port):
            target = os.path.realpath(port)
            return fail(name, f"{port} points at {target}, which is gone", f"replug the adapter; {LIST_PORTS}")
        if not os.access(port, os.R_OK | os.W_OK):
            group = _owner_group(port)
            return fail(
                name,
                f"{port}: user {_user()} may not read and write it (it belongs to group {group})",
                f"sudo usermod -aG {group} {_user()}, then log in again (the service's user is in dialout already)",
            )
    frame = f"{baudrate} {bytesize}{parity}{stopbits:g}"
    try:
        serial.Serial(
            port, baudrate=baudrate, bytesize=bytesize, parity=parity, stopbits=stopbits, timeout=0.2, exclusive=True
        ).close()
    except (serial.SerialException, OSError, ValueError) as e:
        text = str(e) or type(e).__name__
        if "lock" in text.lower():
            return warn(
                name,
                f"{port} is in use by another program (the agent itself, if the service is running)",
                "to check the port itself: sudo systemctl stop footfall-agent, run doctor, then start it again",
            )
        return fail(name, f"{port} does not open: {text}", f"check the port and its settings; {LIST_PORTS}")
    return ok(name, f"{port} opens ({frame})")
