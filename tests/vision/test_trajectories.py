"""The trajectory loader and the crossing truth the camera clips are checked against."""

from __future__ import annotations

import numpy as np
import pytest

from tests.trajectories import (
    RECORDINGS,
    VENDORED,
    Person,
    Recording,
    crossing_steps,
    crossings,
    in_out,
    load,
    needs,
    parse,
)


@pytest.mark.parametrize(
    ("coord", "steps"),
    [
        ([-1.0, -0.5, 0.5, 1.0], [(2, 1)]),  # one walk across
        ([1.0, 0.5, -0.5, -1.0], [(2, -1)]),
        ([-1.0, 1.0, -1.0], [(1, 1), (2, -1)]),  # in and back out: one each
        ([-1.0, 0.03, -0.02, 0.04, -1.0], []),  # swaying on the line, within the band: nothing
        ([-1.0, 0.03, 0.2, 0.03, 0.3], [(2, 1)]),  # stop-and-go over the line: once
        ([0.0, 0.01, 1.0, 2.0], []),  # first seen on the line: no side to come from
        ([-1.0, -0.5], []),
        ([], []),
    ],
)
def test_crossing_steps(coord: list[float], steps: list[tuple[int, int]]) -> None:
    assert crossing_steps(np.array(coord)) == steps
    assert crossings(np.array(coord)) == ([s for _, s in steps].count(1), [s for _, s in steps].count(-1))


def test_without_a_band_every_sign_change_counts() -> None:
    assert crossings(np.array([-1.0, 0.03, -0.02, 0.04, -1.0]), band=0.0) == (2, 2)


def test_in_and_out_follow_the_recordings_in_direction() -> None:
    towards_plus = Person(1, np.arange(3), np.array([[-1.0, 0.0], [0.0, 0.0], [1.0, 0.0]]), 1.7)
    assert in_out(Recording("a", 1.0, 0, +1), [towards_plus]) == (1, 0)
    assert in_out(Recording("a", 1.0, 0, -1), [towards_plus]) == (0, 1)
    assert in_out(Recording("a", 1.0, 1, +1), [towards_plus]) == (0, 0)  # it walks along y = 0, never across


def test_parse_sorts_people_and_frames_and_converts_units() -> None:
    text = "# id frame x/cm y/cm z/cm\n2 11 100 0 170\n1 6 -50 20 180\n2 10 90 0 172\n1 5 -60 20 180\n"
    people = parse(text, 0.01)
    assert [p.id for p in people] == [1, 2]
    assert people[0].frames.tolist() == [5, 6] and people[1].frames.tolist() == [10, 11]
    assert people[1].pos.tolist() == [[0.9, 0.0], [1.0, 0.0]]
    assert people[1].height_m == pytest.approx(1.71)


def test_the_vendored_recording_gives_its_published_counts() -> None:
    """Always there (tests/data/, with its licence): 61 people through an opening, all towards -y."""
    rec = RECORDINGS["uo-050-180-180.txt"]
    assert (VENDORED / rec.name).is_file()
    people = load(rec)
    assert len(people) == 61
    assert in_out(rec, people) == (61, 0)


@needs(RECORDINGS["bi_corr_400_b_03.txt"])
def test_the_bidirectional_corridor_gives_the_readmes_per_person_net_counts() -> None:
    rec = RECORDINGS["bi_corr_400_b_03.txt"]
    people = load(rec)
    assert len(people) == 480
    assert in_out(rec, people) == (231, 249)
    assert in_out(rec, people, band=0.0) == (232, 250)  # the README's raw sign changes
