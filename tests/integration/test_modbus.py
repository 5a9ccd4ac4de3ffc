"""ModbusSource against pymodbus's own RTU server on the far end of a socat pseudo-terminal."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import serial
from pymodbus import FramerType
from pymodbus.server import ModbusSerialServer
from pymodbus.simulator import DataType, SimData, SimDevice

from agent.config.modbus import ModbusSensorConfig
from agent.sources.build import build_source
from agent.sources.modbus import ModbusSource, combine_words, next_poll
from tests.integration.pty import PtyPair
from tests.integration.test_serial_lines import RecordingSink

pytestmark = pytest.mark.integration

SLAVE_ID = 7
REGISTERS = 32
HOLDING, INPUT = 3, 4  # function codes that address each register table


class ModbusSlave:
    """A counter's RTU slave: pymodbus's server on the pty peer, on a thread with its own asyncio loop.

    Holding and input registers are separate tables of REGISTERS registers each, all zero at start.
    """

    def __init__(self, port: str, baudrate: int = 38400) -> None:
        self.port = port
        self.baudrate = baudrate
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="modbus-slave", daemon=True)
        self._thread.start()
        self._server: ModbusSerialServer | None = None

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    async def _serve(self) -> None:
        bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
        device = SimDevice(
            SLAVE_ID,
            simdata=(
                bits,
                [SimData(0, count=16, values=False, datatype=DataType.BITS)],
                [SimData(0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)],
                [SimData(0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)],
            ),
        )
        self._server = ModbusSerialServer(device, framer=FramerType.RTU, port=self.port, baudrate=self.baudrate)
        await self._server.serve_forever(background=True)

    async def _shutdown(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    def start(self) -> None:
        self._call(self._serve())

    def stop(self) -> None:
        self._call(self._shutdown())

    def set(self, table: int, address: int, values: list[int]) -> None:
        assert self._server is not None
        self._call(self._server.async_setValues(SLAVE_ID, table, address, values))

    def close(self) -> None:
        self.stop()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()


@pytest.fixture
def slave(pty_pair: PtyPair) -> Iterator[ModbusSlave]:
    s = ModbusSlave(str(pty_pair.peer))
    s.start()
    try:
        yield s
    finally:
        s.close()


def modbus_config(pty: PtyPair, **overrides: Any) -> ModbusSensorConfig:
    fields: dict[str, Any] = {
        "type": "modbus",
        "id": "door",
        "port": str(pty.device),
        "baudrate": 38400,
        "slave_id": SLAVE_ID,
        "in_register": 0,
        "out_register": 2,
        "poll_period": 0.1,
        "timeout": 0.2,
        "reconnect_min": 0.1,
        "reconnect_max": 0.4,
    }
    fields.update(overrides)
    return ModbusSensorConfig(**fields)


def started(cfg: ModbusSensorConfig, sink: RecordingSink) -> ModbusSource:
    source = build_source(cfg, sink, None)  # type: ignore[arg-type]
    assert isinstance(source, ModbusSource)
    source.start()
    return source


def test_32_bit_big_endian_holding_registers(pty_pair: PtyPair, slave: ModbusSlave) -> None:
    slave.set(HOLDING, 0, [0x0001, 0x0002, 0x0000, 0x0457])  # in = 65538, out = 1111
    sink = RecordingSink()
    source = started(modbus_config(pty_pair), sink)
    try:
        assert sink.wait_for(lambda: (65538, 1111) in sink.totals()), sink.calls
        assert sink.health() == ["up"]
        slave.set(HOLDING, 0, [0x0001, 0x0005])
        assert sink.wait_for(lambda: (65541, 1111) in sink.totals()), sink.calls
        values = sink.totals()
        assert values == sorted(values)  # every reading is from the same counters, never mixed up
    finally:
        source.stop(1.0)


def test_32_bit_little_endian_words_in_separate_input_registers(pty_pair: PtyPair, slave: ModbusSlave) -> None:
    slave.set(INPUT, 10, [0x0457, 0x0001])  # in = 0x0001_0457 with the low word first
    slave.set(INPUT, 20, [0x0003, 0x0000])  # out = 3
    slave.set(HOLDING, 10, [9, 9])  # the other table must not be read
    sink = RecordingSink()
    cfg = modbus_config(pty_pair, register_type="input", word_order="little", in_register=10, out_register=20)
    source = started(cfg, sink)
    try:
        assert sink.wait_for(lambda: len(sink.totals()) >= 2), sink.calls
        assert set(sink.totals()) == {(0x00010457, 3)}
    finally:
        source.stop(1.0)


def test_16_bit_registers_out_before_in(pty_pair: PtyPair, slave: ModbusSlave) -> None:
    slave.set(HOLDING, 4, [17, 42])  # out at 4, in at 5
    sink = RecordingSink()
    source = started(modbus_config(pty_pair, counter_bits=16, in_register=5, out_register=4), sink)
    try:
        assert sink.wait_for(lambda: len(sink.totals()) >= 2), sink.calls
        assert set(sink.totals()) == {(42, 17)}
        slave.set(HOLDING, 5, [65535])
        assert sink.wait_for(lambda: (65535, 17) in sink.totals()), sink.calls
    finally:
        source.stop(1.0)


def test_exception_response_is_down_until_the_registers_exist(pty_pair: PtyPair, slave: ModbusSlave) -> None:
    sink = RecordingSink()
    source = started(modbus_config(pty_pair, in_register=REGISTERS - 1, out_register=0), sink)
    try:
        assert sink.wait_for(lambda: sink.health() == ["down"]), sink.calls
        assert "exception" in sink.of("down")[0][3]
        assert sink.totals() == []
    finally:
        source.stop(1.0)


def test_silent_slave_then_unplug_and_replug(pty_pair: PtyPair, slave: ModbusSlave) -> None:
    slave.set(HOLDING, 0, [0, 100, 0, 90])
    sink = RecordingSink()
    source = started(modbus_config(pty_pair), sink)
    try:
        assert sink.wait_for(lambda: (100, 90) in sink.totals()), sink.calls
        # The slave stops answering (powered off) while the adapter stays: timeouts.
        slave.stop()
        assert sink.wait_for(lambda: sink.health() == ["up", "down"], timeout=2.0), sink.calls
        slave.start()
        slave.set(HOLDING, 0, [0, 101, 0, 90])
        assert sink.wait_for(lambda: sink.health() == ["up", "down", "up"], timeout=3.0), sink.calls
        assert sink.wait_for(lambda: (101, 90) in sink.totals()), sink.calls
        # Now the cable is pulled: both pty nodes vanish.
        slave.stop()
        pty_pair.unplug()
        assert sink.wait_for(lambda: sink.health() == ["up", "down", "up", "down"], timeout=2.0), sink.calls
        time.sleep(0.6)  # failed reconnects meanwhile are not reported again
        assert sink.health() == ["up", "down", "up", "down"]
        pty_pair.replug()
        slave.start()
        slave.set(HOLDING, 0, [0, 105, 0, 93])
        assert sink.wait_for(lambda: (105, 93) in sink.totals(), timeout=3.0), sink.calls
        assert sink.health() == ["up", "down", "up", "down", "up"]
    finally:
        source.stop(1.0)


def test_polls_follow_a_fixed_grid(pty_pair: PtyPair, slave: ModbusSlave) -> None:
    sink = RecordingSink()
    source = started(modbus_config(pty_pair, poll_period=0.25), sink)
    try:
        assert sink.wait_for(lambda: len(sink.totals()) >= 9, timeout=4.0), sink.calls
        t0 = time.monotonic()
        source.stop(1.0)
        assert time.monotonic() - t0 < 1.0
        stamps = [c[4] for c in sink.of("totals")]
        # Each poll's time, relative to the grid of the first, stays within a fraction of the period:
        # the schedule does not drift by the time each request takes.
        offsets = [(t - stamps[0]) % 0.25 for t in stamps]
        assert all(min(o, 0.25 - o) < 0.08 for o in offsets), offsets
    finally:
        source.stop(1.0)


def test_word_combination_and_poll_grid_arithmetic() -> None:
    assert combine_words([0x1234], 16, "big") == 0x1234
    assert combine_words([0x1234, 0x5678], 32, "big") == 0x12345678
    assert combine_words([0x1234, 0x5678], 32, "little") == 0x56781234
    assert next_poll(10.0, 10.05, 1.0) == 11.0
    assert next_poll(10.0, 13.5, 1.0) == 14.0  # missed slots are skipped, the grid is kept
    assert next_poll(10.0, 11.0, 1.0) == 12.0


def test_a_port_that_cannot_open_is_down_with_the_reason(pty_pair: PtyPair) -> None:
    """Another program holds the port (an exclusive lock, as the agent itself takes): the reason is ours to log."""
    holder = serial.Serial(str(pty_pair.device), exclusive=True)
    sink = RecordingSink()
    source = started(modbus_config(pty_pair), sink)
    try:
        assert sink.wait_for(lambda: sink.health() == ["down"], timeout=3.0), sink.calls
        (reason,) = [call[-1] for call in sink.of("down")]
        assert reason.startswith(f"cannot open {pty_pair.device}: ") and "lock" in reason, reason
    finally:
        source.stop(1.0)
        holder.close()
