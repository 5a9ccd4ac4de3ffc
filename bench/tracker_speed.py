"""Tracker + line counter speed: frames of detections per second through `CountingPipeline.process`.

Goal: >= 3,000 frames/s (issue 14), so that tracking and counting cost a camera agent nothing next to the
detector. The scene is dense on purpose: the real bi-directional corridor of ../shared/data/trajectories/
(480 people, up to ~40 in view at once) seen from above, with the hard level of detector failures
(tests/vision/detector_noise.py), so the tracker also pays for false positives, merges and lost tracks.
Detections are made once; each repeat runs a fresh pipeline over all frames. The median of the repeats is
printed, and the figure for one core is had by running it under `taskset -c 0`.

    python bench/tracker_speed.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import counting_scenes  # noqa: E402
import greedy_baseline  # noqa: E402

from agent.config.counting import CountingConfig, LineConfig  # noqa: E402
from agent.vision.pipeline import CountingPipeline  # noqa: E402
from tests.trajectories import RECORDINGS, TRAJECTORIES, load  # noqa: E402
from tests.vision.detector_noise import HARD, simulate  # noqa: E402

GOAL_FPS = 3000.0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    if not TRAJECTORIES.is_dir():
        print(f"SKIP: {TRAJECTORIES} is absent (a fresh clone has no ../shared)")
        return 0
    rec = RECORDINGS["bi_corr_400_b_03.txt"]
    walk = counting_scenes.Walk("bi_corr", "juelich", 25.0, load(rec), (0.0, -3.0), (0.0, 3.0), (1.0, 0.0))
    scene = counting_scenes.overhead(walk)
    rows = simulate(scene.pid, scene.frame, scene.boxes, scene.size, HARD, 1)
    frames = list(greedy_baseline.frames_of(rows))
    line = LineConfig(name="line", points=list(scene.line), in_point=scene.in_point, anchor=scene.anchor)
    config = CountingConfig(lines=[line])
    rates = []
    for _ in range(args.repeats):
        pipeline = CountingPipeline(config)
        started = time.perf_counter()
        for f, boxes, scores in frames:
            pipeline.process(f, boxes, scores, f / scene.fps)
        rates.append(len(frames) / (time.perf_counter() - started))
    per_frame = len(rows) / len(frames)
    median = statistics.median(rates)
    print(
        f"{len(frames)} frames, {per_frame:.1f} detections per frame: median {median:,.0f} frames/s over "
        f"{args.repeats} repeats (min {min(rates):,.0f}, max {max(rates):,.0f}); goal >= {GOAL_FPS:,.0f}: "
        f"{'PASS' if median >= GOAL_FPS else 'FAIL'}"
    )
    return 0 if median >= GOAL_FPS else 1


if __name__ == "__main__":
    raise SystemExit(main())
