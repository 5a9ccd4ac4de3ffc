"""Serial people-counters that print one text line per event or per reading.

The wire is hostile: a wrong baud rate produces a stream of random bytes, a half-plugged cable cuts lines
in two, and firmware sometimes never sends the newline. Every line is therefore checked in turn for
length, encoding and pattern, and whatever fails is counted as rejected (so it shows in the interval's
`rejected_lines`) without ever costing the valid lines around it.

Reads come in chunks of whatever the driver has buffered, split on b"\\n" in one pass: the per-line work
is one decode, one regex match and one sink call, which keeps a pty or a 115200 baud UART far below
saturating a Pi core. Event lines cannot be read twice, so after each chunk that held any, the sink commits
them before the next read (`CountSink.commit`): a crash loses nothing the source had read.
"""

from __future__ import annotations

import codecs
import logging
import time
from dataclasses import dataclass

from agent.backoff import Backoff
from agent.config.serial_lines import LineSensorConfig
from agent.sources.base import Clock, CountSink, ThreadedSource
from agent.sources.line_protocol import Increment, LineParser, Totals
from agent.sources.serial_port import ReconnectingSerial, SerialSettings

log = logging.getLogger(__name__)

# Rejected lines are summarised in the log at most this often.
REJECT_LOG_EVERY_S = 60.0


@dataclass
class LineStats:
    """Running totals since start, per outcome; diagnostics for logs and tests."""

    valid: int = 0
    overlong: int = 0
    bad_encoding: int = 0
    unmatched: int = 0
    implausible: int = 0
    """Lines of the right form with an impossible number (see `LineParser`)."""

    @property
    def rejected(self) -> int:
        return self.overlong + self.bad_encoding + self.unmatched + self.implausible


class LineSplitter:
    """Chunks in, complete lines out; a line longer than the limit is dropped, up to its newline.

    Pure and separate from the thread so that chunk boundaries (a line cut across two reads, an
    endless line without a newline) behave the same whatever the driver's buffering.
    """

    def __init__(self, max_line_bytes: int) -> None:
        self.max_line_bytes = max_line_bytes
        self._partial = b""
        self._discarding = False

    def reset(self) -> None:
        """Forget a partial line, e.g. after a reconnect where its rest was lost."""
        self._partial = b""
        self._discarding = False

    def feed(self, data: bytes) -> tuple[list[bytes], int]:
        """Returns (complete lines without \\r\\n, number of over-long lines dropped)."""
        buf = self._partial + data if self._partial else data
        lines = buf.split(b"\n")
        partial = lines.pop()
        overlong = 0
        if self._discarding:
            if not lines:
                return [], 0
            # The first piece is the tail of a line already counted as over-long.
            del lines[0]
            self._discarding = False
        limit = self.max_line_bytes
        # +1: the line may still end in the \r of a \r\n that has not fully arrived.
        if len(partial) > limit + 1:
            overlong += 1
            self._discarding = True
            partial = b""
        self._partial = partial
        out: list[bytes] = []
        for raw in lines:
            line = raw.strip(b"\r")
            if not line:
                continue
            if len(line) > limit:
                overlong += 1
                continue
            out.append(line)
        return out, overlong


class LineSource(ThreadedSource):
    """Reads a serial line counter on a daemon thread and feeds parsed lines to the sink."""

    def __init__(self, cfg: LineSensorConfig, sink: CountSink, clock: Clock = time.time) -> None:
        super().__init__(cfg.id, sink, clock, log)
        self.cfg = cfg
        self._parser: LineParser = cfg.parser()
        self._encoding = codecs.lookup(cfg.encoding).name
        self._heartbeat = cfg.heartbeat_timeout
        self._port = ReconnectingSerial(
            SerialSettings(cfg.port, cfg.baudrate, cfg.bytesize, cfg.parity, cfg.stopbits),
            self.link,
            Backoff(cfg.reconnect_min, cfg.reconnect_max),
            self._stop,
        )
        self._splitter = LineSplitter(cfg.max_line_bytes)
        self.stats = LineStats()
        self._last_valid = 0.0
        self._reject_log_at = 0.0
        self._rejects_unlogged = 0
        self._last_rejected = b""

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                try:
                    self._step()
                except Exception:  # a bug must not silently end counting for good
                    log.exception("%s: unexpected error in the line source", self.sensor_id)
                    self._port.close()
                    self._splitter.reset()
                    self.link.mark_down("internal error")
                    self._stop.wait(1.0)
        finally:
            self._port.close()

    def _step(self) -> None:
        data = self._port.read()
        if data is None:
            self._splitter.reset()
            return
        now = time.monotonic()
        if self._last_valid < self._port.opened_at:
            self._last_valid = self._port.opened_at
        if data:
            self.feed(data, now)
        if self._heartbeat is not None and self.link.is_up and now - self._last_valid > self._heartbeat:
            self.link.mark_down(f"no valid line for {self._heartbeat:g} s")

    def feed(self, data: bytes, now: float) -> None:
        """Split, validate, parse and forward one chunk; `now` is monotonic seconds."""
        lines, overlong = self._splitter.feed(data)
        at = self._clock()
        sink, sensor, parse, encoding = self._sink, self.sensor_id, self._parser.parse, self._encoding
        valid = bad_encoding = unmatched = implausible = events = 0
        bad_line = b""
        for line in lines:
            try:
                text = line.decode(encoding)
            except UnicodeDecodeError:
                bad_encoding += 1
                bad_line = line
                continue
            result = parse(text)
            if result is None:
                unmatched += 1
                bad_line = line
                continue
            kind = type(result)
            if kind is Increment:
                sink.add(sensor, result.ins, result.outs, at)
                events += 1
            elif kind is Totals:
                sink.add_totals(sensor, result.in_total, result.out_total, at)
            else:
                implausible += 1
                bad_line = line
                continue
            valid += 1
        if events:
            sink.commit(sensor)
        stats = self.stats
        if valid:
            stats.valid += valid
            self._last_valid = now
            if not self.link.is_up:
                self.link.mark_up()
        rejected = overlong + bad_encoding + unmatched + implausible
        if rejected:
            stats.overlong += overlong
            stats.bad_encoding += bad_encoding
            stats.unmatched += unmatched
            stats.implausible += implausible
            sink.reject(sensor, rejected, at)
            self._note_rejects(rejected, bad_line, now)

    def _note_rejects(self, n: int, sample: bytes, now: float) -> None:
        """One summary line per minute at most: enough to spot a wrong baud rate, never a flood."""
        self._rejects_unlogged += n
        if sample:
            self._last_rejected = sample
        if now - self._reject_log_at < REJECT_LOG_EVERY_S:
            return
        s = self.stats
        log.warning(
            "%s: rejected %d line(s) (so far %d over-long, %d invalid %s, %d not matching the pattern, "
            "%d implausible); last: %r",
            self.sensor_id,
            self._rejects_unlogged,
            s.overlong,
            s.bad_encoding,
            self._encoding,
            s.unmatched,
            s.implausible,
            self._last_rejected[:80],
        )
        self._reject_log_at = now
        self._rejects_unlogged = 0
