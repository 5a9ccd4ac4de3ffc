"""A second, tiny copy of every sensor's counting state beside the database: `footfall.state.json`.

Consumers treat `total_in` and `total_out` as ever-increasing (Home Assistant's `total_increasing`); if they
dropped to 0 because the database was damaged and replaced, every dashboard would show a reset. So the
aggregators' states are also written here, whole and atomically (a temporary file, fsync, rename), at every
close and checkpoint; a fresh store starts from this copy. It is small (a few hundred bytes per sensor), so
it costs one more small write per checkpoint, and it survives whatever damaged the database unless the
damage reached this file too, in which case it is ignored as a whole.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

NAME = "footfall.state.json"
VERSION = 1


class SideCheckpoint:
    """`save` the aggregator states (raises OSError, e.g. on a full disk), `load` them back ({} if unusable)."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / NAME
        self._last: str | None = None

    def exists(self) -> bool:
        return self.path.exists()

    def save(self, states: dict[str, dict[str, Any]], now: float | None = None) -> None:
        """Write `states` unless they are what was last written; the old copy stays whole if this fails."""
        body = json.dumps(states, separators=(",", ":"), sort_keys=True)
        if body == self._last:
            return
        text = f'{{"version":{VERSION},"saved":{time.time() if now is None else now},"states":{body}}}\n'
        tmp = self.path.with_name(self.path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            data = text.encode()
            while data:
                data = data[os.write(fd, data) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._last = body

    def load(self) -> dict[str, dict[str, Any]]:
        try:
            doc = json.loads(self.path.read_text())
            states = doc["states"] if doc.get("version") == VERSION else {}
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}
        return {k: v for k, v in states.items() if isinstance(k, str) and isinstance(v, dict)}
