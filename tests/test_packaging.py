"""Every dependency installs from wheels on Raspberry Pi OS: nothing is built from source on the device.

Raspberry Pi OS 64-bit ships Python 3.11 (Bookworm, glibc 2.36) and Python 3.13 (Trixie, glibc 2.41). pip is
asked to resolve the core and the camera extra for that platform with `--only-binary=:all:`, exactly as it
would on the device; the answer comes from the package index, so these tests skip when it is unreachable.

32-bit Raspberry Pi OS (armv7l) is checked the same way for what PyPI has wheels for: the serial-only core
except numpy and PyYAML, which come from piwheels or Debian there (docs/install.md says how); the camera extra
has no armv7l wheels at all.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.package_index import requirements, unreachable

PI_OS = {"3.11": 36, "3.13": 41}
"""Python version of each Raspberry Pi OS release and the minor version of its glibc (2.36, 2.41)."""
ARMV7_NOT_ON_PYPI = {"numpy", "pyyaml"}
"""Core dependencies PyPI has no armv7l wheels for (docs/install.md: piwheels or Debian's packages)."""


def name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def resolve(requirements: list[str], python: str, arch: str, tmp_path: Path) -> dict[str, str]:
    """{distribution: wheel file} that pip would install for this platform, wheels only; fails naming what
    has no wheel."""
    glibc = PI_OS[python]
    platforms = [f"manylinux_2_{minor}_{arch}" for minor in range(17, glibc + 1)] + [f"manylinux2014_{arch}"]
    report = tmp_path / f"report-{python}-{arch}.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--dry-run",
            "--ignore-installed",
            "--quiet",
            "--disable-pip-version-check",
            "--report",
            str(report),
            "--only-binary=:all:",
            *(f"--platform={p}" for p in platforms),
            f"--python-version={python}",
            "--implementation=cp",
            "--target",
            str(tmp_path / "target"),
            *requirements,
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"not every dependency has a wheel for {arch}, Python {python}:\n{done.stderr}"
    installs = json.loads(report.read_text())["install"]
    wheels = {name(i["metadata"]["name"]): i["download_info"]["url"].rsplit("/", 1)[-1] for i in installs}
    for distribution, wheel in sorted(wheels.items()):
        print(f"{python} {arch}: {distribution}: {wheel}")
    return wheels


@pytest.fixture(scope="module")
def index() -> None:
    reason = unreachable()
    if reason is not None:
        pytest.skip(reason)


@pytest.mark.parametrize("python", sorted(PI_OS))
def test_core_and_camera_resolve_to_wheels_for_64_bit_raspberry_pi_os(index: None, python: str, tmp_path: Path) -> None:
    wanted = requirements() + requirements("camera")
    wheels = resolve(wanted, python, "aarch64", tmp_path)
    assert {name(r) for r in wanted} <= set(wheels)
    assert all(w.endswith(".whl") for w in wheels.values())


@pytest.mark.parametrize("python", sorted(PI_OS))
def test_32_bit_raspberry_pi_os_gets_the_rest_of_the_core_from_pypi_wheels(
    index: None, python: str, tmp_path: Path
) -> None:
    wanted = [r for r in requirements() if name(r) not in ARMV7_NOT_ON_PYPI]
    assert len(wanted) == len(requirements()) - len(ARMV7_NOT_ON_PYPI), "a listed exception is no dependency"
    wheels = resolve(wanted, python, "armv7l", tmp_path)
    assert {name(r) for r in wanted} <= set(wheels)
