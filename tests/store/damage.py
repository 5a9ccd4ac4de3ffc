"""Ways a store's database file gets damaged in the field, done to a real closed SQLite file."""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from pathlib import Path

PAGE = 4096


def truncated(db: Path) -> None:
    """A copy cut short, or a file system that lost the tail of the file."""
    os.truncate(db, db.stat().st_size // 2)


def header_overwritten(db: Path) -> None:
    """Something wrote over the first bytes (the SQLite header)."""
    with open(db, "r+b") as f:
        f.write(b"this is not a database at all!!!" * 4)


def garbage_mid_file(db: Path) -> None:
    """A run of random bytes over a page in the middle (a bad sector, a stray write)."""
    pages = db.stat().st_size // PAGE
    with open(db, "r+b") as f:
        f.seek((pages // 2) * PAGE)
        f.write(random.Random(7).randbytes(PAGE))


def zero_bytes(db: Path) -> None:
    """The file emptied (a failed copy, `> footfall.db`)."""
    os.truncate(db, 0)


def last_page_zeroed(db: Path) -> None:
    """The last page never reached the card before a power cut."""
    size = db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(size - PAGE)
        f.write(b"\0" * PAGE)


DAMAGE: dict[str, Callable[[Path], None]] = {
    "truncated": truncated,
    "header overwritten": header_overwritten,
    "garbage mid-file": garbage_mid_file,
    "zero bytes": zero_bytes,
    "last page zeroed": last_page_zeroed,
}
