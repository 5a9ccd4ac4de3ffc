"""The store against real SQLite files: durability, outbox order, idempotent replays, retention and the disk budget."""

from __future__ import annotations

import json
import logging
import os
import random
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

import pytest

from agent.aggregation.records import ClosedInterval
from agent.anomaly.sensor import SLOT_FIELDS, SensorAnomaly
from agent.anomaly.settings import AnomalySettings
from agent.store.database import _MIGRATIONS, DB_NAME, SCHEMA_VERSION, SchemaVersionError, Store

REPO_ROOT = Path(__file__).resolve().parents[2]
DAY = 86400.0
NOW = 1_780_000_000.0  # a fixed "now" for retention tests, mid 2026


@dataclass(frozen=True)
class Interval:
    """Same fields as agent.aggregation.records.ClosedInterval; the store only reads sensor, start and end."""

    sensor: str
    start: float
    end: float
    ins: int = 0
    outs: int = 0
    occupancy: int = 0
    total_in: int = 0
    total_out: int = 0
    coverage_s: float = 0.0
    rejected_lines: int = 0
    disconnects: int = 0
    counter_resets: int = 0


def record(sensor: str, start: float, size: int = 0, length: float = 900.0) -> tuple[Interval, str, bytes]:
    payload = json.dumps({"sensor": sensor, "start": start, "pad": "x" * size}).encode()
    return Interval(sensor, start, start + length), f"footfall/s/d/sensors/{sensor}/interval", payload


def open_store(tmp_path: Path, retention_days: int = 90, max_bytes: int = 1 << 30) -> Store:
    return Store(tmp_path / "data", retention_days, max_bytes)


def raw(tmp_path: Path) -> sqlite3.Connection:
    """A second, independent connection that sees only what was committed."""
    return sqlite3.connect(tmp_path / "data" / DB_NAME)


def test_a_store_made_by_hand_is_private(tmp_path: Path) -> None:
    """Issue 13: run by hand (umask 022) the directory was 0755 and the database 0644, readable by anyone."""
    old = os.umask(0o022)
    try:
        store = Store(tmp_path / "made" / "data", 90, 1 << 20)
        store.save_states({"door": {"n": 1}})
    finally:
        os.umask(old)
    data = tmp_path / "made" / "data"
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    store.close()


def test_creates_database_in_wal_mode_with_schema_version(tmp_path: Path) -> None:
    store = Store(tmp_path / "nested" / "data", 90, 1 << 20)
    assert (tmp_path / "nested" / "data" / DB_NAME).is_file()
    assert store._conn is not None
    assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    db = sqlite3.connect(tmp_path / "nested" / "data" / DB_NAME)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"intervals", "outbox", "sensor_state", "counters", "anomaly_slots", "anomaly_state"} <= tables
    db.close()
    store.close()


def test_reopening_keeps_data_and_refuses_a_newer_schema(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.commit_close([record("door", 0.0)], {"door": {"n": 1}})
    with open_store(tmp_path) as store:
        assert [i.start for i in store.intervals()] == [0.0]
        assert store.load_states() == {"door": {"n": 1}}
    db = raw(tmp_path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(SchemaVersionError, match="schema version"):
        open_store(tmp_path)


def test_commit_close_queues_one_message_per_interval_in_order(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    first = [record("door", 0.0), record("side", 0.0)]
    second = [record("door", 900.0)]
    store.commit_close(first, {})
    store.commit_close(second, {})
    rows = store.outbox_after(0, 100)
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)
    assert [(r.topic, r.payload) for r in rows] == [(topic, payload) for _, topic, payload in first + second]
    assert all(r.qos == 1 and r.retain is False for r in rows)
    assert [r.seq for r in store.outbox_after(rows[0].seq, 1)] == [rows[1].seq]
    assert store.outbox_after(rows[-1].seq, 100) == []
    stored = store.intervals()
    assert [(i.sensor, i.start, i.end, i.pending) for i in stored] == [
        ("door", 0.0, 900.0, True),
        ("side", 0.0, 900.0, True),
        ("door", 900.0, 1800.0, True),
    ]
    assert stored[2].payload == second[0][2]
    store.close()


def test_ack_removes_messages_and_marks_intervals_sent(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.commit_close([record("door", i * 900.0) for i in range(4)], {})
    rows = store.outbox_after(0, 100)
    store.ack([rows[0].seq, rows[2].seq])
    store.ack([])
    assert [r.seq for r in store.outbox_after(0, 100)] == [rows[1].seq, rows[3].seq]
    depth, oldest = store.outbox_stats()
    assert depth == 2
    assert oldest is not None and abs(oldest - time.time()) < 60
    assert [i.pending for i in store.intervals()] == [False, True, False, True]
    store.ack(r.seq for r in rows)
    assert store.outbox_stats() == (0, None)
    store.close()


def test_a_day_of_acks_in_batches_empties_the_outbox(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.commit_close([record(f"s{i % 4}", (i // 4) * 60.0) for i in range(5760)], {})
    seqs = [r.seq for r in store.outbox_after(0, 10_000)]
    assert len(seqs) == 5760
    for i in range(0, len(seqs), 250):
        store.ack(seqs[i : i + 250])
    assert store.outbox_stats() == (0, None)
    assert len(store.intervals()) == 5760
    store.close()


def test_replaying_a_close_is_idempotent(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(tmp_path)
    rec = record("door", 0.0)
    store.commit_close([rec], {"door": {"n": 1}})
    store.commit_close([rec, record("door", 900.0)], {"door": {"n": 2}})
    assert len(store.outbox_after(0, 100)) == 2
    store.close()

    store = open_store(tmp_path)
    store.commit_close([rec], {})
    rows = store.outbox_after(0, 100)
    assert len(rows) == 2
    store.ack(r.seq for r in rows)
    store.commit_close([rec], {})
    assert store.outbox_stats() == (0, None)
    assert [(i.sensor, i.start) for i in store.intervals()] == [("door", 0.0), ("door", 900.0)]
    assert store.intervals()[0].payload == rec[2]
    assert store.load_states() == {"door": {"n": 2}}

    interval, topic, _ = rec
    with caplog.at_level(logging.WARNING, logger="agent.store.database"):
        store.commit_close([(interval, topic, b'{"different": true}')], {})
    assert "different content" in caplog.text
    assert store.intervals()[0].payload == rec[2]
    store.close()


def test_commit_close_is_all_or_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.save_states({"door": {"n": 1}})
    interval, topic, _ = record("door", 900.0)
    unbindable = object()
    with pytest.raises(sqlite3.Error):
        store.commit_close([record("door", 0.0), (interval, topic, unbindable)], {"door": {"n": 2}})  # type: ignore[list-item]
    assert store.intervals() == []
    assert store.outbox_stats() == (0, None)
    assert store.load_states() == {"door": {"n": 1}}
    store.commit_close([record("door", 0.0)], {"door": {"n": 2}})
    assert len(store.intervals()) == 1
    store.close()


def test_commit_close_queues_other_messages_after_the_intervals_in_the_same_transaction(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    events = [("footfall/s/d/sensors/door/anomaly", b'{"phase":"start"}')]
    interval, topic, _ = record("door", 900.0)
    with pytest.raises(sqlite3.Error):
        store.commit_close([(interval, topic, object())], {"door": {"n": 2}}, events)  # type: ignore[list-item]
    assert store.outbox_stats() == (0, None), "an event of a close that failed must not be queued"
    store.commit_close([record("door", 0.0)], {"door": {"n": 2}}, events)
    rows = store.outbox_after(0, 100)
    assert [r.topic for r in rows] == ["footfall/s/d/sensors/door/interval", events[0][0]]
    assert (rows[1].payload, rows[1].qos, rows[1].retain) == (events[0][1], 1, False)
    store.ack([rows[1].seq])
    assert [i.pending for i in store.intervals()] == [True], "acknowledging an event must not mark an interval sent"
    store.close()


def test_states_round_trip(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert store.load_states() == {}
    states = {
        "door": {"open": {"start": 1800.0, "ins": 3, "outs": 1}, "occupancy": 2, "baselines": [1042, None]},
        "side": {"open": None, "occupancy": 0, "note": "ünïcode"},
    }
    store.save_states(states)
    assert store.load_states() == states
    store.save_states({"door": {"occupancy": 5}})
    assert store.load_states() == {"door": {"occupancy": 5}, "side": states["side"]}
    store.commit_close([], {"side": {"occupancy": 1}})
    store.close()
    with open_store(tmp_path) as store:
        assert store.load_states() == {"door": {"occupancy": 5}, "side": {"occupancy": 1}}


def test_enqueue_keeps_qos_and_retain(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    seq = store.enqueue("footfall/s/d/events", b"restarted", qos=2, retain=True)
    store.commit_close([record("door", 0.0)], {})
    rows = store.outbox_after(0, 10)
    assert rows[0].seq == seq
    assert (rows[0].topic, rows[0].payload, rows[0].qos, rows[0].retain) == (
        "footfall/s/d/events",
        b"restarted",
        2,
        True,
    )
    assert rows[1].seq > seq
    with pytest.raises(ValueError):
        store.enqueue("t", b"x", qos=3)
    store.close()


def test_enqueue_many_queues_in_order_after_what_is_there_without_touching_intervals(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.commit_close([record("door", 0.0), record("door", 900.0)], {})
    first = store.outbox_after(0, 10)
    store.ack([first[0].seq])
    again = [("footfall/s/d/sensors/door/interval", i.payload) for i in store.intervals("door")]
    assert store.enqueue_many(again) == 2
    assert store.enqueue_many([]) == 0
    rows = store.outbox_after(0, 10)
    assert [(r.topic, r.payload, r.qos, r.retain) for r in rows[1:]] == [(t, p, 1, False) for t, p in again]
    assert [r.seq for r in rows] == sorted(r.seq for r in rows) and rows[0].seq == first[1].seq
    assert [i.pending for i in store.intervals("door")] == [False, True], "a re-send does not make an interval unsent"
    store.ack(r.seq for r in rows)
    assert store.outbox_stats() == (0, None)
    assert len(store.intervals("door")) == 2
    with pytest.raises(ValueError):
        store.enqueue_many([("t", b"x")], qos=5)
    store.close()


def test_intervals_query_selects_a_time_range(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.commit_close([record(s, i * 900.0) for i in range(4) for s in ("door", "side")], {})
    assert [(i.sensor, i.start) for i in store.intervals(since=900.0, until=2700.0)] == [
        ("door", 900.0),
        ("side", 900.0),
        ("door", 1800.0),
        ("side", 1800.0),
    ]
    assert [i.start for i in store.intervals("side", since=1800.0)] == [1800.0, 2700.0]
    assert [i.start for i in store.intervals("door", until=900.0)] == [0.0]
    assert store.intervals("nobody") == []
    store.close()


def test_retention_deletes_only_acknowledged_intervals(tmp_path: Path) -> None:
    store = open_store(tmp_path, retention_days=90)
    old_sent, old_unsent = record("door", NOW - 120 * DAY), record("door", NOW - 100 * DAY)
    recent_sent = record("door", NOW - 10 * DAY)
    store.commit_close([old_sent, old_unsent, recent_sent], {})
    rows = store.outbox_after(0, 10)
    store.ack([rows[0].seq, rows[2].seq])

    eviction = store.enforce_limits(NOW)

    assert eviction.expired == 1
    assert (eviction.evicted_acknowledged, eviction.evicted_unsent) == (0, 0)
    assert [(i.start, i.pending) for i in store.intervals()] == [(NOW - 100 * DAY, True), (NOW - 10 * DAY, False)]
    assert [r.seq for r in store.outbox_after(0, 10)] == [rows[1].seq]
    assert store.enforce_limits(NOW + 1000 * DAY).expired == 1
    assert [i.start for i in store.intervals()] == [NOW - 100 * DAY]
    store.close()


def fill(store: Store, count: int, acknowledged: int) -> list[int]:
    """`count` intervals of about 1 kB, the oldest `acknowledged` of them already published; returns unsent seqs."""
    store.commit_close([record("door", NOW - (count - i) * 900.0, size=1000) for i in range(count)], {})
    rows = store.outbox_after(0, count)
    store.ack(r.seq for r in rows[:acknowledged])
    return [r.seq for r in rows[acknowledged:]]


def test_budget_deletes_oldest_acknowledged_intervals_first(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(tmp_path)
    unsent = fill(store, 300, acknowledged=150)
    used = store.size_bytes()
    store.max_bytes = used - 60_000

    with caplog.at_level(logging.WARNING, logger="agent.store.database"):
        eviction = store.enforce_limits(NOW)

    assert 0 < eviction.evicted_acknowledged < 150
    assert eviction.evicted_unsent == 0
    assert eviction.used_bytes <= store.max_bytes
    assert store.size_bytes() <= store.max_bytes
    sent = [i.start for i in store.intervals() if not i.pending]
    assert len(sent) == 150 - eviction.evicted_acknowledged
    assert sent == [NOW - (300 - i) * 900.0 for i in range(eviction.evicted_acknowledged, 150)]
    assert [r.seq for r in store.outbox_after(0, 1000)] == unsent
    assert len([i for i in store.intervals() if i.pending]) == 150
    assert store.counter("evicted_unsent") == 0
    assert "unsent" not in caplog.text
    store.close()


def test_budget_then_evicts_oldest_unsent_messages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = open_store(tmp_path)
    unsent = fill(store, 300, acknowledged=100)
    store.max_bytes = store.size_bytes() // 2

    with caplog.at_level(logging.WARNING, logger="agent.store.database"):
        eviction = store.enforce_limits(NOW)

    evicted = eviction.evicted_unsent
    assert eviction.evicted_acknowledged == 100
    assert 0 < evicted < len(unsent)
    assert store.size_bytes() <= store.max_bytes
    assert [r.seq for r in store.outbox_after(0, 1000)] == unsent[evicted:]
    kept = store.intervals()
    assert all(i.pending for i in kept)
    assert [i.start for i in kept] == [NOW - (300 - i) * 900.0 for i in range(100 + evicted, 300)]
    assert store.counter("evicted_unsent") == evicted
    assert f"evicted {evicted} unsent message(s)" in caplog.text
    assert [r.levelno for r in caplog.records if "unsent" in r.getMessage()] == [logging.WARNING]

    db = raw(tmp_path)
    assert db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    db.close()

    store.enforce_limits(NOW)
    assert store.counter("evicted_unsent") == evicted
    store.close()


def test_budget_larger_than_database_deletes_nothing(tmp_path: Path) -> None:
    store = open_store(tmp_path, max_bytes=1 << 30)
    unsent = fill(store, 50, acknowledged=20)
    eviction = store.enforce_limits(NOW)
    assert (eviction.expired, eviction.evicted_acknowledged, eviction.evicted_unsent) == (0, 0, 0)
    assert len(store.intervals()) == 50
    assert [r.seq for r in store.outbox_after(0, 100)] == unsent
    store.close()


def test_close_folds_the_wal_into_the_database(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.commit_close([record("door", i * 900.0) for i in range(10)], {"door": {"n": 10}})
    assert store.integrity_ok()
    assert store.size_bytes() > 0
    store.close()
    store.close()
    wal = tmp_path / "data" / f"{DB_NAME}-wal"
    assert not wal.exists() or wal.stat().st_size == 0
    db = raw(tmp_path)
    assert db.execute("SELECT COUNT(*) FROM intervals").fetchone()[0] == 10
    db.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.outbox_stats()


CRASH_WRITER = """
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from agent.store.database import Store


@dataclass(frozen=True)
class Interval:
    sensor: str
    start: float
    end: float


trial = int(sys.argv[2])
store = Store(Path(sys.argv[1]), 90, 1 << 30)
n = 0
while True:
    sensor = ("door", "side", "back")[n % 3]
    start = trial * 1e6 + n * 60.0
    payload = json.dumps({"trial": trial, "n": n, "pad": "x" * (n * 37 % 3000)}).encode()
    record = (Interval(sensor, start, start + 60.0), "t/" + sensor, payload)
    store.commit_close([record], {"all": {"trial": trial, "n": n}})
    print(sensor, repr(start), payload.hex(), flush=True)
    n += 1
"""


@pytest.mark.integration
def test_kill_9_at_random_moments_loses_no_committed_interval(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rng = random.Random(20260329)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    committed: dict[tuple[str, float], bytes] = {}
    for trial in range(6):
        out_path = tmp_path / f"trial{trial}.out"
        with out_path.open("wb") as out:
            proc = subprocess.Popen([sys.executable, "-c", CRASH_WRITER, str(data), str(trial)], stdout=out, env=env)
        if trial > 0:
            deadline = time.monotonic() + 20
            while out_path.stat().st_size == 0 and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            assert proc.poll() is None, "writer exited before being killed"
        time.sleep(rng.uniform(0.0, 0.06) if trial == 0 else rng.uniform(0.0, 0.25))  # trial 0 may hit start-up
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(10) == -signal.SIGKILL

        text = out_path.read_text()
        lines = text.split("\n")[:-1]  # a line without its newline was cut off by the kill
        for line in lines:
            sensor, start, payload_hex = line.split()
            committed[(sensor, float(start))] = bytes.fromhex(payload_hex)

        with Store(data, 90, 1 << 30) as store:
            assert store.integrity_ok()
            stored = {(i.sensor, i.start): i for i in store.intervals()}
            for key, payload in committed.items():
                assert key in stored, f"trial {trial}: committed interval {key} lost"
                assert stored[key].payload == payload
            assert all(i.pending for i in stored.values())
            assert store.outbox_stats()[0] == len(stored)
            state = store.load_states().get("all")
            if lines:
                assert state is not None and (state["trial"], state["n"]) >= (trial, len(lines) - 1)
            if state is not None:
                sensor = ("door", "side", "back")[state["n"] % 3]
                assert (sensor, state["trial"] * 1e6 + state["n"] * 60.0) in stored
    assert committed, "no trial got as far as committing"


def test_writer_and_acker_threads_share_the_store(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    errors: list[BaseException] = []
    acked: list[int] = []
    writing = threading.Event()
    writing.set()

    def writer() -> None:
        try:
            for i in range(400):
                store.commit_close([record(f"s{i % 3}", NOW + i * 60.0, size=i % 200)], {f"s{i % 3}": {"n": i}})
        except BaseException as exc:
            errors.append(exc)
        finally:
            writing.clear()

    def acker() -> None:
        try:
            while writing.is_set() or store.outbox_stats()[0]:
                rows = store.outbox_after(0, 50)
                store.ack(r.seq for r in rows)
                acked.extend(r.seq for r in rows)
                store.enforce_limits(NOW)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer), threading.Thread(target=acker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(acked) == len(set(acked)) == 400
    assert store.outbox_stats() == (0, None)
    assert len(store.intervals()) == 400
    assert store.integrity_ok()
    store.close()


def scored(hours_: int, sensor: str = "door") -> SensorAnomaly:
    """A detector that has scored `hours_` hourly intervals of a made-up shop."""
    s = SensorAnomaly(sensor, AnomalySettings(warmup_weeks=1), 3600, UTC)
    for h in range(hours_):
        n = (h * 37) % 90 if 8 <= h % 24 < 20 else 0
        s.score(ClosedInterval(sensor, NOW + h * 3600.0, NOW + (h + 1) * 3600.0, n, n, 0, 0, 0, 3600.0, 0, 0, 0))
    return s


def test_detector_changes_commit_with_the_interval_and_add_up_to_the_whole_state(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert store.load_anomaly("door") is None
    s = scored(30)
    store.commit_close([record("door", 0.0)], {}, anomaly={"door": s.changes()})
    s.saved(s.changes())
    interval, topic, _ = record("door", 900.0)
    s.score(ClosedInterval("door", NOW + 30 * 3600.0, NOW + 31 * 3600.0, 5, 5, 0, 0, 0, 3600.0, 0, 0, 0))
    changes = s.changes()
    assert len(changes.rows) == 2 and not changes.replace, "one slot of each detector"
    with pytest.raises(sqlite3.Error):
        store.commit_close([(interval, topic, object())], {}, anomaly={"door": changes})  # type: ignore[list-item]
    assert len(store.load_anomaly("door").rows) == 2 * 30, "a failed close keeps the detector state it had"
    store.commit_close([record("door", 900.0)], {}, anomaly={"door": changes})
    s.saved(changes)
    store.close()
    with open_store(tmp_path) as store:
        assert store.load_anomaly("door") == s.state()
        assert store.load_states() == {}


def test_a_replacing_state_drops_the_rows_it_does_not_have(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        store.commit_close([], {}, anomaly={"door": scored(30).state(), "side": scored(5, "side").state()})
        fresh = SensorAnomaly("door", AnomalySettings(), 3600, UTC)
        store.commit_close([], {}, anomaly={"door": fresh.changes()})
        assert store.load_anomaly("door") == fresh.state() and store.load_anomaly("door").rows == []
        assert len(store.load_anomaly("side").rows) == 2 * 5, "other sensors keep theirs"


def test_schema_1_whole_state_documents_are_converted_once_and_removed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = scored(30).state()
    del state.document["timezone"]  # schema 1 did not record it
    slots = sorted({row[0] for row in state.rows})
    blob: dict = {"version": 1, "interval_s": 3600, "slots": slots, "metrics": {}}
    for metric in ("ins", "outs"):
        detector = dict(state.document["metrics"][metric]["detector"])
        rows = {row[0]: row for row in state.rows if row[1] == metric}
        for i, key in enumerate(SLOT_FIELDS, start=2):
            detector[key] = [rows[s][i] for s in slots]
        blob["metrics"][metric] = {"detector": detector, "events": state.document["metrics"][metric]["events"]}
    (tmp_path / "data").mkdir()
    db = raw(tmp_path)
    for statement in _MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.executemany(
        "INSERT INTO sensor_state (sensor, state, updated) VALUES (?, ?, 0)",
        [("door", '{"n": 1}'), ("anomaly:door", json.dumps(blob)), ("anomaly:side", '{"version": 1}')],
    )
    db.commit()
    db.close()
    with caplog.at_level(logging.ERROR), open_store(tmp_path) as store:
        assert store.load_anomaly("door") == state
        assert store.load_anomaly("side") is None
        assert store.load_states() == {"door": {"n": 1}}, "the old documents are gone, the counts' state is kept"
    assert "side: stored anomaly detector state unusable" in caplog.text
    restored = SensorAnomaly("door", AnomalySettings(warmup_weeks=1), 3600, UTC, state=state)
    assert restored.state().rows == state.rows
    assert restored.state().document == {**state.document, "timezone": "UTC"}, "from now on the zone is recorded"


def test_a_fresh_store_logs_no_migration_an_upgraded_one_does(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="agent.store.database"):
        open_store(tmp_path / "fresh").close()
    assert "migrated" not in caplog.text, "creating a store is not an upgrade"
    (tmp_path / "old" / "data").mkdir(parents=True)
    db = raw(tmp_path / "old")
    for statement in _MIGRATIONS[0]:
        db.execute(statement)
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with caplog.at_level(logging.INFO, logger="agent.store.database"):
        open_store(tmp_path / "old").close()
    assert [r.getMessage() for r in caplog.records] == [f"store schema migrated to version {SCHEMA_VERSION}"]


@pytest.fixture
def berlin_time(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's local time zone (what a log line's times are shown in) set to Europe/Berlin."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_store_warnings_show_local_times(tmp_path: Path, caplog: pytest.LogCaptureFixture, berlin_time: None) -> None:
    store = open_store(tmp_path)
    interval, topic, payload = record("door", NOW)
    store.commit_close([(interval, topic, payload)], {})
    with caplog.at_level(logging.WARNING, logger="agent.store.database"):
        store.commit_close([(interval, topic, b'{"different": true}')], {})
    assert "interval door at 2026-05-28T22:26:40+02:00 closed again with different content" in caplog.text
    assert str(NOW) not in caplog.text
    store.close()

    caplog.clear()
    store = open_store(tmp_path / "full")
    fill(store, 300, acknowledged=0)
    store.max_bytes = store.size_bytes() // 2
    with caplog.at_level(logging.WARNING, logger="agent.store.database"):
        store.enforce_limits(NOW)
    (warning,) = [r.getMessage() for r in caplog.records if "unsent" in r.getMessage()]
    assert re.search(r"oldest queued at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00;", warning), warning
    store.close()
