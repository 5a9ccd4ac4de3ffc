"""The sd_notify protocol against a real AF_UNIX datagram socket, bound the way systemd binds it."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.runtime.sd_notify import Notifier, Watchdog, watchdog_interval


class NotifySocket:
    """The service manager's end: a datagram socket that collects what the agent sends."""

    def __init__(self, address: str | bytes) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.settimeout(0.05)

    def receive(self, timeout: float = 2.0) -> list[str]:
        """All datagrams available within `timeout` of the first one (or of the call, if none)."""
        got: list[str] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got.append(self.sock.recv(4096).decode())
                deadline = min(deadline, time.monotonic() + 0.1)
            except TimeoutError:
                continue
        return got

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # AF_UNIX paths are limited to 108 bytes, which a deep pytest tmp_path can exceed.
    path = Path(tempfile.mkdtemp(prefix="sdn-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def systemd(socket_dir: Path) -> Iterator[tuple[NotifySocket, dict[str, str]]]:
    address = str(socket_dir / "notify")
    manager = NotifySocket(address)
    try:
        yield manager, {"NOTIFY_SOCKET": address}
    finally:
        manager.close()


def test_lifecycle_messages_arrive_in_protocol_form(systemd: tuple[NotifySocket, dict[str, str]]) -> None:
    manager, env = systemd
    notifier = Notifier(env)
    assert notifier.enabled
    assert notifier.ready("2/2 sources up, mqtt connected")
    assert manager.receive() == ["READY=1\nSTATUS=2/2 sources up, mqtt connected"]
    assert notifier.status("1/2 sources up\n(down: side)")
    assert manager.receive() == ["STATUS=1/2 sources up (down: side)"], "a newline would end the STATUS field"
    assert notifier.watchdog()
    assert manager.receive() == ["WATCHDOG=1"]
    assert notifier.reloading()
    [reloading] = manager.receive()
    fields = reloading.split("\n")
    assert fields[0] == "RELOADING=1" and fields[1].startswith("MONOTONIC_USEC=") and int(fields[1][15:]) > 0
    assert notifier.extend_timeout(30)
    assert manager.receive() == ["EXTEND_TIMEOUT_USEC=30000000"]
    assert notifier.stopping("flushing")
    assert manager.receive() == ["STOPPING=1\nSTATUS=flushing"]
    notifier.close()


def test_abstract_socket_address(socket_dir: Path) -> None:
    name = f"footfall-test-{os.getpid()}-{socket_dir.name}"
    manager = NotifySocket(b"\0" + name.encode())
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.ready()
        assert manager.receive() == ["READY=1"]
    finally:
        manager.close()


def test_without_notify_socket_everything_is_a_no_op() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.ready("x") and not notifier.watchdog() and not notifier.stopping()
    assert not Watchdog(notifier, 10.0).progress(0.0)


def test_unsupported_address_disables_notifications() -> None:
    assert not Notifier({"NOTIFY_SOCKET": "vsock:2:1234"}).enabled


def test_a_vanished_socket_does_not_raise(socket_dir: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(socket_dir / "gone")})
    assert notifier.enabled
    assert not notifier.ready()
    assert not notifier.watchdog()


def test_watchdog_interval_from_environment() -> None:
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "60000000"}) == 60.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, pid=4242) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"}, pid=4243) is None, (
        "a child that inherited the variables must not ping for its parent"
    )
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "soon"}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}) is None


def test_watchdog_pings_are_paced_at_a_quarter_of_the_timeout(systemd: tuple[NotifySocket, dict[str, str]]) -> None:
    manager, env = systemd
    dog = Watchdog(Notifier(env), 60.0)
    sent = [now for now in (100.0, 100.1, 110.0, 114.9, 115.0, 120.0, 130.0, 131.0) if dog.progress(now)]
    assert sent == [100.0, 115.0, 130.0]
    assert manager.receive() == ["WATCHDOG=1"] * 3


def test_watchdog_disabled_without_a_timeout(systemd: tuple[NotifySocket, dict[str, str]]) -> None:
    manager, env = systemd
    dog = Watchdog.from_environment(Notifier(env), env)
    assert not dog.enabled and not dog.progress(0.0)
    assert manager.receive(0.3) == []


def test_watchdog_stops_when_the_loop_is_wedged(systemd: tuple[NotifySocket, dict[str, str]]) -> None:
    """A loop that pings on progress goes silent when a step blocks, then resumes when it unblocks."""
    manager, env = systemd
    env = {**env, "WATCHDOG_USEC": "200000", "WATCHDOG_PID": str(os.getpid())}
    notifier = Notifier(env)
    dog = Watchdog.from_environment(notifier, env)
    assert dog.period == pytest.approx(0.05)
    unblocked = threading.Event()
    unblocked.set()
    stop = threading.Event()

    def loop() -> None:
        notifier.ready("running")
        while not stop.is_set():
            unblocked.wait()  # the step that can wedge: a hung disk write, a deadlock
            dog.progress(time.monotonic())
            stop.wait(0.01)
        notifier.stopping()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        first = manager.receive(1.0)
        assert first[0] == "READY=1\nSTATUS=running"
        assert first[1:].count("WATCHDOG=1") >= 1
        time.sleep(0.3)
        assert "WATCHDOG=1" in _drain(manager), "no pings while the loop made progress"
        unblocked.clear()
        time.sleep(0.1)  # an iteration already past the wait may still ping once
        _drain(manager)
        time.sleep(0.5)  # more than twice the watchdog timeout
        assert _drain(manager) == [], "the watchdog kept pinging while the loop was wedged"
        unblocked.set()
        time.sleep(0.3)
        assert "WATCHDOG=1" in _drain(manager), "pings did not resume after the loop recovered"
    finally:
        stop.set()
        unblocked.set()
        thread.join(2)
    assert _drain(manager)[-1:] == ["STOPPING=1"]


def _drain(manager: NotifySocket) -> list[str]:
    got = []
    while True:
        try:
            got.append(manager.sock.recv(4096).decode())
        except TimeoutError:
            return got
