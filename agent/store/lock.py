"""One agent per store: an exclusive lock on `<store>/footfall.lock`, holding the owner's PID.

Two agents on one store fight over the broker's client id and overwrite each other's intervals, so the
second one must leave at once and say who holds the store. `flock` is released by the kernel when the
holder dies in any way (SIGKILL, power cut), so a stale lock file never blocks a restart.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

LOCK_NAME = "footfall.lock"


class StoreLocked(Exception):
    """Another process holds the store; the message names the store and that process."""

    def __init__(self, directory: Path, pid: int | None) -> None:
        who = f"PID {pid}" if pid is not None else "a process whose PID could not be read"
        super().__init__(
            f"store {directory} is in use by another footfall-agent ({who}); stop that one first "
            "(systemctl stop footfall-agent) or give this one another store.path"
        )
        self.directory = directory
        self.pid = pid


class StoreLock:
    """The exclusive lock on one store directory; `acquire` raises `StoreLocked` without waiting."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Lock the store, creating its directory (private: counts and broker topics are nobody else's)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise StoreLocked(self.directory, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).decode().strip())
    except (OSError, ValueError):
        return None
