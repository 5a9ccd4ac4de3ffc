"""A serial-only install, as on a device: `systemd/venv.sh DIR` (what `install.sh --venv` runs) makes a fresh
venv and installs the project into it without extras.

It gets no camera stack (neither OpenCV nor onnxruntime), runs a serial config, and a camera config fails
`check-config` with one line naming the extra. Skipped when the package index is unreachable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.package_index import unreachable

ROOT = Path(__file__).resolve().parents[2]
CAMERA = (
    "site: s\nmqtt:\n  enabled: false\nsensors:\n  - id: cam\n    type: camera\n    source: /dev/video0\n"
    "    counting:\n      units: normalized\n      lines:\n"
    "        - {name: door, points: [[0.1, 0.6], [0.9, 0.6]], in_direction: down}\n"
)


def source_tree(dest: Path) -> Path:
    """What `pip install .` builds from, copied so that the build leaves nothing in the repository."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    for name in ("agent", "systemd"):
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def test_a_serial_only_install_has_no_camera_stack_and_names_the_extra(tmp_path: Path) -> None:
    reason = unreachable()
    if reason is not None:
        pytest.skip(reason)
    src = source_tree(tmp_path / "src")
    venv = tmp_path / "venv"
    made = subprocess.run(
        ["sh", str(src / "systemd" / "venv.sh"), str(venv)],
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "PYTHON": sys.executable},
    )
    assert made.returncode == 0, made.stderr
    assert f"installed in {venv}" in made.stdout and "camera" not in made.stdout
    python, agent = venv / "bin" / "python", venv / "bin" / "footfall-agent"
    probe = "import importlib.util as u; print([m for m in ('cv2', 'onnxruntime', 'numpy') if u.find_spec(m)])"
    assert subprocess.run([python, "-c", probe], capture_output=True, text=True).stdout.strip() == "['numpy']"

    example = ROOT / "firmware-config" / "serial-event-lines.yaml"
    serial = subprocess.run([agent, "check-config", str(example)], capture_output=True, text=True)
    assert serial.returncode == 0, serial.stderr
    camera = tmp_path / "camera.yaml"
    camera.write_text(CAMERA)
    refused = subprocess.run([agent, "check-config", str(camera)], capture_output=True, text=True)
    assert refused.returncode == 2
    assert refused.stderr.splitlines() == [
        f"{camera}: sensors[0]: a camera sensor needs opencv-python-headless and onnxruntime, not installed here: "
        "pip install 'footfall-agent[camera]' (line 5)"
    ]
