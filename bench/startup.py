"""Start-up time and resident memory of the command and of a serial-only agent, against bare library imports.

Side by side in one run, alternating round by round so that load from other processes hits all alike:

- `import pydantic, yaml, paho.mqtt.client` in a fresh interpreter: the floor any agent built on these
  libraries pays (wall time and peak RSS of the process);
- `footfall-agent --help` and `footfall-agent check-config` of a serial config (goal: `--help` within 2x the
  floor's time);
- `footfall-agent run` with one serial-lines sensor on a socat pseudo-terminal, a real Mosquitto on loopback
  and Home Assistant discovery on (the defaults): the time from exec to systemd's READY=1 (on a notify socket
  of its own), then event lines at 20 per second for `--seconds`, and the median RSS of the last half of that
  (goal: 40 MB). With `--sensors 4`, four such sensors.

Medians over `--rounds`; `--cpus 0` pins every process to one core (`taskset`-like, via the affinity mask),
closer to a busy Pi.

    python bench/startup.py [--rounds 7] [--seconds 30] [--sensors 1] [--cpus 0]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.integration.mosquitto import Broker  # noqa: E402
from tests.integration.pty import PtyPair  # noqa: E402

HELP_GOAL = 2.0
SERIAL_RSS_GOAL_MB = 40.0
FLOOR = [sys.executable, "-c", "import pydantic, yaml, paho.mqtt.client"]
AGENT = [sys.executable, "-m", "agent"]


def timed(argv: list[str], cpus: set[int] | None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one run of `argv` to its exit."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed")
    return elapsed, usage.ru_maxrss / 1024


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def serial_config(work: Path, broker: Broker, devices: list[Path]) -> Path:
    sensors = "".join(f"  - id: door-{i}\n    type: serial-lines\n    port: {d}\n" for i, d in enumerate(devices))
    path = work / "serial.yaml"
    path.write_text(
        "site: bench\ndevice: d1\ntimezone: Europe/Berlin\nintervals:\n  length: 1m\n"
        f"store:\n  path: {work / 'data'}\n"
        f"mqtt:\n  host: {broker.host}\n  port: {broker.port}\n"
        f"sensors:\n{sensors}"
    )
    return path


def run_agent(config: Path, ptys: list[PtyPair], seconds: float, cpus: set[int] | None) -> tuple[float, float]:
    """Seconds from exec to READY=1, and the median RSS (MB) over the second half of `seconds` of traffic."""
    sock_dir = Path(tempfile.mkdtemp(prefix="sdn-"))
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_dir / "notify"))
    sock.settimeout(30)
    env = {**os.environ, "NOTIFY_SOCKET": str(sock_dir / "notify")}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [*AGENT, "run", "--config", str(config)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
    )
    try:
        while not sock.recv(4096).decode().startswith("READY=1"):
            pass
        ready = time.perf_counter() - started
        fds = [p.open_peer() for p in ptys]
        stop = threading.Event()

        def writer() -> None:
            i = 0
            while not stop.wait(0.05):
                for fd in fds:
                    os.write(fd, b"IN\n" if i % 2 else b"OUT\n")
                i += 1

        thread = threading.Thread(target=writer, daemon=True)
        thread.start()
        samples: list[float] = []
        t0 = time.monotonic()
        while time.monotonic() - t0 < seconds:
            time.sleep(1.0)
            if time.monotonic() - t0 >= seconds / 2:
                samples.append(rss_mb(proc.pid))
        stop.set()
        thread.join()
        for fd in fds:
            os.close(fd)
        return ready, statistics.median(samples)
    finally:
        proc.terminate()
        proc.wait(20)
        sock.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--seconds", type=float, default=30.0, help="traffic per agent run (RSS: its second half)")
    ap.add_argument("--sensors", type=int, default=1)
    ap.add_argument("--cpus", help="comma-separated CPUs to pin every process to, e.g. 0")
    args = ap.parse_args()
    cpus = {int(c) for c in args.cpus.split(",")} if args.cpus else None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Broker(work)
        broker.start()
        ptys = [PtyPair(work, f"ttyB{i}") for i in range(args.sensors)]
        for p in ptys:
            p.replug()
        config = serial_config(work, broker, [p.device for p in ptys])
        results: dict[str, list[tuple[float, float]]] = {"floor": [], "help": [], "check": [], "run": []}
        try:
            for round_no in range(args.rounds):
                results["floor"].append(timed(FLOOR, cpus))
                results["help"].append(timed([*AGENT, "--help"], cpus))
                results["check"].append(timed([*AGENT, "check-config", str(config)], cpus))
                results["run"].append(run_agent(config, ptys, args.seconds, cpus))
                print(
                    f"round {round_no + 1}: "
                    + ", ".join(f"{k} {v[-1][0]:.3f} s / {v[-1][1]:.1f} MB" for k, v in results.items()),
                    flush=True,
                )
        finally:
            for p in ptys:
                p.unplug()
            broker.stop()

    def median(key: str, i: int) -> float:
        return statistics.median(r[i] for r in results[key])

    where = f"pinned to CPU {args.cpus}" if cpus else f"on {os.cpu_count()} CPUs"
    print(f"\nmedians of {args.rounds} rounds, {where}:")
    print(f"  import pydantic, yaml, paho:  {median('floor', 0):.3f} s, peak RSS {median('floor', 1):.1f} MB")
    ratio = statistics.median(h[0] / f[0] for h, f in zip(results["help"], results["floor"], strict=True))
    print(
        f"  footfall-agent --help:        {median('help', 0):.3f} s, peak RSS {median('help', 1):.1f} MB; "
        f"{ratio:.2f}x the imports' time, paired by round (goal <= {HELP_GOAL:g}x)"
    )
    print(f"  footfall-agent check-config:  {median('check', 0):.3f} s, peak RSS {median('check', 1):.1f} MB")
    print(
        f"  footfall-agent run, {args.sensors} serial sensor(s), MQTT and discovery on: READY after "
        f"{median('run', 0):.3f} s; RSS {median('run', 1):.1f} MB (goal <= {SERIAL_RSS_GOAL_MB:g} MB)"
    )


if __name__ == "__main__":
    main()
