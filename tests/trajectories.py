"""Real pedestrian trajectories, and who crossed their counting line.

One small recording is vendored in tests/data/ (with its licence and attribution) so that a real recording is
always tested; the larger ones are read from ../shared/data/trajectories/, which a fresh clone does not have:
tests that need one are marked with `needs(recording)` and skip, saying so, when it is absent.

Each file holds heads tracked from above in a published crowd experiment (see ../shared/README.md):
whitespace-separated `id frame x y z`, 25 fps, consecutive frames per person, units per file. The counting
line of every recording is x = 0 or y = 0; a crossing is a change of side of that coordinate, per person.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

TRAJECTORIES = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "trajectories"
VENDORED = Path(__file__).resolve().parent / "data"
FPS = 25.0
# A person standing on the line sways a few centimetres; the README's per-person net counts ignore that
# (one person in the bi-directional corridor jitters across x = 0 within 3 cm).
TRUTH_BAND_M = 0.05


@dataclass(frozen=True)
class Recording:
    """One trajectory file and its counting line (x = 0 or y = 0 in the world)."""

    name: str
    unit_m: float
    axis: int  # the coordinate across the line: 0 (line x = 0) or 1 (line y = 0)
    in_sign: int  # +1: moving towards +axis is "in"; -1: towards -axis


RECORDINGS = {
    r.name: r
    for r in [
        Recording("bi_corr_400_b_03.txt", 0.01, 0, +1),
        Recording("040_c_56_h-.txt", 1.0, 1, -1),
        Recording("traj_UNI_CORR_500_01.txt", 1.0, 0, -1),
        Recording("uo-180-180-120.txt", 0.01, 1, -1),
        Recording("uo-050-180-180.txt", 0.01, 1, -1),
    ]
}


@dataclass(frozen=True)
class Person:
    """One person's track: trajectory frames and floor positions in metres, and their height."""

    id: int
    frames: np.ndarray  # (N,) int
    pos: np.ndarray  # (N, 2) metres
    height_m: float


def parse(text: str, unit_m: float) -> list[Person]:
    """People of a trajectory file's text, sorted by id, each with frames in order."""
    rows = np.loadtxt(text.splitlines(), comments="#", ndmin=2)
    rows[:, 2:5] *= unit_m
    rows = rows[np.lexsort((rows[:, 1], rows[:, 0]))]
    ids, starts = np.unique(rows[:, 0], return_index=True)
    people = []
    for pid, part in zip(ids, np.split(rows, starts[1:]), strict=True):
        people.append(Person(int(pid), part[:, 1].astype(int), part[:, 2:4].copy(), float(np.median(part[:, 4]))))
    return people


def path(rec: Recording) -> Path:
    """Where the recording is: vendored in tests/data/, else in ../shared (read-only; not in the repository)."""
    vendored = VENDORED / rec.name
    return vendored if vendored.is_file() else TRAJECTORIES / rec.name


def needs(rec: Recording) -> pytest.MarkDecorator:
    """Skip a test, saying why, when its recording is neither vendored nor in ../shared (a fresh clone)."""
    return pytest.mark.skipif(
        not path(rec).is_file(),
        reason=f"needs the recording {rec.name} from ../shared/data/trajectories/, which is not in the repository "
        "(a fresh clone has no ../shared)",
    )


def load(rec: Recording) -> list[Person]:
    """The people of a recording."""
    return parse(path(rec).read_text(), rec.unit_m)


def crossing_steps(coord: np.ndarray, band: float = TRUTH_BAND_M) -> list[tuple[int, int]]:
    """(index, +1 or -1) of each change of side of one person's coordinate across 0, sides taken beyond
    +-band: the index is the first sample on the new side, the sign the direction of the crossing."""
    steps = []
    side = 0
    for i, c in enumerate(coord):
        new = 1 if c > band else -1 if c < -band else 0
        if new and side and new != side:
            steps.append((i, new))
        side = new or side
    return steps


def crossings(coord: np.ndarray, band: float = TRUTH_BAND_M) -> tuple[int, int]:
    """(towards +, towards -) changes of side of one person's coordinate across 0."""
    signs = [s for _, s in crossing_steps(coord, band)]
    return signs.count(1), signs.count(-1)


def in_out(rec: Recording, people: list[Person], band: float = TRUTH_BAND_M) -> tuple[int, int]:
    """Crossings (in, out) of a recording's line by these people, "in" being the recording's in-direction."""
    plus = minus = 0
    for p in people:
        a, b = crossings(p.pos[:, rec.axis], band)
        plus, minus = plus + a, minus + b
    return (plus, minus) if rec.in_sign > 0 else (minus, plus)
