"""The machine the agent runs on: Python and packages, CPU, memory, temperature and throttling, the store's disk,
the clock and the time zone.

A Raspberry Pi has no real-time clock: until NTP has set it after boot, the clock may be hours or years off, and
intervals are cut on the wall clock, so a clock that is not synchronised is worth a warning and an obviously
wrong one a failure. The readers take their paths as arguments so that a test can point them at a prepared tree
(a throttled Pi cannot be made here); the judgements are pure functions of the readings.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.metadata
import importlib.util
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from agent import __version__
from agent.config.agent import AgentConfig
from agent.doctor.checks import Check, fail, ok, warn
from agent.runtime.health import SystemReadings, cpu_temperature, throttling

CORE = ("paho-mqtt", "pydantic", "pyserial", "pymodbus", "PyYAML", "numpy", "tzdata")
CAMERA = (("cv2", ("opencv-python-headless", "opencv-python")), ("onnxruntime", ("onnxruntime",)))
CAMERA_HINT = "pip install 'footfall-agent[camera]' into the agent's venv (systemd/install.sh --venv --camera)"

HOT_C, TOO_HOT_C = 80.0, 85.0
"""A Raspberry Pi starts to throttle at 80 degrees C and throttles hard at 85."""
LOW_MEMORY, TOO_LITTLE_MEMORY = 100 * 2**20, 30 * 2**20
TOO_LITTLE_DISK = 50 * 2**20
EARLIEST_PLAUSIBLE = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
"""Before this the clock is certainly wrong (a Pi without network after boot shows a time from its last run)."""
TIME_ERROR = 5
"""adjtimex(2)'s clock state when the kernel clock is not synchronised to a reliable time source."""


def _version(*distributions: str) -> str | None:
    for name in distributions:
        try:
            return importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def python_and_packages(cameras: bool | None) -> list[Check]:
    """The interpreter and the installed libraries; the camera extra only matters when a camera is configured
    (`cameras`; None when there is no config to tell)."""
    venv = f", venv {sys.prefix}" if sys.prefix != sys.base_prefix else ""
    found = [
        ok("python", f"Python {platform.python_version()} ({sys.executable}{venv}), {platform.machine()}"),
    ]
    core = [f"{name} {_version(name) or 'MISSING'}" for name in CORE]
    missing = [name for name in CORE if _version(name) is None]
    detail = f"footfall-agent {__version__}; " + ", ".join(core)
    if missing:
        found.append(fail("packages", detail, f"reinstall the agent: {', '.join(missing)} missing"))
    else:
        found.append(ok("packages", detail))
    camera = {module: _version(*names) for module, names in CAMERA if importlib.util.find_spec(module) is not None}
    if len(camera) == len(CAMERA):
        found.append(ok("camera extra", ", ".join(f"{m} {v or '?'}" for m, v in camera.items())))
    elif cameras:
        absent = [names[0] for module, names in CAMERA if module not in camera]
        detail = f"{' and '.join(absent)} not installed, and a camera is configured"
        found.append(fail("camera extra", detail, CAMERA_HINT))
    elif cameras is None:
        found.append(ok("camera extra", "not installed (only a camera needs it)"))
    else:
        found.append(ok("camera extra", "not installed (not needed: no camera configured)"))
    return found


def system(readings: SystemReadings) -> list[Check]:
    """CPU load, temperature and the Raspberry Pi firmware's throttling flags."""
    found = []
    load, cpus = readings.loadavg, readings.cpu_count or 1
    if load is None:
        found.append(ok("cpu", f"{cpus} CPU(s), load not readable here"))
    elif load[1] > cpus:
        found.append(
            warn(
                "cpu",
                f"load {load[1]:.2f} over 5 min on {cpus} CPU(s): busier than it can keep up with",
                "find what else runs (top); for a camera lower fps or use the int8 model",
            )
        )
    else:
        found.append(ok("cpu", f"load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {cpus} CPU(s)"))
    temperature = cpu_temperature(readings.temperatures_c)
    if temperature is None:
        found.append(ok("temperature", "no thermal sensor on this machine"))
    elif temperature >= TOO_HOT_C:
        found.append(fail("temperature", f"CPU at {temperature:.1f} °C: throttled hard", "add a heat sink or a fan"))
    elif temperature >= HOT_C:
        found.append(warn("temperature", f"CPU at {temperature:.1f} °C: about to throttle", "add a heat sink or a fan"))
    else:
        found.append(ok("temperature", f"CPU at {temperature:.1f} °C"))
    found.append(_throttling(readings.throttled))
    return found


def _throttling(word: int | None) -> Check:
    flags = throttling(word)
    if flags is None:
        return ok("throttling", "no firmware throttling flags (not a Raspberry Pi)")
    supply = "use the official power supply (5 V 3 A; 5 A for a Pi 5) and a short, thick cable"
    if flags.under_voltage:
        return fail("throttling", f"under-voltage now ({flags.raw})", supply)
    now = [name for name in ("throttled", "frequency_capped", "soft_temperature_limit") if getattr(flags, name)]
    if now:
        return warn("throttling", f"{', '.join(now)} now ({flags.raw})", "cool the Pi: a heat sink or a fan")
    since = [name.removesuffix("_occurred") for name, value in flags.model_dump().items() if value is True]
    if since:
        advice = supply if flags.under_voltage_occurred else "cool the Pi: a heat sink or a fan"
        return warn("throttling", f"since boot: {', '.join(since)} ({flags.raw})", advice)
    return ok("throttling", f"never throttled since boot ({flags.raw})")


def read_available_memory(meminfo: Path = Path("/proc/meminfo")) -> tuple[int, int] | None:
    """(available, total) bytes from the kernel, or None where it does not say."""
    values: dict[str, int] = {}
    try:
        for line in meminfo.read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("MemAvailable", "MemTotal"):
                values[key] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    if len(values) < 2:
        return None
    return values["MemAvailable"], values["MemTotal"]


def memory(reading: tuple[int, int] | None) -> Check:
    if reading is None:
        return ok("memory", "not readable here")
    available, total = reading
    detail = f"{_mib(available)} available of {_mib(total)}"
    if available < TOO_LITTLE_MEMORY:
        return fail("memory", detail, "stop other programs; a camera needs about 150 MB")
    if available < LOW_MEMORY:
        return warn("memory", detail, "enough for serial counters; a camera needs about 150 MB")
    return ok("memory", detail)


def store(cfg: AgentConfig) -> Check:
    """Free space where the store lives, against its budget `store.max_bytes`."""
    path = cfg.store.path
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.R_OK | os.X_OK):
        return warn(
            "store",
            f"{existing} is not readable by this user",
            "run doctor with sudo, or as the service's user: sudo -u footfall footfall-agent doctor",
        )
    try:
        st = os.statvfs(existing)
    except OSError as e:
        return fail("store", f"{path}: {e.strerror or e}", "check store.path")
    free = st.f_bavail * st.f_frsize
    db = path / "footfall.db"
    used = sum(p.stat().st_size for p in (db, path / "footfall.db-wal") if p.exists())
    where = f"{path} ({'database ' + _mib(used) if db.exists() else 'no database yet'})"
    if not os.access(existing, os.W_OK):
        return warn(
            "store",
            f"{where}: {existing} is not writable by this user",
            "the service's user owns it; run doctor as that user or with sudo to be sure",
        )
    if free < TOO_LITTLE_DISK:
        return fail("store", f"{where}: only {_mib(free)} free on its filesystem", "free some disk space")
    if free < cfg.store.max_bytes - used:
        return warn(
            "store",
            f"{where}: {_mib(free)} free, less than its budget store.max_bytes {_mib(cfg.store.max_bytes)}",
            "lower store.max_bytes below the free space, or free some disk space",
        )
    return ok("store", f"{where}: {_mib(free)} free, budget {_mib(cfg.store.max_bytes)}")


def read_clock_state() -> int | None:
    """The kernel's clock state from adjtimex(2) in read-only mode (5: not synchronised), None if unavailable."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name, use_errno=True)
        timex = ctypes.create_string_buffer(512)  # struct timex with modes 0: read only; larger than any layout
        state = int(libc.adjtimex(timex))
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state


def read_ntp_enabled() -> bool | None:
    """Whether systemd runs an NTP client (timedatectl's NTP property), None where timedatectl cannot say."""
    try:
        done = subprocess.run(
            ["timedatectl", "show", "--property=NTP", "--value"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    value = done.stdout.strip()
    return {"yes": True, "no": False}.get(value) if done.returncode == 0 else None


def clock(state: int | None, ntp_enabled: bool | None, now: float) -> Check:
    """Is the wall clock right? Intervals are cut on it, and a Pi without a real-time clock needs NTP."""
    shown = datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    enable = "sudo timedatectl set-ntp true" if ntp_enabled is False else "check the network reaches an NTP server"
    if now < EARLIEST_PLAUSIBLE:
        return fail("clock", f"the clock says {shown}: it has not been set", f"{enable}; then wait for the sync")
    if state is None:
        return ok("clock", f"{shown}; synchronisation not readable here")
    if state == TIME_ERROR:
        ntp = {True: "; NTP is on but has not synchronised", False: "; NTP is off", None: ""}[ntp_enabled]
        return warn(
            "clock",
            f"{shown}, not synchronised{ntp}",
            f"{enable} (timedatectl timesync-status); intervals follow this clock",
        )
    return ok("clock", f"{shown}, synchronised")


UTC_NAMES = {"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu", "Etc/GMT", "GMT", "Etc/GMT0"}


def timezone(cfg: AgentConfig, system_zone: str | None) -> Check:
    """Intervals follow the config's zone; the log and the store's messages show the system's."""
    if system_zone in UTC_NAMES and cfg.timezone in UTC_NAMES:
        system_zone = cfg.timezone
    if system_zone is None or system_zone == cfg.timezone:
        return ok("time zone", f"{cfg.timezone}" + (" (the system's too)" if system_zone else ""))
    if cfg.timezone == "UTC":
        return warn(
            "time zone",
            f"the config says UTC, the system {system_zone}: intervals follow UTC",
            f"set timezone: {system_zone} in the config if the shop is there",
        )
    return warn(
        "time zone",
        f"intervals follow {cfg.timezone} (the config), log times {system_zone} (the system)",
        f"sudo timedatectl set-timezone {cfg.timezone}, so both agree",
    )


def _mib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**30 else f"{n / 2**20:.0f} MiB"
