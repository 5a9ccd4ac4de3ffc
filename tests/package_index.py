"""The package index pip uses, for the tests that resolve or install the agent's dependencies from it.

CI reaches PyPI; a machine without network skips those tests, saying why, instead of failing them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYPI = "https://pypi.org/simple/"


def index_url() -> str:
    """The index pip is configured to use (PIP_INDEX_URL, pip.conf), else PyPI."""
    url = os.environ.get("PIP_INDEX_URL", "")
    if not url:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"], capture_output=True, text=True
        )
        url = done.stdout.strip() if done.returncode == 0 else ""
    return (url or PYPI).rstrip("/") + "/"


def unreachable() -> str | None:
    """Why the index cannot be used now, or None when it answers."""
    url = index_url()
    try:
        with urllib.request.urlopen(url + "pip/", timeout=15):
            return None
    except (urllib.error.URLError, OSError) as e:
        return f"the package index {url} is unreachable ({getattr(e, 'reason', e)})"


def requirements(extra: str | None = None) -> list[str]:
    """The core dependencies of pyproject.toml, or those of one extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return list(project["dependencies"] if extra is None else project["optional-dependencies"][extra])
