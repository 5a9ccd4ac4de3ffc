"""Resident memory of `footfall-agent run` with 4 serial sensors over a long run.

Four socat pseudo-terminals each carry a steady stream of event lines (default 20 lines/s each) into a
real agent process with 1-minute intervals (`--interval`), a real store and a real broker on loopback. RSS is sampled
from /proc every 10 s; the benchmark prints the samples' median, the peak, and the growth between the
first and the last minute (a leak shows as steady growth).

    python bench/memory.py [--minutes 10] [--rate 20]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.agent_process import AgentProcess, agent_config  # noqa: E402
from tests.integration.mosquitto import Broker  # noqa: E402
from tests.integration.pty import PtyPair  # noqa: E402

SENSORS = 4


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--rate", type=float, default=20, help="lines per second per sensor")
    ap.add_argument("--interval", default="1m", help="interval length of the agent under test (default 1m)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Broker(work)
        broker.start()
        ptys = [PtyPair(work, f"ttyV{i}") for i in range(SENSORS)]
        for p in ptys:
            p.replug()
        sensors = "".join(
            f"  - id: door-{i}\n    type: serial-lines\n    port: {p.device}\n    preset: event\n"
            for i, p in enumerate(ptys)
        )
        agent = AgentProcess(
            agent_config(work, broker=broker, sensors=sensors, interval=args.interval), work / "agent.log"
        )
        fds = [p.open_peer() for p in ptys]
        stop = threading.Event()

        def writer() -> None:
            i = 0
            while not stop.is_set():
                for fd in fds:
                    os.write(fd, b"IN 1\n" if i % 2 else b"OUT 1\n")
                i += 1
                time.sleep(1 / args.rate)

        thread = threading.Thread(target=writer)
        thread.start()
        samples: list[tuple[float, float]] = []
        t0 = time.monotonic()
        try:
            while time.monotonic() - t0 < args.minutes * 60:
                time.sleep(10)
                samples.append((time.monotonic() - t0, rss_mb(agent.proc.pid)))
                print(f"{samples[-1][0]:6.0f} s  RSS {samples[-1][1]:6.1f} MB", flush=True)
        finally:
            stop.set()
            thread.join()
            agent.signal(signal.SIGTERM)
            agent.wait(10)
            agent.kill()
            for fd in fds:
                os.close(fd)
            for p in ptys:
                p.unplug()
            broker.stop()
    values = [v for _, v in samples]
    first = statistics.median(v for t, v in samples if t <= 60) if samples else 0.0
    last = statistics.median(v for t, v in samples if t >= samples[-1][0] - 60) if samples else 0.0
    print(
        f"RSS with {SENSORS} serial sensors over {args.minutes:g} min: median {statistics.median(values):.1f} MB, "
        f"peak {max(values):.1f} MB, first minute {first:.1f} MB, last minute {last:.1f} MB; goal < 80 MB"
    )


if __name__ == "__main__":
    main()
