"""One malloc arena and a fixed mmap threshold for the whole agent (glibc), unless the environment chose.

glibc gives a thread that meets contention an arena of its own, up to eight per core (32 on a Raspberry Pi 4),
and memory freed into one arena serves only the threads bound to it. A camera agent's threads (capture and
decoding, analysis, the interval loop, the MQTT client) each allocate frames, arrays and payloads, none of them
in a tight loop, so they lose no measurable time sharing one arena, and what one frees another reuses. The
number came from `bench/camera_pipeline.py` (one camera at 10 fps, 2 x86 cores, RSS medians over 40 s, runs
interleaved): 129.7 MB with one arena against 133.3-133.8 MB with glibc's default and 132.1-132.6 MB with two.
Pinned to one core (`--cpus 0`, 5 passes, two runs each) the analysing thread's CPU per frame, pipeline against
model only, was 0.96 and 0.96 with one arena, 0.93 and 0.94 without: sharing costs nothing measurable. A serial
agent's RSS moves by less than 0.5 MB either way (`bench/startup.py`). Since the mmap threshold below is fixed,
the frames no longer sit in the arenas and the camera agent's difference is smaller: 124.5 against 125.3 MB.

A fixed mmap threshold keeps memory from staying high after one large message. glibc serves a block above the
threshold with a mapping of its own, returned to the kernel on free; but by default it raises the threshold to
the size of every such block freed (up to 32 MiB) and the heap's trim threshold to twice that. One 10 MB
payload on the command topic (paho-mqtt reads a packet whole, then copies it) therefore moved every later
block below 10 MB into the heap, which then kept up to 20 MB free before giving any back, and fragments
pinned by small live objects kept more: after fifty such payloads the agent's RSS stayed 5 MB higher, and in
about one run in four 40-50 MB higher (`tests/integration/test_fault_commands.py`). With the threshold fixed
the growth is 0.1 MB in every run. Why `MMAP_THRESHOLD` has its value is told next to it.

`MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_` (or `glibc.malloc.arena_max` and `glibc.malloc.mmap_threshold` in
`GLIBC_TUNABLES`) in the environment win: a user who set them knows their device. On a C library without
`mallopt` (musl), nothing changes.
"""

from __future__ import annotations

import os

ARENAS = 1
"""Arenas the agent's threads share; the reason and the benchmark are in the module docstring."""

MMAP_THRESHOLD = 128 << 10
"""glibc's own starting value, kept fixed. Any block a hostile payload makes is then mapped and returned: with
8 MiB, fifty 5 MiB commands still left 2-3.5 MB behind (0.1 MB at this value). A camera agent's large
per-frame blocks (the frame, the model's input) are mapped afresh each frame too. `bench/camera_pipeline.py`'s
agent (one camera at 10 fps, 2 x86 cores, 40 s each, three interleaved rounds) against 32 MiB, where every
per-frame block stays in the heap: RSS 124.5 MB against 129.2 MB (median), CPU 26.2 against 24.1 ms per frame
(1.09x, the page faults of the fresh mappings). 1 MiB and 4 MiB gave RSS 127-129 MB and CPU within the runs'
spread of either: 2 ms of a core per frame buys the smaller, steadier memory."""

M_ARENA_MAX = -8
"""glibc's `mallopt` parameter number for the arena limit (malloc.h)."""
M_MMAP_THRESHOLD = -3
"""glibc's `mallopt` parameter number for the mmap threshold (malloc.h); setting it also ends the adjusting."""


def chosen_by_environment(env: dict[str, str] | os._Environ[str], variable: str = "MALLOC_ARENA_MAX") -> bool:
    """Whether the user already set `variable` (or its tunable in `GLIBC_TUNABLES`) for this process."""
    tunable = {"MALLOC_ARENA_MAX": "glibc.malloc.arena_max", "MALLOC_MMAP_THRESHOLD_": "glibc.malloc.mmap_threshold"}
    return variable in env or tunable[variable] in env.get("GLIBC_TUNABLES", "")


def _mallopt(parameter: int, value: int) -> bool:
    """glibc's `mallopt(parameter, value)`; False where there is no glibc or it refused."""
    import ctypes  # on use: only `run` needs it

    try:
        libc = ctypes.CDLL(None)
    except OSError:
        return False
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return False
    return bool(libc.mallopt(parameter, value))


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas at `arenas`, before the agent starts its threads; True if the cap was set."""
    if chosen_by_environment(os.environ):
        return False
    return _mallopt(M_ARENA_MAX, arenas)


def fix_mmap_threshold(threshold: int = MMAP_THRESHOLD) -> bool:
    """Serve blocks of `threshold` bytes and more from mappings of their own, always; True if it was set."""
    if chosen_by_environment(os.environ, "MALLOC_MMAP_THRESHOLD_"):
        return False
    return _mallopt(M_MMAP_THRESHOLD, threshold)
