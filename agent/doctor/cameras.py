"""Cameras of the configured sensors: the source opens, delivers a frame (its size and rate), and the person
detector runs on it in time for the configured `fps`.

A Raspberry Pi camera module shows up as /dev/video* nodes of its libcamera pipeline (unicam, rp1-cfe), which
OpenCV cannot read as a plain camera: that is named as such, with the way round it (a stream).
"""

from __future__ import annotations

import importlib.util
import os
import time
from pathlib import Path

from agent.config.camera import CAMERA_EXTRA_HINT, CameraSensorConfig
from agent.doctor.checks import Check, fail, ok, warn

LIBCAMERA_NODES = ("unicam", "rp1-cfe", "bcm2835-isp", "pispbe", "bcm2835-codec")
PI_CAMERA_ADVICE = (
    "a Raspberry Pi camera module goes through libcamera: serve it as a stream (rpicam-vid or MediaMTX) and "
    "give its URL as source (docs/camera.md)"
)


def v4l2_name(node: str, sys_class: Path = Path("/sys/class/video4linux")) -> str | None:
    """The kernel driver's name for a /dev/videoN node (e.g. `unicam-image`, or a USB camera's model)."""
    try:
        return (sys_class / Path(os.path.realpath(node)).name / "name").read_text().strip()
    except OSError:
        return None


def camera(sensor: CameraSensorConfig) -> list[Check]:
    """Open the camera as the agent does, grab one frame and run the detector on it."""
    name = f"camera {sensor.id}"
    if importlib.util.find_spec("cv2") is None:
        return [fail(name, "OpenCV is not installed", CAMERA_EXTRA_HINT)]
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")  # its own warnings would only repeat the finding
    import cv2

    from agent.sources.camera import CaptureError, open_capture

    source = sensor.source
    if isinstance(source, str) and source.startswith("/dev/") and not os.path.exists(source):
        advice = "plug the camera in; list them: v4l2-ctl --list-devices (a Pi camera module: see docs/camera.md)"
        return [fail(name, f"{source}: no such device node", advice)]
    if isinstance(source, str) and source.startswith("/dev/video"):
        driver = v4l2_name(source)
        if driver is not None and any(driver.startswith(prefix) for prefix in LIBCAMERA_NODES):
            return [fail(name, f"{source} is {driver}, part of the Pi camera's libcamera pipeline", PI_CAMERA_ADVICE)]
        if os.path.exists(source) and not os.access(source, os.R_OK | os.W_OK):
            return [
                fail(name, f"{source}: no permission", "add the user to the video group: sudo usermod -aG video $USER")
            ]
    try:
        capture = open_capture(source, sensor.width, sensor.height, sensor.fps)
    except CaptureError as e:
        advice = (
            "list the cameras: v4l2-ctl --list-devices (a Pi camera module needs a stream, see docs/camera.md)"
            if isinstance(source, int) or str(source).startswith("/dev/")
            else "check the URL or path, and that the stream plays (ffprobe URL)"
        )
        return [fail(name, str(e), advice)]
    try:
        started = time.monotonic()
        grabbed, frame = capture.read()
        first_frame_s = time.monotonic() - started
        rate = capture.get(cv2.CAP_PROP_FPS) or 0.0
    finally:
        capture.release()
    if not grabbed or frame is None:
        return [fail(name, f"{source} opens but delivers no frame", "check the camera is not used by another program")]
    height, width = frame.shape[:2]
    found = []
    detail = (
        f"{source}: {width}x{height}"
        + (f" at {rate:g} fps" if rate else "")
        + f", first frame in {first_frame_s:.1f} s"
    )
    if rate and rate < sensor.fps:
        found.append(
            warn(name, f"{detail}: fewer than the {sensor.fps:g} fps configured", f"set fps: {rate:g} or less")
        )
    else:
        found.append(ok(name, detail))
    found.append(_detector(sensor, frame))
    return found


def _detector(sensor: CameraSensorConfig, frame: object) -> Check:
    """The detector loads and how long it takes per frame, against the time `fps` allows."""
    from agent.vision.camera_counter import fit_frame
    from agent.vision.detectors.build import build_detector

    name = f"detector {sensor.id}"
    try:
        detector = build_detector(sensor.detector)
        image = fit_frame(frame, (sensor.width, sensor.height) if sensor.width and sensor.height else None)  # type: ignore[arg-type]
        detector.detect(image)  # the first run pays one-off costs
        started = time.perf_counter()
        detector.detect(image)
        ms = (time.perf_counter() - started) * 1000
    except Exception as e:  # noqa: BLE001 - a model or runtime that does not work here is the finding
        return fail(name, f"{sensor.detector.type} does not run: {type(e).__name__}: {e}", CAMERA_EXTRA_HINT)
    budget = 1000 / sensor.fps
    detail = f"{sensor.detector.type} {getattr(sensor.detector, 'model', '')}".strip() + f": {ms:.0f} ms per frame"
    if ms > budget:
        return warn(
            name,
            f"{detail}, more than the {budget:.0f} ms that fps {sensor.fps:g} allows",
            f"lower fps to {max(1, int(1000 / ms))} or less (or a smaller width and height)",
        )
    return ok(name, f"{detail} (fps {sensor.fps:g} allows {budget:.0f} ms)")
