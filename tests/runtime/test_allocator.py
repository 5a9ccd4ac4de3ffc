"""The arena cap and the fixed mmap threshold, seen in real processes through glibc's own reports."""

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


def run(program: str, mode: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`program` in a fresh interpreter with `env` and none of the allocator settings of this one."""
    clean = {
        k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "GLIBC_TUNABLES")
    }
    return subprocess.run(
        [sys.executable, "-c", program, mode],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def arenas(mode: str, env: dict[str, str]) -> tuple[str, int]:
    done = run(PROGRAM, mode, env)
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


# A 10 MiB block is freed (glibc would now raise its threshold to 10 MiB), then a 2 MiB one is made; glibc's
# `mallinfo2` tells the bytes in blocks mapped on their own (`hblkhd`).
THRESHOLD_PROGRAM = """
import ctypes, sys
from agent.runtime.allocator import fix_mmap_threshold
class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = MallInfo2
fixed = fix_mmap_threshold() if sys.argv[1] == "fix" else False
big = bytearray(10 << 20)
del big
block = bytearray(2 << 20)
print(fixed, libc.mallinfo2().hblkhd >= 2 << 20)
"""


def mapped_after_a_large_block(mode: str, env: dict[str, str]) -> str:
    """Whether the threshold was set, and whether a 2 MiB block after a freed 10 MiB one got its own mapping."""
    return run(THRESHOLD_PROGRAM, mode, env).stdout.strip()


has_mallinfo2 = pytest.mark.skipif(
    platform.libc_ver()[0] == "glibc" and tuple(int(p) for p in platform.libc_ver()[1].split(".")[:2]) < (2, 33),
    reason="mallinfo2 is glibc 2.33's",
)


@glibc_only
@has_mallinfo2
def test_a_freed_large_block_does_not_move_later_blocks_into_the_heap() -> None:
    assert mapped_after_a_large_block("fix", {}) == "True True"


@glibc_only
@has_mallinfo2
def test_without_the_fixed_threshold_glibc_moves_it_up() -> None:
    """The control: glibc's own adjusting threshold puts the 2 MiB block in the heap (so the test above can fail)."""
    assert mapped_after_a_large_block("none", {}) == "False False"


@glibc_only
@has_mallinfo2
def test_an_mmap_threshold_in_the_environment_wins() -> None:
    assert mapped_after_a_large_block("fix", {"MALLOC_MMAP_THRESHOLD_": str(64 << 20)}) == "False False"


def test_the_environment_choices_it_recognises() -> None:
    assert chosen_by_environment({"MALLOC_ARENA_MAX": "2"})
    assert chosen_by_environment({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1:glibc.malloc.arena_max=2"})
    assert not chosen_by_environment({"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1"})
    assert not chosen_by_environment({})
    threshold = "MALLOC_MMAP_THRESHOLD_"
    assert chosen_by_environment({threshold: "1048576"}, threshold)
    assert chosen_by_environment({"GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=1048576"}, threshold)
    assert not chosen_by_environment({"MALLOC_ARENA_MAX": "2"}, threshold)
    assert not chosen_by_environment({threshold: "1048576"})
