"""`footfall-agent score` as a real process with helper processes: a helper killed with SIGKILL ends the run
with a clear error and whole rows, never a hang or a silent short output."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SENSORS = 12
HOURS = 3 * 52 * 168  # three years per sensor: long enough to kill a helper mid-run


def write_input(path: Path) -> None:
    t0 = dt.datetime(2022, 1, 3)
    with path.open("w") as f:
        f.write("timestamp,sensor,count\n")
        for h in range(HOURS):
            stamp = (t0 + dt.timedelta(hours=h)).strftime("%Y-%m-%d %H:%M")
            busy = 7 <= h % 24 <= 21
            f.writelines(f"{stamp},door-{s},{(h * 7 + s * 13) % 50 + (200 if busy else 3)}\n" for s in range(SENSORS))


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.extend(int(x) for x in text)
    return found


def test_a_killed_helper_ends_the_run_with_an_error_and_whole_rows(tmp_path: Path) -> None:
    src = tmp_path / "in.csv"
    write_input(src)
    out_path = tmp_path / "out.csv"
    with out_path.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "agent", "score", "--jobs", "3", str(src)],
            cwd=REPO,
            stdout=out,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 60
            helpers: list[int] = []
            while len(helpers) < 2 and time.monotonic() < deadline and proc.poll() is None:
                helpers = children(proc.pid)
                time.sleep(0.05)
            assert len(helpers) == 2, "score did not start its two helpers"
            # Let some blocks be written first, then kill one helper.
            while out_path.stat().st_size < 200_000 and time.monotonic() < deadline:
                time.sleep(0.02)
            os.kill(helpers[0], signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == 1
    message = err.decode()
    assert f"pid {helpers[0]}" in message and "killed by signal 9" in message
    assert "Traceback" not in message
    written = out_path.read_text()
    assert written.endswith("\n")
    lines = written.splitlines()
    assert 1 < len(lines) < SENSORS * HOURS + 1  # stopped part-way
    # Whole rows, exactly what a run with one process writes for them.
    alone = subprocess.run(
        [sys.executable, "-m", "agent", "score", "--jobs", "1", str(src)],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout.decode()
    assert alone.splitlines()[: len(lines)] == lines
    # The other helper did not outlive the run.
    assert not Path(f"/proc/{helpers[1]}").exists() or "Z" in Path(f"/proc/{helpers[1]}/stat").read_text().split()[2]
