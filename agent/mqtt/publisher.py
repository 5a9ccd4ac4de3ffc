"""Forwards the durable outbox to an MQTT broker in order, deleting each message only once the broker has it.

One thread owns the paho client and makes every paho call, because paho clients are not safe to share between
threads. Other threads only set flags or append to a bounded queue (`wake`, `publish_transient`, `stop`), so
counting never waits on the network.

Every connection attempt uses a fresh client with a clean session: paho would otherwise replay its own
in-memory queue after a reconnect, interleaved with our replay from the outbox head and out of order. The
outbox is the only queue that matters; after each (re)connect it is sent again from its oldest row, so a
message whose PUBACK was lost is sent twice (consumers deduplicate by payload id) but never lost.

Besides the outbox there are three lighter paths. Transient messages (command answers) sit in a bounded
queue that drops its oldest entry when full. Retained messages (health, sensor state, discovery configs)
are kept per topic, latest value wins: a retained topic only ever matters by its last value, so this
cannot grow beyond the number of topics and never drops a discovery config. Subscriptions are registered
once and renewed on every connection (a clean session forgets them); what arrives goes into a bounded
`Inbox` that the runtime drains on its own thread, and `connections` lets it notice each (re)connect.

Why one module: the paho client may only be touched from its own thread, so everything that talks to it
(connecting, the outbox window, acknowledgements, the three lighter paths, goodbye) is one class with one
thread; splitting it would spread the one rule that keeps it correct over several files.
"""

from __future__ import annotations

import logging
import sqlite3
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode, MQTTProtocolVersion
from paho.mqtt.reasoncodes import ReasonCode

from agent.backoff import Backoff
from agent.config.errors import ConfigError
from agent.config.mqtt import MqttConfig
from agent.mqtt.inbox import Inbox, Received
from agent.store.database import OutboxRow, Store

log = logging.getLogger(__name__)

ONLINE = b"online"
OFFLINE = b"offline"

# Rows read from the outbox per query: large enough that a backlog costs few queries.
FETCH_ROWS = 500
# Acknowledged rows are deleted in batches because every store transaction is an fsync.
ACK_BATCH = 500
ACK_DELAY_S = 0.05
# Longest wait in select() when idle, which bounds how late `wake()`, transients and stop() are noticed.
IDLE_LOOP_S = 0.05
# select() timeout while waiting for the PUBACK of the final `offline`.
GOODBYE_LOOP_S = 0.01
# Safety net for rows queued without a `wake()`.
POLL_OUTBOX_S = 5.0
# TCP connect and CONNACK limits for one attempt; an unreachable broker must not pin the thread for long.
CONNECT_TIMEOUT_S = 5.0
CONNACK_TIMEOUT_S = 10.0
# Upper bound on waiting for the PUBACK of the final retained `offline` during stop().
GOODBYE_MAX_S = 1.0
# A refused TCP connection (nothing listening yet: a broker started after the agent, or restarting) costs the
# broker host nothing, so it is retried at least this often instead of the backoff growing to reconnect_max.
REFUSED_RETRY_S = 2.0
# Upper bound on sending what the outbox holds during stop(): the interval the shutdown itself closed goes out
# in milliseconds on a working link; a backlog left by an outage waits for the next start instead of the exit.
DRAIN_MAX_S = 1.0
# Only a connection that lasted this long resets the reconnect backoff, so a broker that accepts and then drops
# us at once (for example another device using the same client id) is retried ever more rarely, not every second.
STABLE_S = 10.0
DEFAULT_TRANSIENT_LIMIT = 8192
"""Transient messages (command answers) waiting for the publishing thread: a flood of commands gets one answer
each (most of them `busy`), about 2 MB of answers at most."""


@dataclass(frozen=True)
class PublisherStats:
    """A consistent snapshot for the health report."""

    connected: bool
    sent: int
    """Outbox messages handed to the broker, re-sends after a reconnect included."""
    acked: int
    """Outbox messages the broker acknowledged (and that were therefore deleted from the outbox)."""
    reconnects: int
    """Successful connections after the first one."""
    connect_failures: int
    """Connection attempts that did not end in an accepted CONNACK."""
    dropped_transient: int
    """Transient messages discarded because their queue was full."""
    dropped_incoming: int
    """Received messages discarded because the runtime did not drain them in time (see `Inbox`)."""
    inflight: int
    last_error: str | None


@dataclass(frozen=True)
class _Transient:
    topic: str
    payload: bytes
    retain: bool
    qos: int


@dataclass
class _Connection:
    """State of one broker connection; a new one per attempt, so in-flight bookkeeping cannot outlive it."""

    client: mqtt.Client
    connack: ReasonCode | None = None
    closed: bool = False
    close_reason: ReasonCode | None = None
    completed: list[tuple[int, ReasonCode]] = field(default_factory=list)
    inflight: dict[int, int] = field(default_factory=dict)
    buffer: deque[OutboxRow] = field(default_factory=deque)
    cursor: int = 0
    more: bool = True
    next_poll: float = 0.0
    acks: list[int] = field(default_factory=list)
    oldest_ack: float = 0.0
    goodbye_mid: int | None = None
    goodbye_acked: bool = False
    subscribed: dict[str, int] = field(default_factory=dict)


class Publisher:
    """Publishes outbox rows (at least once, in seq order) and transient messages (best effort) to one broker."""

    def __init__(
        self,
        cfg: MqttConfig,
        client_id: str,
        status_topic: str,
        store: Store,
        transient_limit: int = DEFAULT_TRANSIENT_LIMIT,
        inbox: Inbox | None = None,
    ) -> None:
        self._cfg = cfg
        self._client_id = client_id
        self._status_topic = status_topic
        self._store = store
        self._where = f"{cfg.host}:{cfg.effective_port()}"
        self._max_inflight = max(1, cfg.max_inflight)
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._drain_deadline = 0.0
        self._goodbye_deadline = 0.0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._transients: deque[_Transient] = deque()
        self._transient_limit = max(1, transient_limit)
        self._retained: dict[str, _Transient] = {}
        self._subscriptions: dict[str, int] = {}
        self._subscriptions_changed = False
        self._inbox = inbox if inbox is not None else Inbox()
        self._connected = False
        self._sent = 0
        self._acked = 0
        self._connections = 0
        self._connect_failures = 0
        self._dropped_transient = 0
        self._inflight = 0
        self._last_error: str | None = None
        self._down_since: float | None = None
        self._down_logged = False
        self._outage_failures = 0
        self._last_unexpected = ""
        self._refused = False

    # -- called from any thread

    def start(self) -> None:
        """Start the publishing thread; returns at once (connecting happens in the background)."""
        if self._thread is not None:
            raise RuntimeError("publisher already started")
        self._thread = threading.Thread(target=self._run, name="mqtt-publisher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """New outbox rows were committed: look at the outbox now instead of at the next poll."""
        self._wake.set()

    def publish_transient(self, topic: str, payload: bytes, retain: bool, qos: int = 0) -> None:
        """Queue a message that is not worth keeping across an outage (live values); drops the oldest when full."""
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        with self._lock:
            if len(self._transients) >= self._transient_limit:
                self._transients.popleft()
                self._dropped_transient += 1
            self._transients.append(_Transient(topic, bytes(payload), retain, qos))

    def publish_retained(self, topic: str, payload: bytes, qos: int = 1) -> None:
        """Queue a retained message; a newer one for the same topic replaces it if it has not gone out yet.

        An empty payload deletes the retained message on the broker (and a discovery config with it).
        """
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        with self._lock:
            self._retained.pop(topic, None)
            self._retained[topic] = _Transient(topic, bytes(payload), True, qos)

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Receive messages matching `topic_filter` from now on, on this and every later connection."""
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        with self._lock:
            self._subscriptions[topic_filter] = qos
            self._subscriptions_changed = True

    def unsubscribe(self, topic_filter: str) -> None:
        with self._lock:
            if self._subscriptions.pop(topic_filter, None) is not None:
                self._subscriptions_changed = True

    def received(self) -> list[Received]:
        """Take every message that arrived since the last call, oldest first."""
        return self._inbox.take()

    def stop(self, timeout: float = 3.0) -> None:
        """Send what the outbox holds, publish retained `offline`, disconnect cleanly and end the thread, all
        within `timeout` seconds.

        If the thread is stuck in a TCP connect to an unreachable broker it is left behind (it is a daemon
        thread and exits at its next check), so stop() still returns in time.
        """
        thread = self._thread
        if thread is None:
            return
        now = time.monotonic()
        deadline = now + timeout
        self._drain_deadline = now + min(DRAIN_MAX_S, timeout / 3)
        self._goodbye_deadline = self._drain_deadline + min(GOODBYE_MAX_S, timeout / 3)
        self._stopping.set()
        thread.join(max(0.0, deadline - time.monotonic()))
        if thread.is_alive():
            log.warning("MQTT publisher did not stop within %.1f s", timeout)

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def connections(self) -> int:
        """Successful connections so far; a change means the broker has just been (re)joined."""
        with self._lock:
            return self._connections

    @property
    def running(self) -> bool:
        """Whether the publishing thread is alive (false before start() and after a completed stop())."""
        return self._thread is not None and self._thread.is_alive()

    def stats(self) -> PublisherStats:
        with self._lock:
            return PublisherStats(
                connected=self._connected,
                sent=self._sent,
                acked=self._acked,
                reconnects=max(0, self._connections - 1),
                connect_failures=self._connect_failures,
                dropped_transient=self._dropped_transient,
                dropped_incoming=self._inbox.dropped,
                inflight=self._inflight,
                last_error=self._last_error,
            )

    # -- the publishing thread

    def _run(self) -> None:
        backoff = Backoff(self._cfg.reconnect_min, self._cfg.reconnect_max)
        while not self._stopping.is_set():
            try:
                if self._connect_and_serve() >= STABLE_S:
                    backoff.reset()
            except Exception as exc:  # the thread must survive anything (a full disk, a bug) and retry
                self._unexpected(exc)
            self._mark_disconnected()
            if self._stopping.is_set():
                break
            delay = backoff.next_delay()
            if self._refused:
                delay = min(delay, max(self._cfg.reconnect_min, REFUSED_RETRY_S))
            self._stopping.wait(delay)
        log.debug("MQTT publisher stopped")

    def _connect_and_serve(self) -> float:
        """One connection attempt and, if the broker accepts it, its whole lifetime; returns that in seconds."""
        try:
            client = self._new_client()
            conn = _Connection(client)
            self._attach(conn)
            if self._cfg.protocol == "5":
                client.connect(self._cfg.host, self._cfg.effective_port(), self._cfg.keepalive, clean_start=True)
            else:
                client.connect(self._cfg.host, self._cfg.effective_port(), self._cfg.keepalive)
        except (OSError, ValueError, ConfigError) as exc:
            self._refused = isinstance(exc, ConnectionRefusedError)
            self._attempt_failed(f"cannot connect to {self._where}: {exc}")
            return 0.0
        self._refused = False
        try:
            if not self._await_connack(conn):
                return 0.0
            began = time.monotonic()
            with self._lock:
                self._connections += 1
                self._connected = True
            self._log_up()
            conn.client.publish(self._status_topic, ONLINE, qos=1, retain=True)
            with self._lock:
                self._subscriptions_changed = True
            self._serve(conn)
            return time.monotonic() - began
        finally:
            try:
                self._flush_acks(conn)
            finally:
                conn.client.disconnect()

    def _new_client(self) -> mqtt.Client:
        cfg = self._cfg
        if cfg.protocol == "5":
            client = mqtt.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=self._client_id,
                protocol=MQTTProtocolVersion.MQTTv5,
                reconnect_on_failure=False,
            )
        else:
            client = mqtt.Client(
                callback_api_version=CallbackAPIVersion.VERSION2,
                client_id=self._client_id,
                clean_session=True,
                protocol=MQTTProtocolVersion.MQTTv311,
                reconnect_on_failure=False,
            )
        # Our own window bounds what is in flight; paho must never hold messages back in a queue of its own.
        client.max_inflight_messages_set(0)
        client.connect_timeout = CONNECT_TIMEOUT_S
        client.will_set(self._status_topic, OFFLINE, qos=1, retain=True)
        if cfg.username is not None:
            client.username_pw_set(cfg.username, cfg.resolved_password())
        if cfg.tls is not None:
            tls = cfg.tls
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file is not None else None,
                certfile=str(tls.cert_file) if tls.cert_file is not None else None,
                keyfile=str(tls.key_file) if tls.key_file is not None else None,
                cert_reqs=ssl.CERT_REQUIRED if tls.verify else ssl.CERT_NONE,
                keyfile_password=tls.resolved_key_password(),
            )
            client.tls_insecure_set(not tls.verify)
        return client

    def _attach(self, conn: _Connection) -> None:
        """Callbacks only record what happened; the loop in `_serve` acts on it, outside paho's callback locks."""

        def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
            conn.connack = reason

        def on_disconnect(client: mqtt.Client, userdata: Any, flags: Any, reason: ReasonCode, props: Any) -> None:
            conn.closed = True
            conn.close_reason = reason

        def on_publish(client: mqtt.Client, userdata: Any, mid: int, reason: ReasonCode, props: Any) -> None:
            conn.completed.append((mid, reason))

        def on_message(client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
            self._inbox.put(msg.topic, msg.payload, bool(msg.retain))

        conn.client.on_connect = on_connect
        conn.client.on_disconnect = on_disconnect
        conn.client.on_publish = on_publish
        conn.client.on_message = on_message

    def _await_connack(self, conn: _Connection) -> bool:
        deadline = time.monotonic() + CONNACK_TIMEOUT_S
        while conn.connack is None:
            if self._stopping.is_set():
                return False
            rc = conn.client.loop(IDLE_LOOP_S)
            if conn.connack is not None:
                break
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or conn.closed:
                reason = _loss_reason(rc, conn.close_reason)
                self._attempt_failed(f"{self._where} closed the connection before CONNACK ({reason})")
                return False
            if time.monotonic() > deadline:
                self._attempt_failed(f"no CONNACK from {self._where} within {CONNACK_TIMEOUT_S:.0f} s")
                return False
        if conn.connack.is_failure:
            self._attempt_failed(f"{self._where} refused the connection: {conn.connack}")
            return False
        return True

    def _serve(self, conn: _Connection) -> None:
        """Pump outbox rows and transients through the connection until it drops or stop() is called."""
        client = conn.client
        while True:
            if self._stopping.is_set():
                # The last intervals, states and answers go out ahead of `offline`, on the same ordered connection.
                self._drain(conn)
                self._send_transients(conn)
                self._goodbye(conn)
                return
            self._settle(conn)
            if conn.acks and (
                len(conn.acks) >= ACK_BATCH or not conn.inflight or time.monotonic() - conn.oldest_ack >= ACK_DELAY_S
            ):
                self._flush_acks(conn)
            rc = self._sync_subscriptions(conn)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                rc = self._send_transients(conn)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS:
                rc = self._fill(conn)
            with self._lock:
                self._inflight = len(conn.inflight)
            if rc == MQTTErrorCode.MQTT_ERR_SUCCESS and not conn.closed:
                rc = client.loop(self._loop_timeout(conn))
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS or conn.closed:
                self._settle(conn)
                text = f"connection to {self._where} lost: {_loss_reason(rc, conn.close_reason)}"
                self._record_error(text)
                self._log_down(text)
                return

    def _loop_timeout(self, conn: _Connection) -> float:
        """Block in select() only as long as nothing else is due; PUBACKs end the wait early by themselves."""
        if (
            self._transients
            or self._retained
            or self._subscriptions_changed
            or (self._wake.is_set() and len(conn.inflight) < self._max_inflight)
        ):
            return 0.0
        if conn.acks:
            return min(IDLE_LOOP_S, max(0.0, conn.oldest_ack + ACK_DELAY_S - time.monotonic()))
        return IDLE_LOOP_S

    def _settle(self, conn: _Connection) -> None:
        """Turn PUBACKs into pending outbox deletions; a rejected row stays queued for the next connection."""
        if not conn.completed:
            return
        completed, conn.completed = conn.completed, []
        rejected = 0
        for mid, reason in completed:
            seq = conn.inflight.pop(mid, None)
            if seq is None:
                if mid == conn.goodbye_mid:
                    conn.goodbye_acked = True
                continue
            if reason.is_failure:
                rejected += 1
                self._record_error(f"{self._where} rejected outbox message {seq}: {reason}")
                continue
            if not conn.acks:
                conn.oldest_ack = time.monotonic()
            conn.acks.append(seq)
        if rejected:
            log.warning(
                "%s rejected %d message(s); they stay queued and are retried after a reconnect", self._where, rejected
            )

    def _flush_acks(self, conn: _Connection) -> None:
        if not conn.acks:
            return
        acks, conn.acks = conn.acks, []
        self._store.ack(acks)
        with self._lock:
            self._acked += len(acks)

    def _fill(self, conn: _Connection) -> MQTTErrorCode:
        """Keep up to max_inflight outbox rows unacknowledged, strictly in seq order."""
        while len(conn.inflight) < self._max_inflight:
            if not conn.buffer:
                now = time.monotonic()
                if not (conn.more or self._wake.is_set() or now >= conn.next_poll):
                    return MQTTErrorCode.MQTT_ERR_SUCCESS
                self._wake.clear()
                rows = self._store.outbox_after(conn.cursor, FETCH_ROWS)
                conn.more = len(rows) == FETCH_ROWS
                conn.next_poll = now + POLL_OUTBOX_S
                if not rows:
                    return MQTTErrorCode.MQTT_ERR_SUCCESS
                conn.buffer.extend(rows)
                conn.cursor = rows[-1].seq
            row = conn.buffer.popleft()
            info = conn.client.publish(row.topic, row.payload, qos=row.qos, retain=row.retain)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return info.rc
            conn.inflight[info.mid] = row.seq
            with self._lock:
                self._sent += 1
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _send_transients(self, conn: _Connection) -> MQTTErrorCode:
        """Best effort: whatever is queued goes out now; a message caught by a broken link is not retried."""
        with self._lock:
            batch = [*self._retained.values(), *self._transients]
            self._retained.clear()
            self._transients.clear()
        for msg in batch:
            info = conn.client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain)
            if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return info.rc
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sync_subscriptions(self, conn: _Connection) -> MQTTErrorCode:
        """Bring this connection's subscriptions in line with the registered ones."""
        with self._lock:
            if not self._subscriptions_changed:
                return MQTTErrorCode.MQTT_ERR_SUCCESS
            wanted = dict(self._subscriptions)
            self._subscriptions_changed = False
        gone = [f for f in conn.subscribed if f not in wanted]
        if gone:
            rc, _ = conn.client.unsubscribe(gone)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
            for f in gone:
                del conn.subscribed[f]
        new = [(f, q) for f, q in wanted.items() if conn.subscribed.get(f) != q]
        if new:
            rc, _ = conn.client.subscribe(new)
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                return rc
            conn.subscribed.update(new)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _drain(self, conn: _Connection) -> None:
        """Stopping: publish the outbox's rows and collect their PUBACKs until it is empty or time is up."""
        self._wake.set()
        while time.monotonic() < self._drain_deadline and not conn.closed:
            self._settle(conn)
            if self._fill(conn) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            if not (conn.inflight or conn.buffer or conn.more or self._wake.is_set()):
                break
            if conn.client.loop(GOODBYE_LOOP_S) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
        self._settle(conn)

    def _goodbye(self, conn: _Connection) -> None:
        """Say `offline` ourselves: a clean disconnect does not fire the last will."""
        info = conn.client.publish(self._status_topic, OFFLINE, qos=1, retain=True)
        conn.goodbye_mid = info.mid
        while not conn.goodbye_acked and not conn.closed and time.monotonic() < self._goodbye_deadline:
            if conn.client.loop(GOODBYE_LOOP_S) != MQTTErrorCode.MQTT_ERR_SUCCESS:
                break
            self._settle(conn)
        self._settle(conn)
        if not conn.goodbye_acked:
            log.warning("stopping without confirmation that %s got the offline status", self._where)
        log.info("MQTT disconnecting from %s", self._where)

    # -- bookkeeping and state-change logging (one line per change, never one per retry)

    def _mark_disconnected(self) -> None:
        with self._lock:
            self._connected = False
            self._inflight = 0

    def _record_error(self, text: str) -> None:
        with self._lock:
            self._last_error = text

    def _attempt_failed(self, text: str) -> None:
        with self._lock:
            self._connect_failures += 1
            self._last_error = text
        self._outage_failures += 1
        if self._down_since is None:
            self._down_since = time.monotonic()
        if not self._down_logged:
            log.warning("MQTT %s; retrying in the background", text)
            self._down_logged = True
        else:
            log.debug("MQTT %s", text)

    def _log_down(self, text: str) -> None:
        self._down_since = time.monotonic()
        self._down_logged = True
        log.warning("MQTT %s; reconnecting in the background", text)

    def _unexpected(self, exc: Exception) -> None:
        """A failure outside the network (the store, a bug): keep retrying, with a traceback once per distinct error."""
        text = f"{type(exc).__name__}: {exc}"
        self._record_error(text)
        if text != self._last_unexpected:
            if isinstance(exc, sqlite3.Error):  # a full disk or a store being replaced: no bug, no traceback
                log.error("MQTT publisher: store error (%s); retrying in the background", exc)
            else:
                log.exception("MQTT publisher error; retrying in the background")
            self._last_unexpected = text
        else:
            log.debug("MQTT publisher error again: %s", text)
        if self._down_since is None:
            self._down_since = time.monotonic()
        self._down_logged = True

    def _log_up(self) -> None:
        first = self.connections == 1
        if self._down_since is None:
            log.info("MQTT connected to %s as %s", self._where, self._client_id)
        elif first:
            log.info(
                "MQTT connected to %s as %s for the first time, %.1f s after the first attempt (%d failed attempt(s))",
                self._where,
                self._client_id,
                time.monotonic() - self._down_since,
                self._outage_failures,
            )
        else:
            log.info(
                "MQTT connected to %s again after %.1f s (%d failed attempt(s))",
                self._where,
                time.monotonic() - self._down_since,
                self._outage_failures,
            )
        self._down_since = None
        self._down_logged = False
        self._outage_failures = 0


def _loss_reason(rc: MQTTErrorCode, reason: ReasonCode | None) -> str:
    """Prefer the broker's own reason (MQTT 5 DISCONNECT, e.g. "Session taken over") over paho's generic one."""
    if reason is not None and reason.is_failure and reason.value != 0x80:
        return str(reason)
    if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
        return mqtt.error_string(rc).rstrip(".")
    return "closed by the broker"
