"""The running agent: sources feed per-sensor aggregators, the interval clock closes and stores, the publisher forwards.

Threads: one per source (blocking serial I/O), the publisher's own thread (network), and the caller's thread,
which runs the interval clock. Sources only ever take a short in-memory lock, so a slow disk or a dead broker
never stalls counting; everything waiting to be published lives in the on-disk outbox, whose size the store
bounds, so nothing queues in memory without bound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from agent.aggregation import ClosedInterval, SensorAggregator
from agent.config import AgentConfig, LineSensorConfig, ModbusSensorConfig
from agent.console import Console
from agent.payloads import interval_payload
from agent.publisher import Publisher
from agent.sd_notify import Notifier, Watchdog
from agent.sources import build_source
from agent.sources.base import Source
from agent.store import Store
from agent.topics import Topics

log = logging.getLogger(__name__)

TICK_S = 0.1
RETENTION_EVERY_S = 60.0


@dataclass
class SourceHealth:
    """What a source last told the agent about itself, for the console and health reports."""

    up: bool = False
    since: float = 0.0
    reason: str = ""
    rejected: int = 0
    history: list[str] = field(default_factory=list)


class Agent:
    """Wires sources, aggregation, the store and MQTT together for one configuration."""

    def __init__(
        self,
        cfg: AgentConfig,
        console: Console | None = None,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
    ) -> None:
        self.notifier = notifier or Notifier({})
        self.watchdog = Watchdog.from_environment(self.notifier)
        self.cfg = cfg
        self.tz = cfg.tz
        self.clock = clock
        self.console = console
        self.topics = Topics.for_device(cfg.mqtt.topic_prefix, cfg.site, cfg.device)
        self.store = Store(cfg.store.path, cfg.store.retention_days, cfg.store.max_bytes)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.health: dict[str, SourceHealth] = {s.id: SourceHealth() for s in cfg.sensors}
        states = self.store.load_states()
        now = clock()
        self.aggregators: dict[str, SensorAggregator] = {}
        for s in cfg.sensors:
            counter_bits = s.counter_bits if isinstance(s, LineSensorConfig | ModbusSensorConfig) else 32
            max_step = s.max_step if isinstance(s, LineSensorConfig | ModbusSensorConfig) else 10000
            args = (s.id, int(cfg.intervals.length), self.tz, cfg.intervals.occupancy_reset, now)
            try:
                agg = SensorAggregator(*args, state=states.get(s.id), counter_bits=counter_bits, max_step=max_step)
            except ValueError as e:
                log.error("%s: saved state unusable (%s); starting this sensor afresh", s.id, e)
                agg = SensorAggregator(*args, counter_bits=counter_bits, max_step=max_step)
            self.aggregators[s.id] = agg
        self.sources: list[Source] = [build_source(s, self, self.tz) for s in cfg.sensors]
        self.publisher: Publisher | None = None
        if cfg.mqtt.enabled:
            client_id = cfg.mqtt.client_id or f"footfall-{cfg.site}-{cfg.device}"
            self.publisher = Publisher(cfg.mqtt, client_id, self.topics.status, self.store)

    # -- CountSink: called from source threads; keep these short and free of I/O.

    def add(self, sensor: str, ins: int, outs: int, at: float) -> None:
        with self._lock:
            self.aggregators[sensor].add(ins, outs, at)

    def add_totals(self, sensor: str, in_total: int, out_total: int, at: float) -> None:
        with self._lock:
            readings = self.aggregators[sensor].add_totals(in_total, out_total, at)
        for direction, reading in zip(("in", "out"), readings):
            if reading.kind in ("reset", "jump", "wrap"):
                log.warning(
                    "%s: %s counter %s (value now %d, counted %d)",
                    sensor,
                    direction,
                    {"reset": "reset by the device", "jump": "jumped implausibly", "wrap": "wrapped around"}[
                        reading.kind
                    ],
                    in_total if direction == "in" else out_total,
                    reading.delta,
                )

    def reject(self, sensor: str, n: int, at: float) -> None:
        with self._lock:
            self.aggregators[sensor].reject(n, at)
            self.health[sensor].rejected += n

    def source_up(self, sensor: str, at: float) -> None:
        with self._lock:
            self.aggregators[sensor].source_up(at)
            h = self.health[sensor]
            h.up, h.since, h.reason = True, at, ""

    def source_down(self, sensor: str, at: float, reason: str) -> None:
        with self._lock:
            self.aggregators[sensor].source_down(at)
            h = self.health[sensor]
            h.up, h.since, h.reason = False, at, reason

    # -- lifecycle

    def stop(self) -> None:
        """Ask `run()` to flush and return; safe to call from a signal handler."""
        self._stop.set()

    def run(self) -> None:
        """Run until `stop()`; closes intervals on the clock, persists them, then hands them to the publisher."""
        if self.publisher is not None:
            self.publisher.start()
        for source in self.sources:
            source.start()
        log.info(
            "running: %d sensor(s), %s intervals, store %s, mqtt %s",
            len(self.sources),
            _human_seconds(self.cfg.intervals.length),
            self.cfg.store.path,
            f"{self.cfg.mqtt.host}:{self.cfg.mqtt.effective_port()}" if self.publisher else "disabled",
        )
        next_checkpoint = self.clock() + self.cfg.store.checkpoint
        next_retention = self.clock()
        self.notifier.ready(f"{len(self.sources)} sensor(s) running")
        try:
            while not self._stop.is_set():
                now = self.clock()
                if now >= next_retention:
                    self.store.enforce_limits(now)
                    next_retention = now + RETENTION_EVERY_S
                if self.close_due(now):
                    next_checkpoint = now + self.cfg.store.checkpoint
                elif now >= next_checkpoint:
                    self.checkpoint()
                    next_checkpoint = now + self.cfg.store.checkpoint
                if self.console is not None:
                    self.console.tick(now, self.live())
                if self.publisher is None or self.publisher.running:
                    self.watchdog.progress(time.monotonic())
                self._stop.wait(TICK_S)
        finally:
            self.shutdown()

    def close_due(self, now: float) -> list[ClosedInterval]:
        """Close every interval that has ended; commit them (and the state that produced them) in one transaction."""
        with self._lock:
            closed = [c for agg in self.aggregators.values() for c in agg.close_due(now)]
            if not closed:
                return []
            states = {sensor: agg.snapshot() for sensor, agg in self.aggregators.items()}
        closed.sort(key=lambda c: (c.start, c.sensor))
        records = []
        for c in closed:
            payload = interval_payload(c, self.cfg.site, self.cfg.device, self.tz)
            records.append((c, self.topics.interval(c.sensor), payload.model_dump_json().encode()))
        self.store.commit_close(records, states)
        if self.publisher is not None:
            self.publisher.wake()
        if self.console is not None:
            depth, _ = self.store.outbox_stats()
            connected = self.publisher.connected if self.publisher is not None else False
            for c in closed:
                self.console.interval_closed(c, self.tz, depth, connected)
        return closed

    def checkpoint(self) -> None:
        """Persist open-interval state so that a power cut costs at most one checkpoint period of event counts."""
        with self._lock:
            states = {sensor: agg.snapshot() for sensor, agg in self.aggregators.items()}
        self.store.save_states(states)

    def live(self) -> dict[str, dict]:
        with self._lock:
            return {sensor: agg.live() for sensor, agg in self.aggregators.items()}

    def shutdown(self) -> None:
        self.notifier.stopping("flushing to disk")
        for source in self.sources:
            source.stop(1.0)
        self.close_due(self.clock())
        self.checkpoint()
        if self.publisher is not None:
            self.publisher.stop(2.0)
        self.store.close()
        log.info("stopped")


def _human_seconds(seconds: float) -> str:
    s = int(seconds)
    if s % 3600 == 0:
        return f"{s // 3600} h"
    if s % 60 == 0:
        return f"{s // 60} min"
    return f"{s} s"
