"""Serial ingest: lines per second the line-protocol source sustains through the full agent.

A real `footfall-agent run` process reads a socat pseudo-terminal (one `serial-lines` sensor, event
preset, 1-second intervals, real store, real broker on loopback). The benchmark writes N event lines as
fast as the pty accepts them: the kernel's pty buffer is small, so the writer can only go as fast as the
agent reads, and the write rate is the agent's ingest rate. After the run the stored intervals must add
up to exactly N ins, or the figure is void. For comparison the same bytes are also read by a bare pyserial
loop that does nothing with them (the ceiling this machine's pty allows); the ratio shows the cost of
parsing, counting and aggregation.

    python bench/serial_ingest.py [--lines 400000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import serial  # noqa: E402

from tests.integration.agent_process import AgentProcess, agent_config, read_intervals  # noqa: E402
from tests.integration.mosquitto import Broker  # noqa: E402
from tests.integration.pty import PtyPair  # noqa: E402

BLOCK_LINES = 2000


def write_all(fd: int, n: int) -> float:
    """Write n `IN 1` lines; return the seconds it took (blocked writes included)."""
    block = b"IN 1\r\n" * BLOCK_LINES
    t0 = time.perf_counter()
    left = n
    while left > 0:
        chunk = block if left >= BLOCK_LINES else b"IN 1\r\n" * left
        view = memoryview(chunk)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        left -= min(left, BLOCK_LINES)
    return time.perf_counter() - t0


def agent_run(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Broker(work)
        broker.start()
        pty = PtyPair(work)
        pty.replug()
        config = agent_config(
            work,
            broker=broker,
            sensors=f"  - id: door\n    type: serial-lines\n    port: {pty.device}\n    preset: event\n",
        )
        agent = AgentProcess(config, work / "agent.log")
        fd = pty.open_peer()
        try:
            time.sleep(2.0)
            elapsed = write_all(fd, n)
            time.sleep(2.5)
            agent.signal(signal.SIGTERM)
            agent.wait(10)
            counted = sum(json.loads(p)["ins"] for p in read_intervals(work / "data" / "footfall.db").values())
            if counted != n:
                raise SystemExit(f"agent counted {counted} of {n} lines: figure void")
            return elapsed
        finally:
            os.close(fd)
            agent.kill()
            pty.unplug()
            broker.stop()


def bare_read_run(n: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        pty = PtyPair(Path(tmp))
        pty.replug()
        port = serial.Serial(str(pty.device), 115200, timeout=0.2)
        expected = n * len(b"IN 1\r\n")
        got = 0

        def reader() -> None:
            nonlocal got
            while got < expected:
                got += len(port.read(max(1, port.in_waiting)))

        thread = threading.Thread(target=reader)
        thread.start()
        fd = pty.open_peer()
        try:
            t0 = time.perf_counter()
            write_all(fd, n)
            thread.join(30)
            return time.perf_counter() - t0
        finally:
            os.close(fd)
            port.close()
            pty.unplug()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=400_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    agent_rates, bare_rates = [], []
    for i in range(args.runs):
        a = args.lines / agent_run(args.lines)
        b = args.lines / bare_read_run(args.lines)
        agent_rates.append(a)
        bare_rates.append(b)
        print(f"run {i + 1}: agent {a:,.0f} lines/s (all {args.lines:,} counted), bare pyserial read {b:,.0f} lines/s")
    a, b = statistics.median(agent_rates), statistics.median(bare_rates)
    print(
        f"serial ingest, full pipeline: median {a:,.0f} lines/s; bare read {b:,.0f} lines/s; "
        f"ratio {a / b:.2f}; goal >= 20,000 lines/s"
    )


if __name__ == "__main__":
    main()
