"""One malloc arena for the whole agent (glibc), unless the environment already chose a number.

glibc gives a thread that meets contention an arena of its own, up to eight per core (32 on a Raspberry Pi 4),
and memory freed into one arena serves only the threads bound to it. A camera agent's threads (capture and
decoding, analysis, the interval loop, the MQTT client) each allocate frames, arrays and payloads, none of them
in a tight loop, so they lose no measurable time sharing one arena, and what one frees another reuses. The
number came from `bench/camera_pipeline.py` (one camera at 10 fps, 2 x86 cores, RSS medians over 40 s, runs
interleaved): 129.7 MB with one arena against 133.3-133.8 MB with glibc's default and 132.1-132.6 MB with two.
Pinned to one core (`--cpus 0`, 5 passes, two runs each) the analysing thread's CPU per frame, pipeline against
model only, was 0.96 and 0.96 with one arena, 0.93 and 0.94 without: sharing costs nothing measurable. A serial
agent's RSS moves by less than 0.5 MB either way (`bench/startup.py`).

`MALLOC_ARENA_MAX` (or `glibc.malloc.arena_max` in `GLIBC_TUNABLES`) in the environment wins: a user who set
it knows their device. On a C library without `mallopt` (musl), nothing changes.
"""

from __future__ import annotations

import os

ARENAS = 1
"""Arenas the agent's threads share; the reason and the benchmark are in the module docstring."""

M_ARENA_MAX = -8
"""glibc's `mallopt` parameter number for the arena limit (malloc.h)."""


def chosen_by_environment(env: dict[str, str] | os._Environ[str]) -> bool:
    """Whether the user already set the arena limit for this process."""
    return "MALLOC_ARENA_MAX" in env or "glibc.malloc.arena_max" in env.get("GLIBC_TUNABLES", "")


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `arenas`, before the agent starts its threads; True if the cap was set."""
    if chosen_by_environment(os.environ):
        return False
    import ctypes  # on use: only `run` needs it

    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(M_ARENA_MAX, arenas))
