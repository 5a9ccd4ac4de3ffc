"""Modbus RTU people-counters: running in/out totals polled from registers.

Polls run on a fixed monotonic grid (start + k * poll_period) so that readings do not drift against the
interval clock however long each request takes. Any failure (no response, an exception response, the
adapter gone) reports the sensor down once and reconnects with capped exponential backoff; the aggregator
differences the totals, so a missed poll costs no counts, only coverage.
"""

from __future__ import annotations

import logging
import os
import time

from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from serial import SerialException, serial_for_url

from agent.backoff import Backoff
from agent.config.modbus import ModbusSensorConfig
from agent.sources.base import Clock, CountSink, ThreadedSource

log = logging.getLogger(__name__)

# pymodbus logs every failed request and reconnect itself; our own down/up lines say the same, once.
logging.getLogger("pymodbus").setLevel(logging.WARNING)


class ModbusReadError(Exception):
    """A poll that produced no usable registers; the message is the down reason."""


def combine_words(registers: list[int], bits: int, word_order: str) -> int:
    """One counter value from one (16-bit) or two (32-bit) registers, high word first when `big`."""
    if bits == 16:
        return registers[0] & 0xFFFF
    high, low = (registers[0], registers[1]) if word_order == "big" else (registers[1], registers[0])
    return ((high & 0xFFFF) << 16) | (low & 0xFFFF)


def next_poll(due: float, now: float, period: float) -> float:
    """The next slot on the grid `due + k * period` that lies after `now` (missed slots are skipped)."""
    due += period
    if due <= now:
        due += ((now - due) // period + 1) * period
    return due


def _open_failure(port: str) -> str:
    """Why a port did not open. pymodbus only logs it, in its own words; opening the port once more, as it
    does, gives the reason for our own line (a held lock, a missing permission, a bad node)."""
    try:
        serial_for_url(port, exclusive=True).close()
    except (SerialException, OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__
    return "it opens now; it did not a moment ago"


class ModbusSource(ThreadedSource):
    """Polls one RTU slave's in/out counter registers on a daemon thread."""

    def __init__(self, cfg: ModbusSensorConfig, sink: CountSink, clock: Clock = time.time) -> None:
        super().__init__(cfg.id, sink, clock, log)
        self.cfg = cfg
        self._words = 2 if cfg.counter_bits == 32 else 1
        self._client: ModbusSerialClient | None = None
        self._backoff = Backoff(cfg.reconnect_min, cfg.reconnect_max)

    def _run(self) -> None:
        period = self.cfg.poll_period
        due = time.monotonic()
        try:
            while not self._stop.is_set():
                try:
                    in_total, out_total = self._poll()
                except (ModbusReadError, ModbusException, SerialException, OSError) as exc:
                    self._fail(self._reason(exc))
                    due = time.monotonic()
                    continue
                except Exception:  # a bug must not silently end polling for good
                    log.exception("%s: unexpected error in the Modbus source", self.sensor_id)
                    self._fail("internal error")
                    due = time.monotonic()
                    continue
                self._backoff.reset()
                self.link.mark_up()
                self._sink.add_totals(self.sensor_id, in_total, out_total, self._clock())
                due = next_poll(due, time.monotonic(), period)
                self._stop.wait(max(0.0, due - time.monotonic()))
        finally:
            self._disconnect()

    def _reason(self, exc: Exception) -> str:
        """A down reason an installer can act on, instead of pymodbus's generic message."""
        cfg = self.cfg
        if isinstance(exc, ModbusIOException):
            return f"no response from slave {cfg.slave_id} on {cfg.port} within {cfg.timeout:g} s"
        if isinstance(exc, ConnectionException):
            return f"connection to {cfg.port} lost"
        return str(exc) or type(exc).__name__

    def _fail(self, reason: str) -> None:
        self._disconnect()
        self.link.mark_down(reason)
        self._stop.wait(self._backoff.next_delay())

    def _connect(self) -> ModbusSerialClient:
        cfg = self.cfg
        if os.path.isabs(cfg.port) and not os.path.exists(cfg.port):
            raise ModbusReadError(f"device node {cfg.port} not present")
        client = ModbusSerialClient(
            port=cfg.port,
            framer=FramerType.RTU,
            baudrate=cfg.baudrate,
            bytesize=cfg.bytesize,
            parity=cfg.parity,
            stopbits=cfg.stopbits,
            timeout=cfg.timeout,
            retries=0,
        )
        if not client.connect():
            raise ModbusReadError(f"cannot open {cfg.port}: {_open_failure(cfg.port)}")
        self._client = client
        return client

    def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except (SerialException, OSError):
                pass

    def _poll(self) -> tuple[int, int]:
        """One reading of both counters; both come from one request when the registers are adjacent."""
        cfg = self.cfg
        client = self._client if self._client is not None else self._connect()
        n = self._words
        if cfg.out_register == cfg.in_register + n:
            regs = self._read(client, cfg.in_register, 2 * n)
            in_regs, out_regs = regs[:n], regs[n:]
        elif cfg.in_register == cfg.out_register + n:
            regs = self._read(client, cfg.out_register, 2 * n)
            out_regs, in_regs = regs[:n], regs[n:]
        else:
            in_regs = self._read(client, cfg.in_register, n)
            out_regs = self._read(client, cfg.out_register, n)
        bits = cfg.counter_bits
        return combine_words(in_regs, bits, cfg.word_order), combine_words(out_regs, bits, cfg.word_order)

    def _read(self, client: ModbusSerialClient, address: int, count: int) -> list[int]:
        cfg = self.cfg
        read = client.read_input_registers if cfg.register_type == "input" else client.read_holding_registers
        try:
            response = read(address, count=count, device_id=cfg.slave_id)
        except ModbusIOException:
            # One lost frame on a noisy bus is not an outage; retried here rather than by pymodbus so
            # that a stop request is honoured between the attempts.
            if self._stop.is_set():
                raise
            response = read(address, count=count, device_id=cfg.slave_id)
        if response.isError():
            code = getattr(response, "exception_code", None)
            raise ModbusReadError(f"slave {cfg.slave_id} answered with exception {code} reading register {address}")
        registers = list(response.registers)
        if len(registers) < count:
            raise ModbusReadError(f"slave {cfg.slave_id} returned {len(registers)} of {count} registers")
        return registers
