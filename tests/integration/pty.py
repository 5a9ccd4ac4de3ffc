"""socat pseudo-terminal pairs standing in for serial people-counters."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path


class PtyPair:
    """A socat pseudo-terminal pair: the agent opens `device`, the test writes to `peer`.

    `unplug()` kills socat so that both nodes disappear, as when a USB adapter is pulled;
    `replug()` creates the pair again under the same paths.
    """

    def __init__(self, workdir: Path, name: str = "ttyV0") -> None:
        self.device = workdir / name
        self.peer = workdir / f"{name}.peer"
        self.proc: subprocess.Popen[bytes] | None = None

    def replug(self) -> None:
        if shutil.which("socat") is None:
            raise RuntimeError("socat is not installed (apt-get install -y socat)")
        self.proc = subprocess.Popen(
            [
                "socat",
                f"pty,raw,echo=0,link={self.device}",
                f"pty,raw,echo=0,link={self.peer}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not (self.device.exists() and self.peer.exists()):
            if time.monotonic() > deadline:
                raise TimeoutError("socat did not create the pty pair")
            time.sleep(0.02)

    def unplug(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(5)
        self.proc = None
        deadline = time.monotonic() + 5
        while self.device.exists() and time.monotonic() < deadline:
            time.sleep(0.02)

    def open_peer(self) -> int:
        """A raw file descriptor on the far end, for the test to write counter output to."""
        return os.open(self.peer, os.O_RDWR | os.O_NOCTTY)
