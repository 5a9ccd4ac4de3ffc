"""`footfall-agent replay --detections`: pre-computed detections through the live tracker and counters.

This is how counting is checked without a camera: the same `CountingPipeline` the camera uses is fed
from a CSV (`frame,x1,y1,x2,y2,score`, pixel boxes, frames from 0, sorted by frame) and the ins and outs
per line and zone are printed. Frames without rows are frames without detections; the tracker still
steps through them, exactly as it would for a camera frame in which nobody was detected.

`replay --config AGENT.yaml --video CLIP` runs a camera sensor's complete live path (detector, tracker,
counters, through `CameraCounter`, sampling the clip at the sensor's `fps` as the live camera does) over a
recorded clip as fast as the CPU allows, and prints the ins and outs per interval of clip time: how an
installer checks a line before going live.

Both modes take the agent config (its camera sensor's counting section and its interval length), and both
print the same `--json` document (`ReplayCounts`): the totals, and the same per interval of replay time.

Usage errors, an unreadable file and malformed rows exit with status 2 and name the offending line.
"""

from __future__ import annotations

import itertools
import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from pydantic import ValidationError

from agent.aggregation.records import LineInterval, ZoneInterval
from agent.config.camera import CameraSensorConfig
from agent.config.counting import CountingConfig
from agent.vision.pipeline import CountingPipeline, FrameResult, IntervalCounts

if TYPE_CHECKING:
    import cv2

    from agent.config.agent import AgentConfig
    from agent.vision.camera_counter import CameraCounter


EXIT_USAGE = 2
HEADER = ("frame", "x1", "y1", "x2", "y2", "score")
LINE_NAME = "line"


class ReplayError(Exception):
    """A problem with the command line, the config or the detections file; the message is for the user."""


def _yaml_line(root: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """1-based line of the YAML node at a pydantic error location, or of its nearest existing parent."""
    node = root
    line = node.start_mark.line + 1 if node is not None else None
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
            nxt = node.value[key]
        else:
            nxt = None
        if nxt is None:
            break
        node = nxt
        line = node.start_mark.line + 1
    return line


def load_counting_config(path: Path) -> CountingConfig:
    """The `counting:` mapping of a YAML file (top level or under `camera:`), validated, with line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ReplayError(f"{path}: cannot read: {e.strerror or e}") from None
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ReplayError(f"{path}: invalid YAML{where}: {getattr(e, 'problem', None) or e}") from None
    prefix: list[str] = []
    section: Any = None
    if isinstance(data, dict) and isinstance(data.get("camera"), dict) and "counting" in data["camera"]:
        prefix, section = ["camera", "counting"], data["camera"]["counting"]
    elif isinstance(data, dict) and "counting" in data:
        prefix, section = ["counting"], data["counting"]
    if not prefix:
        raise ReplayError(f"{path}: no counting: section (at the top level or under camera:)")
    try:
        return CountingConfig.model_validate(section if section is not None else {})
    except ValidationError as e:
        messages = []
        for err in e.errors():
            loc = [*prefix, *err["loc"]]
            dotted = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in loc).lstrip(".")
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = f"unknown key {loc[-1]!r}"
                dotted = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in loc[:-1]).lstrip(".")
            line = _yaml_line(root, loc)
            messages.append(f"{path}: {dotted}: {msg}" + (f" (line {line})" if line else ""))
        raise ReplayError("\n".join(messages)) from None


_CHUNK_LINES = 65536


def _check_row(path: Path, lineno: int, parts: list[str], previous: float | None) -> float:
    """Validate one row in full and return its frame; raises with the line number. The slow path, used to
    name the first bad row once the fast whole-chunk check has found that there is one."""
    text = ",".join(parts)
    if len(parts) != len(HEADER):
        raise ReplayError(f"{path}:{lineno}: expected {len(HEADER)} fields, got {len(parts)}")
    try:
        frame, x1, y1, x2, y2, score = map(float, parts)
    except ValueError:
        raise ReplayError(f"{path}:{lineno}: not a number in {text!r}") from None
    if not math.isfinite(frame + x1 + y1 + x2 + y2 + score):  # one NaN or infinity makes the sum non-finite
        raise ReplayError(f"{path}:{lineno}: non-finite value in {text!r}")
    if not frame.is_integer():
        raise ReplayError(f"{path}:{lineno}: frame {parts[0].strip()} is not a whole number")
    if frame < 0:
        raise ReplayError(f"{path}:{lineno}: frame {int(frame)} is negative (frames count from 0)")
    if x2 < x1 or y2 < y1:
        raise ReplayError(f"{path}:{lineno}: box has x2 < x1 or y2 < y1")
    if not 0.0 <= score <= 1.0:
        raise ReplayError(f"{path}:{lineno}: score {score} outside 0..1")
    if previous is not None and frame < previous:
        raise ReplayError(
            f"{path}:{lineno}: frame {int(frame)} after frame {int(previous)} (rows must be sorted by frame)"
        )
    return frame


def _parse_chunk(path: Path, first_lineno: int, raw: list[bytes], previous: float | None) -> np.ndarray:
    """Rows of a chunk of lines as an (N,6) array, checked as a whole with numpy (a per-row Python check
    of a long recording would take longer than tracking it); blank lines are skipped."""
    try:
        lines = b"".join(raw).decode("utf-8").splitlines()
    except UnicodeDecodeError:
        for i, line in enumerate(raw):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError as e:
                raise ReplayError(f"{path}:{first_lineno + i}: not UTF-8 text ({e.reason})") from None
        raise
    numbered = [(first_lineno + i, line.split(",")) for i, line in enumerate(lines) if line.strip()]
    if not numbered:
        return np.zeros((0, 6))
    try:
        rows = np.array([parts for _, parts in numbered], dtype=float)
        ok = rows.ndim == 2 and rows.shape[1] == len(HEADER)
    except ValueError:
        ok = False
    if ok:
        frame, score = rows[:, 0], rows[:, 5]
        order = np.diff(frame, prepend=frame[0] if previous is None else previous)
        ok = bool(
            np.isfinite(rows).all()
            and (frame >= 0).all()
            and (frame == np.floor(frame)).all()
            and (rows[:, 3] >= rows[:, 1]).all()
            and (rows[:, 4] >= rows[:, 2]).all()
            and (score >= 0).all()
            and (score <= 1).all()
            and (order >= 0).all()
        )
    if not ok:
        for lineno, parts in numbered:
            previous = _check_row(path, lineno, parts, previous)
        raise AssertionError("a chunk failed the fast check but every row passed")
    return rows


def read_detections(path: Path) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield (frame, boxes (N,4), scores (N,)) for each frame with rows, checking every row.

    Reads in chunks, so memory stays flat however long the recording is.
    """
    try:
        handle = path.open("rb")
    except OSError as e:
        raise ReplayError(f"{path}: cannot read: {e.strerror or e}") from None
    with handle:
        first = handle.readline().decode("utf-8", errors="replace").removeprefix("\ufeff")
        if tuple(h.strip().lower() for h in first.split(",")) != HEADER:
            got = first.rstrip("\r\n") if first else "an empty file"
            raise ReplayError(f"{path}:1: expected the header {','.join(HEADER)}, got {got!r}")
        lineno = 2
        previous: float | None = None
        carry = np.zeros((0, 6))
        while raw := list(itertools.islice(handle, _CHUNK_LINES)):
            rows = _parse_chunk(path, lineno, raw, previous)
            lineno += len(raw)
            if len(rows) == 0:
                continue
            previous = float(rows[-1, 0])
            rows = np.concatenate([carry, rows]) if len(carry) else rows
            starts = np.flatnonzero(np.diff(rows[:, 0])) + 1
            groups = np.split(rows, starts)
            carry = groups.pop()  # the last frame may go on in the next chunk
            for group in groups:
                yield int(group[0, 0]), group[:, 1:5], group[:, 5]
        if len(carry):
            yield int(carry[0, 0]), carry[:, 1:5], carry[:, 5]


def _occupancy(pipeline: CountingPipeline) -> dict[str, int]:
    return {name: zone.occupancy for name, zone in pipeline.zones.items()}


class ReplayCounts:
    """Counts per interval of replay time (from 0) and in total: the one `--json` document of both modes,

    `{"ins", "outs", "lines": {NAME: {"in", "out"}}, "zones": {NAME: {...}}, "intervals": [{"start", "end",
    "ins", "outs", "lines", "zones"}, ...]}`, lines and zones in the shape of the interval payload. `ins` and
    `outs` are the crossings of `count_line`, or of all lines added up, as the live sensor counts them. Without
    an interval length the whole replay is one interval."""

    def __init__(self, counting: CountingConfig, interval_s: float | None, count_line: str | None = None) -> None:
        self._interval_s = interval_s
        self._count_line = count_line
        self._current = IntervalCounts(counting)
        self._total = IntervalCounts(counting)
        self._bucket = 0
        self._rows: list[dict[str, Any]] = []

    def add(self, t: float, result: FrameResult, occupancy: Callable[[], dict[str, int]]) -> None:
        """One frame's counts at replay time `t`; intervals that ended before it close first."""
        while self._interval_s is not None and t >= (self._bucket + 1) * self._interval_s:
            self._close((self._bucket + 1) * self._interval_s, occupancy())
            self._bucket += 1
        self._current.add(result)
        self._total.add(result)

    def finish(self, end: float, occupancy: dict[str, int]) -> dict[str, Any]:
        """Close the last interval at `end` (replay time; at the latest where it ends) and return the document."""
        if self._interval_s is not None:
            end = min(end, (self._bucket + 1) * self._interval_s)
        self._close(end, occupancy)
        return {**self._shape(*self._total.close(occupancy)), "intervals": self._rows}

    def _close(self, end: float, occupancy: dict[str, int]) -> None:
        start = self._bucket * self._interval_s if self._interval_s is not None else 0.0
        self._rows.append({"start": start, "end": end, **self._shape(*self._current.close(occupancy))})

    def _shape(self, lines: dict[str, LineInterval], zones: dict[str, ZoneInterval]) -> dict[str, Any]:
        counted = [c for name, c in lines.items() if self._count_line in (None, name)]
        return {
            "ins": sum(c.ins for c in counted),
            "outs": sum(c.outs for c in counted),
            "lines": {name: {"in": line.ins, "out": line.outs} for name, line in lines.items()},
            "zones": {name: zone.as_dict() for name, zone in zones.items()},
        }


def replay(
    pipeline: CountingPipeline, path: Path, fps: float, interval_s: float | None = None, count_line: str | None = None
) -> dict[str, Any]:
    """Run every frame from 0 to the last one in the file; returns the counts (`ReplayCounts`) and some run
    statistics."""
    empty_boxes = np.zeros((0, 4))
    empty_scores = np.zeros(0)
    next_frame = 0
    detections = 0
    counts = ReplayCounts(pipeline.config, interval_s, count_line)

    def occupancy() -> dict[str, int]:
        return _occupancy(pipeline)

    for frame, boxes, scores in read_detections(path):
        for gap in range(next_frame, frame):
            counts.add(gap / fps, pipeline.process(gap, empty_boxes, empty_scores, gap / fps), occupancy)
        counts.add(frame / fps, pipeline.process(frame, boxes, scores, frame / fps), occupancy)
        detections += len(boxes)
        next_frame = frame + 1
    if next_frame:
        last = (next_frame - 1) / fps
        counts.add(last, pipeline.finish(), occupancy)
    document = counts.finish(next_frame / fps, occupancy())
    return {"counts": document, "frames": next_frame, "detections": detections, "tracks": pipeline.tracker.next_id - 1}


def camera_setup(config: Path | None, sensor: str | None) -> tuple[AgentConfig, CameraSensorConfig]:
    """An agent config file and its camera sensor, to replay a clip or detections or take a snapshot with."""
    from agent.config.camera import CameraSensorConfig
    from agent.config.errors import ConfigError
    from agent.config.loader import load_config

    if config is None:
        raise ReplayError("give --config FILE (the agent config with the camera sensor)")
    try:
        cfg = load_config(config)
    except ConfigError as e:
        raise ReplayError(str(e)) from None
    cameras = [s for s in cfg.sensors if isinstance(s, CameraSensorConfig)]
    if sensor is not None:
        cameras = [s for s in cameras if s.id == sensor]
        if not cameras:
            raise ReplayError(f"{config}: no camera sensor with id {sensor!r}")
    if not cameras:
        raise ReplayError(f"{config}: no sensor of type camera")
    if len(cameras) > 1:
        ids = ", ".join(c.id for c in cameras)
        raise ReplayError(f"{config}: several camera sensors; choose one with --sensor ({ids})")
    return cfg, cameras[0]


def camera_sensor(config: Path | None, sensor: str | None) -> CameraSensorConfig:
    """The camera sensor of an agent config file (see `camera_setup`)."""
    return camera_setup(config, sensor)[1]


def counting_setup(config: Path, sensor: str | None) -> tuple[CountingConfig, float | None, str | None]:
    """What to replay detections with: an agent config's camera sensor (its counting section, the config's
    interval length and the sensor's count_line), or a file with only a `counting:` section (one interval)."""
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        data = None  # load_counting_config reports it, with the line
    if isinstance(data, dict) and "sensors" in data:
        cfg, camera = camera_setup(config, sensor)
        return camera.counting, cfg.intervals.length, camera.count_line
    return load_counting_config(config), None, None


READ_AHEAD = 4  # decoded frames waiting for analysis: enough to keep the decoder busy, a few MB at most


class _ClipFrames:
    """The clip's due frames, decoded on a reader thread a few frames ahead of the analysis.

    The live camera reads frames on its own thread too, so decoding overlaps with detection there; replay
    does the same. Unlike the live camera it never drops a frame because the analysis is slow (replay is
    for validating a line, so every frame the sensor's `fps` makes due is analysed, in order, whatever the
    CPU): a full queue makes the reader wait. Frames the sensor's `fps` skips are only grabbed, not
    converted into images.
    """

    def __init__(self, capture: cv2.VideoCapture, clip_fps: float, fps: float) -> None:
        self._capture = capture
        self._clip_fps = clip_fps
        self._period = 1.0 / fps
        self._queue: queue.Queue[tuple[float, np.ndarray] | None] = queue.Queue(READ_AHEAD)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self.frames = 0  # frames read from the clip so far, analysed or skipped
        self._thread = threading.Thread(target=self._run, name="replay-reader", daemon=True)
        self._thread.start()

    def _put(self, item: tuple[float, np.ndarray] | None) -> bool:
        """Queue an item, waiting for room; False if `close` was called meanwhile."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        due = 0.0
        try:
            while not self._stop.is_set():
                t = self.frames / self._clip_fps
                if t + 1e-9 < due:  # the live camera would have dropped this frame
                    if not self._capture.grab():
                        break
                    self.frames += 1
                    continue
                ok, frame = self._capture.read()
                if not ok or frame is None:
                    break
                self.frames += 1
                due += self._period
                if not self._put((t, frame)):
                    return
        except BaseException as e:  # handed to the analysing thread, which raises it
            self._error = e
        finally:
            self._put(None)

    def __iter__(self) -> Iterator[tuple[float, np.ndarray]]:
        """(clip time, frame) of every due frame, in order; raises what the reader failed with."""
        while (item := self._queue.get()) is not None:
            yield item
        self._thread.join()
        if self._error is not None:
            raise self._error

    def close(self) -> None:
        """Stop reading and wait for the reader, so the capture can be released."""
        self._stop.set()
        self._thread.join()


def replay_video(
    sensor: CameraSensorConfig, clip: Path, interval_s: float, counter: CameraCounter | None = None
) -> dict[str, Any]:
    """The sensor's counts over the clip, in total and per interval of clip time (from 0): `ReplayCounts`.

    The clip's frames are sampled at the sensor's `fps`, as the live camera analyses them; decoding runs
    on a reader thread (`_ClipFrames`), the analysis here, and the result is the same as reading serially.
    """
    import cv2

    from agent.vision.camera_counter import CameraCounter

    if not clip.is_file():
        raise ReplayError(f"{clip}: no such video file")
    capture = cv2.VideoCapture(str(clip))
    try:
        if not capture.isOpened():
            raise ReplayError(f"{clip}: cannot open the video")
        counter = counter if counter is not None else CameraCounter(sensor)
        clip_fps = capture.get(cv2.CAP_PROP_FPS) or sensor.fps
        counts = ReplayCounts(counter.cfg.counting, interval_s, counter.cfg.count_line)

        def occupancy() -> dict[str, int]:
            return _occupancy(counter.pipeline) if counter.pipeline is not None else {}

        frames = _ClipFrames(capture, clip_fps, sensor.fps)
        last: float | None = None
        try:
            for last, frame in frames:
                step = counter.step(frame, last)
                counts.add(last, step.result, occupancy)
        finally:
            frames.close()
        if last is not None and (end := counter.finish()) is not None:
            counts.add(last, end.result, occupancy)
    finally:
        capture.release()
    if frames.frames == 0:
        raise ReplayError(f"{clip}: no frame could be read")
    return counts.finish(frames.frames / clip_fps, occupancy())
