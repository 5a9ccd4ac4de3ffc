"""A serial port that survives being unplugged.

USB-RS232/RS485 adapters get pulled, brown out and re-enumerate; the node then vanishes and later comes
back under the same name. Every read failure closes the port, reports the sensor down once, and reopens
with capped exponential backoff; the next successful open reports it up. Reads time out quickly so the
owning thread notices a stop request within a fraction of a second.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import serial

from agent.backoff import Backoff
from agent.sources.base import Clock, LinkStatus

READ_TIMEOUT_S = 0.2
# A quiet port is checked for a vanished device node at most this often (some drivers just stop
# delivering bytes instead of failing the read).
NODE_CHECK_EVERY_S = 1.0


@dataclass(frozen=True)
class SerialSettings:
    """Where the counter is attached and how its UART is framed."""

    port: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1


class ReconnectingSerial:
    """Owns one pyserial port for one thread: `read()` hides opening, failures and backoff waits."""

    def __init__(
        self,
        settings: SerialSettings,
        link: LinkStatus,
        backoff: Backoff,
        stop: threading.Event,
        monotonic: Clock = time.monotonic,
        read_timeout: float = READ_TIMEOUT_S,
    ) -> None:
        self.settings = settings
        self._link = link
        self._backoff = backoff
        self._stop = stop
        self._monotonic = monotonic
        self._read_timeout = read_timeout
        self._port: serial.Serial | None = None
        self._node_checked = 0.0
        self.opened_at = 0.0
        self.opens = 0

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def read(self) -> bytes | None:
        """Bytes that arrived (b"" after a quiet read timeout), or None while the port is unavailable.

        None means any partial line from before is stale. On failure this call has already waited one
        backoff step (or until stop was requested), so callers can simply loop.
        """
        if self._port is None and not self._open():
            return None
        port = self._port
        assert port is not None
        try:
            data = port.read(max(1, port.in_waiting))
        except (serial.SerialException, OSError) as exc:
            self._lost(f"read failed: {exc}")
            return None
        if not data and self._node_vanished():
            self._lost(f"device node {self.settings.port} vanished")
            return None
        return data

    def close(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass

    def _open(self) -> bool:
        s = self.settings
        try:
            self._port = serial.Serial(
                s.port,
                baudrate=s.baudrate,
                bytesize=s.bytesize,
                parity=s.parity,
                stopbits=s.stopbits,
                timeout=self._read_timeout,
                # A second reader (another agent instance, a terminal left open) would steal half the lines.
                exclusive=True,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            self._port = None
            self._link.mark_down(f"cannot open {s.port}: {exc}")
            self._stop.wait(self._backoff.next_delay())
            return False
        self.opened_at = self._monotonic()
        self.opens += 1
        self._backoff.reset()
        self._link.mark_up()
        return True

    def _lost(self, reason: str) -> None:
        self.close()
        self._link.mark_down(reason)
        self._stop.wait(self._backoff.next_delay())

    def _node_vanished(self) -> bool:
        path = self.settings.port
        if not os.path.isabs(path):
            return False
        now = self._monotonic()
        if now - self._node_checked < NODE_CHECK_EVERY_S:
            return False
        self._node_checked = now
        return not os.path.exists(path)
