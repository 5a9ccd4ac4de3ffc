"""A counter's state of a track from before the tracker re-found it after a gap, kept while the re-find is on
probation.

The tracker reports a lost track re-found after a gap as tentative until the re-find is confirmed, and as lost
again when the re-find is undone (`agent.vision.tracking`). A counter that followed the track keeps its state of
the track from before the re-find here and puts it back when the re-find is undone, so that a false positive
near a lost track's stale box changes nothing it counts. Lines and zones both use it; what a state is, and how
it is copied and put back, is theirs.

Pure: no I/O, no threads.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Sequence
from typing import Generic, TypeVar

from agent.vision.tracking import Track, TrackState

S = TypeVar("S")


class ReFinds(Generic[S]):
    """The saved states of the tracks whose re-find is on probation, by track id (`before`)."""

    def __init__(self) -> None:
        self.before: dict[int, S] = {}
        self._confirmed: set[int] = set()  # tracks confirmed (or lost) in the previous update

    def update(self, tracks: Sequence[Track], save: Callable[[int], S], restore: Callable[[int, S], None]) -> None:
        """Follow one frame's tracks, before the counter looks at them: `save(id)` when a re-find starts (a track
        confirmed or lost in the previous frame is tentative now), `restore(id, saved)` when it is undone (a track
        on probation is lost now). A re-find that is confirmed just drops its saved state."""
        before = self.before
        for tr in tracks:
            tid = tr.id
            if tr.state is TrackState.TENTATIVE:
                if tid in self._confirmed and tid not in before:
                    before[tid] = save(tid)
            elif tid in before:
                saved = before.pop(tid)
                if tr.state is TrackState.LOST:
                    restore(tid, saved)
        self._confirmed = {tr.id for tr in tracks if tr.confirmed}

    def drop_gone(self, live: Container[int]) -> None:
        """Forget the saved states of tracks the tracker no longer reports."""
        for tid in [tid for tid in self.before if tid not in live]:
            del self.before[tid]

    def clear(self) -> None:
        self.before.clear()
        self._confirmed.clear()
