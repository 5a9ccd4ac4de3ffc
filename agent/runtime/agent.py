"""The running agent: sources feed per-sensor aggregators, the interval clock closes and stores, the publisher forwards.

Threads: one per source (blocking serial I/O), the publisher's own thread (network), and the caller's thread,
which runs the interval clock. Sources only ever take a short in-memory lock, so a slow disk or a dead broker
never stalls counting; everything waiting to be published lives in the on-disk outbox, whose size the store
bounds, so nothing queues in memory without bound.

The interval loop is also the only place that acts on the outside world's requests: a SIGHUP only sets a
flag, and commands received by the publisher thread are only queued, so a reload or a command never races
the clock that closes intervals. The loop also keeps the device visible: the retained health report every
`health.period`, a retained state per sensor, Home Assistant discovery configs after every (re)connect and
whenever Home Assistant restarts, and a STATUS= line for `systemctl status`.

`Agent` is the one owner of the interval loop's state (the aggregators under their lock, the store, the
publisher of the moment). Parts with state of their own live beside it: `persistence` (every store write and
what a failing store costs), `wall_clock` (counting time and its steps), `command_desk`, `anomaly_scoring`,
`sensor_states`, `home_assistant`; `reconfigure` applies a reload and `health_report` reads the health report,
both on the loop thread; the pure decision of what a reload may change is `reload`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any

from agent import __version__
from agent.aggregation.aggregator import SensorAggregator
from agent.aggregation.clock import local_iso
from agent.aggregation.clock_steps import ClockStep
from agent.aggregation.records import CameraCounts, ClosedInterval
from agent.config.agent import ANOMALY_MIN_INTERVAL_S, AgentConfig, SensorConfig, zone_names
from agent.config.camera import CameraSensorConfig
from agent.config.modbus import ModbusSensorConfig
from agent.config.serial_lines import LineSensorConfig
from agent.config.units import interval_text
from agent.mqtt.commands import CommandFailed
from agent.mqtt.discovery import (
    AgentDevice,
    SensorState,
)
from agent.mqtt.inbox import Received
from agent.mqtt.payloads import interval_payload
from agent.mqtt.publisher import Publisher
from agent.mqtt.topics import Topics
from agent.runtime.anomaly_scoring import AnomalyScoring
from agent.runtime.command_desk import CommandDesk
from agent.runtime.console import Console
from agent.runtime.health import (
    HealthPayload,
    SourceHealth,
    read_temperatures,
    status_line,
)
from agent.runtime.health_report import health_report
from agent.runtime.home_assistant import HomeAssistantLink
from agent.runtime.persistence import Persistence, last_seen
from agent.runtime.readings_log import log_readings
from agent.runtime.reconfigure import SOURCE_STOP_S, reload_from_disk
from agent.runtime.sd_notify import Notifier, Watchdog
from agent.runtime.sensor_states import SensorStates
from agent.runtime.wall_clock import StepClock
from agent.sources.base import Source
from agent.sources.build import build_source
from agent.store.database import Store

log = logging.getLogger(__name__)

TICK_S = 0.1
RETENTION_EVERY_S = 60.0
STATUS_MIN_PERIOD_S = 1.0
"""A flapping source renews the STATUS= line at most this often."""
"""Store key of a sensor's detector state: beside its aggregator state (':' is not allowed in a sensor id),
so the frequent checkpoints of open-interval counts do not rewrite the larger detector state."""
REPUBLISH_ROW_OVERHEAD = 64
"""Bytes an outbox row costs besides its topic and payload, for the disk budget check of a republish."""


class Agent:
    """Wires sources, aggregation, the store and MQTT together; re-wires them when the config is reloaded.

    `reload_config` returns the config as it is now on disk (with the command line's overrides applied);
    without one (the demo) a reload is refused. On the real clock (`time.time`) wall-clock steps are found
    against the monotonic clock (`agent.runtime.wall_clock`); a test's own clock is taken as it is.
    """

    def __init__(
        self,
        cfg: AgentConfig,
        console: Console | None = None,
        clock: Callable[[], float] = time.time,
        notifier: Notifier | None = None,
        reload_config: Callable[[], AgentConfig] | None = None,
    ) -> None:
        self.notifier = notifier or Notifier({})
        self.watchdog = Watchdog.from_environment(self.notifier)
        self.cfg = cfg
        self.tz = cfg.tz
        self.clock = clock
        self.wall_clock: StepClock | None = None
        self.console = console
        self._reload_config = reload_config
        self.topics = Topics.for_device(cfg.mqtt.topic_prefix, cfg.site, cfg.device)
        self.store = Store(cfg.store.path, cfg.store.retention_days, cfg.store.max_bytes)
        self.persistence = Persistence(self.store, cfg.intervals.length)
        self._persist = self.persistence.lock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._reload_requested = threading.Event()
        self._status_changed = threading.Event()
        self._dirty: set[str] = set()
        states = self.persistence.saved_states()
        if clock is time.time:
            self.wall_clock = StepClock(start=last_seen(states, clock()), on_step=self._clock_stepped)
            self.clock = self.wall_clock
        now = self.clock()
        self.started = now
        self.health: dict[str, SourceHealth] = {s.id: SourceHealth() for s in cfg.sensors}
        self.aggregators: dict[str, SensorAggregator] = {
            s.id: self._new_aggregator(s, states.get(s.id), now) for s in cfg.sensors
        }
        self.scoring = AnomalyScoring(
            self.store, int(cfg.intervals.length), self.tz, cfg.site, cfg.device, self.topics, self._unexpected
        )
        if cfg.anomaly.enabled and not cfg.scores_anomalies:
            log.info(
                "anomaly scoring is off: it needs intervals of at least %s, these are %s",
                interval_text(ANOMALY_MIN_INTERVAL_S),
                interval_text(cfg.intervals.length),
            )
        for s in cfg.sensors:
            self._add_anomaly(s.id)
        self.states = SensorStates(self.store, self.tz, cfg.intervals.occupancy_reset)
        self.sources: dict[str, Source] = {s.id: build_source(s, self, self.tz, self.clock) for s in cfg.sensors}
        self.home_assistant = HomeAssistantLink(
            AgentDevice(
                site=cfg.site,
                device=cfg.device,
                sw_version=__version__,
                status_topic=self.topics.status,
                health_topic=self.topics.health,
                temperature=bool(read_temperatures()),
            )
        )
        self._seen_connections = 0
        self._commands = CommandDesk()
        self._last_unexpected = ""
        self._next_health = 0.0
        self._next_status = 0.0
        self.publisher: Publisher | None = self._new_publisher(cfg) if cfg.mqtt.enabled else None

    def _new_aggregator(self, s: SensorConfig, state: dict | None, now: float) -> SensorAggregator:
        counter_bits = s.counter_bits if isinstance(s, LineSensorConfig | ModbusSensorConfig) else 32
        max_step = s.max_step if isinstance(s, LineSensorConfig | ModbusSensorConfig) else 10000
        args = (s.id, int(self.cfg.intervals.length), self.tz, self.cfg.intervals.occupancy_reset, now)
        kw: dict[str, Any] = {"counter_bits": counter_bits, "max_step": max_step}
        if isinstance(s, CameraSensorConfig):
            kw.update(lines=[line.name for line in s.counting.lines], zones=[zone.name for zone in s.counting.zones])
        try:
            return SensorAggregator(*args, state=state, **kw)
        except ValueError as e:
            log.error("%s: saved state unusable (%s); starting this sensor afresh", s.id, e)
            return SensorAggregator(*args, **kw)

    def _add_anomaly(self, sensor: str) -> None:
        if self.cfg.scores_anomalies:
            self.scoring.add(sensor, self.cfg.anomaly)

    def _new_publisher(self, cfg: AgentConfig) -> Publisher:
        client_id = cfg.mqtt.client_id or f"footfall-{cfg.site}-{cfg.device}"
        publisher = Publisher(cfg.mqtt, client_id, self.topics.status, self.store)
        publisher.subscribe(self.topics.command, qos=1)
        if cfg.homeassistant.enabled:
            for topic_filter in self.home_assistant.filters(cfg.homeassistant.discovery_prefix):
                publisher.subscribe(topic_filter, qos=1)
        return publisher

    # -- CountSink: called from source threads; keep these short and free of I/O. A sensor removed by a
    # reload may still have a late call in flight from its stopping thread: it is ignored.

    def add(self, sensor: str, ins: int, outs: int, at: float) -> None:
        with self._lock:
            agg = self.aggregators.get(sensor)
            if agg is not None:
                agg.add(ins, outs, at)
                self._dirty.add(sensor)

    def add_camera(self, sensor: str, ins: int, outs: int, counts: CameraCounts, at: float) -> None:
        with self._lock:
            agg = self.aggregators.get(sensor)
            if agg is not None:
                agg.add_camera(ins, outs, counts, at)
                self._dirty.add(sensor)

    def add_totals(self, sensor: str, in_total: int, out_total: int, at: float) -> None:
        with self._lock:
            agg = self.aggregators.get(sensor)
            if agg is None:
                return
            readings = agg.add_totals(in_total, out_total, at)
            if readings[0].delta or readings[1].delta:
                self._dirty.add(sensor)
            if "glitch" in (readings[0].kind, readings[1].kind):
                self.health[sensor].rejected += 1
        log_readings(sensor, readings, (in_total, out_total))

    def commit(self, sensor: str) -> None:
        """Persist the sensor's counts now (a read batch of event lines); a store failure leaves them in memory."""
        with self._persist:
            with self._lock:
                agg = self.aggregators.get(sensor)
                if agg is None:
                    return
                state = agg.snapshot()
            self.persistence.save({sensor: state}, self.clock(), "saving a read batch", side=False)

    def _clock_stepped(self, step: ClockStep) -> None:
        """A forward step of the wall clock (called by the clock, before it returns the new time)."""
        with self._lock:
            for agg in self.aggregators.values():
                agg.clock_stepped(step.before, step.after)
            self._dirty.update(self.aggregators)

    def reject(self, sensor: str, n: int, at: float) -> None:
        with self._lock:
            agg = self.aggregators.get(sensor)
            if agg is not None:
                agg.reject(n, at)
                self.health[sensor].rejected += n

    def source_up(self, sensor: str, at: float) -> None:
        with self._lock:
            agg = self.aggregators.get(sensor)
            if agg is None:
                return
            agg.source_up(at)
            h = self.health[sensor]
            h.up, h.since, h.reason = True, at, ""
            self._dirty.add(sensor)
        self._status_changed.set()

    def source_down(self, sensor: str, at: float, reason: str) -> None:
        with self._lock:
            agg = self.aggregators.get(sensor)
            if agg is None:
                return
            agg.source_down(at)
            h = self.health[sensor]
            h.up, h.since, h.reason = False, at, reason
            self._dirty.add(sensor)
        self._status_changed.set()

    # -- lifecycle

    def stop(self) -> None:
        """Ask `run()` to flush and return; safe to call from a signal handler."""
        self._stop.set()

    def request_reload(self) -> None:
        """Ask the interval loop to re-read the config; safe to call from a signal handler (SIGHUP)."""
        self._reload_requested.set()

    def run(self) -> None:
        """Run until `stop()`; closes intervals on the clock, persists them, then hands them to the publisher."""
        if self.publisher is not None:
            self.publisher.start()
        for source in self.sources.values():
            source.start()
        log.info(
            "running: %d sensor(s), %s intervals, store %s, mqtt %s",
            len(self.sources),
            interval_text(self.cfg.intervals.length),
            self.cfg.store.path,
            f"{self.cfg.mqtt.host}:{self.cfg.mqtt.effective_port()}" if self.publisher else "disabled",
        )
        next_checkpoint = self.clock() + self.cfg.store.checkpoint
        next_retention = self.clock()
        self.notifier.ready(f"{len(self.sources)} sensor(s) running")
        try:
            while not self._stop.is_set():
                if self._reload_requested.is_set():
                    self._reload_requested.clear()
                    self._reload_on_signal()
                now = self.clock()
                if now >= next_retention:
                    next_retention = now + RETENTION_EVERY_S
                    try:
                        self.store.enforce_limits(now)
                    except sqlite3.Error as exc:
                        self.persistence.guard.failed("applying retention", exc, now)
                if self.close_due(now):
                    next_checkpoint = now + self.cfg.store.checkpoint
                elif now >= next_checkpoint:
                    self.checkpoint()
                    next_checkpoint = now + self.cfg.store.checkpoint
                try:
                    self._communicate(now)
                except Exception as exc:  # noqa: BLE001 - health, states and commands are secondary to counting
                    self._unexpected("reporting", exc)
                if self.console is not None:
                    self.console.tick(now, self.live())
                if self.publisher is None or self.publisher.running:
                    self.watchdog.progress(time.monotonic())
                self._stop.wait(TICK_S)
        finally:
            self.shutdown()

    def close_due(self, now: float) -> list[ClosedInterval]:
        """Close every interval that has ended; commit them (and the state that produced them) in one transaction."""
        with self._persist:
            closed = self._close_due(now)
        self.persistence.write_side()
        return closed

    def _close_due(self, now: float) -> list[ClosedInterval]:
        with self._lock:
            closed = [c for agg in self.aggregators.values() for c in agg.close_due(now)]
            if not closed and not self.persistence.guard.retry_due(now):
                return []
            states = {sensor: agg.snapshot() for sensor, agg in self.aggregators.items()}
        closed.sort(key=lambda c: (c.start, c.sensor))
        records = []
        events: list[tuple[str, bytes]] = []
        for c in closed:
            anomaly, messages = self.scoring.score(c)
            events.extend(messages)
            self.states.scored(c.sensor, anomaly)
            payload = interval_payload(c, self.cfg.site, self.cfg.device, self.tz, anomaly)
            records.append((c, self.topics.interval(c.sensor), payload.model_dump_json().encode()))
        changes = self.persistence.store_closes(records, events, states, self.scoring.changes, now)
        if changes is not None:
            self.scoring.saved(changes)
            if self.publisher is not None:
                self.publisher.wake()
        for c in closed:
            self.states.count_closed(c)
        if self.publisher is not None:
            try:
                for sensor in dict.fromkeys(c.sensor for c in closed):
                    if sensor in self.aggregators:
                        self._publish_state(sensor, now)
            except Exception as exc:  # noqa: BLE001 - the intervals are stored; a state bug must not stop counting
                self._unexpected("publishing sensor states", exc)
        if self.console is not None and closed:
            depth, _ = self.persistence.store_stats()[:2]
            connected = self.publisher.connected if self.publisher is not None else False
            for c in closed:
                self.console.interval_closed(c, self.tz, depth, connected)
        return closed

    def checkpoint(self, final: bool = False) -> None:
        """Persist open-interval state so that a power cut costs at most one checkpoint period of event counts."""
        with self._persist:
            with self._lock:
                states = {sensor: agg.snapshot() for sensor, agg in self.aggregators.items()}
            self.persistence.save(states, self.clock(), "checkpointing", final=final)
        self.persistence.write_side()

    def live(self) -> dict[str, dict]:
        with self._lock:
            return {sensor: agg.live() for sensor, agg in self.aggregators.items()}

    def shutdown(self) -> None:
        self.notifier.stopping("flushing to disk")
        for source in self.sources.values():
            source.stop(SOURCE_STOP_S)
        self.close_due(self.clock())
        self.checkpoint(final=True)
        if self.publisher is not None:
            self.publisher.stop(2.0)
        held = self.persistence.guard.held.records
        if held:
            log.error("stopping with %d closed interval(s) that could not be stored (disk full): lost", len(held))
        try:
            self.store.close()
        except sqlite3.Error as exc:
            log.error("store %s not closed cleanly (%s); it opens cleanly next time", self.store.directory, exc)
        log.info("stopped")

    # -- what the loop does for the outside world

    def _unexpected(self, what: str, exc: Exception) -> None:
        """A failure outside counting: log it with a traceback once per distinct error, then carry on. A store
        error (a full disk, a store being replaced) is no bug: one line, no traceback (see the health report)."""
        text = f"{what}: {type(exc).__name__}: {exc}"
        if text != self._last_unexpected:
            self._last_unexpected = text
            if isinstance(exc, sqlite3.Error):
                log.error("store error while %s: %s; counting goes on", what, exc)
            else:
                log.exception("unexpected error while %s; counting goes on", what)
        else:
            log.debug("unexpected error again while %s", text)

    def _communicate(self, now: float) -> None:
        """Notice (re)connections, act on received messages, renew health, states and the STATUS= line."""
        publisher = self.publisher
        if publisher is not None:
            connections = publisher.connections
            if connections != self._seen_connections:
                self._seen_connections = connections
                self._on_connected(now)
            self._commands.new_tick()
            for message in publisher.received():
                try:
                    self._on_message(message)
                except Exception as exc:  # noqa: BLE001 - one message must not cost the others their turn
                    self._unexpected("handling a received message", exc)
        if now >= self._next_health:
            self._publish_health(now)
        elif self._status_changed.is_set() and now >= self._next_status:
            self._status_changed.clear()
            self._next_status = now + STATUS_MIN_PERIOD_S
            self.notifier.status(status_line(self.health_report(now)))
        self._publish_changed_states(now)

    def _on_connected(self, now: float) -> None:
        """A new broker session: whatever it retained may be gone (a broker without persistence), so say it all."""
        if self.cfg.homeassistant.enabled:
            self._announce()
        self._publish_health(now)
        for sensor in self.aggregators:
            self._publish_state(sensor, now)

    def _on_message(self, message: Received) -> None:
        publisher = self.publisher
        if publisher is None:
            return
        if message.topic == self.topics.command:
            if message.retain:
                log.warning(
                    "ignoring a retained message on %s: publish commands without retain, or every reconnect "
                    "would carry them out again",
                    message.topic,
                )
                return
            response = self._commands.answer(message, self, list(self.aggregators), self.clock())
            publisher = self.publisher or publisher  # a reload may have replaced it
            publisher.publish_transient(self.topics.command_response, response.to_json(), retain=False, qos=1)
            return
        if not self.cfg.homeassistant.enabled:
            return
        if self.home_assistant.on_message(message, publisher, self.cfg.homeassistant.discovery_prefix):
            self._announce()

    # -- Home Assistant discovery

    def _state_topics(self) -> dict[str, str]:
        return {sensor: self.topics.state(sensor) for sensor in self.aggregators}

    def _announce(self) -> None:
        if self.publisher is not None:
            self.home_assistant.announce(
                self.publisher,
                self.cfg.homeassistant.discovery_prefix,
                self._state_topics(),
                zone_names(self.cfg.sensors),
            )

    def _withdraw(self, cfg: AgentConfig) -> None:
        if self.publisher is not None:
            self.home_assistant.withdraw(self.publisher, cfg.homeassistant.discovery_prefix)

    # -- health, state and STATUS=

    def health_report(self, now: float) -> HealthPayload:
        """The health report as of `now`, read from the sources, the machine, the store and the publisher."""
        return health_report(self, now)

    def _publish_health(self, now: float) -> HealthPayload:
        # Rescheduled first, so a report that cannot be made is retried next period, not on every tick.
        self._next_health = now + self.cfg.health.period
        self._next_status = now + STATUS_MIN_PERIOD_S
        self._status_changed.clear()
        report = self.health_report(now)
        if self.publisher is not None:
            self.publisher.publish_retained(self.topics.health, report.to_json())
        self.notifier.status(status_line(report))
        return report

    def sensor_state(self, sensor: str, now: float) -> SensorState:
        with self._lock:
            agg = self.aggregators[sensor]
            live, unstored = agg.live(), agg.unreturned()
            h = self.health[sensor]
            up, since = h.up, h.since
        return self.states.state(self.cfg.site, self.cfg.device, sensor, now, live, unstored, up, since)

    def _publish_state(self, sensor: str, now: float) -> None:
        if self.publisher is None:
            return
        self.states.sent(sensor, now)
        with self._lock:
            self._dirty.discard(sensor)
        state = self.sensor_state(sensor, now)
        self.publisher.publish_retained(self.topics.state(sensor), state.model_dump_json().encode())

    def _publish_changed_states(self, now: float) -> None:
        with self._lock:
            if self.publisher is None:
                self._dirty.clear()
                return
            due = self.states.due(self._dirty, now)
        for sensor in due:
            self._publish_state(sensor, now)

    # -- commands (agent.mqtt.commands.CommandHandler); run on the loop thread by `dispatch`

    def reload(self) -> dict[str, Any]:
        """Re-read the config and apply it; a broken or restart-only change is refused and nothing changes."""
        self.notifier.reloading()
        try:
            return reload_from_disk(self)
        finally:
            self.notifier.ready()
            self._status_changed.set()

    def reset_occupancy(self, sensor: str) -> dict[str, Any]:
        now = self.clock()
        with self._persist:
            with self._lock:
                agg = self.aggregators[sensor]
                before = agg.occupancy
                agg.reset_occupancy(now)
                states = {s: a.snapshot() for s, a in self.aggregators.items()}
            # Persisted at once: a restart right after must not bring the old figure back.
            self.persistence.save(states, now, "saving an occupancy reset")
        log.info("%s: occupancy reset from %d to 0 by remote command", sensor, before)
        self._publish_state(sensor, now)
        return {"sensor": sensor, "previous": before}

    def publish_health(self) -> dict[str, Any]:
        report = self._publish_health(self.clock())
        return {"topic": self.topics.health, "ts": report.ts}

    def republish(self, since: float, until: float, sensor: str | None) -> dict[str, Any]:
        """Queue stored intervals again, byte for byte, behind what is already waiting in the outbox."""
        rows = self.store.intervals(sensor, since, until)
        messages = [(self.topics.interval(row.sensor), row.payload) for row in rows]
        needed = sum(len(t) + len(p) + REPUBLISH_ROW_OVERHEAD for t, p in messages)
        if messages and self.store.size_bytes() + needed > self.store.max_bytes:
            raise CommandFailed(
                f"{len(messages)} intervals ({needed} bytes) do not fit in the store's budget "
                f"(store.max_bytes) next to what is waiting; ask for a shorter range"
            )
        count = self.store.enqueue_many(messages)
        if self.publisher is not None:
            self.publisher.wake()
        log.info(
            "republishing %d stored interval(s) from %s to %s%s",
            count,
            local_iso(since, self.tz),
            local_iso(until, self.tz),
            f" of {sensor}" if sensor else "",
        )
        return {"intervals": count, "since": since, "until": until, "sensor": sensor}

    # -- reload

    def _reload_on_signal(self) -> None:
        log.info("SIGHUP received, reloading the config")
        try:
            self.reload()
        except CommandFailed:
            pass  # already logged, one line per reason
        except Exception:  # noqa: BLE001 - a failed reload must never stop the counting
            log.exception("reload failed; counting goes on")
