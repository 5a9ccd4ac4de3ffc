"""Damaged stores on real SQLite files: found when the store opens, moved aside, replaced; state kept aside."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from agent.store.database import DB_NAME, Store
from agent.store.integrity import is_damage, is_disk_full, move_aside
from agent.store.side_checkpoint import SideCheckpoint
from tests.store.damage import DAMAGE
from tests.store.test_database import record as interval

STATES = {"door": {"total_in": 183020, "total_out": 182990}}


def filled(directory: Path) -> Path:
    """A store with a few hundred intervals and a side checkpoint, closed cleanly."""
    with Store(directory, 90, 1 << 30) as store:
        for i in range(300):
            store.commit_close([interval("door", 1000.0 + 60 * i, size=900)], STATES)
        store.side.save(STATES)
    return directory / DB_NAME


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_store_is_moved_aside_and_replaced(tmp_path: Path, kind: str) -> None:
    """Issue 13: a truncated store or an overwritten header was a traceback and exit 1 on every start; garbage
    mid-file crashed later; a zeroed file silently became a fresh store; a zeroed last page ran on unchecked."""
    db = filled(tmp_path)
    DAMAGE[kind](db)
    store = Store(tmp_path, 90, 1 << 30)
    try:
        assert store.recovery is not None, "the damage was not noticed"
        if kind != "zero bytes":
            assert store.recovery.moved_to is not None and store.recovery.moved_to.exists()
            assert store.recovery.moved_to.name.startswith(f"{DB_NAME}.broken-")
        store.commit_close([interval("door", 99999.0)], STATES)
        assert [i.start for i in store.intervals()] == [99999.0]
        assert store.integrity_ok()
        assert store.side.load() == STATES, "the side checkpoint survives for the fresh store to start from"
    finally:
        store.close()


def test_a_sound_store_is_left_alone(tmp_path: Path) -> None:
    filled(tmp_path)
    with Store(tmp_path, 90, 1 << 30) as store:
        assert store.recovery is None and len(store.intervals()) == 300


def test_a_store_replaced_while_running_continues_the_outbox_numbering(tmp_path: Path) -> None:
    db = filled(tmp_path)
    with Store(tmp_path, 90, 1 << 30) as store:
        last = store.outbox_after(0, 1000)[-1].seq
        DAMAGE["garbage mid-file"](db)
        assert store.recover_if_damaged()
        store.commit_close([interval("door", 99999.0)], STATES)
        assert [row.seq for row in store.outbox_after(0, 10)] == [last + 1]


def test_the_side_checkpoint_is_all_or_nothing(tmp_path: Path) -> None:
    side = SideCheckpoint(tmp_path)
    side.save(STATES)
    assert SideCheckpoint(tmp_path).load() == STATES
    side.path.write_text('{"version": 1, "states": {"door": ')
    assert side.load() == {}


def test_errors_are_told_apart(tmp_path: Path) -> None:
    full = sqlite3.OperationalError("database or disk is full")
    assert is_disk_full(full, tmp_path) and not is_damage(full)
    malformed = sqlite3.DatabaseError("database disk image is malformed")
    assert is_damage(malformed) and not is_disk_full(malformed, tmp_path)
    assert not is_damage(sqlite3.OperationalError("database is locked"))


def test_move_aside_keeps_the_wal_with_its_database(tmp_path: Path) -> None:
    db = tmp_path / DB_NAME
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").write_bytes(b"x")
    moved = move_aside(db, now=0.0)
    assert moved == tmp_path / f"{DB_NAME}.broken-19700101T000000Z"
    assert Path(f"{moved}-wal").exists() and not Path(f"{db}-shm").exists() and not db.exists()
