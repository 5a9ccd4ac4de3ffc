"""Camera sensor cost on this machine: pipeline efficiency (goal >= 0.9) and agent memory (goal <= 130 MB).

A real MJPG clip of a photographed person walking across the frame (the clip generator of the camera
tests) is written to a temporary directory. Then, with one inference thread (the camera's default detector,
int8, or the detector type `--detector` names):

- model only: `detector.detect(frame)` over the clip's frames, already decoded and in memory;
- pipeline: the path live cameras and `replay --video` take, OpenCV decoding the file (on a reader
  thread, as the live camera does) plus `CameraCounter.step` (detector, tracker, lines) per frame, run
  through `replay_video` as fast as the CPU allows, with the sensor's fps equal to the clip's so every
  frame is analysed as in the model-only pass.

What the parts cost is timed too, serially in passes of their own: decoding the clip, and the tracker
and counters (`CountingPipeline.process`) over the detections of the model-only pass.

Passes are interleaved so that load from other processes hits both alike; the median pass fps of each
is printed, and their ratio is the pipeline efficiency (what decoding, tracking and counting leave of the
model's speed). The CPU time of the analysing thread is printed too: on a machine whose cores are all
busy with other work the reader thread has no core of its own and takes its time from the analysis, so
the wall-clock figure then mixes in the load; the CPU-time ratio is what the analysis itself costs.

Then `footfall-agent run` is started as a real process with one camera sensor looping the clip at 10 fps
(1-minute intervals, store in the temporary directory, MQTT off); VmRSS is sampled from /proc every
second for `--seconds` and its median and peak are printed, with the CPU time it took per analysed frame. The
agent is stopped with SIGTERM. It runs three times: as shipped (one malloc arena and a fixed mmap threshold,
agent.runtime.allocator), with glibc's default of eight arenas per core, and with an mmap threshold of 32 MiB
(every per-frame block from the heap, where glibc's self-adjusting threshold ends up), for the ratios.

`--cpus 0` pins the benchmark and the agent to one core (all their threads), closer to a busy Pi: decoding
then takes its time from the analysis instead of running beside it.

    python bench/camera_pipeline.py [--passes 7] [--seconds 60] [--cpus 0] [--detector ssdlite]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


from agent.config.camera import CameraSensorConfig  # noqa: E402
from agent.config.detector import DetectorConfig  # noqa: E402
from agent.vision.camera_counter import CameraCounter  # noqa: E402
from agent.vision.detectors.base import Detections, Detector  # noqa: E402
from agent.vision.detectors.build import build_detector  # noqa: E402
from agent.vision.pipeline import CountingPipeline  # noqa: E402
from agent.vision.replay import replay_video  # noqa: E402
from tests.clips import LINE, read_frames, write_walk  # noqa: E402

CLIP_FPS = 20
AGENT_FPS = 10
WARMUP = 5
EFFICIENCY_GOAL = 0.9
RSS_GOAL_MB = 130.0
LINES = [{"name": "door", "points": [[320, 0], [320, 400]], "in_direction": "right"}]


def detector_config(kind: str | None) -> DetectorConfig:
    """The camera's detector of the given type (None: the default type), int8 on one thread, with the camera's
    score threshold and other defaults."""
    detector = {"model": "int8", "threads": 1} | ({"type": kind} if kind else {})
    return CameraSensorConfig(id="cam", source="clip.avi", detector=detector, counting={"lines": LINES}).detector


def model_pass(detector: Detector, frames: list[np.ndarray]) -> tuple[float, float]:
    """Frames per second of the detector alone over frames already in memory, and CPU ms per frame."""
    started, cpu = time.perf_counter(), time.thread_time()
    for frame in frames:
        detector.detect(frame)
    return len(frames) / (time.perf_counter() - started), (time.thread_time() - cpu) * 1000 / len(frames)


def decode_pass(clip: Path) -> float:
    """Milliseconds per frame of decoding the clip serially."""
    started = time.perf_counter()
    count = len(read_frames(clip))
    return (time.perf_counter() - started) * 1000 / count


def counting_pass(sensor: CameraSensorConfig, detections: list[Detections], size: tuple[int, int]) -> float:
    """Milliseconds per frame of the tracker and counters over detections already made."""
    pipeline = CountingPipeline(sensor.counting, size)
    started = time.perf_counter()
    for i, found in enumerate(detections):
        pipeline.process(i, found.boxes, found.scores, i / CLIP_FPS)
    return (time.perf_counter() - started) * 1000 / len(detections)


def pipeline_pass(
    sensor: CameraSensorConfig, detector: Detector, clip: Path, frame_count: int
) -> tuple[float, float, int]:
    """Frames per second of decode + `CameraCounter.step` over the file, CPU ms per frame of the analysing
    thread, and the people counted in."""
    counter = CameraCounter(sensor, detector)
    started, cpu = time.perf_counter(), time.thread_time()
    counts = replay_video(sensor, clip, 60.0, counter)
    elapsed = time.perf_counter() - started
    cpu_ms = (time.thread_time() - cpu) * 1000 / frame_count
    return frame_count / elapsed, cpu_ms, counts["ins"] + counts["outs"]


def measure_efficiency(work: Path, passes: int, kind: str | None) -> None:
    clip = work / "walk.avi"
    write_walk(clip, fps=CLIP_FPS)
    frames = read_frames(clip)
    print(f"clip: {len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]} MJPG at {CLIP_FPS} fps")
    cfg = detector_config(kind)
    detector = build_detector(cfg)
    sensor = CameraSensorConfig(id="cam", source=str(clip), fps=CLIP_FPS, detector=cfg, counting={"lines": LINES})
    for frame in frames[:WARMUP]:
        detector.detect(frame)
    detections = [detector.detect(frame) for frame in frames]
    size = (frames[0].shape[1], frames[0].shape[0])
    model_fps: list[float] = []
    pipe_fps: list[float] = []
    model_cpu: list[float] = []
    pipe_cpu: list[float] = []
    decode_ms: list[float] = []
    counting_ms: list[float] = []
    for _ in range(passes):
        fps, cpu_ms = model_pass(detector, frames)
        model_fps.append(fps)
        model_cpu.append(cpu_ms)
        fps, cpu_ms, crossings = pipeline_pass(sensor, detector, clip, len(frames))
        pipe_fps.append(fps)
        pipe_cpu.append(cpu_ms)
        decode_ms.append(decode_pass(clip))
        counting_ms.append(counting_pass(sensor, detections, size))
    model = statistics.median(model_fps)
    pipe = statistics.median(pipe_fps)
    print(f"detector: {cfg.type} {cfg.model}, threads={cfg.threads}; {passes} interleaved passes of each")
    print(
        f"model only (detect on decoded frames): median {model:.1f} fps "
        f"(per frame {1000 / model:.1f} ms; passes {min(model_fps):.1f}..{max(model_fps):.1f})"
    )
    print(
        f"pipeline (decode + CameraCounter.step): median {pipe:.1f} fps "
        f"(per frame {1000 / pipe:.1f} ms; passes {min(pipe_fps):.1f}..{max(pipe_fps):.1f}; "
        f"{crossings} crossings counted per pass)"
    )
    print(
        f"parts, per frame (medians): decode {statistics.median(decode_ms):.2f} ms (on the reader thread in "
        f"the pipeline), detect {1000 / model:.2f} ms, tracker + counters {statistics.median(counting_ms):.2f} ms"
    )
    cpu_model, cpu_pipe = statistics.median(model_cpu), statistics.median(pipe_cpu)
    print(
        f"analysing thread CPU per frame (medians): model only {cpu_model:.2f} ms, pipeline {cpu_pipe:.2f} ms; "
        f"ratio {cpu_model / cpu_pipe:.3f}"
    )
    ratio = pipe / model
    verdict = "PASS" if ratio >= EFFICIENCY_GOAL else "FAIL"
    print(
        f"GOAL pipeline efficiency: {ratio:.3f} (pipeline {pipe:.1f} / model {model:.1f} fps), "
        f"goal >= {EFFICIENCY_GOAL}: {verdict}"
    )


def cpu_s(pid: int) -> float:
    """User and system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def agent_config(work: Path, clip: Path, kind: str | None) -> Path:
    """One camera sensor looping the clip, with the camera defaults (and the detector type, if given)."""
    detector = f"    detector: {{type: {kind}}}\n" if kind else ""
    text = (
        "site: bench\n"
        "device: d1\n"
        "intervals:\n  length: 1m\n"
        f"store:\n  path: '{work / 'data'}'\n"
        "mqtt:\n  enabled: false\n"
        "sensors:\n"
        f"  - id: cam\n    type: camera\n    source: '{clip}'\n    loop: true\n    fps: {AGENT_FPS}\n"
        + detector
        + f"    counting:\n      lines:\n        - name: door\n          points: {LINE}\n"
        "          in_direction: right\n"
    )
    path = work / "agent.yaml"
    path.write_text(text)
    return path


def measure_memory(
    work: Path, seconds: int, kind: str | None, arenas: int | None = None, mmap_threshold: int | None = None
) -> tuple[float, float]:
    """Median RSS (MB) and CPU per frame (ms) of a camera agent, as shipped or with MALLOC_ARENA_MAX=`arenas` or
    MALLOC_MMAP_THRESHOLD_=`mmap_threshold`."""
    clip = work / "walk.avi"
    config = agent_config(work, clip, kind)
    log_path = work / "agent.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES"):
        env.pop(name, None)
    if arenas is not None:
        env["MALLOC_ARENA_MAX"] = str(arenas)
    if mmap_threshold is not None:
        env["MALLOC_MMAP_THRESHOLD_"] = str(mmap_threshold)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "run", "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
            env=env,
        )
    samples: list[float] = []
    cpu: list[float] = []
    try:
        for _ in range(seconds):
            time.sleep(1.0)
            if proc.poll() is not None:
                break
            samples.append(rss_mb(proc.pid))
            cpu.append(cpu_s(proc.pid))
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    log_text = log_path.read_text(errors="replace")
    if len(samples) < seconds:
        print(f"agent exited early with status {proc.returncode}; its log:\n{log_text[-2000:]}")
        raise SystemExit(1)
    median, peak = statistics.median(samples), max(samples)
    # After the first half, start-up (imports, model load) is long over: CPU per frame of the steady state.
    half = len(cpu) // 2
    ms_per_frame = 1000 * (cpu[-1] - cpu[half]) / (max(1, len(cpu) - 1 - half) * AGENT_FPS)
    if arenas is not None:
        allocator = f"MALLOC_ARENA_MAX={arenas}"
    elif mmap_threshold is not None:
        allocator = f"MALLOC_MMAP_THRESHOLD_={mmap_threshold}"
    else:
        allocator = "as shipped (one malloc arena, fixed mmap threshold)"
    print(
        f"agent run, {allocator}: one camera ({kind or 'default'} detector) looping the clip at {AGENT_FPS} fps, "
        f"{len(samples)} samples over {seconds} s, "
        f"first {samples[0]:.1f} MB, last {samples[-1]:.1f} MB; exit status after SIGTERM {proc.returncode}"
    )
    print(f"agent CPU in the second half: {ms_per_frame:.1f} ms per frame at {AGENT_FPS} fps")
    minute = min(60, len(samples) // 2)
    first, last = samples[:minute], samples[-minute:]
    print(
        f"growth: first {minute} s median {statistics.median(first):.1f} MB (peak {max(first):.1f}), "
        f"last {minute} s median {statistics.median(last):.1f} MB (peak {max(last):.1f})"
    )
    if arenas is None and mmap_threshold is None:
        verdict = "PASS" if median <= RSS_GOAL_MB else "FAIL"
        print(f"GOAL agent RSS: median {median:.1f} MB, peak {peak:.1f} MB, goal <= {RSS_GOAL_MB:.0f} MB: {verdict}")
    else:
        print(f"agent RSS with {allocator}: median {median:.1f} MB, peak {peak:.1f} MB")
    return median, ms_per_frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--passes", type=int, default=7, help="interleaved timing passes of each (default 7)")
    ap.add_argument("--seconds", type=int, default=60, help="how long to sample the agent's RSS (default 60)")
    ap.add_argument("--cpus", help="comma-separated CPUs to pin the benchmark and the agent to, e.g. 0")
    ap.add_argument("--detector", help="detector type (nanodet, ssdlite; default: the camera default)")
    args = ap.parse_args()
    if args.cpus:
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
        print(f"pinned to CPU {args.cpus} (the agent inherits it)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        measure_efficiency(work, args.passes, args.detector)
        shipped, shipped_ms = measure_memory(work, args.seconds, args.detector)
        # glibc's own default, eight arenas per core: what agent.runtime.allocator's single arena saves.
        default, _ = measure_memory(work, args.seconds, args.detector, arenas=8 * (os.cpu_count() or 1))
        print(f"one malloc arena against glibc's default: {shipped:.1f} / {default:.1f} MB = {shipped / default:.3f}")
        # Every frame's blocks from the heap: what the fixed mmap threshold costs in page faults, if anything.
        heap, heap_ms = measure_memory(work, args.seconds, args.detector, mmap_threshold=32 << 20)
        print(
            f"fixed mmap threshold against 32 MiB: RSS {shipped:.1f} / {heap:.1f} MB = {shipped / heap:.3f}, "
            f"CPU per frame {shipped_ms:.1f} / {heap_ms:.1f} ms = {shipped_ms / heap_ms:.3f}"
        )


if __name__ == "__main__":
    main()
