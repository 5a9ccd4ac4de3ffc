"""The onnxruntime session every network detector runs in: how many threads, and how idle ones wait.

The detector shares the device with frame capture and decoding, the tracker, the store and the MQTT client,
so it must not take every core. On a 2-core machine `threads: 2` made the int8 network slower, not faster
(measured for issue 12: the second thread competes with capture and decoding for the other core), so 2
usable cores or fewer get one thread. On a 4-core Raspberry Pi, two threads leave two cores for capture and
the rest of the agent; more would slow capture and the interval clock for a network that already meets its
frame budget on one core (bench/detector_speed.py). `bench/detector_speed.py --threads N` compares.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime

MAX_AUTO_THREADS = 4
"""Beyond four threads, a detector this small gains little: its convolutions are too small to split well."""


def usable_cpus() -> int:
    """Cores this process may run on (its affinity, which containers and `taskset` narrow), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def auto_threads(cpus: int) -> int:
    """Intra-op threads for a device with `cpus` usable cores: 1 up to 2 cores, else half of them (at most 4)."""
    if cpus <= 2:
        return 1
    return min(MAX_AUTO_THREADS, cpus // 2)


def open_session(path: Path, threads: int | None) -> onnxruntime.InferenceSession:
    """A CPU session for the model at `path` with `threads` intra-op threads (None: `auto_threads`)."""
    import onnxruntime as ort  # on use: loading detector configs must not pull in onnxruntime

    count = threads if threads is not None else auto_threads(usable_cpus())
    options = ort.SessionOptions()
    options.intra_op_num_threads = count
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    if count > 1:
        # Idle workers would otherwise spin between the network's operators, burning a core that capture
        # and tracking share.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
