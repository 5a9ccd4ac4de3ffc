"""A camera as a counter: frames from OpenCV, people counted on the device, ins and outs to the sink.

Two threads per camera, because capture and inference run at different speeds:
- the grabber takes every frame the source delivers (a video file at its own frame rate, as if it were a
  camera) with `grab()`, but decodes (`retrieve()`) only the one the analysis asked for: the first frame
  after the previous one was handed over, so it is ready when the analysis is. Frames nobody asked for are
  dropped undecoded and counted, so inference never works on a backlog, and a camera delivering three times
  the analysed rate costs one decode per analysed frame, not three;
- the source's own thread analyses the newest frame at the configured `fps` through `CameraCounter`
  (the same code `replay --video` runs) and hands the sensor's ins and outs, with what changed per line and
  zone, to the sink in one call; frames where nothing changed cost the sink nothing.
A stream that cannot be opened, fails or stalls is reported down and reopened with capped backoff, so the
gap shows in the interval coverage. A video file without `loop` is played once; the sensor is then down.
When the input ends either way, a crossing that was only waiting to be sure counts (`CameraCounter.finish`).
Frames stay in memory on the device; nothing here sends or stores them.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from agent.backoff import Backoff
from agent.config.camera import CameraSensorConfig
from agent.sources.base import Clock, CountSink, ThreadedSource
from agent.vision.camera_counter import CameraCounter, FrameStep

if TYPE_CHECKING:
    import cv2

log = logging.getLogger("agent.sources.camera")

HEALTH_WINDOW = 50  # analysed frames the fps, inference, latency and recent drop figures are taken over


class CaptureError(Exception):
    """The video source cannot be opened; the message says which and why."""


def is_stream(source: int | str) -> bool:
    """A device or network stream rather than a file: one that cannot end, only fail."""
    return isinstance(source, int) or source.startswith("/dev/") or "://" in source


def open_capture(
    source: int | str, width: int | None = None, height: int | None = None, fps: float | None = None
) -> cv2.VideoCapture:
    """An opened OpenCV capture for a device index, a /dev/video node, a stream URL or a file.

    The resolution and rate are requests: devices pick the nearest mode they have.
    """
    import cv2  # on use: loading configs must not pull in OpenCV

    if (
        isinstance(source, str)
        and "://" not in source
        and not source.startswith("/dev/")
        and not Path(source).is_file()
    ):
        raise CaptureError(f"no video file {source}")
    if isinstance(source, str) and source.startswith("/dev/video"):
        capture = cv2.VideoCapture(source, cv2.CAP_V4L2)
    else:
        capture = cv2.VideoCapture(source)
    if not capture.isOpened():
        capture.release()
        raise CaptureError(f"cannot open video source {source}")
    if is_stream(source):
        if width is not None and height is not None:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        if fps is not None:
            capture.set(cv2.CAP_PROP_FPS, fps)
    return capture


class _Grabber:
    """Grabs every frame of one opened capture on its own thread and decodes the ones the analysis asks for.

    OpenCV captures are not safe to share between threads, so `grab()` and `retrieve()` both run here; the
    analysis only raises `_wanted` and waits. Asking for the next frame as soon as one is handed over keeps
    the analysed frames evenly spaced at the analysis rate and lets decoding overlap with inference.
    """

    def __init__(
        self, capture: cv2.VideoCapture, file_fps: float | None, loop: bool, clock: Clock, stop: threading.Event
    ) -> None:
        self._capture = capture
        self._period = 1.0 / file_fps if file_fps else 0.0
        self._loop = loop
        self._clock = clock
        self._stop = stop
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._frame_t = 0.0
        self._fresh = False
        self._wanted = True
        self.dropped = 0
        self.ended: str | None = None  # why reading stopped; None while it goes on
        self.end_of_file = False
        self._thread = threading.Thread(target=self._run, name="camera-grabber", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _grab(self) -> bool:
        import cv2

        if self._capture.grab():
            return True
        if self._period and self._loop:  # a file: rewind once, then it really is unreadable
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            return bool(self._capture.grab())
        return False

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            if not self._grab():
                self._end()
                return
            captured = self._clock()
            with self._cond:
                wanted = self._wanted
                self.dropped += not wanted
            if wanted:
                ok, frame = self._capture.retrieve()
                if not ok or frame is None:
                    self._end()
                    return
                with self._cond:
                    self._frame, self._frame_t, self._fresh, self._wanted = frame, captured, True, False
                    self._cond.notify_all()
            if self._period:  # a file plays at its own rate, like the camera it was recorded with
                due += self._period
                delay = due - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    due = time.monotonic()

    def _end(self) -> None:
        with self._cond:
            self.end_of_file = bool(self._period) and not self._loop
            self.ended = "end of the video file" if self.end_of_file else "the stream stopped delivering frames"
            self._cond.notify_all()

    def newest(self, timeout: float) -> tuple[np.ndarray, float] | None:
        """The frame decoded for the analysis and its capture time, asking for the next one at once; None if
        none came within `timeout` or reading has ended."""
        with self._cond:
            self._wanted = self._wanted or not self._fresh
            self._cond.wait_for(lambda: self._fresh or self.ended is not None or self._stop.is_set(), timeout)
            if not self._fresh or self._frame is None:
                return None
            frame, self._frame = self._frame, None
            self._fresh, self._wanted = False, True
            return frame, self._frame_t


class CameraSource(ThreadedSource):
    """A camera sensor: capture, person detection, tracking and line counting on the device."""

    def __init__(
        self, cfg: CameraSensorConfig, sink: CountSink, clock: Clock = time.time, counter: CameraCounter | None = None
    ) -> None:
        super().__init__(cfg.id, sink, clock, log)
        self.cfg = cfg
        self._counter = counter
        self._backoff = Backoff(cfg.reconnect_min, cfg.reconnect_max)
        self._lock = threading.Lock()
        self._frames = 0
        self._dropped = 0
        self._analysed_at: deque[float] = deque(maxlen=HEALTH_WINDOW)
        self._inference_ms: deque[float] = deque(maxlen=HEALTH_WINDOW)
        self._latency_ms: deque[float] = deque(maxlen=HEALTH_WINDOW)
        self._dropped_by: deque[int] = deque(maxlen=HEALTH_WINDOW)  # dropped total as each frame was analysed

    # -- health -----------------------------------------------------------------------------------------

    @property
    def fps(self) -> float | None:
        """Frames analysed per second recently (None before two frames were analysed)."""
        with self._lock:
            if len(self._analysed_at) < 2 or self._analysed_at[-1] <= self._analysed_at[0]:
                return None
            return (len(self._analysed_at) - 1) / (self._analysed_at[-1] - self._analysed_at[0])

    @property
    def latency_ms(self) -> float | None:
        """Median time from capture of a frame to its counts, in milliseconds."""
        with self._lock:
            return statistics.median(self._latency_ms) if self._latency_ms else None

    @property
    def inference_ms(self) -> float | None:
        """Median detector time per frame, in milliseconds."""
        with self._lock:
            return statistics.median(self._inference_ms) if self._inference_ms else None

    @property
    def frames(self) -> int:
        """Frames analysed since the source started."""
        with self._lock:
            return self._frames

    @property
    def dropped_frames(self) -> int:
        """Frames the camera delivered that were replaced by a newer one before they could be analysed, since
        the source started."""
        with self._lock:
            return self._dropped

    @property
    def dropped_frames_recent(self) -> int | None:
        """Frames dropped while the last `HEALTH_WINDOW` frames were analysed (the window of `fps`); None
        before a frame was analysed."""
        with self._lock:
            return self._dropped - self._dropped_by[0] if self._dropped_by else None

    def readings(self) -> dict[str, float | int | None]:
        """Camera health for the health report: analysed fps, inference and latency medians, dropped frames."""
        fps, inference, latency, recent = self.fps, self.inference_ms, self.latency_ms, self.dropped_frames_recent
        with self._lock:
            return {
                "fps": fps,
                "inference_ms": inference,
                "latency_ms": latency,
                "frames": self._frames,
                "dropped_frames": self._dropped,
                "dropped_frames_recent": recent,
            }

    # -- the source thread ------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            if self._counter is None:
                self._counter = CameraCounter(self.cfg)
                self._counter.warm_up()
        except Exception as e:  # a model file missing or unreadable: report it, do not kill the agent
            self.link.mark_down(f"cannot load the detector: {e}")
            return
        while not self._stop.is_set():
            try:
                capture = open_capture(self.cfg.source, self.cfg.width, self.cfg.height, self.cfg.fps)
            except CaptureError as e:
                self.link.mark_down(str(e))
                self._stop.wait(self._backoff.next_delay())
                continue
            try:
                finished = self._session(capture)
            finally:
                capture.release()
            if finished:
                return
            self._stop.wait(self._backoff.next_delay())

    def _session(self, capture: cv2.VideoCapture) -> bool:
        """Count from one opened capture until it fails or stop is asked; True when there is nothing to
        reopen (stop asked, or a file played once to its end)."""
        import cv2

        file_fps = None
        if not is_stream(self.cfg.source):
            file_fps = capture.get(cv2.CAP_PROP_FPS) or self.cfg.fps
        session_stop = threading.Event()
        grabber = _Grabber(capture, file_fps, self.cfg.loop, self._clock, session_stop)
        grabber.start()
        assert self._counter is not None
        period = 1.0 / self.cfg.fps
        due = time.monotonic()
        started = False
        last = 0.0
        counted_drops = 0
        try:
            while not self._stop.is_set():
                got = grabber.newest(self.cfg.stall_timeout)
                with self._lock:
                    self._dropped += grabber.dropped - counted_drops
                counted_drops = grabber.dropped
                if got is None:
                    reason = grabber.ended or f"no frame for {self.cfg.stall_timeout:g} s"
                    if self._stop.is_set():
                        return True
                    if started:
                        self._finish(last)
                    self.link.mark_down(reason)
                    return grabber.end_of_file
                frame, captured = got
                last = captured
                if not started:
                    self._counter.restart((frame.shape[1], frame.shape[0]))
                    self.link.mark_up()
                    self._backoff.reset()
                    started = True
                self._analyse(frame, captured)
                due += period
                delay = due - time.monotonic()
                if delay > 0:
                    self._stop.wait(delay)
                else:
                    due = time.monotonic()  # slower than the target: take the next frame at once
            return True
        finally:
            session_stop.set()
            if not grabber.join(2.0):
                log.warning("%s: the capture did not return; leaving its reader behind", self.sensor_id)

    def _finish(self, last: float) -> None:
        """The input ended (a file played once, a stream that stopped): count the crossings that only waited
        to be sure, at the last frame's time, before the next session starts counting afresh."""
        assert self._counter is not None
        step = self._counter.finish()
        if step is not None:
            self._report(step, last)

    def _report(self, step: FrameStep, at: float) -> None:
        """Hand what a step counted to the sink; a step where nothing changed costs the sink nothing."""
        if step.ins or step.outs or step.counts.lines or step.counts.zones:
            self._sink.add_camera(self.sensor_id, step.ins, step.outs, step.counts, at)

    def _analyse(self, frame: np.ndarray, captured: float) -> None:
        assert self._counter is not None
        step = self._counter.step(frame, captured)
        self._report(step, captured)
        done = self._clock()
        with self._lock:
            self._frames += 1
            self._analysed_at.append(time.monotonic())
            self._inference_ms.append(step.inference_ms)
            self._latency_ms.append(max(0.0, (done - captured) * 1000.0))
            self._dropped_by.append(self._dropped)
