"""Fixtures with real parts: a Mosquitto broker on loopback and socat pseudo-terminal pairs."""

from __future__ import annotations

import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.agent_process import AgentProcess, agent_config, read_intervals
from tests.integration.mosquitto import Broker, Subscriber, free_port, wait_for_port
from tests.integration.pty import PtyPair

__all__ = [
    "AgentProcess",
    "Broker",
    "PtyPair",
    "Subscriber",
    "agent_config",
    "free_port",
    "read_intervals",
    "wait_for_port",
]


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    b.start()
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def pty_pair(tmp_path: Path) -> Iterator[PtyPair]:
    p = PtyPair(tmp_path)
    p.replug()
    try:
        yield p
    finally:
        p.unplug()


@pytest.fixture
def notify_socket() -> Iterator[socket.socket]:
    """A datagram socket standing in for systemd's `$NOTIFY_SOCKET`."""
    where = Path(tempfile.mkdtemp(prefix="sdn-"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(where / "notify"))
    sock.settimeout(0.05)
    try:
        yield sock
    finally:
        sock.close()
        shutil.rmtree(where, ignore_errors=True)
