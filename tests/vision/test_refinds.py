"""A counter's state kept across a re-find on probation: saved when the re-find starts, put back only when it is
undone, dropped when it is confirmed or the track is gone."""

from __future__ import annotations

from agent.vision.refinds import ReFinds
from agent.vision.tracking import TrackState
from tests.vision.track_frames import track

C, L, T = TrackState.CONFIRMED, TrackState.LOST, TrackState.TENTATIVE


def follow(states: list[TrackState]) -> list[str]:
    """What `ReFinds` asks of a counter for one track (id 1) reported in `states`, frame by frame."""
    refinds: ReFinds[int] = ReFinds()
    calls: list[str] = []

    def save(tid: int) -> int:
        calls.append(f"save {len(calls)}")
        return len(calls)

    def restore(tid: int, saved: int) -> None:
        calls.append(f"restore {saved}")

    for state in states:
        refinds.update([track(1, 0.0, 0.0, state)], save, restore)
    return calls


def test_a_new_tentative_track_is_no_re_find() -> None:
    assert follow([T, T, C, C]) == []


def test_an_undone_re_find_gets_back_the_state_saved_when_it_started() -> None:
    assert follow([C, L, L, T, T, L, L]) == ["save 0", "restore 1"]


def test_a_confirmed_re_find_keeps_what_the_counter_saw() -> None:
    assert follow([C, L, T, T, C, L]) == ["save 0"]


def test_each_re_find_saves_once_and_again_after_it_settles() -> None:
    assert follow([C, L, T, T, L, T, C]) == ["save 0", "restore 1", "save 2"]


def test_gone_tracks_are_forgotten() -> None:
    refinds: ReFinds[str] = ReFinds()
    for state in (C, L, T):
        refinds.update([track(1, 0.0, 0.0, state)], lambda tid: "saved", lambda tid, saved: None)
    assert refinds.before == {1: "saved"}
    refinds.drop_gone({2})
    assert refinds.before == {}
