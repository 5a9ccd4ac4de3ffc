"""Line counting accuracy of the real camera path on composited video of real pedestrian trajectories.

Each trajectory file in ../shared/data/trajectories/ is split into interleaved groups of people (every k-th
person by id, k per file, so that about one or two people are in view at a time); each group becomes a clip
written by tests/crowd_clip.py (photographed people walking the real tracks, seen by a camera beside the
walkway, 12.5 fps, 640x480 MJPG), and every clip goes through the real command,
`footfall-agent replay --config CFG --video CLIP --json` (decode, person detector, tracker, line counter,
the camera config defaults, or the detector type `--detector` names), once with the int8 model and once with
fp32. The counted ins and outs are compared with the crossings drawn into the clip (per person, sign changes
of the coordinate across the line beyond 5 cm; over all groups of a file these equal the per-person net counts
of ../shared/README.md, checked here).

Accuracy per direction = 1 - sum|counted - truth| / sum truth over the clips, "in" being each file's main
flow direction (+x in the bi-directional corridor) and "out" the other; false outs in one-way flows count
as errors of "out". The median of the per-clip accuracies is printed too.

By default 3 groups per file are run (a few minutes on 2 cores); `--groups 0` runs every group (every person
of every file, about half an hour). `--every K` overrides the group spacing (smaller: denser crowds).
`--looks` prints how often the detector finds each look of the two photographs when a person is alone
in the frame.

    python bench/video_accuracy.py [--groups 3] [--every K] [--models int8,fp32] [--jobs 2] [--looks]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.crowd_clip import Camera, CrowdClip, camera_sensor_yaml, pick, write_crowd  # noqa: E402
from tests.trajectories import RECORDINGS, Recording, in_out, load, path  # noqa: E402

ENV = {**os.environ, "PYTHONPATH": str(REPO)}
# group spacing per file: about one or two people in view at a time
EVERY = {
    "bi_corr_400_b_03.txt": 12,
    "040_c_56_h-.txt": 8,
    "traj_UNI_CORR_500_01.txt": 6,
    "uo-180-180-120.txt": 8,
    "uo-050-180-180.txt": 4,
}
README_NET = {  # per-person net counts (in, out) of ../shared/README.md
    "bi_corr_400_b_03.txt": (231, 249),
    "040_c_56_h-.txt": (75, 0),
    "traj_UNI_CORR_500_01.txt": (148, 0),
    "uo-180-180-120.txt": (170, 0),
    "uo-050-180-180.txt": (61, 0),
}


@dataclass(frozen=True)
class Job:
    rec: Recording
    every: int
    offset: int


def replay(
    clip: CrowdClip, rec: Recording, model: str, workdir: Path, detector: str | None = None
) -> tuple[int, int, float]:
    """(ins, outs, seconds) of `footfall-agent replay --video` over the clip with the given model (and detector
    type; None: the camera default)."""
    config = workdir / f"{clip.path.stem}-{detector or 'default'}-{model}.yaml"
    config.write_text(
        f"site: bench\nintervals: {{length: 1h}}\nmqtt: {{enabled: false}}\nstore: {{path: {workdir}}}\nsensors:\n"
        + camera_sensor_yaml(clip, rec, model, detector)
    )
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "replay", "--config", str(config), "--video", str(clip.path), "--json"],
        cwd=REPO,
        env=ENV,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"replay failed ({proc.returncode}): {proc.stderr.strip()}")
    counts = json.loads(proc.stdout)
    return counts["ins"], counts["outs"], time.monotonic() - started


def accuracy(errors: int, truth: int) -> float:
    return 1.0 - errors / truth if truth else float("nan")


def percent(value: float) -> str:
    """An accuracy as a percentage; "n/a" where no clip has a true crossing that way (the counts say the rest)."""
    return "n/a" if math.isnan(value) else f"{value:.1%}"


def looks_table(model: str, detector_type: str | None) -> None:
    """Share of frames in which a lone person of each look is found (score >= 0.5, IoU >= 0.4), by the
    detector the replays used (None: the camera default)."""
    import cv2
    from pydantic import TypeAdapter

    from agent.config.camera import DEFAULT_DETECTOR
    from agent.config.detector import DetectorConfig
    from agent.vision.detectors.build import build_detector
    from tests.crowd_clip import floor, paste, photographs

    kind = detector_type or DEFAULT_DETECTOR
    cfg = TypeAdapter(DetectorConfig).validate_python({"type": kind, "score_threshold": 0.1, "model": model})
    detector = build_detector(cfg)
    astronaut, cameraman = photographs()

    def hue(img: np.ndarray, shift: int) -> np.ndarray:
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int16)
        hsv[:, :, 0] = (hsv[:, :, 0] + shift) % 180
        return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR)

    def tint(img: np.ndarray, bgr: tuple[float, float, float]) -> np.ndarray:
        return np.clip(img * np.array(bgr), 0, 255).astype(np.uint8)

    looks = {f"astronaut, hue {s:+d}": hue(astronaut, s) for s in (-30, -15, -5, 0, 10, 25)}
    looks |= {
        "cameraman, gray": cameraman,
        "cameraman, warm tint": tint(cameraman, (0.9, 0.95, 1.05)),
        "cameraman, cool tint": tint(cameraman, (1.05, 0.95, 0.9)),
    }
    background = floor()
    print(f"\nLone person found ({kind} {model}; score >= 0.5 and IoU >= 0.4; 2 mirrorings x 2 sizes x 16 places):")
    for name, look in looks.items():
        found = total = 0
        for img in (look, np.ascontiguousarray(look[:, ::-1])):
            for h in (200, 240):
                w = h * img.shape[1] / img.shape[0]
                for x in np.linspace(140, 500, 4):
                    for y in np.linspace(h + 10, 470, 4):
                        frame = background.copy()
                        paste(frame, img, np.array([x, y]), h)
                        det = detector.detect(frame)
                        truth = np.array([x - w / 2, y - h, x + w / 2, y])
                        total += 1
                        hits = zip(det.boxes, det.scores, strict=True)
                        found += any(s >= 0.5 and iou(b, truth) >= 0.4 for b, s in hits)
        print(f"  {name:24s} {found / total:5.0%}")


def iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return float(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--groups", type=int, default=3, help="groups run per file, spread over its people (0: all)")
    ap.add_argument("--every", type=int, help="group spacing for every file (default: per file, see EVERY)")
    ap.add_argument("--models", default="int8,fp32", help="comma-separated: int8, fp32")
    ap.add_argument("--detector", help="detector type (nanodet, ssdlite; default: the camera default)")
    ap.add_argument("--recordings", default=",".join(RECORDINGS), help="comma-separated trajectory files")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="replays run in parallel")
    ap.add_argument("--keep", type=Path, help="keep the clips in this directory")
    ap.add_argument("--looks", action="store_true", help="also print the lone-person detection rate of each look")
    args = ap.parse_args()
    models = args.models.split(",")
    started = time.monotonic()

    recs = [RECORDINGS[name] for name in args.recordings.split(",")]
    absent = [rec.name for rec in recs if not path(rec).is_file()]
    if absent:
        # only one recording is vendored in tests/data/; the others live in ../shared, which a fresh clone lacks
        print(f"SKIP {', '.join(absent)}: not in tests/data/ and ../shared/data/trajectories/ is absent")
        recs = [rec for rec in recs if rec.name not in absent]
        if not recs:
            return 0
    people = {rec.name: load(rec) for rec in recs}
    cameras = {rec.name: Camera.beside(rec, people[rec.name]) for rec in recs}
    jobs = []
    for rec in recs:
        every = args.every or EVERY[rec.name]
        n = every if args.groups <= 0 else min(args.groups, every)
        jobs += [Job(rec, every, round(i * every / n)) for i in range(n)]
    workdir = args.keep or Path(tempfile.mkdtemp(prefix="video-accuracy-"))
    workdir.mkdir(parents=True, exist_ok=True)

    def run(job: Job) -> tuple[Job, CrowdClip, dict[str, tuple[int, int, float]]]:
        path = workdir / f"{job.rec.name.removesuffix('.txt')}-{job.every}-{job.offset}.avi"
        clip = write_crowd(path, job.rec, pick(people[job.rec.name], job.every, job.offset), cameras[job.rec.name])
        counted = {m: replay(clip, job.rec, m, workdir, args.detector) for m in models}
        if args.keep is None:
            path.unlink()
        return job, clip, counted

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(run, jobs))

    print("Truth check: all groups of a file together equal ../shared/README.md's per-person net counts")
    for rec in recs:
        net = in_out(rec, people[rec.name])
        print(f"  {rec.name:26s} in {net[0]:4d} out {net[1]:4d}  {'ok' if net == README_NET[rec.name] else 'DIFFERS'}")

    print(
        f"\n{'clip':34s} {'people':>6} {'frames':>6} {'truth':>9} | "
        + " | ".join(f"{m + ' counted':>14} {'ms/frame':>8}" for m in models)
    )
    for _, clip, counted in results:
        cells = " | ".join(
            f"{counted[m][0]:6d}/{counted[m][1]:<7d} {1000 * counted[m][2] / clip.frames:8.1f}" for m in models
        )
        truth = f"{clip.truth_in:4d}/{clip.truth_out:<4d}"
        print(f"{clip.path.stem:34s} {clip.people:6d} {clip.frames:6d} {truth} | {cells}")

    truth_in = sum(c.truth_in for _, c, _ in results)
    truth_out = sum(c.truth_out for _, c, _ in results)
    frames = sum(c.frames for _, c, _ in results)
    print(f"\n{len(results)} clips, {frames} frames, truth {truth_in} in, {truth_out} out")
    for m in models:
        err_in = sum(abs(n[m][0] - c.truth_in) for _, c, n in results)
        err_out = sum(abs(n[m][1] - c.truth_out) for _, c, n in results)
        per_in = [accuracy(abs(n[m][0] - c.truth_in), c.truth_in) for _, c, n in results if c.truth_in]
        per_out = [accuracy(abs(n[m][1] - c.truth_out), c.truth_out) for _, c, n in results if c.truth_out]
        counted_in = sum(n[m][0] for _, _, n in results)
        counted_out = sum(n[m][1] for _, _, n in results)
        print(
            f"  {m:5s} counted {counted_in} in, {counted_out} out; accuracy in {percent(accuracy(err_in, truth_in))}, "
            f"out {percent(accuracy(err_out, truth_out))}; median per clip in "
            f"{percent(statistics.median(per_in) if per_in else float('nan'))}, out "
            f"{percent(statistics.median(per_out) if per_out else float('nan'))}; median "
            f"{statistics.median(1000 * n[m][2] / c.frames for _, c, n in results):.1f} ms/frame (replay, whole)"
        )
        for rec in recs:
            mine = [(c, n) for j, c, n in results if j.rec == rec]
            t_in, t_out = sum(c.truth_in for c, _ in mine), sum(c.truth_out for c, _ in mine)
            c_in, c_out = sum(n[m][0] for _, n in mine), sum(n[m][1] for _, n in mine)
            print(f"        {rec.name:26s} truth {t_in:4d}/{t_out:<4d} counted {c_in:4d}/{c_out:<4d}")
    if args.looks:
        for m in models:
            looks_table(m, args.detector)
    if args.keep is None:
        for leftover in workdir.iterdir():
            leftover.unlink()
        workdir.rmdir()
    print(f"({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
