"""Line counting accuracy on real pedestrian trajectories seen through a simulated camera and detector.

The trajectories in ../shared/data/trajectories/ are heads tracked from above in published crowd
experiments (Forschungszentrum Juelich; see ../shared/README.md), with exact crossing counts. Each file is
turned into per-frame detections as an overhead people counter would see them, the detections are written to
a CSV and run through the real `replay --detections ... --line ... --anchor center --json` command with its
default tracker and line settings, and the counts are compared with the truth for each direction. One Python
process per grid cell runs the command's entry point for each recording (`footfall-agent replay` once the CLI
offers it, else `python -m agent.cli.replay`), so the imports are paid once per cell; `--per-file` starts one
process per recording instead. The full grid takes a few minutes on 2 cores; `--quick` runs only the clean
cell and the two goal cells.

Camera model (overhead, like a door counter): a pinhole camera 6 m above the floor looking straight down,
centred over the middle of the counting line, 1280x720 pixels covering 8 m x 4.5 m at head height (160 px/m).
Heads are projected with their measured height, so taller people appear slightly bigger and further out;
since the camera is above the line, the line projects to the same image line at every height and the side
of a person in the image is their side in the world. The box is the head-and-shoulders outline seen from
above: an ellipse 0.46 m (shoulders, per-person +-0.03 m) by 0.28 m (chest depth), turned to the walking
direction, boxed axis-aligned. The anchor is the box centre (the head), so the replay uses --anchor center.

Detector errors, per grid cell (miss, jitter, fp):
- missed detections: half independent per frame, half in bursts (mean 5 frames) per person;
- jitter: gaussian noise on each box edge, sigma = jitter x box width (x edges) or height (y edges);
- false positives, `fp` per frame on average: 70% random person-sized boxes anywhere, 30% persistent clutter
  at 3 fixed places (one of them right on the line) firing in bursts of about 10 frames;
- identity-confusing near misses, at a rate of miss/2: when two people's heads are closer than 0.3 m, their
  two boxes merge into one for 2-8 frames, or one box is pulled half-way towards the other for a frame
  (detections carry no identity, so "swapping" two boxes is only confusing in this form);
- scores: 0.82 +- 0.08 normally, 15% of true detections in 0.2..0.5 (partly hidden), merged boxes 0.4..0.7.

Truth: crossings of the line by each person with a 5 cm hysteresis in the world, which equals the README's
per-person net counts (one person in the bi-directional corridor jitters back and forth across the line
within 3 cm; raw sign changes count that as 2 in + 1 out, the README's first figures, also checked here).

Accuracy per direction = 1 - sum|counted - truth| / sum truth over all files, where "in" is each file's main
flow direction (+x in the bi-directional corridor) and "out" the other one; false outs in one-way flows count
as errors of "out". Goals: >= 99% per direction at 10% misses, 5% jitter, 0.1 FP/frame; >= 97% at twice those.

    python bench/counting_accuracy.py [--quick] [--jobs 2] [--seed 1] [--keep DIR] [--per-file]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
TRAJECTORIES = REPO / ".." / "shared" / "data" / "trajectories"
FPS = 25.0
WIDTH, HEIGHT = 1280, 720
CAMERA_HEIGHT_M = 6.0
REFERENCE_HEIGHT_M = 1.7
PX_PER_M = 160.0
SHOULDERS_M, SHOULDERS_SD_M, DEPTH_M = 0.46, 0.03, 0.28
TRUTH_BAND_M = 0.05
CLOSE_M = 0.3
LINE_HALF_LENGTH_PX = 360.0
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


@dataclass(frozen=True)
class Recording:
    """One trajectory file and its counting line (x = 0 or y = 0 in the world)."""

    name: str
    unit_m: float
    axis: int  # 0: line x = 0, 1: line y = 0
    in_sign: int  # +1: moving towards +axis is "in"
    readme_raw: tuple[int, int]  # README crossings (in, out) as sign changes
    readme_net: tuple[int, int]  # README per-person net counts (in, out)


RECORDINGS = [
    Recording("bi_corr_400_b_03.txt", 0.01, 0, +1, (232, 250), (231, 249)),
    Recording("040_c_56_h-.txt", 1.0, 1, -1, (75, 0), (75, 0)),
    Recording("traj_UNI_CORR_500_01.txt", 1.0, 0, -1, (148, 0), (148, 0)),
    Recording("uo-180-180-120.txt", 0.01, 1, -1, (170, 0), (170, 0)),
    Recording("uo-050-180-180.txt", 0.01, 1, -1, (61, 0), (61, 0)),
]


@dataclass(frozen=True)
class Errors:
    """Detector error rates of one grid cell."""

    miss: float
    jitter: float
    fp: float

    @property
    def near(self) -> float:
        return self.miss / 2


@dataclass
class Scene:
    """A recording projected into the image: per row (person, frame) the box and the world position."""

    rec: Recording
    pid: np.ndarray
    frame: np.ndarray
    pos: np.ndarray  # world metres (N,2)
    boxes: np.ndarray  # clean xyxy pixels (N,4)
    line: tuple[float, float, float, float]
    in_point: tuple[float, float]
    first_frame: int
    truth: tuple[int, int]
    raw: tuple[int, int]


def load(rec: Recording) -> np.ndarray:
    data = np.loadtxt(TRAJECTORIES / rec.name, comments="#")
    data[:, 2:5] *= rec.unit_m
    order = np.lexsort((data[:, 1], data[:, 0]))
    return data[order]


def crossings(pid: np.ndarray, coord: np.ndarray, band: float) -> tuple[int, int]:
    """(towards +, towards -) transitions between sides beyond +-band, per person."""
    plus = minus = 0
    for p in np.unique(pid):
        side = 0
        for c in coord[pid == p]:
            new = 1 if c > band else -1 if c < -band else 0
            if new and side and new != side:
                plus += new > 0
                minus += new < 0
            side = new or side
    return plus, minus


def heading(pid: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Walking direction per row from the displacement over +-5 frames (0.4 s) within each person."""
    angle = np.zeros(len(pid))
    for p in np.unique(pid):
        idx = np.flatnonzero(pid == p)
        xy = pos[idx]
        ahead = xy[np.minimum(np.arange(len(idx)) + 5, len(idx) - 1)]
        behind = xy[np.maximum(np.arange(len(idx)) - 5, 0)]
        d = ahead - behind
        angle[idx] = np.arctan2(d[:, 1], d[:, 0])
    return angle


def project(rec: Recording) -> Scene:
    data = load(rec)
    pid, frame, pos, z = data[:, 0].astype(int), data[:, 1].astype(int), data[:, 2:4], data[:, 4]
    axis, other = rec.axis, 1 - rec.axis
    centre = np.zeros(2)
    centre[other] = (pos[:, other].min() + pos[:, other].max()) / 2
    scale = PX_PER_M * (CAMERA_HEIGHT_M - REFERENCE_HEIGHT_M) / np.maximum(CAMERA_HEIGHT_M - z, 0.5)
    rel = (pos - centre) * scale[:, None]
    # image: the coordinate across the line runs along u (line x = 0) or v (line y = 0, world +y up)
    u = WIDTH / 2 + rel[:, 0]
    v = HEIGHT / 2 - rel[:, 1]
    rng = np.random.default_rng(1234)
    people = np.unique(pid)
    shoulders = dict(zip(people, rng.normal(SHOULDERS_M, SHOULDERS_SD_M, len(people)), strict=True))
    a = np.array([shoulders[p] for p in pid]) / 2 * scale
    b = DEPTH_M / 2 * scale
    phi = heading(pid, pos) + np.pi / 2
    hx = np.hypot(a * np.cos(phi), b * np.sin(phi))
    hy = np.hypot(a * np.sin(phi), b * np.cos(phi))
    boxes = np.stack([u - hx, v - hy, u + hx, v + hy], axis=1)
    if axis == 0:
        line = (WIDTH / 2, HEIGHT / 2 - LINE_HALF_LENGTH_PX, WIDTH / 2, HEIGHT / 2 + LINE_HALF_LENGTH_PX)
        in_point = (WIDTH / 2 + 100.0 * rec.in_sign, HEIGHT / 2)
    else:
        line = (WIDTH / 2 - 2 * LINE_HALF_LENGTH_PX, HEIGHT / 2, WIDTH / 2 + 2 * LINE_HALF_LENGTH_PX, HEIGHT / 2)
        in_point = (WIDTH / 2, HEIGHT / 2 - 100.0 * rec.in_sign)
    plus, minus = crossings(pid, pos[:, axis], TRUTH_BAND_M)
    raw_plus, raw_minus = crossings(pid, pos[:, axis], 0.0)
    truth = (plus, minus) if rec.in_sign > 0 else (minus, plus)
    raw = (raw_plus, raw_minus) if rec.in_sign > 0 else (raw_minus, raw_plus)
    return Scene(rec, pid, frame, pos, boxes, line, in_point, int(frame.min()), truth, raw)


def cell_seed(seed: int, err: Errors, scene_index: int) -> list[int]:
    """The same cell gets the same detections whether it runs in the full grid or in --quick."""
    return [seed, round(err.miss * 100), round(err.jitter * 100), round(err.fp * 100), scene_index]


def simulate(scene: Scene, err: Errors, seed: int | list[int]) -> np.ndarray:
    """Detections (frame, x1, y1, x2, y2, score) sorted by frame, frames counted from the recording's first."""
    rng = np.random.default_rng(seed)
    n = len(scene.pid)
    boxes = scene.boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    if err.jitter > 0:
        noise = rng.normal(0.0, err.jitter, (n, 4))
        boxes += noise * np.stack([w, h, w, h], axis=1)
    scores = np.clip(rng.normal(0.82, 0.08, n), 0.5, 0.99)
    hidden = rng.random(n) < 0.15
    scores[hidden] = rng.uniform(0.2, 0.5, hidden.sum())
    # misses: half independent, half in bursts (mean 5 frames) per person
    burst_share = err.miss / 2
    iid = (err.miss - burst_share) / (1 - burst_share) if err.miss else 0.0
    missed = rng.random(n) < iid
    if burst_share > 0:
        mean_len = 5.0
        start_p = burst_share / (mean_len * (1 - burst_share))
        starts = np.flatnonzero(rng.random(n) < start_p)
        lengths = rng.geometric(1 / mean_len, len(starts))
        for s, length in zip(starts, lengths, strict=True):
            end = s + length
            same = scene.pid[s:end] == scene.pid[s]
            missed[s:end][same] = True
    keep = ~missed
    # near misses: merges and pulls between people whose heads are closer than CLOSE_M
    extra_rows: list[list[float]] = []
    if err.near > 0:
        merge_until: dict[tuple[int, int], int] = {}
        order = np.argsort(scene.frame, kind="stable")
        frames = scene.frame[order]
        bounds = np.flatnonzero(np.diff(frames)) + 1
        for rows in np.split(order, bounds):
            if len(rows) < 2:
                continue
            f = int(scene.frame[rows[0]])
            p = scene.pos[rows]
            d = np.hypot(p[:, None, 0] - p[None, :, 0], p[:, None, 1] - p[None, :, 1])
            ii, jj = np.nonzero(np.triu(d < CLOSE_M, 1))
            busy: set[int] = set()
            for i, j in zip(ii.tolist(), jj.tolist(), strict=True):
                ri, rj = int(rows[i]), int(rows[j])
                key = (int(scene.pid[ri]), int(scene.pid[rj]))
                if ri in busy or rj in busy:
                    continue
                until = merge_until.get(key, -1)
                if until < f and rng.random() < err.near * 0.5:
                    until = f + int(rng.integers(2, 9))
                    merge_until[key] = until
                if until >= f:
                    busy.update((ri, rj))
                    if keep[ri] or keep[rj]:
                        union = [
                            min(boxes[ri, 0], boxes[rj, 0]),
                            min(boxes[ri, 1], boxes[rj, 1]),
                            max(boxes[ri, 2], boxes[rj, 2]),
                            max(boxes[ri, 3], boxes[rj, 3]),
                        ]
                        extra_rows.append([f, *union, rng.uniform(0.4, 0.7)])
                    keep[ri] = keep[rj] = False
                elif rng.random() < err.near * 0.5:
                    src, dst = (ri, rj) if rng.random() < 0.5 else (rj, ri)
                    shift = (boxes[dst] - boxes[src]) * 0.5
                    boxes[src, [0, 2]] += (shift[0] + shift[2]) / 2
                    boxes[src, [1, 3]] += (shift[1] + shift[3]) / 2
                    busy.update((ri, rj))
    frame0 = scene.first_frame
    last = int(scene.frame.max())
    n_frames = last - frame0 + 1
    # false positives
    if err.fp > 0:
        mean_w, mean_h = float(np.median(w)), float(np.median(h))
        random_fp = rng.poisson(err.fp * 0.7, n_frames)
        for k in np.flatnonzero(random_fp):
            for _ in range(int(random_fp[k])):
                bw, bh = mean_w * rng.uniform(0.6, 1.4), mean_h * rng.uniform(0.6, 1.4)
                x, y = rng.uniform(0, WIDTH - bw), rng.uniform(0, HEIGHT - bh)
                extra_rows.append([frame0 + k, x, y, x + bw, y + bh, rng.uniform(0.1, 0.75)])
        x1, y1, x2, y2 = scene.line
        spots = [
            ((x1 + x2) / 2 + (x2 - x1) * 0.3, (y1 + y2) / 2 + (y2 - y1) * 0.3),
            (WIDTH * 0.15, HEIGHT * 0.2),
            (WIDTH * 0.8, HEIGHT * 0.85),
        ]
        burst = 10
        for cx, cy in spots:
            starts = np.flatnonzero(rng.random(n_frames) < err.fp * 0.3 / len(spots) / burst)
            for s in starts:
                for k in range(s, min(s + burst, n_frames)):
                    j = rng.normal(0.0, max(err.jitter, 0.01), 4) * [mean_w, mean_h, mean_w, mean_h]
                    extra_rows.append(
                        [
                            frame0 + k,
                            cx - mean_w / 2 + j[0],
                            cy - mean_h / 2 + j[1],
                            cx + mean_w / 2 + j[2],
                            cy + mean_h / 2 + j[3],
                            rng.uniform(0.3, 0.8),
                        ]
                    )
    rows = np.column_stack([scene.frame[keep].astype(float), boxes[keep], scores[keep]])
    if extra_rows:
        rows = np.vstack([rows, np.array(extra_rows, dtype=float)])
    rows[:, 0] -= frame0
    # the camera sees only what is in the image: drop boxes centred outside, clip the rest
    cx = (rows[:, 1] + rows[:, 3]) / 2
    cy = (rows[:, 2] + rows[:, 4]) / 2
    rows = rows[(cx >= 0) & (cx < WIDTH) & (cy >= 0) & (cy < HEIGHT)]
    rows[:, [1, 3]] = np.clip(rows[:, [1, 3]], 0, WIDTH)
    rows[:, [2, 4]] = np.clip(rows[:, [2, 4]], 0, HEIGHT)
    rows[:, 3] = np.maximum(rows[:, 3], rows[:, 1])
    rows[:, 4] = np.maximum(rows[:, 4], rows[:, 2])
    return rows[np.argsort(rows[:, 0], kind="stable")]


def write_csv(rows: np.ndarray, path: Path) -> None:
    with path.open("w") as f:
        f.write("frame,x1,y1,x2,y2,score\n")
        for r in rows:
            f.write(f"{int(r[0])},{r[1]:.1f},{r[2]:.1f},{r[3]:.1f},{r[4]:.1f},{r[5]:.3f}\n")


DRIVER = """
import json, sys
entry, argvs = sys.argv[1], json.load(open(sys.argv[2]))
if entry == "cli":
    from agent.cli import main as cli_main
    run = lambda argv: cli_main(["replay", *argv])
else:
    from agent.replay import main as run
for argv in argvs:
    code = run(argv)
    if code:
        sys.exit(code)
"""


def replay_entry() -> str:
    """`footfall-agent replay` (agent.cli.main) once the CLI offers it, else the module's own entry point."""
    probe = subprocess.run(
        [sys.executable, "-m", "agent", "replay", "--help"], cwd=REPO, env=ENV, capture_output=True, text=True
    )
    return "cli" if probe.returncode == 0 and "--detections" in probe.stdout else "module"


def replay_args(csv_path: Path, scene: Scene, extra: list[str]) -> list[str]:
    x1, y1, x2, y2 = scene.line
    return [
        "--detections",
        str(csv_path),
        "--fps",
        str(FPS),
        f"--line={x1},{y1},{x2},{y2}",
        f"--in-side={scene.in_point[0]},{scene.in_point[1]}",
        "--anchor",
        "center",
        "--json",
        *extra,
    ]


def run_replays(entry: str, argvs: list[list[str]], per_file: bool, workdir: Path, tag: str) -> list[tuple[int, int]]:
    """Counts (in, out) of line 'line' for each argv, from the replay command's JSON output."""
    if per_file:
        module = ["agent", "replay"] if entry == "cli" else ["agent.cli.replay"]
        base = [sys.executable, "-m", *module]
        outputs = []
        for argv in argvs:
            proc = subprocess.run([*base, *argv], cwd=REPO, env=ENV, capture_output=True, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"replay failed ({proc.returncode}): {proc.stderr.strip()}")
            outputs.append(proc.stdout.strip())
    else:
        args_file = workdir / f"{tag}.json"
        args_file.write_text(json.dumps(argvs))
        proc = subprocess.run(
            [sys.executable, "-c", DRIVER, entry, str(args_file)], cwd=REPO, env=ENV, capture_output=True, text=True
        )
        args_file.unlink()
        if proc.returncode != 0:
            raise RuntimeError(f"replay failed ({proc.returncode}): {proc.stderr.strip()}")
        outputs = proc.stdout.strip().splitlines()
    counts = [json.loads(line)["lines"]["line"] for line in outputs]
    return [(int(c["in"]), int(c["out"])) for c in counts]


def accuracy(errors: int, truth: int) -> float:
    return 1.0 - errors / truth if truth else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="only the clean cell and the two goal cells")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="replays run in parallel")
    ap.add_argument("--seed", type=int, default=1, help="seed of the detector error simulation")
    ap.add_argument("--keep", type=Path, help="keep the generated CSV files in this directory")
    ap.add_argument(
        "--per-file",
        action="store_true",
        help="start a new replay process for every recording (slower: pays the imports each time)",
    )
    ap.add_argument("--replay-args", default="", help="extra options passed to replay (e.g. '--min-distance 8')")
    args = ap.parse_args()

    started = time.monotonic()
    scenes = [project(rec) for rec in RECORDINGS]
    print("Truth (line crossings, 5 cm hysteresis) vs ../shared/README.md:")
    ok = True
    for s in scenes:
        match = s.truth == s.rec.readme_net and s.raw == s.rec.readme_raw
        ok &= match
        print(
            f"  {s.rec.name:26s} in {s.truth[0]:4d} out {s.truth[1]:4d}   raw sign changes {s.raw}   "
            f"{'matches README' if match else 'DIFFERS from README'}"
        )
    if not ok:
        print("truth does not match the README; stopping")
        return 1

    if args.quick:
        cells = [Errors(0, 0, 0), Errors(0.1, 0.05, 0.1), Errors(0.2, 0.1, 0.2)]
    else:
        cells = [Errors(m, j, f) for m, j, f in itertools.product([0, 0.1, 0.2, 0.3], [0, 0.05, 0.1], [0, 0.1, 0.2])]
    entry = replay_entry()
    extra = args.replay_args.split()
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="counting-accuracy-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def job(cell_index: int) -> list[tuple[int, int]]:
        cell = cells[cell_index]
        paths, argvs = [], []
        for scene_index, scene in enumerate(scenes):
            rows = simulate(scene, cell, cell_seed(args.seed, cell, scene_index))
            path = workdir / f"c{cell_index:02d}_{scene.rec.name.removesuffix('.txt')}.csv"
            write_csv(rows, path)
            paths.append(path)
            argvs.append(replay_args(path, scene, extra))
        counted = run_replays(entry, argvs, args.per_file, workdir, f"c{cell_index:02d}")
        if args.keep is None:
            for path in paths:
                path.unlink()
        return counted

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        per_cell = list(pool.map(job, range(len(cells))))
    results = {(c, s): per_cell[c][s] for c in range(len(cells)) for s in range(len(scenes))}
    if args.keep is None:
        workdir.rmdir()

    truth_in = sum(s.truth[0] for s in scenes)
    truth_out = sum(s.truth[1] for s in scenes)
    how = "footfall-agent replay" if entry == "cli" else "python -m agent.cli.replay"
    how += " (one process per recording)" if args.per_file else " (one process per grid cell)"
    print(
        f"\nReplay via: {how}   seed {args.seed}   truth: {truth_in} in, {truth_out} out over {len(scenes)} recordings"
    )
    header = f"{'miss':>5} {'jitter':>6} {'FP/fr':>5} {'near':>5} | {'in acc':>7} {'out acc':>7} | "
    header += " ".join(f"{s.rec.name[:10]:>11}" for s in scenes)
    print(header)
    print("-" * len(header))
    summary: dict[Errors, tuple[float, float]] = {}
    for c, cell in enumerate(cells):
        err_in = sum(abs(results[(c, i)][0] - s.truth[0]) for i, s in enumerate(scenes))
        err_out = sum(abs(results[(c, i)][1] - s.truth[1]) for i, s in enumerate(scenes))
        acc_in, acc_out = accuracy(err_in, truth_in), accuracy(err_out, truth_out)
        summary[cell] = (acc_in, acc_out)
        per_file = " ".join(
            f"{results[(c, i)][0] - s.truth[0]:+4d}/{results[(c, i)][1] - s.truth[1]:+4d}" for i, s in enumerate(scenes)
        )
        print(
            f"{cell.miss:5.0%} {cell.jitter:6.0%} {cell.fp:5.2f} {cell.near:5.0%} | "
            f"{acc_in:7.2%} {acc_out:7.2%} | {per_file}"
        )
    print("(per recording: counted minus truth, in/out)")

    goals = [(Errors(0.1, 0.05, 0.1), 0.99), (Errors(0.2, 0.1, 0.2), 0.97)]
    print("\nVerdict:")
    passed = True
    for cell, goal in goals:
        acc_in, acc_out = summary[cell]
        good = acc_in >= goal and acc_out >= goal
        passed &= good
        print(
            f"  {cell.miss:.0%} missed, {cell.jitter:.0%} jitter, {cell.fp:g} FP/frame: in {acc_in:.2%}, "
            f"out {acc_out:.2%} (goal >= {goal:.0%} each): {'PASS' if good else 'FAIL'}"
        )
    print(f"  overall: {'PASS' if passed else 'FAIL'}   ({time.monotonic() - started:.0f} s)")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
