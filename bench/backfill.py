"""Backfill after a long outage: time until a day of buffered intervals is acknowledged by a local Mosquitto.

Scenario from the field: 4 sensors at 1-minute intervals and a broker that was away for 24 h leave
5,760 messages in the outbox. We fill a real store with them, start the publisher against a real
mosquitto on loopback and time until the outbox is empty (every message PUBACKed and deleted).
A subscriber checks that all of them arrived. Prints the median of several runs.

    python bench/backfill.py [--runs 3] [--sensors 4] [--hours 24]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.aggregation.records import ClosedInterval  # noqa: E402
from agent.config.mqtt import MqttConfig  # noqa: E402
from agent.mqtt.payloads import interval_payload  # noqa: E402
from agent.mqtt.publisher import Publisher  # noqa: E402
from agent.mqtt.topics import Topics  # noqa: E402
from agent.store.database import Store  # noqa: E402
from tests.integration.mosquitto import Broker, Subscriber  # noqa: E402


def fill(store: Store, topics: Topics, sensors: int, minutes: int, t0: float) -> int:
    tz = ZoneInfo("Europe/Berlin")
    records = []
    for m in range(minutes):
        for s in range(sensors):
            c = ClosedInterval(
                sensor=f"door-{s}",
                start=t0 + 60 * m,
                end=t0 + 60 * (m + 1),
                ins=m % 7,
                outs=m % 5,
                occupancy=3,
                total_in=m * 7,
                total_out=m * 5,
                coverage_s=60.0,
                rejected_lines=0,
                disconnects=0,
                counter_resets=0,
            )
            payload = interval_payload(c, "bench", "pi", tz).model_dump_json().encode()
            records.append((c, topics.interval(c.sensor), payload))
        if len(records) >= 240:
            store.commit_close(records, {})
            records = []
    if records:
        store.commit_close(records, {})
    return minutes * sensors


def one_run(sensors: int, hours: int) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        broker = Broker(work)
        broker.start()
        try:
            topics = Topics("footfall/bench/pi")
            store = Store(work / "data", retention_days=30, max_bytes=1 << 30)
            n = fill(store, topics, sensors, hours * 60, time.time() - hours * 3600)
            sub = Subscriber(broker, "footfall/bench/pi/sensors/+/interval", client_id="bench-sub")
            cfg = MqttConfig(host=broker.host, port=broker.port, max_inflight=100)
            publisher = Publisher(cfg, "bench-agent", topics.status, store)
            t0 = time.perf_counter()
            publisher.start()
            while store.outbox_stats()[0] > 0:
                time.sleep(0.005)
            elapsed = time.perf_counter() - t0
            Subscriber.wait_for(lambda: len(sub.json_payloads()) >= n, 30)
            received = len({p["id"] for p in sub.json_payloads()})
            publisher.stop(3.0)
            sub.close()
            store.close()
            return elapsed, received if received == n else -received
        finally:
            broker.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sensors", type=int, default=4)
    ap.add_argument("--hours", type=int, default=24)
    args = ap.parse_args()
    n = args.sensors * args.hours * 60
    times = []
    for i in range(args.runs):
        elapsed, received = one_run(args.sensors, args.hours)
        ok = "all received" if received == n else f"ONLY {-received} of {n} received"
        print(f"run {i + 1}: {n} messages acknowledged in {elapsed:.2f} s ({n / elapsed:,.0f} msg/s), {ok}")
        times.append(elapsed)
    med = statistics.median(times)
    print(f"backfill of {n} messages: median {med:.2f} s ({n / med:,.0f} msg/s) over {args.runs} runs; goal < 10 s")


if __name__ == "__main__":
    main()
