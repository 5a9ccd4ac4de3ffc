"""What arrives on the subscriptions, waiting for the runtime's loop: bounded in bytes, never silently lossy.

The network thread puts, the loop thread takes everything once per tick. Each message is kept only up to
`head_bytes` with its real size, so a 10 MB payload costs a few kilobytes here (enough to refuse it by its id)
and is freed at once. When the queue's bytes are spent, a message is still kept as a short stub marked
`overflow` (its start, for its id), so the runtime can answer it `busy` instead of leaving it unanswered;
only when the stubs' own budget is spent too is a message dropped, counted and logged.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

log = logging.getLogger(__name__)

HEAD_BYTES = 8192
"""Bytes of a payload kept: twice the longest command (agent.mqtt.commands.MAX_COMMAND_BYTES), so a command
just too large still shows its id, and a huge one costs no more than this."""
MAX_BYTES = 1 << 20
"""Bytes of kept messages waiting for one loop tick: 128 of the largest kept, or some 10,000 typical commands
(a 100-byte `health` command at 10,000/s for 0.1 s fills a tenth of it)."""
STUB_BYTES = 256
"""Bytes of an overflowing message kept to answer it `busy`: a command's id and name come first in practice."""
STUB_MAX_BYTES = 2 << 20
"""Bytes of overflow stubs waiting for one tick (about 6,000); past it messages are dropped and counted."""
OVERHEAD_BYTES = 96
"""What one queued message costs besides its topic and payload bytes (the object and its list slot)."""


@dataclass(frozen=True)
class Received:
    """A message that arrived on one of the registered subscriptions."""

    topic: str
    payload: bytes
    """The payload, or its first `HEAD_BYTES` (`size` tells which)."""
    retain: bool
    """Set for a retained message delivered because we subscribed, not because it was just published."""
    size: int = -1
    """The payload's size on the wire; -1 means len(payload)."""
    overflow: bool = False
    """The queue was full: only the payload's start was kept, to answer it `busy`."""

    @property
    def wire_size(self) -> int:
        return len(self.payload) if self.size < 0 else self.size


class Inbox:
    """A byte-bounded queue of received messages; `put` from any thread, `take` from the consumer's."""

    def __init__(
        self,
        max_bytes: int = MAX_BYTES,
        head_bytes: int = HEAD_BYTES,
        stub_bytes: int = STUB_BYTES,
        stub_max_bytes: int = STUB_MAX_BYTES,
    ) -> None:
        self._max_bytes = max_bytes
        self._head_bytes = head_bytes
        self._stub_bytes = stub_bytes
        self._stub_max_bytes = stub_max_bytes
        self._lock = threading.Lock()
        self._messages: list[Received] = []
        self._bytes = 0
        self._stub_total = 0
        self.overflowed = 0
        """Messages kept only as stubs so far."""
        self.dropped = 0
        """Messages dropped so far because even the stubs' budget was spent."""

    def put(self, topic: str, payload: bytes, retain: bool) -> None:
        size = len(payload)
        head = payload[: self._head_bytes]
        cost = len(head) + len(topic) + OVERHEAD_BYTES
        dropped = 0
        with self._lock:
            if self._bytes + cost <= self._max_bytes:
                self._bytes += cost
                self._messages.append(Received(topic, bytes(head), retain, size))
                return
            stub = payload[: self._stub_bytes]
            cost = len(stub) + len(topic) + OVERHEAD_BYTES
            if self._stub_total + cost <= self._stub_max_bytes:
                self._stub_total += cost
                self.overflowed += 1
                self._messages.append(Received(topic, bytes(stub), retain, size, overflow=True))
                return
            self.dropped += 1
            dropped = self.dropped
        if dropped & (dropped - 1) == 0:  # 1, 2, 4, 8 ...: visible, but never a flood
            log.warning("MQTT dropped %d received message(s) so far: they arrived faster than handled", dropped)

    def __len__(self) -> int:
        """Messages waiting (kept and stubs)."""
        with self._lock:
            return len(self._messages)

    def take(self) -> list[Received]:
        """Every message since the last call, oldest first; their bytes are free again."""
        with self._lock:
            messages, self._messages = self._messages, []
            self._bytes = 0
            self._stub_total = 0
        return messages
