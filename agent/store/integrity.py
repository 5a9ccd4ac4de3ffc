"""What is wrong with a store, and a broken store moved aside so that counting goes on in a fresh one.

A store meets two kinds of trouble in the field. A full disk is temporary: nothing is wrong with the file,
writes fail until space returns, so the agent keeps counting in memory and retries (see
`agent.runtime.store_guard`). A damaged file (a truncated copy, an overwritten header, garbage in the
middle, zeroed pages after a power cut on a cheap SD card) is permanent: every start would fail on it again,
so it is checked (`PRAGMA quick_check`) when the store opens and after any error that is not a full disk, and
a broken file is renamed with a timestamp (kept for whoever wants to salvage it) and replaced by a fresh one.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

FULL_FREE_BYTES = 1 << 20
"""An I/O error on a file system with less free space than this is taken for a full disk (SQLite reports
some failed writes, such as growing its shared-memory file, as I/O errors rather than as SQLITE_FULL)."""
_CORRUPT_NAMES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
_CORRUPT_WORDS = ("malformed", "not a database", "file is not a database", "database disk image")


class StoreDamaged(Exception):
    """The database file is damaged; the message says how (SQLite's own words)."""


@dataclass(frozen=True)
class Recovery:
    """A damaged store that was moved aside: when, why, and where the old file now is (None: nothing to keep)."""

    at: float
    reason: str
    moved_to: Path | None


def error_name(exc: BaseException) -> str:
    return str(getattr(exc, "sqlite_errorname", "") or "")


def is_disk_full(exc: BaseException, directory: Path) -> bool:
    """Whether a store error means there is no room left on the store's file system."""
    if isinstance(exc, OSError):
        return exc.errno == errno.ENOSPC
    name = error_name(exc)
    if name == "SQLITE_FULL" or "database or disk is full" in str(exc):
        return True
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in str(exc):
        try:
            return shutil.disk_usage(directory).free < FULL_FREE_BYTES
        except OSError:
            return False
    return False


def is_damage(exc: BaseException) -> bool:
    """Whether a store error says the file itself is damaged (as opposed to full, locked or gone)."""
    if error_name(exc).startswith(_CORRUPT_NAMES) or isinstance(exc, StoreDamaged):
        return True
    text = str(exc).lower()
    return isinstance(exc, sqlite3.DatabaseError) and any(word in text for word in _CORRUPT_WORDS)


def quick_check(conn: sqlite3.Connection) -> str | None:
    """None if SQLite's quick check finds the file sound, else its first complaint."""
    rows = conn.execute("PRAGMA quick_check").fetchall()
    return None if rows == [("ok",)] else "; ".join(str(r[0]) for r in rows[:3])


def move_aside(db: Path, now: float | None = None) -> Path | None:
    """Rename the database and its WAL to `<name>.broken-<UTC time>` (the shared-memory index is rebuilt, so it is
    removed); returns the new name of the database, or None if there was no file to keep."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    target = db.with_name(f"{db.name}.broken-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = db.with_name(f"{db.name}.broken-{stamp}-{n}")
    moved: Path | None = None
    if db.exists():
        db.rename(target)
        moved = target
    wal = db.with_name(db.name + "-wal")
    if wal.exists():
        wal.rename(target.with_name(target.name + "-wal"))
    db.with_name(db.name + "-shm").unlink(missing_ok=True)
    return moved
