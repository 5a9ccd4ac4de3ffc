"""The code style is checked with the tests, so that a change that breaks it does not land.

ruff is pinned in the test extra: its formatting changes between versions, and the check must not.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def ruff(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("check", "args"), [("lint", ("check", ".")), ("format", ("format", "--check", "."))])
def test_ruff(check: str, args: tuple[str, ...]) -> None:
    result = ruff(*args)
    assert result.returncode == 0, f"ruff {check}:\n{result.stdout}{result.stderr}"
