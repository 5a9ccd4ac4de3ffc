"""A simulated chain of stores on one broker: 1,000 devices at 1-minute intervals, and the dashboard watching them.

Real `footfall-agent run` processes with simulated doors (as many as memory allows, `--real`) and
protocol-level simulated agents for the rest (one process, one MQTT connection per device with its last will,
publishing the payloads the agent publishes, built with the agent's own payload models) publish to one
Mosquitto with a WebSocket listener. All close their intervals on the same wall-clock boundary, as a real
chain does. Measured, and printed as medians (nothing is asserted):

- the broker: CPU (share of one core, from /proc) and resident memory over the measurement window;
- end-to-end latency from an interval's close (its `end`) to its arrival at a subscriber, real and simulated;
- the dashboard in headless Chromium, connected to all devices: time to the first full render after
  connecting (every row with its status, health and sensor states), update latency (an interval shown on
  the page after it reached the subscriber), the time each frame's DOM work takes, and page memory (JS heap
  from the DevTools protocol, and the renderer process's resident memory).

Goals: first full render <= 2 s, updates <= 1 s after arrival, page memory <= 300 MB.

    python bench/fleet.py                        # 1,000 devices, 1-minute intervals, 5 minutes measured
    python bench/fleet.py --interval 10 --minutes 2 --real 10      # a quick run in compressed time
    python bench/fleet.py --screenshots docs     # also write docs/dashboard.png and docs/dashboard-site.png
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import selectors
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The agent's own payload models and topic tree: the only imports from the agent package.
from agent.mqtt.payloads import (  # noqa: E402
    AnomalyEventPayload,
    HealthPayload,
    IntervalAnomaly,
    IntervalPayload,
    LineCounts,
    MetricScore,
    SensorState,
    ZoneCounts,
)
from agent.mqtt.topics import Topics  # noqa: E402
from tests.integration.agent_process import AgentProcess  # noqa: E402
from tests.integration.browser import (  # noqa: E402
    DashboardServer,
    TimedSubscriber,
    WsBroker,
    fleet_agent_config,
    start_chromium,
    wait_until,
)
from tests.poisson import poisson  # noqa: E402

ZONES = [
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Asia/Kolkata",
    "Australia/Sydney",
    "Asia/Tokyo",
]
AGENT_VERSION = "0.1.0"
AGENT_RSS_BYTES = 64 * 1024 * 1024
"""Memory set aside per real agent (it settles at about 47 MB resident with one simulated door)."""


def site_of(i: int) -> str:
    return f"store-{i // 2:04d}"


def device_of(i: int) -> str:
    return f"door-{i % 2 + 1}"


def zone_of(i: int) -> str:
    return ZONES[(i // 2) % len(ZONES)]


def is_camera(i: int) -> bool:
    return i % 10 == 4


def local_iso(ts: float, tz: ZoneInfo) -> str:
    return datetime.fromtimestamp(ts, tz).isoformat(timespec="seconds")


# -- protocol-level simulated agents (the worker process)


def traffic_per_hour(hour: float) -> float:
    """Arrivals per hour of a shop open 08:00-21:00 with a lunch and an evening peak."""
    if hour < 8 or hour >= 21:
        return 2.0
    return 90 + 160 * math.exp(-(((hour - 12.5) / 1.5) ** 2)) + 210 * math.exp(-(((hour - 17.5) / 1.8) ** 2))


@dataclass
class SimDevice:
    """One simulated agent: its own MQTT connection (with its last will) and counters."""

    index: int
    client: Any
    tz: ZoneInfo
    rng: random.Random
    topics: Topics
    sensor: str
    started: float
    next_health: float
    occupancy: int = 0
    zone_occupancy: dict[str, int] = field(default_factory=lambda: {"queue": 0, "window": 0})
    total_in: int = 0
    total_out: int = 0
    ins_today: int = 0
    outs_today: int = 0
    last_interval: dict[str, Any] | None = None
    open_event: AnomalyEventPayload | None = None
    alive: bool = True
    held: list[tuple[str, bytes, bool]] | None = None

    @property
    def site(self) -> str:
        return site_of(self.index)

    @property
    def device(self) -> str:
        return device_of(self.index)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        if self.held is not None:
            self.held.append((topic, payload, retain))
        else:
            self.client.publish(topic, payload, qos=1, retain=retain)

    def release(self) -> None:
        """Send what was built ahead of the boundary."""
        held, self.held = self.held or [], None
        for topic, payload, retain in held:
            self.client.publish(topic, payload, qos=1, retain=retain)

    def day_start(self, now: float) -> float:
        """The last 04:00 local time (the agent's default occupancy reset) at or before `now`."""
        local = datetime.fromtimestamp(now, self.tz)
        start = local.replace(hour=4, minute=0, second=0, microsecond=0)
        if local < start:
            start = datetime.fromtimestamp(start.timestamp() - 86400, self.tz).replace(hour=4, minute=0, second=0)
        return start.timestamp()

    def close_interval(self, start: float, end: float, boundary_no: int) -> None:
        hour = datetime.fromtimestamp(start, self.tz)
        lam = traffic_per_hour(hour.hour + hour.minute / 60) * (end - start) / 3600
        spike = self.index % 97 == 11 and boundary_no == 2
        ins = poisson(self.rng, lam) + (int(4 * lam) + 25 if spike else 0)
        leaving = self.occupancy + ins
        outs = min(leaving, poisson(self.rng, leaving * (end - start) / 900))
        stuck = self.index % 89 == 5
        if stuck:
            ins = outs = 0
        self.occupancy = leaving - outs
        self.total_in += ins
        self.total_out += outs
        if start < self.day_start(end) <= end:
            self.ins_today = self.outs_today = self.occupancy = 0
        self.ins_today += ins
        self.outs_today += outs
        expected_in = round(lam * self.rng.uniform(0.95, 1.05), 2)
        expected_out = round(max(0.1, (self.occupancy + ins) * (end - start) / 900), 2)
        z_in = round((ins - expected_in) / math.sqrt(expected_in + 1), 2)
        z_out = round((outs - expected_out) / math.sqrt(expected_out + 1), 2)
        scores = IntervalAnomaly(
            ins=MetricScore(
                expected=expected_in,
                z=None if stuck else z_in,
                anomaly=spike,
                fault="stuck-zero" if stuck else None,
            ),
            outs=MetricScore(expected=expected_out, z=None if stuck else z_out, anomaly=False, fault=None),
        )
        lines = zones = None
        if is_camera(self.index):
            lines = {"door": LineCounts(ins=ins, outs=outs)}
            zones = {}
            for name, share in (("queue", 0.6), ("window", 0.2)):
                entries = poisson(self.rng, ins * share)
                exits = min(self.zone_occupancy[name] + entries, poisson(self.rng, ins * share))
                self.zone_occupancy[name] += entries - exits
                dwell = [self.rng.uniform(20, 240) for _ in range(exits)]
                zones[name] = ZoneCounts(
                    entries=entries,
                    exits=exits,
                    occupancy=self.zone_occupancy[name],
                    dwell_count=exits,
                    dwell_median_s=round(statistics.median(dwell), 1) if dwell else None,
                    dwell_mean_s=round(statistics.fmean(dwell), 1) if dwell else None,
                )
        start_iso, end_iso = local_iso(start, self.tz), local_iso(end, self.tz)
        payload = IntervalPayload(
            id=f"{self.site}/{self.device}/{self.sensor}/{start_iso}",
            site=self.site,
            device=self.device,
            sensor=self.sensor,
            start=start_iso,
            end=end_iso,
            start_ts=start,
            duration_s=end - start,
            ins=ins,
            outs=outs,
            occupancy=self.occupancy,
            total_in=self.total_in,
            total_out=self.total_out,
            coverage_s=end - start,
            coverage=1.0,
            rejected_lines=0,
            disconnects=0,
            counter_resets=0,
            lines=lines,
            zones=zones,
            agent_version=AGENT_VERSION,
            anomaly=scores,
        )
        self.publish(self.topics.interval(self.sensor), payload.model_dump_json().encode())
        self.last_interval = {"start": start_iso, "end": end_iso, "ins": ins, "outs": outs, "coverage": 1.0}
        if (spike or stuck) and self.open_event is None:
            kind = "stuck-zero" if stuck else "traffic"
            self.open_event = AnomalyEventPayload(
                id=f"{self.site}/{self.device}/{self.sensor}/ins/{kind}/{start_iso}/start",
                site=self.site,
                device=self.device,
                sensor=self.sensor,
                metric="ins",
                phase="start",
                kind="fault" if stuck else "traffic",
                fault="stuck-zero" if stuck else None,
                start=start_iso,
                start_ts=start,
                end=None,
                end_ts=None,
                peak_z=None if stuck else z_in,
                peak_count=float(ins),
                peak_expected=expected_in,
                intervals=1,
                agent_version=AGENT_VERSION,
            )
            self.publish(self.topics.anomaly(self.sensor), self.open_event.model_dump_json().encode())
        self.publish_state(end, z_in if not stuck else None, spike, "stuck-zero" if stuck else None)

    def publish_state(
        self, now: float, z: float | None = None, anomaly: bool = False, fault: str | None = None
    ) -> None:
        state = SensorState.model_validate(
            {
                "site": self.site,
                "device": self.device,
                "sensor": self.sensor,
                "ts": now,
                "at": local_iso(now, self.tz),
                "source_up": True,
                "occupancy": self.occupancy,
                "zone_occupancy": dict(self.zone_occupancy) if is_camera(self.index) else None,
                "day_start": local_iso(self.day_start(now), self.tz),
                "ins_today": self.ins_today,
                "outs_today": self.outs_today,
                "last_interval": self.last_interval,
                "z": z,
                "anomaly": anomaly,
                "fault": fault,
            }
        )
        self.publish(self.topics.state(self.sensor), state.model_dump_json().encode(), retain=True)

    def publish_health(self, now: float) -> None:
        backlog = self.index % 150 == 3
        source: dict[str, Any] = {"state": "up", "since": local_iso(self.started, self.tz), "rejected_lines": 0}
        if is_camera(self.index):
            source.update(fps=10.0, latency_ms=round(self.rng.uniform(55, 80), 1), inference_ms=38.0, frames=1000)
            source.update(dropped_frames=40, dropped_frames_recent=self.rng.randint(0, 5))
        health = HealthPayload.model_validate(
            {
                "site": self.site,
                "device": self.device,
                "ts": now,
                "at": local_iso(now, self.tz),
                "started": local_iso(self.started, self.tz),
                "uptime_s": round(now - self.started, 1),
                "agent_version": AGENT_VERSION,
                "sources": {self.sensor: source},
                "system": {
                    "load_1m": round(self.rng.uniform(0.05, 0.6), 2),
                    "load_5m": 0.2,
                    "load_15m": 0.15,
                    "cpu_count": 4,
                    "cpu_temperature_c": round(self.rng.uniform(42, 61), 1),
                    "rss_bytes": 48_693_248,
                },
                "store": {
                    "used_bytes": 3_178_496,
                    "files_bytes": 7_376_896,
                    "max_bytes": 268_435_456,
                    "used_ratio": 0.0118,
                    "filesystem_free_bytes": 21_474_836_480,
                },
                "outbox": {"depth": 37, "oldest_age_s": 1840.0} if backlog else {"depth": 0},
                "mqtt": {"connected": True, "reconnects": 1 if backlog else 0, "connect_failures": 0},
            }
        )
        self.publish(self.topics.health, health.to_json(), retain=True)


def worker(args: argparse.Namespace) -> None:
    """The simulated agents `first` .. `first + count - 1`, until SIGTERM."""
    import paho.mqtt.client as mqtt

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *a: stop.set())
    interval, health_period = float(args.interval), float(args.health)
    sel = selectors.DefaultSelector()
    devices: list[SimDevice] = []
    now = time.time()
    for i in range(args.first, args.first + args.count):
        topics = Topics.for_device("footfall/{site}/{device}", site_of(i), device_of(i))
        client = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"sim-{site_of(i)}-{device_of(i)}"
        )
        client.will_set(topics.status, b"offline", qos=1, retain=True)
        client.max_queued_messages_set(0)
        client.connect("127.0.0.1", args.port, keepalive=60)
        sim = SimDevice(
            index=i,
            client=client,
            tz=ZoneInfo(zone_of(i)),
            rng=random.Random(i),
            topics=topics,
            sensor="front-cam" if is_camera(i) else "main-door",
            started=now - random.Random(-i).uniform(3600, 30 * 86400),
            next_health=now + (i % max(1, int(health_period))),
        )
        sim.occupancy = sim.rng.randint(0, 30)
        sim.ins_today = sim.occupancy + sim.rng.randint(0, 800)
        sim.outs_today = sim.ins_today - sim.occupancy
        devices.append(sim)
        sel.register(client.socket(), selectors.EVENT_READ, sim)
        client.publish(topics.status, b"online", qos=1, retain=True)
        sim.publish_health(now)
        sim.publish_state(now)
        pump(devices, sel, 0)
    deadline = time.monotonic() + 60
    while any(d.client.want_write() for d in devices) and time.monotonic() < deadline:
        pump(devices, sel, 0.05)
    print(f"ready {len(devices)}", flush=True)
    # The intervals ending at a boundary are built shortly before it and sent at it: one Python process
    # building 900 payloads would otherwise add its own time to the latency of the last ones.
    lead = min(2.0, interval / 4)
    boundary = math.ceil(time.time() / interval) * interval
    boundaries = 0
    built = False
    last_misc = 0.0
    while not stop.is_set():
        now = time.time()
        if not built and now >= boundary - lead:
            built = True
            for d in devices:
                if d.alive:
                    d.held = []
                    d.close_interval(boundary - interval, boundary, boundaries + 1)
        if now >= boundary:
            boundaries += 1
            built = False
            for d in devices:
                if d.alive:
                    d.release()
            if boundaries == 1:
                # A few devices lose power after the first interval: their last will marks them offline.
                for d in devices:
                    if d.index % 250 == 7 and d.alive:
                        d.alive = False
                        sel.unregister(d.client.socket())
                        d.client.socket().close()
            boundary += interval
        for d in devices:
            if d.alive and now >= d.next_health:
                d.publish_health(now)
                d.next_health += health_period
        if now - last_misc >= 1.0:
            last_misc = now
            for d in devices:
                if d.alive:
                    d.client.loop_misc()
        pump(devices, sel, min(0.2, max(0.0, (boundary if built else boundary - lead) - time.time())))


def pump(devices: list[SimDevice], sel: selectors.BaseSelector, timeout: float) -> None:
    """One round of network I/O for every connection: write what is queued, read what arrived."""
    for d in devices:
        if d.alive and d.client.want_write():
            d.client.loop_write()
    for key, _ in sel.select(timeout):
        sim: SimDevice = key.data
        if sim.alive:
            sim.client.loop_read()


# -- measuring


def proc_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def renderer_memory(driver: Any) -> tuple[int, int]:
    """(PSS, RSS) of the largest renderer process of this browser, the page's. PSS counts pages shared with
    the other Chromium processes in proportion, RSS counts them whole."""
    sizes = []
    for pid in descendants(driver.service.process.pid):
        try:
            if b"--type=renderer" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
            pss = next(int(line.split()[1]) * 1024 for line in rollup if line.startswith("Pss:"))
            sizes.append((pss, proc_rss(pid)))
        except (OSError, StopIteration):
            continue
    return max(sizes, default=(0, 0), key=lambda s: s[1])


def memory_available() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return 0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float], unit: str = "ms", scale: float = 1000.0) -> str:
    if not values:
        return "no samples"
    v = [x * scale for x in values]
    return (
        f"median {statistics.median(v):.0f} {unit}, p95 {pct(v, 0.95):.0f} {unit}, max {max(v):.0f} {unit} (n={len(v)})"
    )


def browser_cpu_seconds(driver: Any) -> float:
    """CPU time used so far by every process of this browser (renderers, the browser, its helpers)."""
    total = 0.0
    for pid in descendants(driver.service.process.pid):
        try:
            total += proc_cpu_seconds(pid)
        except OSError:
            continue
    return total


def first_full_render(driver: Any, url: str, devices: int, timeout: float = 60.0) -> tuple[float, float, float]:
    """Load the page (it connects by itself) and time the first frame showing every device complete:
    (seconds after the MQTT connection was accepted, seconds after navigation began, CPU seconds the
    browser used from navigation to then). The CPU time does not depend on what else the machine runs."""
    cpu = browser_cpu_seconds(driver)
    started = time.time()
    driver.get(url)
    done = wait_until(
        lambda: (
            driver.execute_script("return window.footfallDashboard && window.footfallDashboard.stats().complete")
            >= devices
        ),
        timeout,
        0.1,
    )
    stats = driver.execute_script("return window.footfallDashboard.stats()")
    if not done or stats["connectedAt"] is None:
        raise RuntimeError(f"the page showed {stats['complete']} of {devices} devices complete after {timeout} s")
    used = browser_cpu_seconds(driver) - cpu
    full = next(t for t, _, _, complete in stats["renders"] if complete >= devices)
    return (full - stats["connectedAt"]) / 1000, full / 1000 - started, used


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=1000, help="devices in the chain (default 1000)")
    ap.add_argument(
        "--real",
        default="auto",
        help="real agent processes among them (default auto: as many as half the available memory allows, "
        "at most --max-real)",
    )
    ap.add_argument("--max-real", type=int, default=100, help="cap of --real auto (each idle agent costs ~0.6%% CPU)")
    ap.add_argument("--interval", type=int, default=60, help="interval length in seconds (default 60)")
    ap.add_argument("--minutes", type=float, default=5.0, help="measurement window with the page open (default 5)")
    ap.add_argument("--loads", type=int, default=3, help="page loads timed for the first full render (default 3)")
    ap.add_argument("--screenshots", type=Path, help="write dashboard.png and dashboard-site.png into this directory")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--first", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--count", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--health", type=int, default=60, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args)
        return
    if 3600 % args.interval:
        ap.error("--interval must divide an hour")
    fit = int(memory_available() * 0.5 // AGENT_RSS_BYTES)
    real = min(fit, args.max_real, args.devices) if args.real == "auto" else min(int(args.real), args.devices)
    health = max(60, args.interval) if args.interval >= 60 else args.interval
    print(
        f"fleet: {args.devices} devices ({real} real agents, {args.devices - real} simulated), "
        f"{args.interval} s intervals, health every {health} s, {args.minutes:g} min measured",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp_name:
        tmp = Path(tmp_name)
        run(args, tmp, real, health)


def run(args: argparse.Namespace, tmp: Path, real: int, health: int) -> None:
    (tmp / "broker").mkdir()
    broker = WsBroker(tmp / "broker")
    broker.start()
    assert broker.proc is not None
    subscriber = TimedSubscriber(broker, "footfall/#", "fleet-bench-subscriber")
    agents: list[AgentProcess] = []
    sim = None
    dashboard = None
    driver = None
    try:
        sim_log = open(tmp / "sim.log", "ab")
        sim = subprocess.Popen(
            [sys.executable, __file__, "--worker", "--port", str(broker.port), "--first", str(real)]
            + ["--count", str(args.devices - real), "--interval", str(args.interval), "--health", str(health)],
            stdout=subprocess.PIPE,
            stderr=sim_log,
            text=True,
        )
        t0 = time.monotonic()
        for i in range(real):
            config = fleet_agent_config(
                tmp / f"agent-{i}",
                broker,
                site=site_of(i),
                device=device_of(i),
                timezone=zone_of(i),
                sensors="  - id: main-door\n    type: simulated\n    peak_per_hour: 400\n",
                interval=f"{args.interval}s",
                health_period=f"{health}s",
            )
            agents.append(AgentProcess(config, tmp / f"agent-{i}.log"))
            if i % 10 == 9:
                time.sleep(1.0)  # let them import and start in waves on a small machine
        assert sim.stdout is not None
        ready = sim.stdout.readline()
        if not ready.startswith("ready"):
            raise RuntimeError(f"simulated agents failed: {(tmp / 'sim.log').read_text()[-2000:]}")
        statuses = {f"footfall/{site_of(i)}/{device_of(i)}/status" for i in range(args.devices)}
        if not wait_until(
            lambda: statuses <= {t for t, p, _ in subscriber.snapshot() if t.endswith("/status")}, 300, 0.5
        ):
            raise RuntimeError("not every device came online")
        print(f"all {args.devices} devices online after {time.monotonic() - t0:.0f} s", flush=True)

        dashboard = DashboardServer(tmp / "dashboard.log", "--broker", broker.ws_url, "--connect")
        driver = start_chromium(tmp / "chromium")
        driver.execute_cdp_cmd("Performance.enable", {})
        driver.get(dashboard.url + "?connect=0")
        time.sleep(3)
        idle_pss, idle_rss = renderer_memory(driver)
        # Wait for one interval boundary first, so that every device has a state with a last interval.
        boundary = math.ceil(time.time() / args.interval) * args.interval
        time.sleep(max(0.0, boundary - time.time()) + 3)
        after_connect, after_navigation, cpu = [], [], []
        for _ in range(args.loads):
            a, b, c = first_full_render(driver, dashboard.url, args.devices)
            after_connect.append(a)
            after_navigation.append(b)
            cpu.append(c)
        print(
            f"first full render of {args.devices} devices: median {statistics.median(after_connect) * 1000:.0f} ms "
            f"after connecting ({statistics.median(after_navigation) * 1000:.0f} ms after loading the page); "
            f"runs {[round(x * 1000) for x in after_connect]} ms; browser CPU from loading to the full render: "
            f"median {statistics.median(cpu):.2f} s",
            flush=True,
        )

        # The measurement window: the page stays open through several interval boundaries.
        rss: list[int] = []
        heap: list[float] = []
        renderer: list[tuple[int, int]] = []
        shown: dict[str, tuple[float, float]] = {}
        frames: dict[float, float] = {}
        cpu0, wall0 = proc_cpu_seconds(broker.proc.pid), time.monotonic()
        sim_cpu0 = proc_cpu_seconds(sim.pid)
        arrivals_from = time.time()
        seen = 0.0  # epoch ms of the latest page log entry read
        end = time.monotonic() + args.minutes * 60
        while time.monotonic() < end:
            rss.append(proc_rss(broker.proc.pid))
            if len(rss) % 10 == 1:
                metrics = {
                    m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]
                }
                heap.append(metrics["JSHeapUsedSize"])
                renderer.append(renderer_memory(driver))
                stats = driver.execute_script("return window.footfallDashboard.stats(arguments[0])", seen)
                for interval_id, received, at in stats["intervals"]:
                    shown[interval_id] = (received / 1000, at / 1000)
                for t, _, ms, _ in stats["renders"]:
                    frames[t] = ms
                seen = max([seen] + [t for t, *_ in stats["renders"]] + [at for *_, at in stats["intervals"]])
            time.sleep(1.0)
        broker_cpu = (proc_cpu_seconds(broker.proc.pid) - cpu0) / (time.monotonic() - wall0)
        sim_cpu = (proc_cpu_seconds(sim.pid) - sim_cpu0) / (time.monotonic() - wall0)
        stats = driver.execute_script("return window.footfallDashboard.stats(arguments[0])", seen)
        for interval_id, received, at in stats["intervals"]:
            shown[interval_id] = (received / 1000, at / 1000)
        metrics = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}
        driver.execute_cdp_cmd("HeapProfiler.collectGarbage", {})
        time.sleep(2)
        live_pss, live_rss = renderer_memory(driver)
        live_heap = {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}

        arrivals: dict[str, tuple[float, float, int]] = {}
        for t, topic, payload, _ in subscriber.timed():
            if topic.endswith("/interval") and t >= arrivals_from:
                doc = json.loads(payload)
                index = 2 * int(doc["site"].split("-")[1]) + int(doc["device"].split("-")[1]) - 1
                arrivals.setdefault(doc["id"], (t, doc["start_ts"] + doc["duration_s"], index))
        e2e_real = [t - end_ts for t, end_ts, i in arrivals.values() if i < real]
        e2e_sim = [t - end_ts for t, end_ts, i in arrivals.values() if i >= real]
        update = [s[1] - arrivals[i][0] for i, s in shown.items() if i in arrivals]
        in_page = [s[1] - s[0] for i, s in shown.items() if i in arrivals]
        mb = 1024 * 1024
        print(f"intervals received by the subscriber in the window: {len(arrivals)}")
        print(f"broker CPU: {100 * broker_cpu:.1f} % of one core over {args.minutes:g} min", flush=True)
        print(f"broker RSS: median {statistics.median(rss) / mb:.1f} MB, max {max(rss) / mb:.1f} MB")
        print(f"simulated agents' process CPU: {100 * sim_cpu:.1f} % of one core ({args.devices - real} connections)")
        print(f"end-to-end, interval close to arrival at a subscriber, real agents: {summary(e2e_real)}")
        print(f"end-to-end, interval close to arrival at a subscriber, simulated agents: {summary(e2e_sim)}")
        print(f"dashboard update, arrival at the subscriber to shown on the page: {summary(update)}")
        print(f"dashboard update, arrival in the page to shown: {summary(in_page)}")
        print(f"dashboard frame DOM work: {summary(list(frames.values()), scale=1.0)}")
        print(
            f"page memory: JS heap used median {statistics.median(heap) / mb:.1f} MB, at the end "
            f"{metrics['JSHeapUsedSize'] / mb:.1f} MB (total {metrics['JSHeapTotalSize'] / mb:.1f} MB), "
            f"{int(metrics['Nodes'])} DOM nodes",
            flush=True,
        )
        pss, rss_renderer = [p for p, _ in renderer], [r for _, r in renderer]
        print(
            f"page memory: renderer process PSS median {statistics.median(pss) / mb:.0f} MB, max {max(pss) / mb:.0f} "
            f"MB (RSS median {statistics.median(rss_renderer) / mb:.0f} MB, max {max(rss_renderer) / mb:.0f} MB); "
            f"the same page not connected: PSS {idle_pss / mb:.0f} MB, RSS {idle_rss / mb:.0f} MB"
        )
        print(
            f"page memory after a garbage collection at the end: JS heap {live_heap['JSHeapUsedSize'] / mb:.1f} MB, "
            f"renderer PSS {live_pss / mb:.0f} MB (RSS {live_rss / mb:.0f} MB)"
        )
        if args.screenshots is not None:
            args.screenshots.mkdir(parents=True, exist_ok=True)
            driver.set_window_size(1500, 900)
            driver.execute_script("window.scrollTo(0, 0)")
            time.sleep(1.5)
            driver.save_screenshot(str(args.screenshots / "dashboard.png"))
            # A camera of a simulated store that is open now (its local time between 10:00 and 20:00), if any.
            cameras = [i for i in range(real, args.devices) if is_camera(i)]
            camera = next(
                (i for i in cameras if 10 <= datetime.now(ZoneInfo(zone_of(i))).hour < 20), cameras[0] if cameras else 0
            )
            driver.execute_script("window.footfallDashboard.openSite(arguments[0])", site_of(camera))
            time.sleep(2.0)
            driver.save_screenshot(str(args.screenshots / "dashboard-site.png"))
            print(f"screenshots: {args.screenshots / 'dashboard.png'}, {args.screenshots / 'dashboard-site.png'}")
    finally:
        if driver is not None:
            driver.quit()
        if dashboard is not None:
            dashboard.stop()
        for agent in agents:
            agent.kill()
        if sim is not None:
            sim.terminate()
            try:
                sim.wait(10)
            except subprocess.TimeoutExpired:
                sim.kill()
                sim.wait()
        subscriber.close()
        broker.stop()


if __name__ == "__main__":
    main()
