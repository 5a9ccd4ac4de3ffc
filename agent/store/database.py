"""Durable local storage: closed intervals, the MQTT outbox and sensor state in one SQLite file.

The store is what makes "no closed interval is ever lost" true. A closed interval, its outbox message and the
aggregator and anomaly detector state that produced it are written in one transaction, so after a crash
(kill -9, power cut) the database holds either all of them or none, and replaying the close after a restart
is a no-op.

SQLite runs in WAL mode with synchronous=FULL: a commit that returned is on disk. Every public method is a
complete transaction (or a complete read), so no transaction is ever left open between calls. One connection
is shared by the agent's threads and serialised by a lock.

Field faults (see `agent.store.integrity`): a store that cannot be opened for want of space is opened again
on its next use (`StoreUnavailable` until then), so the agent starts and counts on a full disk; a damaged
file is checked when the store opens and on request (`recover_if_damaged`), moved aside and replaced by a
fresh store whose outbox numbering continues where the old one was, so the publisher's place stays valid.

Why one module: every method is one transaction on the one connection under the one lock, and opening,
replacing a damaged file and making room on a full disk all swap or trim that connection under that lock;
split up, the rule that keeps the file consistent would be spread over several files.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from agent.anomaly.sensor import SLOT_FIELDS, AnomalyState, legacy_state
from agent.store.integrity import Recovery, StoreDamaged, error_name, is_damage, is_disk_full, move_aside, quick_check
from agent.store.lock import StoreLock
from agent.store.side_checkpoint import SideCheckpoint

if TYPE_CHECKING:
    from agent.aggregation.records import ClosedInterval

log = logging.getLogger(__name__)

DB_NAME = "footfall.db"
BUSY_TIMEOUT_MS = 5000

ANOMALY_LEGACY_PREFIX = "anomaly:"
"""Key prefix of the whole-state detector documents that schema version 1 kept in sensor_state."""


def _anomaly_tables_from_legacy(conn: sqlite3.Connection) -> None:
    """Move every whole-state detector document into the per-slot tables, once, and remove it."""
    legacy = conn.execute(
        "SELECT sensor, state FROM sensor_state WHERE substr(sensor, 1, ?) = ?",
        (len(ANOMALY_LEGACY_PREFIX), ANOMALY_LEGACY_PREFIX),
    ).fetchall()
    for key, text in legacy:
        sensor = key[len(ANOMALY_LEGACY_PREFIX) :]
        try:
            state = legacy_state(json.loads(text))
        except ValueError as e:
            log.error("%s: stored anomaly detector state unusable (%s); its warm-up starts afresh", sensor, e)
        else:
            _write_anomaly(conn, sensor, state, time.time())
        conn.execute("DELETE FROM sensor_state WHERE sensor = ?", (key,))


# Each entry migrates the schema from version i to i + 1 inside one transaction. Append, never edit.
_MIGRATIONS: tuple[tuple[str | Callable[[sqlite3.Connection], None], ...], ...] = (
    (
        "CREATE TABLE intervals ("
        " sensor TEXT NOT NULL,"
        " start REAL NOT NULL,"
        ' "end" REAL NOT NULL,'
        " payload BLOB NOT NULL,"
        " created REAL NOT NULL,"
        " PRIMARY KEY (sensor, start))",
        "CREATE INDEX intervals_by_start ON intervals (start)",
        "CREATE TABLE outbox ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " topic TEXT NOT NULL,"
        " payload BLOB NOT NULL,"
        " qos INTEGER NOT NULL,"
        " retain INTEGER NOT NULL,"
        " created REAL NOT NULL,"
        " interval_sensor TEXT,"
        " interval_start REAL)",
        "CREATE INDEX outbox_by_interval ON outbox (interval_sensor, interval_start)",
        "CREATE TABLE sensor_state (sensor TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL)",
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    ),
    (
        # A close rewrites one row per detector and the document, not the whole week (see sensor_anomaly).
        # Keyed by slot before metric, so the two rows a close writes share a page.
        "CREATE TABLE anomaly_slots ("
        " sensor TEXT NOT NULL,"
        " slot INTEGER NOT NULL,"
        " metric TEXT NOT NULL,"
        " profile REAL NOT NULL,"
        " profile_sd REAL NOT NULL,"
        " noise_mult REAL NOT NULL,"
        " seen INTEGER NOT NULL,"
        " PRIMARY KEY (sensor, slot, metric)) WITHOUT ROWID",
        "CREATE TABLE anomaly_state (sensor TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL)",
        _anomaly_tables_from_legacy,
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

# An interval is acknowledged once its outbox row is gone (the broker confirmed it).
_UNSENT = (
    "EXISTS (SELECT 1 FROM outbox o WHERE o.interval_sensor = intervals.sensor AND o.interval_start = intervals.start)"
)


REOPEN_EVERY_S = 1.0
"""A store that could not be opened (a full disk) is tried again on use at most this often."""
DELETE_WHEN_FULL = 200
"""Acknowledged intervals deleted per `make_room` call on a full disk, oldest first: a few hundred KB of pages
for new rows to reuse, small enough that retention takes only what the moment needs."""


class StoreUnavailable(sqlite3.OperationalError):
    """The store could not be opened (typically a full disk); it is opened again on a later use."""


class SchemaVersionError(RuntimeError):
    """The database was written by a newer agent; refusing to run rather than misread or damage it."""


@dataclass(frozen=True)
class OutboxRow:
    """One durable message waiting for its broker acknowledgement."""

    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool
    created: float


@dataclass(frozen=True)
class StoredInterval:
    """A closed interval as kept for re-publishing; `pending` means it has not been acknowledged yet."""

    sensor: str
    start: float
    end: float
    payload: bytes
    created: float
    pending: bool


@dataclass(frozen=True)
class Eviction:
    """What one `enforce_limits` pass deleted, so the caller can report data loss honestly."""

    expired: int
    evicted_acknowledged: int
    evicted_unsent: int
    used_bytes: int


class Store:
    """The agent's database: `<directory>/footfall.db`, safe to share between threads."""

    def __init__(self, directory: Path, retention_days: int, max_bytes: int) -> None:
        self.directory = Path(directory)
        self.path = self.directory / DB_NAME
        self.retention_days = retention_days
        self.max_bytes = max_bytes
        # Re-entrant: opening again (after a full disk) or replacing a damaged file happens inside a locked call.
        self._lock = threading.RLock()
        self.side = SideCheckpoint(self.directory)
        self.recovery: Recovery | None = None
        """The last time a damaged store was replaced, for health reports."""
        self.unavailable: str | None = None
        """Why the store cannot be used right now (a full disk at open); None when it is open."""
        self._closed = False
        self._next_open = 0.0
        self._seq_floor = 0
        # Taken before the database is opened: a second instance must not even migrate or vacuum it.
        self._owner = StoreLock(self.directory)
        self._owner.acquire()
        self._conn: sqlite3.Connection | None = None
        try:
            self._open()
        except (sqlite3.Error, OSError) as exc:
            if not is_disk_full(exc, self.directory):
                self._owner.release()
                raise
            self._unavailable(exc)
        except BaseException:
            self._owner.release()
            raise

    def _open(self) -> None:
        """Open (creating, migrating and checking) the database; a damaged one is moved aside once and replaced."""
        if self.side.exists() and (not self.path.exists() or self.path.stat().st_size == 0):
            # Created by this agent and written since, the store cannot be empty or gone unless it was lost.
            state = "empty (0 bytes)" if self.path.exists() else "missing"
            self._replace(f"the database file was {state}")
        try:
            self._connect()
        except (sqlite3.DatabaseError, StoreDamaged) as exc:
            if not is_damage(exc):
                raise
            self._replace(str(exc))
            self._connect()

    def _connect(self) -> None:
        try:
            _create_private(self.path)
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
            )
            self._configure()
            self._migrate()
            problem = quick_check(self._conn)
            if problem is not None:
                raise StoreDamaged(f"integrity check failed: {problem}")
            if self._seq_floor:
                # A fresh store after a damaged one: outbox numbers go on from the old ones (see the module).
                self._conn.execute(
                    "INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox', ? WHERE NOT EXISTS"
                    " (SELECT 1 FROM outbox)",
                    (self._seq_floor,),
                )
        except BaseException:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            raise
        self.unavailable = None

    def _replace(self, reason: str) -> None:
        moved = move_aside(self.path)
        self.recovery = Recovery(time.time(), reason, moved)
        log.error(
            "store %s is damaged (%s): %s; started a fresh store%s",
            self.path,
            reason,
            f"moved to {moved.name}" if moved is not None else "nothing to keep",
            ", counting state restored from " + self.side.path.name if self.side.exists() else "",
        )

    def _unavailable(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}"
        if text != self.unavailable:
            log.error("store %s cannot be opened (%s); counting goes on in memory, retrying", self.path, text)
        self.unavailable = text
        self._next_open = time.monotonic() + REOPEN_EVERY_S

    def _configure(self) -> None:
        """Connection settings; auto_vacuum first because it only takes effect before the first table exists."""
        conn = self._db()
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise sqlite3.OperationalError(f"{self.path}: cannot use WAL journal mode (got {mode})")
        conn.execute("PRAGMA synchronous = FULL")
        if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            # A database created without auto_vacuum (by hand, or by older software) only converts via VACUUM.
            conn.execute("VACUUM")

    def _migrate(self) -> None:
        """Bring the schema up to SCHEMA_VERSION, one version per transaction, tracked in PRAGMA user_version.

        Only the upgrade of an existing store is logged; creating a fresh one (from version 0) is no migration."""
        fresh = self._read("PRAGMA user_version") == [(0,)]
        while True:
            with self._transaction() as conn:
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version > SCHEMA_VERSION:
                    raise SchemaVersionError(
                        f"{self.path} has schema version {version}, this agent knows up to {SCHEMA_VERSION}"
                    )
                if version == SCHEMA_VERSION:
                    return
                for statement in _MIGRATIONS[version]:
                    if isinstance(statement, str):
                        conn.execute(statement)
                    else:
                        statement(conn)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            if not fresh:
                log.info("store schema migrated to version %d", version + 1)

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            if self._closed:
                raise sqlite3.ProgrammingError("store is closed")
            if time.monotonic() >= self._next_open:
                try:
                    self._open()
                except (sqlite3.Error, OSError) as exc:
                    self._unavailable(exc)
                    raise _unavailable_error(exc) from exc
                log.info("store %s opened", self.path)
            else:
                raise StoreUnavailable(f"store cannot be opened yet: {self.unavailable}")
        assert self._conn is not None
        return self._conn

    def recover_if_damaged(self) -> bool:
        """After an error that is no full disk: check the file, and replace it if it is damaged. True if it was."""
        with self._lock:
            conn = self._conn
            if conn is None:
                return False
            # Checked through a connection of its own: this one's page cache may still hold the pages as they were.
            try:
                checker = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
                try:
                    problem = quick_check(checker)
                finally:
                    checker.close()
            except sqlite3.DatabaseError as exc:
                if not is_damage(exc):
                    raise
                problem = str(exc)
            if problem is None:
                return False
            conn.close()
            self._conn = None
            self._replace(problem)
            self._connect()
            return True

    def make_room(self) -> int:
        """On a full disk: fold the WAL back into the database and delete the oldest acknowledged intervals, so
        that new rows reuse their pages; returns how many were deleted (0: nothing could be freed)."""
        with self._lock:
            conn = self._db()
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
                conn.execute("BEGIN IMMEDIATE")
                deleted = conn.execute(
                    "DELETE FROM intervals WHERE rowid IN"
                    f" (SELECT rowid FROM intervals WHERE NOT {_UNSENT} ORDER BY start, sensor LIMIT ?)",
                    (DELETE_WHEN_FULL,),
                ).rowcount
                conn.execute("COMMIT")
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                return 0
        if deleted:
            log.warning("disk full: deleted the %d oldest published interval(s) to make room", deleted)
        return deleted

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock for one write transaction; commit on success, roll back on any error (a failed COMMIT too)."""
        with self._lock:
            conn = self._db()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:  # SQLite may already have rolled back, e.g. on a full disk
                    conn.execute("ROLLBACK")
                raise

    def _read(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Run a query to completion so its implicit read transaction ends before the lock is released."""
        with self._lock:
            return self._db().execute(sql, params).fetchall()

    def commit_close(
        self,
        records: list[tuple[ClosedInterval, str, bytes]],
        states: dict[str, dict],
        messages: Iterable[tuple[str, bytes]] = (),
        anomaly: dict[str, AnomalyState] | None = None,
    ) -> None:
        """Store closed intervals, their outbox messages, the sensor states and the anomaly detectors' changes
        (per sensor, see `SensorAnomaly.changes`) atomically.

        An interval already stored (same sensor and start) is skipped together with its message, so replaying a
        close after a restart never publishes twice. `messages` (topic, payload) are other durable QoS 1 messages
        the close produced (anomaly events): queued in the same transaction, after the intervals, so they are
        sent exactly when the state that produced them is kept.
        """
        now = time.time()
        encoded = _encode_states(states)
        detectors = [
            (sensor, state, json.dumps(state.document, separators=(",", ":")))
            for sensor, state in (anomaly or {}).items()
        ]
        with self._transaction() as conn:
            for interval, topic, payload in records:
                cur = conn.execute(
                    'INSERT INTO intervals (sensor, start, "end", payload, created) VALUES (?, ?, ?, ?, ?)'
                    " ON CONFLICT (sensor, start) DO NOTHING",
                    (interval.sensor, interval.start, interval.end, payload, now),
                )
                if cur.rowcount == 0:
                    self._note_duplicate(conn, interval.sensor, interval.start, payload)
                    continue
                conn.execute(
                    "INSERT INTO outbox (topic, payload, qos, retain, created, interval_sensor, interval_start)"
                    " VALUES (?, ?, 1, 0, ?, ?, ?)",
                    (topic, payload, now, interval.sensor, interval.start),
                )
            conn.executemany(
                "INSERT INTO outbox (topic, payload, qos, retain, created) VALUES (?, ?, 1, 0, ?)",
                [(topic, bytes(payload), now) for topic, payload in messages],
            )
            _upsert_states(conn, encoded, now)
            for sensor, state, document in detectors:
                _write_anomaly(conn, sensor, state, now, document)
            self._note_seq(conn)

    def load_anomaly(self, sensor: str) -> AnomalyState | None:
        """A sensor's committed detector state (document and every slot row); None if it has none."""
        with self._lock:
            conn = self._db()
            row = conn.execute("SELECT state FROM anomaly_state WHERE sensor = ?", (sensor,)).fetchone()
            if row is None:
                return None
            rows = conn.execute(
                f"SELECT slot, metric, {', '.join(SLOT_FIELDS)} FROM anomaly_slots"
                " WHERE sensor = ? ORDER BY slot, metric",
                (sensor,),
            ).fetchall()
        return AnomalyState(json.loads(row[0]), [tuple(r) for r in rows], replace=True)

    def _note_seq(self, conn: sqlite3.Connection) -> None:
        """Remember the highest outbox number handed out, for a fresh store to continue from (see the module)."""
        row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        if row is not None:
            self._seq_floor = max(self._seq_floor, int(row[0]))

    @staticmethod
    def _note_duplicate(conn: sqlite3.Connection, sensor: str, start: float, payload: bytes) -> None:
        """A replayed close is normal; the same interval with different counts means something recounted."""
        (stored,) = conn.execute(
            "SELECT payload FROM intervals WHERE sensor = ? AND start = ?", (sensor, start)
        ).fetchone()
        if stored != payload:
            when = local_time(start)
            log.warning("interval %s at %s closed again with different content; keeping the first one", sensor, when)

    def enqueue(self, topic: str, payload: bytes, qos: int = 1, retain: bool = False) -> int:
        """Queue a durable message that is not an interval; returns its outbox sequence number."""
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        with self._transaction() as conn:
            cur = conn.execute(
                "INSERT INTO outbox (topic, payload, qos, retain, created) VALUES (?, ?, ?, ?, ?)",
                (topic, payload, qos, int(retain), time.time()),
            )
            self._seq_floor = max(self._seq_floor, int(cur.lastrowid))
            return int(cur.lastrowid)

    def enqueue_many(self, messages: Iterable[tuple[str, bytes]], qos: int = 1, retain: bool = False) -> int:
        """Queue durable messages in one transaction (one fsync for a whole backfill); returns how many.

        They are not tied to a stored interval, so evicting them under the disk budget never deletes an
        interval, and acknowledging them never changes whether an interval counts as sent.
        """
        if qos not in (0, 1, 2):
            raise ValueError(f"qos must be 0, 1 or 2, not {qos!r}")
        now = time.time()
        rows = [(topic, bytes(payload), qos, int(retain), now) for topic, payload in messages]
        if not rows:
            return 0
        with self._transaction() as conn:
            conn.executemany("INSERT INTO outbox (topic, payload, qos, retain, created) VALUES (?, ?, ?, ?, ?)", rows)
            self._note_seq(conn)
        return len(rows)

    def save_states(self, states: dict[str, dict]) -> None:
        """Checkpoint aggregator states between closes, bounding what a power cut can cost."""
        encoded = _encode_states(states)
        with self._transaction() as conn:
            _upsert_states(conn, encoded, time.time())

    def load_states(self) -> dict[str, dict]:
        return {sensor: json.loads(state) for sensor, state in self._read("SELECT sensor, state FROM sensor_state")}

    def outbox_after(self, seq: int, limit: int) -> list[OutboxRow]:
        """Messages with a sequence number above `seq`, oldest first: the publisher's send window."""
        rows = self._read(
            "SELECT seq, topic, payload, qos, retain, created FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (seq, limit),
        )
        if rows:
            self._seq_floor = max(self._seq_floor, rows[-1][0])
        return [
            OutboxRow(s, topic, bytes(payload), qos, bool(retain), created)
            for s, topic, payload, qos, retain, created in rows
        ]

    def ack(self, seqs: Iterable[int]) -> None:
        """Forget messages the broker acknowledged; one transaction per batch keeps fsyncs rare."""
        params = [(int(s),) for s in seqs]
        if not params:
            return
        with self._transaction() as conn:
            conn.executemany("DELETE FROM outbox WHERE seq = ?", params)

    def outbox_stats(self) -> tuple[int, float | None]:
        """(messages waiting, created time of the oldest) for status reporting."""
        ((depth, oldest),) = self._read("SELECT COUNT(*), MIN(created) FROM outbox")
        return int(depth), oldest

    def intervals(
        self, sensor: str | None = None, since: float | None = None, until: float | None = None
    ) -> list[StoredInterval]:
        """Stored intervals starting in [since, until), ordered by start then sensor, for re-publishing a range."""
        where: list[str] = []
        params: list[object] = []
        if sensor is not None:
            where.append("sensor = ?")
            params.append(sensor)
        if since is not None:
            where.append("start >= ?")
            params.append(since)
        if until is not None:
            where.append("start < ?")
            params.append(until)
        sql = f'SELECT sensor, start, "end", payload, created, {_UNSENT} FROM intervals'
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start, sensor"
        return [
            StoredInterval(s, start, end, bytes(payload), created, bool(pending))
            for s, start, end, payload, created, pending in self._read(sql, tuple(params))
        ]

    def counter(self, name: str) -> int:
        rows = self._read("SELECT value FROM counters WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def size_bytes(self) -> int:
        """Bytes in use, free pages excluded: the figure the disk budget is measured against."""
        with self._lock:
            return _used_bytes(self._db())

    def integrity_ok(self) -> bool:
        return self._read("PRAGMA integrity_check") == [("ok",)]

    def enforce_limits(self, now: float) -> Eviction:
        """Apply retention and the disk budget; unsent data is only ever deleted to stay within the budget."""
        cutoff = now - self.retention_days * 86400.0
        with self._transaction() as conn:
            expired = conn.execute(f'DELETE FROM intervals WHERE "end" <= ? AND NOT {_UNSENT}', (cutoff,)).rowcount
        if expired:
            log.info("retention: deleted %d published interval(s) older than %d days", expired, self.retention_days)

        evicted_acknowledged = 0
        evicted_unsent = 0
        oldest_unsent = math.inf
        # Deleting rows frees whole pages only once they empty, so estimate a batch from the average row size
        # (an unsent message is two rows: its outbox entry and its interval) and grow the estimate whenever a
        # batch freed nothing measurable. Underestimating costs another round; overestimating loses data.
        scale = 1.0
        while True:
            with self._transaction() as conn:
                used = _used_bytes(conn)
                excess = used - self.max_bytes
                if excess <= 0:
                    break
                rows = conn.execute(
                    "SELECT (SELECT COUNT(*) FROM intervals) + (SELECT COUNT(*) FROM outbox)"
                ).fetchone()[0]
                if rows == 0:
                    break
                rows_to_free = excess / (used / rows) * scale
                deleted = conn.execute(
                    "DELETE FROM intervals WHERE rowid IN"
                    f" (SELECT rowid FROM intervals WHERE NOT {_UNSENT} ORDER BY start, sensor LIMIT ?)",
                    (max(1, math.ceil(rows_to_free)),),
                ).rowcount
                evicted_acknowledged += deleted
                if deleted == 0:
                    count, oldest = _evict_unsent(conn, max(1, math.ceil(rows_to_free / 2)))
                    if count == 0:
                        break
                    evicted_unsent += count
                    oldest_unsent = min(oldest_unsent, oldest)
                    conn.execute(
                        "INSERT INTO counters (name, value) VALUES ('evicted_unsent', ?)"
                        " ON CONFLICT (name) DO UPDATE SET value = value + excluded.value",
                        (count,),
                    )
                scale = scale * 2 if _used_bytes(conn) >= used else 1.0

        if evicted_acknowledged:
            log.info("disk budget: deleted %d oldest published interval(s)", evicted_acknowledged)
        if evicted_unsent:
            log.warning(
                "disk budget of %d bytes exceeded: evicted %d unsent message(s), oldest queued at %s; "
                "they will never be published",
                self.max_bytes,
                evicted_unsent,
                local_time(oldest_unsent),
            )
        with self._lock:
            conn = self._db()
            # The pragma yields one empty row per freed page and execute() steps only once, which would free a
            # single page; executescript() steps the statement to completion.
            conn.executescript("PRAGMA incremental_vacuum;")
            used = _used_bytes(conn)
        return Eviction(expired, evicted_acknowledged, evicted_unsent, used)

    def close(self) -> None:
        """Fold the WAL back into the database file so a clean stop leaves one self-contained file."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                if self._conn is not None:
                    self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
            finally:
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                self._owner.release()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def local_time(ts: float) -> str:
    """A timestamp for a log line: this machine's local time with its UTC offset, never an epoch number."""
    return datetime.fromtimestamp(ts).astimezone().isoformat(timespec="seconds")


def _unavailable_error(exc: BaseException) -> StoreUnavailable:
    error = StoreUnavailable(f"store cannot be opened: {exc}")
    full = isinstance(exc, OSError) and exc.errno == errno.ENOSPC
    error.sqlite_errorname = "SQLITE_FULL" if full else error_name(exc)
    return error


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only; SQLite gives its -wal and -shm the same mode."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


def _encode_states(states: dict[str, dict]) -> list[tuple[str, str]]:
    """Serialise before opening a transaction so a bad state cannot leave one half-written."""
    return [(sensor, json.dumps(state, separators=(",", ":"))) for sensor, state in states.items()]


def _write_anomaly(
    conn: sqlite3.Connection, sensor: str, state: AnomalyState, now: float, document: str | None = None
) -> None:
    """Upsert a detector's document and slot rows; a replacing state first drops the sensor's other rows."""
    if state.replace:
        conn.execute("DELETE FROM anomaly_slots WHERE sensor = ?", (sensor,))
    conn.execute(
        "INSERT INTO anomaly_state (sensor, state, updated) VALUES (?, ?, ?)"
        " ON CONFLICT (sensor) DO UPDATE SET state = excluded.state, updated = excluded.updated",
        (sensor, document if document is not None else json.dumps(state.document, separators=(",", ":")), now),
    )
    columns = ", ".join(SLOT_FIELDS)
    conn.executemany(
        f"INSERT INTO anomaly_slots (sensor, slot, metric, {columns}) VALUES (?, ?, ?{', ?' * len(SLOT_FIELDS)})"
        f" ON CONFLICT (sensor, slot, metric) DO UPDATE SET"
        f" {', '.join(f'{c} = excluded.{c}' for c in SLOT_FIELDS)}",
        [(sensor, *row) for row in state.rows],
    )


def _upsert_states(conn: sqlite3.Connection, encoded: list[tuple[str, str]], now: float) -> None:
    conn.executemany(
        "INSERT INTO sensor_state (sensor, state, updated) VALUES (?, ?, ?)"
        " ON CONFLICT (sensor) DO UPDATE SET state = excluded.state, updated = excluded.updated",
        [(sensor, state, now) for sensor, state in encoded],
    )


def _used_bytes(conn: sqlite3.Connection) -> int:
    page_count = conn.execute("PRAGMA page_count").fetchone()[0]
    freelist = conn.execute("PRAGMA freelist_count").fetchone()[0]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((page_count - freelist) * page_size)


def _evict_unsent(conn: sqlite3.Connection, limit: int) -> tuple[int, float]:
    """Delete the oldest `limit` outbox rows and the intervals they carry; returns (count, oldest created)."""
    rows = conn.execute(
        "SELECT seq, created, interval_sensor, interval_start FROM outbox ORDER BY seq LIMIT ?", (limit,)
    ).fetchall()
    if not rows:
        return 0, 0.0
    conn.executemany("DELETE FROM outbox WHERE seq = ?", [(seq,) for seq, _, _, _ in rows])
    conn.executemany(
        "DELETE FROM intervals WHERE sensor = ? AND start = ?",
        [(sensor, start) for _, _, sensor, start in rows if sensor is not None],
    )
    return len(rows), min(created for _, created, _, _ in rows)
