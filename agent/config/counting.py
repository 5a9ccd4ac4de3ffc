"""The `counting` section of a camera sensor: lines, zones, tracker, size limits, region of interest and masks.

Kept apart from the counting and tracking code so that loading a config needs neither numpy nor OpenCV: an
agent with only serial counters never imports them. Checking that a line or zone is drawable (distinct
points, an enclosed area, an inside that is off the line) uses the counting geometry itself, imported when a
camera config is actually validated, so the config accepts exactly what the counters can count.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
Point = tuple[float, float]
Anchor = Literal["bottom-center", "center", "top-center"]

DIRECTIONS: dict[str, tuple[float, float]] = {
    "up": (0.0, -1.0),
    "down": (0.0, 1.0),
    "left": (-1.0, 0.0),
    "right": (1.0, 0.0),
}
"""Image-space unit steps of the `in_direction` names (image y grows downwards)."""


class TrackerConfig(BaseModel):
    """Association thresholds and track life cycle of the people tracker."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    high_score: float = Field(
        0.5,
        ge=0.0,
        le=1.0,
        title="High score",
        description="Detections at or above this score are matched first and may start new tracks.",
    )
    low_score: float = Field(
        0.1,
        ge=0.0,
        le=1.0,
        title="Low score",
        description="Detections between this and high_score are only used to continue existing tracks "
        "(partly hidden people); below it they are ignored.",
    )
    new_track_score: float = Field(
        0.6,
        ge=0.0,
        le=1.0,
        title="New track score",
        description="Minimum score of an unmatched detection to start a new (tentative) track.",
    )
    match_iou: float = Field(
        0.2,
        gt=0.0,
        le=1.0,
        title="Match IoU",
        description="Minimum overlap (intersection over union) between a track's predicted box and a "
        "confident detection for them to be matched.",
    )
    low_match_iou: float = Field(
        0.5,
        gt=0.0,
        le=1.0,
        title="Low-score match IoU",
        description="Minimum overlap for matching a low-score detection to a track (stricter, since low "
        "scores include clutter).",
    )
    tentative_match_iou: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        title="Tentative match IoU",
        description="Minimum overlap for continuing a tentative (not yet confirmed) track.",
    )
    recover_distance: float = Field(
        1.0,
        ge=0.0,
        title="Recovery distance",
        description="After the overlap stages, a confident detection left over may still continue a track "
        "whose predicted centre is within this many box sizes (square root of box area): this re-finds people "
        "who moved unlike the motion model during a gap, and keeps fast walkers with small boxes (heads seen "
        "from above) from breaking into fresh tentative tracks before their speed is known. 0 disables it.",
    )
    min_hits: int = Field(
        3,
        ge=1,
        le=100,
        title="Hits to confirm",
        description="Number of matched detections before a track is confirmed, and before a lost track re-found "
        "after a gap is confirmed again. Unconfirmed tracks never count.",
    )
    max_tentative_misses: int = Field(
        2,
        ge=0,
        le=100,
        title="Misses while tentative",
        description="Consecutive frames a tentative track may go unmatched before it is dropped. A lost track "
        "re-found after missing this many frames or more is tentative again until it has min_hits matches; if it "
        "misses more frames than this before then, the re-find is undone and the track is lost as before.",
    )
    # Frames, not seconds: 7.5 s at a camera's default 10 analysed frames a second, 3 s for detections at 25 fps.
    # Measured before re-finds of lost tracks went on probation (agent/vision/tracking.py), which since removes
    # part of the cause found here. Shorter lifetimes did better on bench/counting_accuracy.py's simulated doors
    # (10 fps; --quick --in-process, seeds 1-10, moderate / hard, in and out): 75 frames 0.933 0.885 / 0.844
    # 0.766, 50 0.938 0.885 / 0.856 0.773, 30 0.948 0.888 / 0.870 0.784, 20 0.940 0.881 / 0.878 0.809: a lost
    # track that followed a false positive picks up later false positives and passers-by near its stale box. Real
    # footage needs the long ones: on bench/real_video.py's clip (NanoDet int8 / fp32, true crossings matched in
    # time of 6, extra crossings) 40-75 frames give 6 and 0 / 6 and 1, 30 frames 6 and 3 / 6 and 1 (people hidden
    # for seconds behind traffic are re-found on the far side of the line). 50 frames for every family at once
    # (25 fps as well), on the command path, seeds 1-3, worse direction: all walks 0.994 / 0.945 / 0.907 against
    # 0.994 / 0.941 / 0.902, doors and MOT15 hard 0.696 against 0.706. Kept at 75.
    max_age: int = Field(
        75,
        ge=1,
        le=100000,
        title="Lost track lifetime",
        description="Frames a confirmed track is kept after its last match (to survive occlusions) before it "
        "is evicted: frames of the detections, so 75 is 7.5 s for a camera analysing its default 10 frames a "
        "second and 3 s at 25 fps. Lines can hand a lost track's side over to a new track only while the lost "
        "track is kept.",
    )

    @model_validator(mode="after")
    def _ordered_scores(self) -> TrackerConfig:
        if self.low_score > self.high_score:
            raise ValueError("low_score must not exceed high_score")
        return self


class LineConfig(BaseModel):
    """A counting line (a polyline of two or more points) and which of its sides is inside."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(
        title="Name",
        description="Identifier of the line in counts and topics.",
        pattern=NAME_PATTERN,
    )
    points: list[Point] = Field(
        min_length=2,
        title="Points",
        description="Vertices [x, y] of the line in image coordinates (pixels, or 0..1 with units: normalized).",
    )
    in_point: Point | None = Field(
        None,
        title="A point inside",
        description="Any point on the inside of the line: moving towards it across the line is an 'in'. "
        "Give this or in_direction.",
    )
    in_direction: Literal["up", "down", "left", "right"] | None = Field(
        None,
        title="In direction",
        description="Direction of movement in the image that counts as 'in' (judged against the line from its "
        "first to its last point). Give this or in_point.",
    )
    anchor: Anchor = Field(
        "bottom-center",
        title="Anchor",
        description="Point of the person's box that must cross: bottom-center (feet, angled camera), center "
        "(head, overhead camera) or top-center.",
    )
    min_distance: float = Field(
        0.0,
        ge=0.0,
        title="Minimum distance past the line",
        description="Hysteresis band on each side of the line, in the line's units (pixels, or a fraction of "
        "the shorter image side with units: normalized). The larger of this and min_distance_box applies.",
    )
    min_distance_box: float = Field(
        0.15,
        ge=0.0,
        title="Minimum distance past the line, in box heights",
        description="Hysteresis band as a fraction of the person's box height, so that it scales with "
        "perspective and with detector jitter.",
    )
    handover_distance: float = Field(
        2.5,
        ge=0.0,
        title="Hand-over distance",
        description="A new track born within this many box heights of where a lost track from the other side "
        "of the line is predicted to be, once that prediction has reached the new track's side, continues the "
        "lost track's side: a person whose track broke on the line still counts once. 0 disables it.",
    )
    handover_time: float = Field(
        2.0,
        ge=0.0,
        title="Hand-over time",
        description="Seconds after a track was last seen during which a new track can take over its side "
        "(at most the tracker's max_age).",
    )

    @field_validator("points")
    @classmethod
    def _valid_line(cls, v: list[Point]) -> list[Point]:
        from agent.vision.geometry import Polyline  # on use: configs without cameras must not load numpy

        Polyline(v)
        return v

    @model_validator(mode="after")
    def _one_in_side(self) -> LineConfig:
        from agent.vision.geometry import Polyline

        if (self.in_point is None) == (self.in_direction is None):
            raise ValueError("give exactly one of in_point and in_direction")
        line = Polyline(self.points)
        if self.in_point is not None and line.side_of(self.in_point) == 0:
            raise ValueError("in_point lies on the line; it must be off the line, on the inside")
        if self.in_direction is not None and line.side_of_direction(DIRECTIONS[self.in_direction]) == 0:
            raise ValueError(f"in_direction {self.in_direction} runs along the line; choose one across it")
        return self


class ZoneConfig(BaseModel):
    """A polygon zone: occupancy, entries, exits and dwell time."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    name: str = Field(title="Name", description="Identifier of the zone in counts and topics.", pattern=NAME_PATTERN)
    points: list[Point] = Field(
        min_length=3,
        title="Points",
        description="Vertices [x, y] of the polygon in image coordinates (pixels, or 0..1 with units: normalized).",
    )
    anchor: Anchor = Field(
        "bottom-center",
        title="Anchor",
        description="Point of the person's box that must be inside the zone.",
    )
    min_distance: float = Field(
        0.0,
        ge=0.0,
        title="Minimum distance past the outline",
        description="Hysteresis band on both sides of the outline, in the zone's units. The larger of this and "
        "min_distance_box applies.",
    )
    min_distance_box: float = Field(
        0.15,
        ge=0.0,
        title="Minimum distance past the outline, in box heights",
        description="Hysteresis band as a fraction of the person's box height.",
    )

    @field_validator("points")
    @classmethod
    def _valid_polygon(cls, v: list[Point]) -> list[Point]:
        from agent.vision.geometry import Polygon

        Polygon(v)
        return v


class CountingConfig(BaseModel):
    """What a camera counts: the tracker, the lines and zones, and which detections to ignore."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    units: Literal["pixels", "normalized"] = Field(
        "pixels",
        title="Units",
        description="Coordinates of lines, zones and masks: pixels, or normalized 0..1 of the image width "
        "(x) and height (y). Distances are then fractions of the shorter image side.",
    )
    tracker: TrackerConfig = Field(
        default_factory=TrackerConfig,
        title="Tracker",
        description="Association and track life cycle.",
    )
    lines: list[LineConfig] = Field(
        default_factory=list,
        title="Lines",
        description="Counting lines (ins and outs).",
    )
    zones: list[ZoneConfig] = Field(
        default_factory=list,
        title="Zones",
        description="Polygon zones (occupancy, entries, exits, dwell).",
    )
    min_box_width: float = Field(
        0.0,
        ge=0.0,
        title="Minimum box width",
        description="Detections narrower than this (units of the config) are ignored.",
    )
    min_box_height: float = Field(
        0.0,
        ge=0.0,
        title="Minimum box height",
        description="Detections shorter than this (units of the config) are ignored.",
    )
    roi: list[Point] | None = Field(
        None,
        title="Region of interest",
        description="Polygon; detections whose box centre lies outside it are ignored.",
    )
    masks: list[list[Point]] = Field(
        default_factory=list,
        title="Masks",
        description="Polygons; detections whose box centre lies inside any of them are ignored (mirrors, "
        "posters, a screen showing people).",
    )

    @field_validator("roi")
    @classmethod
    def _valid_roi(cls, v: list[Point] | None) -> list[Point] | None:
        from agent.vision.geometry import Polygon

        if v is not None:
            Polygon(v)
        return v

    @field_validator("masks")
    @classmethod
    def _valid_masks(cls, v: list[list[Point]]) -> list[list[Point]]:
        from agent.vision.geometry import Polygon

        for polygon in v:
            Polygon(polygon)
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> CountingConfig:
        seen: set[str] = set()
        for item in [*self.lines, *self.zones]:
            if item.name in seen:
                raise ValueError(f"name {item.name!r} is used twice (lines and zones share one namespace)")
            seen.add(item.name)
        return self
