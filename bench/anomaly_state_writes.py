"""Bytes written to disk per interval close, with the anomaly detector's state committed incrementally.

A close commits the interval, its outbox row and the detector state in one SQLite transaction (WAL,
synchronous=FULL). The detector commits only the slots scored since the last close plus a small document
(`SensorAnomaly.changes`); earlier agents wrote the whole week every close. On an SD card the bytes per
close are what wears it out, so this measures them as the kernel counts them (write_bytes of
/proc/self/io, i.e. WAL frames, checkpoints and all) around each `Agent.close_due`, driven by a test clock
on a real store in a temporary directory. One sensor with shop-shaped hourly traffic is run for a week and
a day (so every interval-of-week is learned), then N closes are measured, at each interval length, with:

- off: anomaly scoring disabled (intervals, outbox and aggregator state only);
- incremental: scoring on, the detector's changes per close (what the agent does);
- whole state: scoring on, the whole detector state replacing the stored one every close (the old way).

Figures are per close (median and mean) and per day (mean x closes per day); the disk is shared, so compare
the ratios of one run rather than absolute figures across runs.

    python bench/anomaly_state_writes.py [--closes 300] [--lengths 900,60]
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.anomaly.sensor import AnomalyState, SensorAnomaly  # noqa: E402
from agent.config.loader import parse_config  # noqa: E402
from agent.runtime.agent import Agent  # noqa: E402
from tests.poisson import poisson  # noqa: E402

SENSOR = "door"
TZ = ZoneInfo("Europe/Berlin")
MONDAY = datetime(2026, 1, 5, tzinfo=TZ).timestamp()
TRAIN_DAYS = 8
TRAIN_BLOCK_S = 6 * 3600
"""Training closes this much time per transaction, so a week of 1-minute intervals takes seconds, not an hour."""
MODES = ("off", "incremental", "whole state")


class Clock:
    """The agent's clock, set by the benchmark."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


class WholeStateAnomaly(SensorAnomaly):
    """Commits the whole state, replacing the stored rows, every close: what the agent did before."""

    def changes(self) -> AnomalyState:
        return self.state()


def hourly_rate(t: float) -> float:
    """People per hour of a city-centre shop: open 9-20 (Sat to 18, closed Sun), lunch and after-work peaks."""
    local = datetime.fromtimestamp(t, TZ)
    hour = local.hour + local.minute / 60
    close = {5: 18, 6: 0}.get(local.weekday(), 20)
    if not 9 <= hour < close:
        return 0.0
    shape = 1.0 + 0.8 * math.exp(-(((hour - 12.75) / 1.0) ** 2)) + 0.6 * math.exp(-(((hour - 17.5) / 1.2) ** 2))
    return 70.0 * shape * (1.3 if local.weekday() == 5 else 1.0)


def config_text(data: Path, length_s: int, scoring: bool) -> str:
    return (
        "site: s1\ndevice: d1\ntimezone: Europe/Berlin\n"
        f"intervals:\n  length: {length_s}s\n"
        f"store:\n  path: {data}\n"
        "mqtt:\n  enabled: false\n"
        f"anomaly:\n  enabled: {'true' if scoring else 'false'}\n  warmup_weeks: 1\n"
        f"sensors:\n  - id: {SENSOR}\n    type: simulated\n"
    )


def write_bytes() -> int:
    with open("/proc/self/io") as f:
        for line in f:
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    raise RuntimeError("/proc/self/io has no write_bytes")


def feed(agent: Agent, rng: random.Random, start: float, length_s: int) -> None:
    """One interval's counts, as a source would report them."""
    mean = hourly_rate(start) * length_s / 3600
    agent.source_up(SENSOR, start)
    ins, outs = poisson(rng, mean), poisson(rng, mean)
    if ins or outs:
        agent.add(SENSOR, ins, outs, start + 1.0)


def open_agent(directory: Path, length_s: int, mode: str, clock: Clock) -> Agent:
    agent = Agent(parse_config(config_text(directory, length_s, mode != "off"), "bench.yaml"), clock=clock)
    if mode == "whole state":
        scorer = agent.scoring.scorers[SENSOR]
        agent.scoring.scorers[SENSOR] = WholeStateAnomaly(
            SENSOR, scorer.settings, scorer.interval_s, scorer.tz, state=agent.store.load_anomaly(SENSOR)
        )
    return agent


def measure(directory: Path, length_s: int, mode: str, closes: int) -> list[int]:
    """Bytes written by each of `closes` closes after a week and a day of training."""
    clock = Clock(MONDAY)
    agent = Agent(parse_config(config_text(directory, length_s, mode != "off"), "bench.yaml"), clock=clock)
    rng = random.Random(length_s)
    t = MONDAY
    # Stop on a weekday morning, so the measured intervals carry counts and scores.
    trained = MONDAY + TRAIN_DAYS * 86400 + 10 * 3600
    while t < trained:
        block_end = min(t + TRAIN_BLOCK_S, trained)
        while t < block_end:
            feed(agent, rng, t, length_s)
            t += length_s
        clock.t = t
        agent.close_due(t)
    # Restart, as after a reboot: the training's large transactions are checkpointed out of the WAL, so the
    # measured closes (and the WAL checkpoints among them) are those of an agent running steadily.
    agent.checkpoint()
    agent.store.close()
    agent = open_agent(directory, length_s, mode, clock)
    written = []
    for _ in range(closes):
        feed(agent, rng, t, length_s)
        t += length_s
        clock.t = t
        before = write_bytes()
        if len(agent.close_due(t)) != 1:
            raise RuntimeError("expected exactly one closed interval per close")
        written.append(write_bytes() - before)
    agent.store.close()
    return written


def kb(n: float) -> str:
    return f"{n / 1024:.1f} KB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--closes", type=int, default=300, help="closes measured per interval length and mode")
    ap.add_argument("--lengths", default="900,60", help="interval lengths in seconds, comma-separated")
    args = ap.parse_args()
    print(f"{args.closes} closes per row, one sensor, trained {TRAIN_DAYS} days; bytes written per close")
    print(f"{'interval':>8}  {'mode':<11}  {'median':>9}  {'mean':>9}  {'per day':>9}")
    for length_s in (int(x) for x in args.lengths.split(",")):
        means = {}
        for mode in MODES:
            began = time.monotonic()
            with tempfile.TemporaryDirectory(prefix="footfall-bench-") as tmp:
                written = measure(Path(tmp), length_s, mode, args.closes)
            means[mode] = statistics.mean(written)
            per_day = means[mode] * 86400 / length_s
            print(
                f"{length_s:>7}s  {mode:<11}  {kb(statistics.median(written)):>9}  {kb(means[mode]):>9}"
                f"  {kb(per_day):>9}  ({time.monotonic() - began:.0f} s)"
            )
        print(
            f"{length_s:>7}s  mean ratios: incremental/off {means['incremental'] / means['off']:.2f},"
            f" whole state/incremental {means['whole state'] / means['incremental']:.1f}"
        )


if __name__ == "__main__":
    main()
