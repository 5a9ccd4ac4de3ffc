"""One frame's detections through filter, tracker, lines and zones: the code path shared by the live camera,
`replay` and `snapshot`, and the per-interval tallies of its counts.

Pure: no I/O, no threads; time is passed in as float seconds.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from agent.aggregation.records import LineInterval, ZoneInterval
from agent.config.counting import DIRECTIONS, CountingConfig
from agent.vision.geometry import Polygon, Polyline, anchor_points
from agent.vision.lines import Crossing, LineCounter
from agent.vision.tracking import Track, Tracker
from agent.vision.zones import ZoneCounter, ZoneEvent


class DetectionFilter:
    """Drops detections that cannot be people of interest before they reach the tracker."""

    def __init__(
        self,
        min_width: float = 0.0,
        min_height: float = 0.0,
        roi: Sequence[Sequence[float]] | None = None,
        masks: Sequence[Sequence[Sequence[float]]] = (),
    ) -> None:
        self.min_width = min_width
        self.min_height = min_height
        self.roi = Polygon(roi) if roi is not None else None
        self.masks = [Polygon(m) for m in masks]

    def apply(self, boxes: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The detections that pass (xyxy pixel boxes and their scores)."""
        boxes = np.asarray(boxes, dtype=float).reshape(-1, 4)
        scores = np.asarray(scores, dtype=float).reshape(-1)
        if len(boxes) == 0:
            return boxes, scores
        keep = ((boxes[:, 2] - boxes[:, 0]) >= self.min_width) & ((boxes[:, 3] - boxes[:, 1]) >= self.min_height)
        if self.roi is not None or self.masks:
            centres = anchor_points(boxes, "center")
            if self.roi is not None:
                keep &= self.roi.contains(centres)
            for mask in self.masks:
                keep &= ~mask.contains(centres)
        if np.count_nonzero(keep) == len(keep):
            return boxes, scores  # the usual frame: nothing dropped, no copies
        return boxes[keep], scores[keep]


@dataclass(frozen=True)
class FrameResult:
    """What one frame produced: the live tracks and the counts they triggered."""

    tracks: list[Track]
    crossings: list[Crossing]
    zone_events: list[ZoneEvent]


class CountingPipeline:
    """Detections in, counts out: the one code path shared by the live camera and `replay`."""

    def __init__(self, config: CountingConfig, frame_size: tuple[int, int] | None = None) -> None:
        if config.units == "normalized" and frame_size is None:
            raise ValueError("normalized coordinates need the frame size (width, height)")
        sx, sy = (
            (float(frame_size[0]), float(frame_size[1])) if config.units == "normalized" and frame_size else (1.0, 1.0)
        )
        sd = min(sx, sy)

        def px(points: Sequence[Sequence[float]]) -> list[tuple[float, float]]:
            return [(float(x) * sx, float(y) * sy) for x, y in points]

        self.config = config
        self.tracker = Tracker(config.tracker)
        self.filter = DetectionFilter(
            config.min_box_width * sx,
            config.min_box_height * sy,
            px(config.roi) if config.roi is not None else None,
            [px(m) for m in config.masks],
        )
        self.lines: dict[str, LineCounter] = {}
        for lc in config.lines:
            points = px(lc.points)
            line = Polyline(points)
            if lc.in_point is not None:
                side = line.side_of(px([lc.in_point])[0])
            else:
                side = line.side_of_direction(DIRECTIONS[lc.in_direction or "down"])
            if side == 0:
                raise ValueError(f"line {lc.name}: cannot tell its inside in this frame size")
            self.lines[lc.name] = LineCounter(
                lc.name,
                points,
                side,
                lc.anchor,
                lc.min_distance * sd,
                lc.min_distance_box,
                lc.handover_distance,
                lc.handover_time,
            )
        self.zones: dict[str, ZoneCounter] = {
            zc.name: ZoneCounter(zc.name, px(zc.points), zc.anchor, zc.min_distance * sd, zc.min_distance_box)
            for zc in config.zones
        }

    def process(self, frame_index: int, boxes: np.ndarray, scores: np.ndarray, t: float) -> FrameResult:
        """Run one frame's detections (xyxy pixels) through filter, tracker, lines and zones."""
        boxes, scores = self.filter.apply(boxes, scores)
        tracks = self.tracker.update(boxes, scores, frame_index)
        crossings = [c for line in self.lines.values() for c in line.update(tracks, t)]
        events = [e for zone in self.zones.values() for e in zone.update(tracks, t)]
        return FrameResult(tracks, crossings, events)

    def finish(self) -> FrameResult:
        """The end of the input (a replayed file or clip, a camera's file or stream): the crossings that were
        only waiting to be sure when it stopped (`LineCounter.finish`). Zones count nothing more. No frame may be
        processed after this."""
        crossings = [c for line in self.lines.values() for c in line.finish()]
        return FrameResult([], crossings, [])

    def totals(self) -> dict[str, dict[str, dict[str, int | float | None]]]:
        """Counts since start: ins and outs per line; entries, exits, occupancy and mean dwell per zone."""
        return {
            "lines": {name: {"in": line.ins, "out": line.outs} for name, line in self.lines.items()},
            "zones": {
                name: {
                    "in": zone.entries,
                    "out": zone.exits,
                    "occupancy": zone.occupancy,
                    "dwell_count": zone.dwell_count,
                    "dwell_mean_s": zone.dwell_total_s / zone.dwell_count if zone.dwell_count else None,
                }
                for name, zone in self.zones.items()
            },
        }


class IntervalCounts:
    """Per-line and per-zone counts of one interval, summed from a pipeline's frame results (`replay`'s
    intervals). The counters themselves keep only totals since start, so a live camera, whose intervals
    the agent's SensorAggregator keeps, holds nothing that grows with the number of people counted."""

    def __init__(self, config: CountingConfig) -> None:
        self._lines = [line.name for line in config.lines]
        self._zones = [zone.name for zone in config.zones]
        self._reset()

    def _reset(self) -> None:
        self._line_counts = {name: [0, 0] for name in self._lines}
        self._zone_counts = {name: [0, 0] for name in self._zones}
        self._dwell: dict[str, list[float]] = {name: [] for name in self._zones}

    def add(self, result: FrameResult) -> None:
        for c in result.crossings:
            self._line_counts[c.line][0 if c.direction == "in" else 1] += 1
        for e in result.zone_events:
            self._zone_counts[e.zone][0 if e.kind == "entry" else 1] += 1
            if e.kind == "exit" and e.dwell_s is not None:
                self._dwell[e.zone].append(e.dwell_s)

    def close(self, occupancy: Mapping[str, int]) -> tuple[dict[str, LineInterval], dict[str, ZoneInterval]]:
        """Counts per line and zone since the previous close, with each zone's `occupancy` now."""
        lines = {name: LineInterval(ins, outs) for name, (ins, outs) in self._line_counts.items()}
        zones = {}
        for name, (entries, exits) in self._zone_counts.items():
            dwell = self._dwell[name]
            zones[name] = ZoneInterval(
                entries=entries,
                exits=exits,
                occupancy=occupancy[name],
                dwell_count=len(dwell),
                dwell_median_s=statistics.median(dwell) if dwell else None,
                dwell_mean_s=statistics.fmean(dwell) if dwell else None,
            )
        self._reset()
        return lines, zones
