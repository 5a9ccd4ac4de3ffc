"""A camera's counting settings: what a line, a zone, masks and the tracker accept, checked when loaded."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent.config.counting import CountingConfig, LineConfig, TrackerConfig, ZoneConfig


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"lines": [{"name": "door", "points": [[0, 0], [10, 0]]}]}, "exactly one of in_point and in_direction"),
        ({"lines": [{"name": "door", "points": [[0, 0], [10, 0]], "in_point": [5, 0]}]}, "lies on the line"),
        ({"lines": [{"name": "door", "points": [[0, 0], [10, 0]], "in_direction": "left"}]}, "runs along the line"),
        ({"lines": [{"name": "door", "points": [[0, 0], [0, 0]], "in_point": [5, 5]}]}, "at least 2 distinct points"),
        ({"lines": [{"name": "d o", "points": [[0, 0], [10, 0]], "in_point": [5, 5]}]}, "pattern"),
        ({"zones": [{"name": "z", "points": [[0, 0], [1, 1], [2, 2]]}]}, "enclose an area"),
        (
            {
                "lines": [{"name": "a", "points": [[0, 0], [10, 0]], "in_point": [5, 5]}],
                "zones": [{"name": "a", "points": [[0, 0], [1, 0], [1, 1]]}],
            },
            "used twice",
        ),
        ({"lines": [], "speed": 3}, "Extra inputs"),
        ({"lines": [{"name": "door", "points": [[0, 0], [10, "nan"]], "in_point": [5, 5]}]}, "finite number"),
        ({"tracker": {"low_score": 0.7, "high_score": 0.5}}, "low_score must not exceed"),
    ],
)
def test_counting_config_rejects(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CountingConfig.model_validate(data)


def test_every_config_field_has_title_and_description() -> None:
    for model in (CountingConfig, LineConfig, ZoneConfig, TrackerConfig):
        for name, info in model.model_fields.items():
            assert info.title and info.description, f"{model.__name__}.{name}"
