"""The crowd clip generator: its camera keeps the sides of the line, and its truth is what it draws."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.clips import read_frames
from tests.crowd_clip import (
    FLOOR_GRAY,
    HEIGHT,
    WIDTH,
    Camera,
    in_direction,
    line_points,
    pick,
    sample,
    truth,
    write_crowd,
)
from tests.trajectories import Person, Recording

CORRIDOR = Recording("corridor", 1.0, 0, +1)  # line x = 0, walking towards +x is "in"
EXIT = Recording("exit", 1.0, 1, -1)  # line y = 0, walking towards -y is "in"


def walker(pid: int, xs: list[float], y: float, first: int = 0) -> Person:
    """A person walking along x at a fixed y, one position per trajectory frame."""
    n = len(xs)
    return Person(pid, np.arange(first, first + n), np.stack([np.array(xs), np.full(n, y)], axis=1), 1.75)


@pytest.mark.parametrize("rec", [CORRIDOR, EXIT])
def test_the_line_is_the_centre_column_and_sides_are_kept(rec: Recording) -> None:
    rng = np.random.default_rng(3)
    pos = np.column_stack([rng.uniform(-3, 3, 200), rng.uniform(0, 4, 200)])
    if rec.axis == 1:
        pos = pos[:, ::-1]
    camera = Camera.beside(rec, [Person(1, np.arange(200), pos, 1.75)])
    feet = camera.project(pos)
    assert np.array_equal(np.sign(feet[:, 0] - WIDTH / 2), np.sign(pos[:, rec.axis]))
    assert line_points() == [[WIDTH // 2, 0], [WIDTH // 2, HEIGHT]]
    assert in_direction(rec) == ("right" if rec is CORRIDOR else "left")


def test_farther_people_are_smaller_and_higher_in_the_frame() -> None:
    pos = np.array([[0.0, 0.0], [0.0, 2.0], [0.0, 4.0]])
    camera = Camera.beside(CORRIDOR, [Person(1, np.arange(3), pos, 1.75)])
    feet, heads = camera.project(pos), camera.project(pos, 1.75)
    tall = feet[:, 1] - heads[:, 1]
    assert np.all(np.diff(tall) < 0) and np.all(np.diff(feet[:, 1]) < 0)
    assert feet[0, 1] <= HEIGHT and heads[-1, 1] >= 0


def test_truth_of_a_walk_across_and_back_with_times() -> None:
    there_and_back = walker(7, [-2.0, -1.0, -0.1, 0.6, 1.5, 0.7, -0.2, -1.0], y=1.0, first=100)
    drawn = sample([there_and_back], 100, 200, 2)  # frames 100, 102, 104, 106: x -2, -0.1, 1.5, -0.2
    assert drawn[0].pos[:, 0].tolist() == [-2.0, -0.1, 1.5, -0.2]
    assert truth(CORRIDOR, drawn, 100, 12.5, 2) == ((2 / 12.5, "in"), (3 / 12.5, "out"))
    flipped = Recording("corridor", 1.0, 0, -1)
    assert truth(flipped, drawn, 100, 12.5, 2) == ((2 / 12.5, "out"), (3 / 12.5, "in"))


def test_sampling_can_miss_a_short_excursion_and_the_truth_follows_what_is_drawn() -> None:
    dip = walker(1, [-1.0, 0.5, -1.0, -1.0], y=1.0)  # over the line for one frame only
    assert truth(CORRIDOR, sample([dip], 0, 3, 1), 0, 25.0, 1) == ((1 / 25, "in"), (2 / 25, "out"))
    assert truth(CORRIDOR, sample([dip], 0, 3, 2), 0, 12.5, 2) == ()


def test_pick_takes_whole_walks_in_the_window_then_every_kth() -> None:
    people = [walker(i, [0.0] * 10, 1.0, first=10 * i) for i in range(10)]  # person i: frames 10i..10i+9
    assert [p.id for p in pick(people, 3)] == [0, 3, 6, 9]
    assert [p.id for p in pick(people, 3, offset=1)] == [1, 4, 7]
    assert [p.id for p in pick(people, 2, window=(15, 79))] == [2, 4, 6]


def test_a_written_clip_shows_each_person_on_their_side_of_the_line(tmp_path: Path) -> None:
    right_to_left = walker(1, list(np.linspace(1.0, -1.0, 40)), y=0.5)
    left_to_right = walker(2, list(np.linspace(-2.0, 2.0, 40)), y=3.0)
    camera = Camera.beside(CORRIDOR, [right_to_left, left_to_right])
    clip = write_crowd(tmp_path / "two.avi", CORRIDOR, [right_to_left, left_to_right], camera)
    assert (clip.frames, clip.fps, clip.people) == (20, 12.5, 2)
    assert (clip.truth_in, clip.truth_out) == (1, 1)
    capture = cv2.VideoCapture(str(clip.path))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(12.5)
    capture.release()
    frames = read_frames(clip.path)
    assert len(frames) == 20 and frames[0].shape == (HEIGHT, WIDTH, 3)
    drawn = [np.abs(f.astype(int) - FLOOR_GRAY).sum(axis=2) > 40 for f in frames]
    feet = camera.project(right_to_left.pos[::2])
    for k in (0, 19):  # the near walker's feet, at the start on the right and at the end on the left
        x, y = int(feet[k, 0]), int(feet[k, 1]) - 5
        assert drawn[k][y, max(0, x - 20) : x + 20].any()
        mirrored = WIDTH - 1 - x
        assert not drawn[k][y, max(0, mirrored - 5) : mirrored + 5].any()
