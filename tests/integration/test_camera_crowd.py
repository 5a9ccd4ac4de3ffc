"""Real people on real tracks through the real camera path: video file -> SSDLite int8 -> tracker -> line.

The detector is pinned to SSDLite: the tolerances below were measured with it on this clip. With NanoDet (the
camera default) the clip counts 7 of 9 ins: the two missed are people who pass behind someone walking the
other way at the line. NanoDet goes on reporting the visible part of the hidden person (box shrinking to the
occluder's edge, scores 0.3-0.75), the tracker's constant-velocity box follows the shrinking box, stalls and
collapses while the person is hidden, and the person coming out on the other side starts a new track that
the line's hand-over does not link; SSDLite drops the person at once, so the predicted box walks on.

A clip of people from the bi-directional corridor experiment (tests/crowd_clip.py: photographed people
composited along the measured trajectories) goes through `footfall-agent replay --video --json` as a real
process, and the crossings it counts must be the ones drawn: each in its direction and at its time.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from tests.crowd_clip import Camera, CrowdClip, camera_sensor_yaml, pick, write_crowd
from tests.trajectories import RECORDINGS, load, needs

REPO = Path(__file__).resolve().parents[2]
CORRIDOR = RECORDINGS["bi_corr_400_b_03.txt"]
# every 12th person of those whose whole walk lies in the first minute of the experiment: one or two people in view at a
# time, both flows, passing each other (sometimes in front of each other) and walking in small groups
EVERY, WINDOW = 12, (100, 1600)
# A counted crossing matches a drawn one of the same direction if its 1 s interval overlaps the drawn time
# from EARLY_S before to LATE_S after: the counter counts once the feet are past its hysteresis band (0.15 box
# heights, about 0.25 m or 0.2 s of walking) and the track is confirmed (3 frames, 0.24 s). Moving the line
# by 160 px (about a metre, so each crossing is counted 0.7 s earlier or later) already fails this.
EARLY_S, LATE_S = 0.5, 1.0


def replay(tmp_path: Path, clip: CrowdClip) -> list[dict]:
    config = tmp_path / "agent.yaml"
    config.write_text(
        f"site: t\nintervals: {{length: 1s}}\nmqtt: {{enabled: false}}\nstore: {{path: {tmp_path}}}\nsensors:\n"
        + camera_sensor_yaml(clip, CORRIDOR, detector="ssdlite")
    )
    proc = subprocess.run(
        [sys.executable, "-m", "agent", "replay", "--config", str(config), "--video", str(clip.path), "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["intervals"]


def matched(drawn: list[float], counted: list[float]) -> int:
    """Drawn crossings (times) that have a counted one (interval starts), each counted one used once."""
    free = sorted(counted)
    hits = 0
    for t in sorted(drawn):
        match = next((c for c in free if t - EARLY_S <= c + 1.0 and c <= t + LATE_S), None)
        if match is not None:
            free.remove(match)
            hits += 1
    return hits


@needs(CORRIDOR)
def test_people_walking_both_ways_through_a_corridor_are_counted_per_direction_and_time(tmp_path: Path) -> None:
    people = load(CORRIDOR)
    walkers = pick(people, EVERY, window=WINDOW)
    clip = write_crowd(tmp_path / "corridor.avi", CORRIDOR, walkers, Camera.beside(CORRIDOR, people), window=WINDOW)
    assert clip.truth_in >= 8 and clip.truth_out >= 8, "both flows are in the clip"
    rows = replay(tmp_path, clip)
    assert len(rows) == math.ceil(clip.frames / clip.fps)  # one row per second of clip
    for direction, key in (("in", "ins"), ("out", "outs")):
        drawn = [t for t, d in clip.crossings if d == direction]
        counted = [r["start"] for r in rows for _ in range(r[key])]
        hits = matched(drawn, counted)
        report = f"{direction}: drawn at {drawn}, counted in the intervals starting at {counted}"
        # Measured on this clip, int8 and fp32 both count all 9 crossings each way, each in the interval of
        # its drawn time, and flipping in_direction leaves 1-2 of 9 matched. One miss and one extra per direction
        # (>= 89%) are allowed because onnxruntime's int8 kernels differ between CPUs (AVX2, AVX-512 VNNI)
        # and move scores near the tracker's thresholds; bench/video_accuracy.py has the denser crowds.
        assert hits >= len(drawn) - 1, report
        assert len(counted) - hits <= 1, report
