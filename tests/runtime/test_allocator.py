"""The arena cap, seen in a real process through glibc's own `malloc_stats` report of its arenas."""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agent.runtime.allocator import chosen_by_environment

ROOT = Path(__file__).resolve().parents[2]

# Eight threads each allocate and free megabyte buffers at once, then glibc prints one block per arena.
PROGRAM = """
import ctypes, sys, threading
from agent.runtime.allocator import limit_arenas
capped = limit_arenas() if sys.argv[1] == "cap" else False
start = threading.Barrier(8)
def work():
    start.wait()
    for _ in range(200):
        bytearray(1 << 20)
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(capped, flush=True)
ctypes.CDLL(None).malloc_stats()
"""

glibc_only = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="malloc arenas are glibc's"
)


def arenas(mode: str, env: dict[str, str]) -> tuple[str, int]:
    clean = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")}
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip(), len(re.findall(r"^Arena \d+:", done.stderr, re.MULTILINE))


@glibc_only
def test_the_agents_threads_share_one_arena() -> None:
    assert arenas("cap", {}) == ("True", 1)


@glibc_only
def test_without_the_cap_threads_take_arenas_of_their_own() -> None:
    """The control: the same program makes several arenas when nothing caps them (so the test above can fail)."""
    assert arenas("none", {})[1] > 1


@glibc_only
def test_an_arena_limit_in_the_environment_wins() -> None:
    assert arenas("cap", {"MALLOC_ARENA_MAX": "3"}) == ("False", 3)


def test_the_environment_choices_it_recognises() -> None:
    assert chosen_by_environment({"MALLOC_ARENA_MAX": "2"})
    assert chosen_by_environment({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1:glibc.malloc.arena_max=2"})
    assert not chosen_by_environment({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"})
    assert not chosen_by_environment({})
