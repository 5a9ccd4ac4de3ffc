"""Camera sensor settings: defaults that suit the tracker, clear errors, and no camera library to load them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.config.camera import CameraSensorConfig
from agent.config.detector import NanodetDetectorConfig, SsdliteDetectorConfig
from agent.config.errors import ConfigError
from agent.config.loader import parse_config
from tests.config.configs import ROOT

CAMERA = (
    "site: s\nsensors:\n  - id: cam\n    type: camera\n    source: {source}\n{extra}"
    "    counting:\n      lines:\n        - {{name: door, points: [[0, 200], [640, 200]], in_direction: down}}\n"
    "        - {{name: side, points: [[320, 0], [320, 100]], in_direction: left}}\n"
)


def test_camera_defaults_suit_the_tracker() -> None:
    cam = parse_config(CAMERA.format(source="/dev/video0", extra=""), "c.yaml").sensors[0]
    assert isinstance(cam, CameraSensorConfig)
    assert isinstance(cam.detector, NanodetDetectorConfig)
    assert (cam.detector.model, cam.detector.threads, cam.loop, cam.count_line) == ("int8", None, False, None)
    assert cam.detector.score_threshold <= cam.counting.tracker.low_score
    custom = parse_config(CAMERA.format(source="0", extra="    detector: {threads: 2}\n"), "c.yaml").sensors[0]
    assert isinstance(custom, CameraSensorConfig) and custom.source == 0
    assert isinstance(custom.detector, NanodetDetectorConfig) and custom.detector.threads == 2
    assert custom.detector.score_threshold == cam.detector.score_threshold
    pinned = parse_config(CAMERA.format(source="0", extra="    detector: {type: ssdlite}\n"), "c.yaml").sensors[0]
    assert isinstance(pinned, CameraSensorConfig) and isinstance(pinned.detector, SsdliteDetectorConfig)
    assert pinned.detector.score_threshold == cam.detector.score_threshold


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    count_line: back\n", "count_line 'back' is not one of the lines: door, side"),
        ("    width: 640\n", "set width and height together"),
        ("    fps: 0\n", "greater than 0"),
        ("    detector: {type: yolo}\n", "yolo"),
        ("    lens: wide\n", "unknown key 'lens'"),
    ],
)
def test_camera_config_errors(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(CAMERA.format(source="rtsp://cam/stream", extra=extra), "c.yaml")
    assert message in str(info.value)


def test_camera_needs_a_line() -> None:
    text = "site: s\nsensors:\n  - id: cam\n    type: camera\n    source: 0\n    counting: {}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert "at least one counting line" in str(info.value)


def test_loading_a_camera_config_loads_neither_opencv_nor_onnxruntime() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from agent.config.loader import parse_config; "
        f"parse_config({CAMERA.format(source='0', extra='')!r}, 'c.yaml'); "
        "print('cv2' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_loading_the_config_module_loads_no_camera_library() -> None:
    """Camera, counting and detector settings are plain models: an agent without cameras never needs numpy."""
    code = (
        "import sys\n"
        "import agent.config.loader, agent.config.reference\n"
        "print(sorted(m for m in ('numpy', 'cv2', 'onnxruntime', 'scipy') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


WITHOUT_CAMERA_LIBRARIES = "import sys\nsys.modules['cv2'] = sys.modules['onnxruntime'] = None\n"
"""Prepended to a child interpreter: both modules then count as not installed (`find_spec` finds nothing and
`import` fails), as on a serial-only device. tests/integration/test_install.py checks the same on a real
install without the camera extra."""


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_a_camera_config_without_the_camera_extra_names_it_in_one_line(tmp_path: Path, command: str) -> None:
    cfg = tmp_path / "cam.yaml"
    cfg.write_text(CAMERA.format(source="/dev/video0", extra="") + "mqtt:\n  enabled: false\n")
    argv = [command, str(cfg)] if command == "check-config" else [command, "--config", str(cfg)]
    code = WITHOUT_CAMERA_LIBRARIES + f"from agent.cli.main import main\nsys.exit(main({argv!r}))\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"{cfg}: sensors[0]: a camera sensor needs opencv-python-headless and onnxruntime, not installed here: "
        "pip install 'footfall-agent[camera]' (line 3)"
    ]


def test_the_hog_detector_needs_only_opencv() -> None:
    text = CAMERA.format(source="0", extra="    detector: {type: hog}\n")
    code = WITHOUT_CAMERA_LIBRARIES + (
        "del sys.modules['onnxruntime']\n"
        "from agent.config.loader import parse_config\n"
        f"parse_config({text!r}, 'c.yaml')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "needs opencv-python-headless, not installed here" in done.stderr


NORMALIZED_LOOKING = (
    "site: s\nsensors:\n  - id: cam\n    type: camera\n    source: 0\n    counting:\n{units}      lines:\n"
    "        - name: door\n          points: [[0.1, 0.6], [0.9, 0.6]]\n          in_direction: down\n"
)


@pytest.mark.parametrize(
    ("units", "warned"),
    [("", True), ("      units: pixels\n", True), ("      units: normalized\n", False)],
)
def test_fractions_of_the_image_in_pixel_units_are_warned_of(units: str, warned: bool) -> None:
    warnings: list[str] = []
    parse_config(NORMALIZED_LOOKING.format(units=units), "c.yaml", warnings=warnings)
    assert warnings == (
        [
            "c.yaml: sensors[0].counting: every coordinate is between 0 and 1 but units is pixels (the default), so "
            "the lines and zones lie in the top-left pixel and count nothing: add `units: normalized`, or give pixel "
            "coordinates (line 6)"
        ]
        if warned
        else []
    )


def test_pixel_coordinates_are_not_warned_of() -> None:
    warnings: list[str] = []
    parse_config(CAMERA.format(source="0", extra=""), "c.yaml", warnings=warnings)
    assert warnings == []


def test_check_config_prints_the_warning_and_still_passes(tmp_path: Path) -> None:
    cfg = tmp_path / "cam.yaml"
    cfg.write_text(NORMALIZED_LOOKING.format(units=""))
    done = subprocess.run(
        [sys.executable, "-m", "agent", "check-config", str(cfg)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.startswith(f"{cfg}: OK: ")
    assert done.stderr.startswith(f"warning: {cfg}: sensors[0].counting: every coordinate is between 0 and 1")
