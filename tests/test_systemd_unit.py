"""The systemd unit as systemd itself judges it, and the installer run twice into a scratch root."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "systemd" / "footfall-agent.service"
INSTALL = ROOT / "systemd" / "install.sh"
MAX_EXPOSURE = 3.0

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed"
)


def unit_settings(text: str) -> dict[str, list[str]]:
    """Every `Key=value` of the unit; keys may repeat (DeviceAllow=, LoadCredential=)."""
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith(("#", ";", "[")):
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def checkable_unit(tmp_path: Path) -> Path:
    """The unit in a scratch directory with ExecStart pointing at an executable that exists here."""
    binary = tmp_path / "bin" / "footfall-agent"
    binary.parent.mkdir()
    binary.write_text('#!/bin/sh\nexec python3 -m agent "$@"\n')
    binary.chmod(0o755)
    text = UNIT.read_text()
    patched = re.sub(r"^ExecStart=\S+", f"ExecStart={binary}", text, count=1, flags=re.M)
    assert patched != text
    unit = tmp_path / "units" / UNIT.name
    unit.parent.mkdir()
    unit.write_text(patched)
    return unit


def test_unit_states_the_service_contract() -> None:
    s = unit_settings(UNIT.read_text())
    assert s["Type"] == ["notify"] and s["NotifyAccess"] == ["main"]
    assert s["WatchdogSec"] and s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    assert s["ExecStart"][0].split()[1:] == ["run", "--config", "/etc/footfall-agent/config.yaml"]
    assert s["Restart"] == ["on-failure"] and s["RestartPreventExitStatus"] == ["2"]
    assert s["StartLimitIntervalSec"] and s["StartLimitBurst"]
    assert s["User"] == ["footfall"] and s["SupplementaryGroups"] == ["dialout video"]
    assert s["StateDirectory"] == ["footfall-agent"]
    assert s["ProtectSystem"] == ["strict"] and s["ProtectHome"] == ["yes"] and s["PrivateTmp"] == ["yes"]
    assert s["NoNewPrivileges"] == ["yes"] and s["DevicePolicy"] == ["closed"]
    allowed = {v.split()[0] for v in s["DeviceAllow"]}
    # 8250/PL011 UARTs, USB serial adapters, SC16IS752 RS-485 HATs, V4L2 cameras
    assert {"char-ttyUSB", "char-ttyACM", "char-ttyAMA", "char-ttyS", "char-ttySC", "char-video4linux"} <= allowed
    assert s["ExecStart"][0].split()[0] == "/opt/footfall-agent/bin/footfall-agent", "where install.sh --venv puts it"
    credentials = {v.split(":")[0] for v in s["LoadCredential"]}
    assert {"mqtt-password", "tls-key", "tls-key-password"} <= credentials
    assert all(not v.split(":", 1)[1].startswith("/") for v in s["LoadCredential"]), (
        "an absolute credential path that does not exist would stop the unit from starting"
    )


@needs_systemd_analyze
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    unit = checkable_unit(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True, timeout=60
    )
    ours = [line for line in (result.stdout + result.stderr).splitlines() if UNIT.name in line]
    assert result.returncode == 0 and not ours, result.stdout + result.stderr


@needs_systemd_analyze
def test_security_exposure_is_at_most_3(tmp_path: Path) -> None:
    unit = checkable_unit(tmp_path)
    result = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0 and "--offline" in result.stderr:
        pytest.skip(f"this systemd cannot analyse unit files offline: {result.stderr.strip()}")
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", result.stdout)
    assert match, result.stdout + result.stderr
    exposure = float(match.group(1))
    print(f"systemd-analyze security exposure: {exposure}")
    assert exposure <= MAX_EXPOSURE, result.stdout


def snapshot(root: Path) -> dict[str, tuple[str, int, int, str]]:
    """Every path under root with its mode, owner, group and content hash: what a rerun must not change."""
    out = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else ""
        out[str(path.relative_to(root))] = (stat.filemode(st.st_mode), st.st_uid, st.st_gid, digest)
    return out


def install(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
    return subprocess.run(
        ["sh", str(INSTALL), "--destdir", str(root), "--bin", "/opt/footfall/bin/footfall-agent", *extra],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_install_into_a_scratch_root_is_idempotent_and_keeps_the_config(tmp_path: Path) -> None:
    root = tmp_path / "root"
    example = tmp_path / "example.yaml"
    example.write_text("site: s\nsensors:\n  - id: door\n    type: simulated\n")
    first = install(root, "--example", str(example))
    assert first.returncode == 0, first.stderr
    unit = root / "etc/systemd/system/footfall-agent.service"
    config = root / "etc/footfall-agent/config.yaml"
    assert config.read_text() == example.read_text()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    assert stat.S_IMODE((root / "etc/footfall-agent").stat().st_mode) == 0o750
    assert stat.S_IMODE((root / "var/lib/footfall-agent").stat().st_mode) == 0o750
    assert stat.S_IMODE((root / "etc/credstore").stat().st_mode) == 0o700
    installed = unit_settings(unit.read_text())
    assert installed["ExecStart"] == ["/opt/footfall/bin/footfall-agent run --config /etc/footfall-agent/config.yaml"]
    assert (
        unit.read_text().replace("/opt/footfall/bin/footfall-agent", "/opt/footfall-agent/bin/footfall-agent")
        == UNIT.read_text()
    )
    sysusers = (root / "usr/lib/sysusers.d/footfall-agent.conf").read_text()
    assert "u footfall " in sysusers and "m footfall dialout" in sysusers and "m footfall video" in sysusers
    if shutil.which("systemd-sysusers") and os.geteuid() == 0:
        passwd = {line.split(":")[0]: line.split(":") for line in (root / "etc/passwd").read_text().splitlines()}
        groups = {line.split(":")[0]: line.split(":") for line in (root / "etc/group").read_text().splitlines()}
        assert passwd["footfall"][5] == "/var/lib/footfall-agent" and passwd["footfall"][6].endswith("nologin")
        assert "footfall" in groups["dialout"][3].split(",") and "footfall" in groups["video"][3].split(",")
        uid, gid = int(passwd["footfall"][2]), int(groups["footfall"][2])
        assert (root / "var/lib/footfall-agent").stat().st_uid == uid
        assert config.stat().st_uid == 0 and config.stat().st_gid == gid

    before = snapshot(root)
    second = install(root, "--example", str(example))
    assert second.returncode == 0, second.stderr
    assert snapshot(root) == before, "a second run changed the installation"
    assert "kept existing" in second.stdout

    config.write_text("site: edited\nsensors:\n  - id: door\n    type: simulated\n")
    third = install(root, "--example", str(example))
    assert third.returncode == 0, third.stderr
    assert config.read_text().startswith("site: edited"), "the installer overwrote an existing config"


def test_install_refuses_bad_arguments(tmp_path: Path) -> None:
    relative = subprocess.run(
        ["sh", str(INSTALL), "--destdir", str(tmp_path / "r"), "--bin", "footfall-agent"],
        capture_output=True,
        text=True,
    )
    assert relative.returncode != 0 and "absolute path" in relative.stderr
    unknown = subprocess.run(["sh", str(INSTALL), "--frobnicate"], capture_output=True, text=True)
    assert unknown.returncode == 2 and "unknown option" in unknown.stderr
    enable = subprocess.run(
        ["sh", str(INSTALL), "--destdir", str(tmp_path / "r"), "--bin", "/opt/f/bin/footfall-agent", "--enable"],
        capture_output=True,
        text=True,
    )
    assert enable.returncode != 0 and "--enable" in enable.stderr


def run_install(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DESTDIR"}
    return subprocess.run(["sh", str(INSTALL), *args], capture_output=True, text=True, timeout=60, env=env)


def test_an_image_needs_bin_which_is_never_looked_up_on_path(tmp_path: Path) -> None:
    """sudo resets PATH, and an image's executable is not this machine's: the unit's path is always explicit."""
    root = tmp_path / "root"
    missing = run_install("--destdir", str(root))
    assert missing.returncode != 0 and "--bin PATH is required with --destdir" in missing.stderr
    assert not (root / "etc/systemd/system/footfall-agent.service").exists()
    assert "command -v footfall-agent" not in INSTALL.read_text()


@pytest.mark.parametrize("home", ["/home/pi/venv/bin/footfall-agent", "/root/.local/bin/footfall-agent"])
def test_an_executable_the_service_cannot_see_is_refused(tmp_path: Path, home: str) -> None:
    refused = run_install("--destdir", str(tmp_path / "root"), "--bin", home)
    assert refused.returncode != 0
    assert f"the service cannot run {home}: it runs with ProtectHome=yes" in refused.stderr
    assert "ProtectHome=yes" in UNIT.read_text()


def test_venv_and_camera_are_for_this_machine_only(tmp_path: Path) -> None:
    image = run_install("--destdir", str(tmp_path / "root"), "--venv")
    assert image.returncode != 0 and "--venv builds for this machine" in image.stderr
    camera = run_install("--destdir", str(tmp_path / "root"), "--bin", "/opt/f/bin/footfall-agent", "--camera")
    assert camera.returncode != 0 and "--camera goes with --venv" in camera.stderr
