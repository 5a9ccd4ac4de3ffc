"""LineSource against a real socat pseudo-terminal: parsing, garbage, unplug/replug, heartbeat."""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from agent.config.serial_lines import LineSensorConfig
from agent.sources.build import build_source
from agent.sources.serial_lines import LineSource, LineSplitter
from tests.integration.pty import PtyPair

pytestmark = pytest.mark.integration


class RecordingSink:
    """A thread-safe CountSink that records every call, for tests to observe a source by."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.calls: list[tuple[Any, ...]] = []

    def _record(self, *call: Any) -> None:
        with self._cond:
            self.calls.append(call)
            self._cond.notify_all()

    def add(self, sensor: str, ins: int, outs: int, at: float) -> None:
        self._record("add", sensor, ins, outs, at)

    def add_totals(self, sensor: str, in_total: int, out_total: int, at: float) -> None:
        self._record("totals", sensor, in_total, out_total, at)

    def reject(self, sensor: str, n: int, at: float) -> None:
        self._record("reject", sensor, n, at)

    def commit(self, sensor: str) -> None:
        self._record("commit", sensor)

    def source_up(self, sensor: str, at: float) -> None:
        self._record("up", sensor, at)

    def source_down(self, sensor: str, at: float, reason: str) -> None:
        self._record("down", sensor, at, reason)

    def of(self, kind: str) -> list[tuple[Any, ...]]:
        with self._cond:
            return [c for c in self.calls if c[0] == kind]

    @property
    def ins(self) -> int:
        return sum(c[2] for c in self.of("add"))

    @property
    def outs(self) -> int:
        return sum(c[3] for c in self.of("add"))

    @property
    def rejected(self) -> int:
        return sum(c[2] for c in self.of("reject"))

    def totals(self) -> list[tuple[int, int]]:
        return [(c[2], c[3]) for c in self.of("totals")]

    def health(self) -> list[str]:
        """The sequence of up/down transitions reported so far."""
        with self._cond:
            return [c[0] for c in self.calls if c[0] in ("up", "down")]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True


def line_config(device: os.PathLike[str] | str, **overrides: Any) -> LineSensorConfig:
    fields: dict[str, Any] = {"type": "serial-lines", "id": "door", "port": str(device), "baudrate": 115200}
    fields.update(overrides)
    return LineSensorConfig(**fields)


class Peer:
    """The counter's end of the pty: writes raw bytes."""

    def __init__(self, pty: PtyPair) -> None:
        self.fd = pty.open_peer()

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def peer(pty_pair: PtyPair) -> Iterator[Peer]:
    p = Peer(pty_pair)
    try:
        yield p
    finally:
        p.close()


def started(cfg: LineSensorConfig, sink: RecordingSink) -> LineSource:
    source = LineSource(cfg, sink)
    source.start()
    assert sink.wait_for(lambda: sink.health() == ["up"]), sink.calls
    return source


def test_event_lines_become_increments(pty_pair: PtyPair, peer: Peer) -> None:
    sink = RecordingSink()
    source = started(line_config(pty_pair.device, preset="event"), sink)
    try:
        peer.write(b"IN 1\r\nOUT 2\r\nin\nOUT\r\n+\n-\nENTER 3\r\n")
        assert sink.wait_for(lambda: sink.ins == 6 and sink.outs == 4), sink.calls
        assert [c[2:4] for c in sink.of("add")] == [(1, 0), (0, 2), (1, 0), (0, 1), (1, 0), (0, 1), (3, 0)]
        assert sink.rejected == 0
        assert source.stats.valid == 7
    finally:
        source.stop(1.0)


def test_cumulative_lines_become_totals(pty_pair: PtyPair, peer: Peer) -> None:
    sink = RecordingSink()
    source = started(line_config(pty_pair.device, preset="cumulative-kv"), sink)
    try:
        peer.write(b"in=1042,out=1017\r\nIN:1043;OUT:1017\r\nin=1045 out=1020\n")
        assert sink.wait_for(lambda: len(sink.totals()) == 3), sink.calls
        assert sink.totals() == [(1042, 1017), (1043, 1017), (1045, 1020)]
        assert sink.of("add") == []
    finally:
        source.stop(1.0)


def test_absurd_counts_are_rejected_as_implausible(pty_pair: PtyPair, peer: Peer) -> None:
    """Issue 13: `IN 999999999999999999999` once added 10^21 ins and `OUT 4294967296` was counted."""
    sink = RecordingSink()
    source = started(line_config(pty_pair.device, preset="event"), sink)
    try:
        peer.write(b"IN 999999999999999999999\r\nOUT 4294967296\r\nIN 1001\r\nIN 2\r\nOUT 1000\r\n")
        assert sink.wait_for(lambda: sink.rejected == 3 and sink.ins == 2), sink.calls
        assert (sink.ins, sink.outs, source.stats.implausible) == (2, 1000, 3)
    finally:
        source.stop(1.0)


def test_totals_beyond_the_counter_width_are_rejected(pty_pair: PtyPair, peer: Peer) -> None:
    sink = RecordingSink()
    source = started(line_config(pty_pair.device, preset="cumulative-kv", counter_bits=16), sink)
    try:
        peer.write(b"in=65536,out=1\r\nin=5,out=99999999999999999999999\r\nin=65535,out=7\r\n")
        assert sink.wait_for(lambda: sink.rejected == 2 and len(sink.totals()) == 1), sink.calls
        assert sink.totals() == [(65535, 7)]
        assert source.stats.implausible == 2
    finally:
        source.stop(1.0)


def test_garbage_is_counted_and_valid_lines_around_it_still_count(pty_pair: PtyPair, peer: Peer) -> None:
    sink = RecordingSink()
    source = started(line_config(pty_pair.device, preset="event", max_line_bytes=64), sink)
    rng = random.Random(7)
    try:
        peer.write(b"IN 1\r\n")
        # Random bytes without any newline, long enough to exceed the limit: one over-long line,
        # discarded up to the newline that finally ends it.
        peer.write(bytes(rng.choice(b"abcdefXYZ\x00\x7f") for _ in range(300)))
        peer.write(b"tail of the long line\r\nOUT 1\r\n")
        # Invalid UTF-8, a line that matches nothing, and a complete over-long line.
        peer.write(b"\xff\xfe\xc3(IN\r\nhello world\r\n" + b"IN 1 " * 40 + b"\r\nIN 2\r\n")
        # A valid line cut across two writes (and two reads).
        peer.write(b"OU")
        time.sleep(0.3)
        peer.write(b"T 3\r\n")
        # Wrong-baud-like noise: high bytes, framing junk, stray newlines.
        noise = bytes(rng.choice(b"\x80\x86\xe0\xf8\xfc\xfe\xff\x00\x1e\x98\n") for _ in range(200))
        peer.write(b"\n" + noise + b"\nIN 1\r\n")
        assert sink.wait_for(lambda: sink.ins == 4 and sink.outs == 4), sink.calls
        stats = source.stats
        assert stats.valid == 5
        assert stats.overlong == 2
        assert stats.unmatched >= 1
        assert stats.bad_encoding >= 2  # the invalid UTF-8 line and at least one noise line
        assert sink.rejected == stats.rejected
        assert sink.health() == ["up"]
    finally:
        source.stop(1.0)


def test_unplug_reports_down_and_replug_resumes_counting(pty_pair: PtyPair, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent.sources")
    sink = RecordingSink()
    source = started(line_config(pty_pair.device, reconnect_min=0.1, reconnect_max=0.5), sink)
    try:
        peer = Peer(pty_pair)
        peer.write(b"IN 1\r\nIN 1\r\n")
        assert sink.wait_for(lambda: sink.ins == 2)
        peer.write(b"OUT")  # a partial line that the unplug cuts off
        time.sleep(0.3)
        peer.close()
        pty_pair.unplug()
        assert sink.wait_for(lambda: sink.health() == ["up", "down"], timeout=2.0), sink.calls
        time.sleep(0.7)  # several failed reopen attempts: still exactly one down report
        assert sink.health() == ["up", "down"]
        pty_pair.replug()
        assert sink.wait_for(lambda: sink.health() == ["up", "down", "up"], timeout=2.0), sink.calls
        peer = Peer(pty_pair)
        peer.write(b" 5\r\nIN 1\r\n")  # the rest of the cut line is garbage, not "OUT 5"
        assert sink.wait_for(lambda: sink.ins == 3), sink.calls
        assert sink.outs == 0
        assert sink.rejected == 1
        # One line for the disconnect and one, with the gap, for the reconnect; none per failed retry.
        lines = [r.getMessage() for r in caplog.records if r.name.startswith("agent.sources")]
        lines = [line for line in lines if ": source " in line]
        assert len(lines) == 3, lines
        assert "source down" in lines[1]
        assert re.search(r"source up again after \d+\.\d s down", lines[2]), lines
        peer.close()
    finally:
        source.stop(1.0)


def test_port_missing_at_start_is_down_until_it_appears(pty_pair: PtyPair) -> None:
    pty_pair.unplug()
    sink = RecordingSink()
    source = LineSource(line_config(pty_pair.device, reconnect_min=0.1, reconnect_max=0.3), sink)
    source.start()
    try:
        assert sink.wait_for(lambda: sink.health() == ["down"])
        pty_pair.replug()
        assert sink.wait_for(lambda: sink.health() == ["down", "up"], timeout=2.0), sink.calls
    finally:
        source.stop(1.0)


def test_heartbeat_timeout_reports_silence_as_down(pty_pair: PtyPair, peer: Peer) -> None:
    sink = RecordingSink()
    source = started(line_config(pty_pair.device, preset="cumulative-csv", heartbeat_timeout=0.6), sink)
    try:
        peer.write(b"10,7\r\n")
        assert sink.wait_for(lambda: sink.totals() == [(10, 7)])
        assert sink.wait_for(lambda: sink.health() == ["up", "down"], timeout=2.0), sink.calls
        assert "no valid line" in sink.of("down")[0][3]
        peer.write(b"garbage\r\n")  # not a valid line: stays down
        time.sleep(0.4)
        assert sink.health() == ["up", "down"]
        peer.write(b"11,7\r\n")
        assert sink.wait_for(lambda: sink.health() == ["up", "down", "up"]), sink.calls
        assert sink.totals() == [(10, 7), (11, 7)]
    finally:
        source.stop(1.0)


def open_fds_on(device: os.PathLike[str] | str) -> int:
    """How many of this process's file descriptors point at the pty behind `device`."""
    target = os.path.realpath(device)
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}") == target:
                count += 1
        except OSError:
            continue
    return count


def test_stop_returns_promptly_and_closes_the_port(pty_pair: PtyPair, peer: Peer) -> None:
    sink = RecordingSink()
    source = build_source(line_config(pty_pair.device), sink, None)  # type: ignore[arg-type]
    assert isinstance(source, LineSource)
    source.start()
    assert sink.wait_for(lambda: sink.health() == ["up"])
    assert open_fds_on(pty_pair.device) == 1
    t0 = time.monotonic()
    source.stop(1.0)
    assert time.monotonic() - t0 < 1.0
    assert open_fds_on(pty_pair.device) == 0
    peer.write(b"IN 1\r\n")
    time.sleep(0.3)
    assert sink.ins == 0


def test_splitter_keeps_partial_lines_and_drops_overlong_ones_whatever_the_chunking() -> None:
    stream = b"IN 1\r\nOUT 2\n" + b"x" * 50 + b"\r\n\r\nIN 3\r\n" + b"y" * 100 + b"\nOUT\r\n"
    for size in (1, 2, 3, 7, 16, len(stream)):
        splitter = LineSplitter(max_line_bytes=20)
        lines: list[bytes] = []
        overlong = 0
        for i in range(0, len(stream), size):
            got, dropped = splitter.feed(stream[i : i + size])
            lines += got
            overlong += dropped
        assert lines == [b"IN 1", b"OUT 2", b"IN 3", b"OUT"], size
        assert overlong == 2, size
