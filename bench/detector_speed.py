"""Person detector speed: int8 and fp32 SSDLite against OpenCV's HOG people detector, one thread each.

Every detector gets the same camera-size frame (640x480 BGR, made from scikit-image's astronaut photo)
through its `detect()`, so each figure is what the agent pays per frame, pre- and post-processing
included. The network resizes the frame to 300x300 itself; HOG searches the frame it is given, so it is
timed twice: on the 640x480 frame (same input as the network, the comparison that matters) and on the
frame shrunk to 300x300 (the pixels the network sees; HOG then misses anyone under 128 of 300 px tall).
The network alone (`session.run`, no pre/post-processing) is timed too: the int8/fp32 ratio of the model
files themselves is what the speed goal of quantization is about (int8 >= 1.8x fp32); the ratio of whole
`detect()` calls is printed next to it, diluted by the pre- and post-processing both pay alike. Calls
are interleaved round by round so that load from other processes hits all of them alike; medians are
printed, of wall time and of the calling thread's CPU time (onnxruntime and OpenCV run on it with one
thread), which time-slicing by other processes on a busy machine inflates far less than wall time.

    python bench/detector_speed.py [--rounds 60]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import onnxruntime  # noqa: E402
from skimage import data as photos  # noqa: E402

from agent.config.detector import HogDetectorConfig, SsdliteDetectorConfig  # noqa: E402
from agent.vision.detectors.build import build_detector  # noqa: E402
from agent.vision.detectors.ssdlite import SsdliteDetector, preprocess  # noqa: E402

FRAME_SIZE = (640, 480)
WARMUP = 5


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def network_only(detector: SsdliteDetector, frame: np.ndarray) -> Callable[[], object]:
    x = preprocess(frame)
    names = [o.name for o in detector.session.get_outputs()]
    feed = {detector.session.get_inputs()[0].name: x}
    return lambda: detector.session.run(names, feed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=60, help="timed calls per detector")
    args = parser.parse_args()

    cv2.setNumThreads(1)
    frame = cv2.resize(cv2.cvtColor(photos.astronaut(), cv2.COLOR_RGB2BGR), FRAME_SIZE, interpolation=cv2.INTER_AREA)
    small = cv2.resize(frame, (300, 300), interpolation=cv2.INTER_AREA)
    int8 = build_detector(SsdliteDetectorConfig(type="ssdlite", model="int8", threads=1))
    fp32 = build_detector(SsdliteDetectorConfig(type="ssdlite", model="fp32", threads=1))
    assert isinstance(int8, SsdliteDetector) and isinstance(fp32, SsdliteDetector)

    cases: dict[str, Callable[[], object]] = {
        "int8 detect (640x480)": lambda: int8.detect(frame),
        "fp32 detect (640x480)": lambda: fp32.detect(frame),
        "int8 network only": network_only(int8, frame),
        "fp32 network only": network_only(fp32, frame),
    }
    hog_missing = ""
    try:
        hog = build_detector(HogDetectorConfig(type="hog"))
        cases["HOG detect (640x480)"] = lambda: hog.detect(frame)
        cases["HOG detect (300x300)"] = lambda: hog.detect(small)
    except RuntimeError as exc:
        hog_missing = str(exc)

    for call in cases.values():
        for _ in range(WARMUP):
            call()
    times: dict[str, list[float]] = {name: [] for name in cases}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(args.rounds):
        for name, call in cases.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            call()
            cpu[name].append((time.thread_time() - c0) * 1000)
            times[name].append((time.perf_counter() - t0) * 1000)

    print(f"CPU: {cpu_name()}; onnxruntime {onnxruntime.__version__}, OpenCV {cv2.__version__}, numpy {np.__version__}")
    print(f"1 thread each, {args.rounds} interleaved rounds, frame {FRAME_SIZE[0]}x{FRAME_SIZE[1]}")
    print(f"found in the frame: int8 {len(int8.detect(frame))}, fp32 {len(fp32.detect(frame))} people")
    print()
    print(f"{'':24s} {'median ms':>10s} {'p90 ms':>8s} {'CPU ms':>8s}")
    med = {name: statistics.median(t) for name, t in times.items()}
    med_cpu = {name: statistics.median(t) for name, t in cpu.items()}
    for name, t in times.items():
        print(f"{name:24s} {med[name]:10.2f} {np.percentile(t, 90):8.2f} {med_cpu[name]:8.2f}")
    print()
    net = med["fp32 network only"] / med["int8 network only"]
    verdict = "met" if net >= 1.8 else "NOT met"
    cpu_net = med_cpu["fp32 network only"] / med_cpu["int8 network only"]
    print(f"int8 vs fp32 ONNX model:      {net:.2f}x faster (goal >= 1.8x: {verdict}); CPU time {cpu_net:.2f}x")
    speedup = med["fp32 detect (640x480)"] / med["int8 detect (640x480)"]
    cpu_speedup = med_cpu["fp32 detect (640x480)"] / med_cpu["int8 detect (640x480)"]
    shared = med["int8 detect (640x480)"] - med["int8 network only"]
    print(
        f"int8 vs fp32, whole detect(): {speedup:.2f}x faster; CPU time {cpu_speedup:.2f}x "
        f"(both also pay {shared:.2f} ms of resizing, scaling, decoding and NMS per frame)"
    )
    if hog_missing:
        print(f"HOG not measured: {hog_missing}")
        return
    for size in ("640x480", "300x300"):
        ratio = med[f"HOG detect ({size})"] / med["int8 detect (640x480)"]
        goal = f" (goal >= 10x: {'met' if ratio >= 10 else 'NOT met'})" if size == "640x480" else ""
        print(f"int8 vs HOG on {size}:     {ratio:.1f}x faster{goal}")


if __name__ == "__main__":
    main()
