"""Helper processes of `score`: each keeps the detectors of the sensors dealt to it and scores their rows.

The detector's loop is most of the cost of `score`, and sensors are independent, so interleaved input
scales with the cores. A sensor stays with one process for the whole run, so the output is the same as
with one process."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from agent.anomaly.detector import AnomalyDetector, OrderError
from agent.anomaly.settings import AnomalySettings


class HelperLost(Exception):
    """A helper process died (killed, out of memory): the output so far is complete but the run is not."""


Verdicts = tuple[list[float | None], list[float | None], list[bool], list[str | None]]


def score_sensor(
    detector: AnomalyDetector,
    times: list[int],
    counts: list[float | None],
    slots: list[int],
    rows: Sequence[int],
    out: Verdicts,
) -> int | None:
    """Score one sensor's rows of a chunk into the output columns; returns the index of a row out of time
    order (the rows before it are scored), or None. The same in this process and in a helper."""
    try:
        detector.score_into(times, counts, slots, rows, *out)
    except OrderError as e:
        return e.index
    return None


def helper_loop(conn: Connection, settings: AnomalySettings, interval_s: int) -> None:
    """Body of a helper process: keeps the detectors of its sensors and scores their rows of each block.

    A job is (times, counts, slots, [(sensor, rows)]); the reply holds, per sensor, its verdicts in the
    order of its rows and the index of a row out of time order (or None), as `score_into` reports it.
    """
    detectors: dict[str, AnomalyDetector] = {}
    while True:
        job = conn.recv()
        if job is None:
            return
        times, counts, slots, groups = job
        n = len(times)
        out: Verdicts = ([None] * n, [None] * n, [False] * n, [None] * n)
        reply: list[tuple[Verdicts, int | None]] = []
        for name, rows in groups:
            detector = detectors.get(name)
            if detector is None:
                detector = detectors[name] = AnomalyDetector(settings, interval_s)
            bad = score_sensor(detector, times, counts, slots, rows, out)
            columns = tuple([col[i] for i in rows] for col in out)
            reply.append((columns, bad))  # type: ignore[arg-type]
        conn.send(reply)


class Helper:
    """A process that scores some of the sensors while this one scores the rest: the detector's loop is
    most of the cost of `score`, and sensors are independent, so interleaved input scales with the cores.
    Each sensor stays with one process for the whole run, so the output is the same as with one process.
    """

    def __init__(self, settings: AnomalySettings, interval_s: int) -> None:
        methods = mp.get_all_start_methods()
        ctx = mp.get_context("fork" if "fork" in methods else methods[0])
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=helper_loop, args=(child, settings, interval_s), daemon=True)
        self.process.start()
        child.close()
        self.busy = False  # a job was sent and its reply not read: stopping it means killing it

    def send(self, times: list[int], counts: list[float | None], slots: list[int], groups: list[Any]) -> None:
        self.busy = True
        try:
            self.conn.send((times, counts, slots, groups))
        except OSError:
            raise self._lost() from None

    def receive(self) -> list[tuple[Verdicts, int | None]]:
        self.busy = False
        try:
            reply: list[tuple[Verdicts, int | None]] = self.conn.recv()
        except (EOFError, OSError):
            raise self._lost() from None
        return reply

    def _lost(self) -> HelperLost:
        self.process.join(1)
        code = self.process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        return HelperLost(f"a scoring helper process (pid {self.process.pid}) ended unexpectedly ({how})")

    def close(self) -> None:
        if self.process.is_alive():
            try:
                if not self.busy:
                    self.conn.send(None)
                    self.process.join(5)
            except OSError:
                pass
            if self.process.is_alive():
                self.process.kill()
                self.process.join()
        self.conn.close()
