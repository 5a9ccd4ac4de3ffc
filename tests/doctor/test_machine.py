"""The machine checks of `doctor`, judged from readings.

What cannot be made on a test machine is written into a scratch directory tree the readers are pointed at, as
the kernel and the Raspberry Pi firmware lay it out: a throttled Pi (`get_throttled`), a hot CPU (a thermal
zone), little memory (`/proc/meminfo`). The clock's synchronisation state cannot be set here either (it is the
kernel's, shared with the whole machine), so the judgement is given the states adjtimex(2) returns; the reader
itself runs for real.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.config.loader import parse_config
from agent.doctor import machine
from agent.doctor.checks import Check, exit_status, render
from agent.runtime.health import THERMAL_DIR, THROTTLED_PATH, read_system

SERIAL = "sensors:\n  - id: door\n    type: simulated\n"


def pi_tree(root: Path, throttled: str | None = None, millidegrees: int | None = None) -> Path:
    """A scratch root holding what a Raspberry Pi's kernel and firmware show under /sys and /proc."""
    (root / "proc").mkdir(parents=True)
    (root / "proc" / "loadavg").write_text("0.20 0.15 0.10 1/123 4567\n")
    if throttled is not None:
        (root / THROTTLED_PATH).parent.mkdir(parents=True)
        (root / THROTTLED_PATH).write_text(f"{throttled}\n")
    if millidegrees is not None:
        zone = root / THERMAL_DIR / "thermal_zone0"
        zone.mkdir(parents=True)
        (zone / "type").write_text("cpu-thermal\n")
        (zone / "temp").write_text(f"{millidegrees}\n")
    return root


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {c.name: c for c in checks}


@pytest.mark.parametrize(
    ("word", "status", "words"),
    [
        ("0x50005", "fail", "under-voltage now"),
        ("0x4", "warn", "throttled now"),
        ("0x50000", "warn", "since boot: under_voltage, throttled"),
        ("0x0", "ok", "never throttled"),
    ],
)
def test_throttling_flags_of_a_pi(tmp_path: Path, word: str, status: str, words: str) -> None:
    check = by_name(machine.system(read_system(pi_tree(tmp_path, throttled=word))))["throttling"]
    assert (check.status, words in check.detail) == (status, True), check
    if status != "ok":
        assert check.advice
    if word == "0x50005":
        assert "power supply" in check.advice


def test_not_a_pi_has_no_throttling_flags(tmp_path: Path) -> None:
    checks = by_name(machine.system(read_system(pi_tree(tmp_path))))
    assert checks["throttling"].status == "ok" and "not a Raspberry Pi" in checks["throttling"].detail
    assert checks["temperature"].detail == "no thermal sensor on this machine"
    assert checks["cpu"].status == "ok" and "0.20 0.15 0.10" in checks["cpu"].detail


@pytest.mark.parametrize(("millidegrees", "status"), [(55_000, "ok"), (81_500, "warn"), (86_000, "fail")])
def test_cpu_temperature(tmp_path: Path, millidegrees: int, status: str) -> None:
    check = by_name(machine.system(read_system(pi_tree(tmp_path, millidegrees=millidegrees))))["temperature"]
    assert check.status == status and f"{millidegrees / 1000:.1f} °C" in check.detail


@pytest.mark.parametrize(("available_kb", "status"), [(2_000_000, "ok"), (80_000, "warn"), (20_000, "fail")])
def test_memory(tmp_path: Path, available_kb: int, status: str) -> None:
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemTotal:        3884096 kB\nMemFree:          100000 kB\nMemAvailable:   {available_kb} kB\n")
    assert machine.memory(machine.read_available_memory(meminfo)).status == status
    assert machine.read_available_memory(Path("/proc/meminfo")) is not None, "this machine's own"


def test_clock_judgement() -> None:
    now = time.time()
    synced = machine.clock(0, True, now)
    assert synced.status == "ok" and "synchronised" in synced.detail
    off = machine.clock(machine.TIME_ERROR, False, now)
    assert off.status == "warn" and "NTP is off" in off.detail and "sudo timedatectl set-ntp true" in off.advice
    waiting = machine.clock(machine.TIME_ERROR, True, now)
    assert "NTP is on but has not synchronised" in waiting.detail
    unset = machine.clock(0, None, datetime(2023, 6, 1, tzinfo=UTC).timestamp())
    assert unset.status == "fail" and "it has not been set" in unset.detail


def test_the_clock_readers_run_here() -> None:
    state = machine.read_clock_state()
    assert state is None or 0 <= state <= machine.TIME_ERROR
    assert machine.read_ntp_enabled() in (True, False, None)


def test_time_zone_of_the_config_and_of_the_system() -> None:
    berlin = parse_config("site: s\ntimezone: Europe/Berlin\n" + SERIAL, "c.yaml")
    utc = parse_config("site: s\n" + SERIAL, "c.yaml")
    assert machine.timezone(berlin, "Europe/Berlin").status == "ok"
    assert machine.timezone(utc, "Etc/UTC").status == "ok", "two names of one zone"
    differ = machine.timezone(berlin, "Etc/UTC")
    assert differ.status == "warn" and differ.advice == "sudo timedatectl set-timezone Europe/Berlin, so both agree"
    forgotten = machine.timezone(utc, "Europe/Berlin")
    assert forgotten.status == "warn" and "set timezone: Europe/Berlin" in forgotten.advice


def test_store_space_against_its_budget(tmp_path: Path) -> None:
    fits = parse_config(f"site: s\nstore:\n  path: {tmp_path / 'data'}\n  max_bytes: 1MiB\n" + SERIAL, "c.yaml")
    assert machine.store(fits).status == "ok" and "no database yet" in machine.store(fits).detail
    huge = parse_config(f"site: s\nstore:\n  path: {tmp_path / 'data'}\n  max_bytes: 1000TiB\n" + SERIAL, "c.yaml")
    check = machine.store(huge)
    assert check.status == "warn" and "less than its budget" in check.detail and "lower store.max_bytes" in check.advice


def test_packages_and_the_camera_extra() -> None:
    found = by_name(machine.python_and_packages(cameras=True))
    assert found["python"].status == "ok" and found["packages"].status == "ok"
    assert "paho-mqtt" in found["packages"].detail and "pydantic" in found["packages"].detail
    assert found["camera extra"].status == "ok", "the test extra installs the camera extra"


def test_render_and_exit_status() -> None:
    checks = [Check("ok", "a", "fine"), Check("warn", "b", "hmm", "do x"), Check("fail", "c", "pw=hunter22", "do y")]
    lines = render(checks, lambda text: text.replace("hunter22", "********"))
    assert lines[0].startswith("ok    a ") and lines[2].endswith("-> do x")
    assert "hunter22" not in "\n".join(lines)
    assert exit_status(checks) == 1 and exit_status(checks[:2]) == 0


def test_doctor_without_the_camera_extra_names_it(tmp_path: Path) -> None:
    """In a child interpreter where OpenCV and onnxruntime count as not installed (as on a serial-only device;
    tests/integration/test_install.py has the real install): a camera config fails, naming the extra."""
    import subprocess
    import sys

    from tests.config.test_camera import WITHOUT_CAMERA_LIBRARIES

    cfg = tmp_path / "cam.yaml"
    cfg.write_text(
        "site: s\nmqtt:\n  enabled: false\nsensors:\n  - id: cam\n    type: camera\n    source: 0\n"
        "    counting:\n      lines:\n        - {name: door, points: [[0, 200], [640, 200]], in_direction: down}\n"
    )
    argv = ["doctor", "--config", str(cfg)]
    code = WITHOUT_CAMERA_LIBRARIES + f"from agent.cli.main import main\nsys.exit(main({argv!r}))\n"
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    (config,) = [line for line in done.stdout.splitlines() if line.startswith("fail  config")]
    assert "pip install 'footfall-agent[camera]'" in config
    assert "not installed (only a camera needs it)" in done.stdout
