"""The systemd notification protocol (`sd_notify`), spoken over the `$NOTIFY_SOCKET` datagram socket.

With `Type=notify` systemd only considers the agent started once it says READY=1, shows its STATUS= line in
`systemctl status`, and with `WatchdogSec=` restarts it when WATCHDOG=1 pings stop arriving. The pings must
come from the loop whose progress they vouch for: a timer thread would keep pinging while the pipeline is
wedged, and systemd would never notice. `Watchdog` paces pings from such a loop.

Outside systemd (no `$NOTIFY_SOCKET`) every call is a cheap no-op, so the agent behaves the same on a
terminal. A failing socket never takes the agent down: notifications are advisory, counting is not.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

log = logging.getLogger(__name__)


def _address(value: str) -> str | bytes | None:
    """The sendto() address for a `$NOTIFY_SOCKET` value; '@name' is a Linux abstract socket."""
    if value.startswith("/"):
        return value
    if value.startswith("@"):
        return b"\0" + value[1:].encode()
    return None


def _one_line(text: str) -> str:
    """STATUS= ends at a newline, so a multi-line text would spill into bogus protocol fields."""
    return " ".join(text.split())


class Notifier:
    """Sends state changes to the service manager; every method is a no-op when not run by systemd."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        environ = os.environ if env is None else env
        value = environ.get("NOTIFY_SOCKET", "")
        self._address = _address(value) if value else None
        if value and self._address is None:
            log.warning("NOTIFY_SOCKET=%s is not a supported socket address; not notifying systemd", value)
        self._socket: socket.socket | None = None
        if self._address is not None:
            # Created up front so that threads sharing the notifier never race to create it.
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._failed = False

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def notify(self, *fields: str) -> bool:
        """Send `KEY=VALUE` fields in one datagram. True if it was handed to the socket."""
        if self._address is None or self._socket is None:
            return False
        message = "\n".join(fields).encode()
        try:
            self._socket.sendto(message, self._address)
        except OSError as exc:
            level = logging.DEBUG if self._failed else logging.WARNING
            log.log(level, "cannot notify systemd (%s): %s", fields[0] if fields else "", exc)
            self._failed = True
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Start-up (or a reload) is complete: sources and store are up."""
        fields = ["READY=1"]
        if status is not None:
            fields.append(f"STATUS={_one_line(status)}")
        return self.notify(*fields)

    def status(self, text: str) -> bool:
        """A one-line summary for `systemctl status`."""
        return self.notify(f"STATUS={_one_line(text)}")

    def watchdog(self) -> bool:
        """Proof of life; send only from the loop whose progress it proves (see `Watchdog`)."""
        return self.notify("WATCHDOG=1")

    def reloading(self) -> bool:
        """A configuration reload has begun; follow with `ready()` whether it was applied or rejected."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown has begun (flushing may take a few seconds)."""
        fields = ["STOPPING=1"]
        if status is not None:
            fields.append(f"STATUS={_one_line(status)}")
        return self.notify(*fields)

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more time in a slow start or stop (e.g. a large database check) than the unit allows."""
        return self.notify(f"EXTEND_TIMEOUT_USEC={max(0, int(seconds * 1_000_000))}")

    def close(self) -> None:
        """Release the socket; later calls become no-ops."""
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def watchdog_interval(env: Mapping[str, str] | None = None, pid: int | None = None) -> float | None:
    """The watchdog timeout systemd set for this process, in seconds; None when there is none.

    `$WATCHDOG_PID` names the process the watchdog is meant for; a child that inherited the variables
    (a subprocess started by the agent) must not ping on the parent's behalf.
    """
    environ = os.environ if env is None else env
    usec = environ.get("WATCHDOG_USEC", "")
    if not usec:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner:
        try:
            if int(owner) != (os.getpid() if pid is None else pid):
                return None
        except ValueError:
            return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1_000_000 if value > 0 else None


class Watchdog:
    """Paces WATCHDOG=1 pings from a loop that calls `progress()` each time it gets work done.

    Pings go out every quarter of the timeout, so one slow iteration (an fsync on a tired SD card)
    does not cost a restart, while a loop that stops calling `progress()` is killed within the timeout.
    `now` is monotonic seconds (`time.monotonic()`), immune to wall-clock steps.
    """

    def __init__(self, notifier: Notifier, timeout: float | None) -> None:
        self._notifier = notifier
        self.period = timeout / 4 if timeout else None
        self._last: float | None = None

    @property
    def enabled(self) -> bool:
        return self.period is not None and self._notifier.enabled

    def due(self, now: float) -> bool:
        if self.period is None:
            return False
        return self._last is None or now - self._last >= self.period

    def progress(self, now: float) -> bool:
        """The loop completed an iteration: ping if one is due. True if a ping was sent."""
        if not self.enabled or not self.due(now):
            return False
        self._last = now
        return self._notifier.watchdog()

    @classmethod
    def from_environment(cls, notifier: Notifier, env: Mapping[str, str] | None = None) -> Watchdog:
        return cls(notifier, watchdog_interval(env))
