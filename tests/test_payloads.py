from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from agent.aggregation import ClosedInterval
from agent.payloads import IntervalPayload, interval_payload, payload_schemas

BERLIN = ZoneInfo("Europe/Berlin")


def closed(**kw: object) -> ClosedInterval:
    base = dict(
        sensor="door",
        start=1774746000.0,
        end=1774746900.0,
        ins=5,
        outs=3,
        occupancy=2,
        total_in=105,
        total_out=103,
        coverage_s=450.0,
        rejected_lines=1,
        disconnects=1,
        counter_resets=0,
    )
    base.update(kw)
    return ClosedInterval(**base)  # type: ignore[arg-type]


def test_payload_carries_local_times_and_a_stable_id() -> None:
    p = interval_payload(closed(), "s1", "pi", BERLIN)
    assert p.start == "2026-03-29T03:00:00+02:00"
    assert p.end == "2026-03-29T03:15:00+02:00"
    assert p.id == "s1/pi/door/2026-03-29T03:00:00+02:00"
    assert p.coverage == 0.5
    assert p.duration_s == 900.0
    again = interval_payload(closed(), "s1", "pi", BERLIN)
    assert again.model_dump_json() == p.model_dump_json(), "the same interval must serialise to the same bytes"


def test_payload_round_trips_through_json() -> None:
    p = interval_payload(closed(), "s1", "pi", BERLIN)
    assert IntervalPayload.model_validate(json.loads(p.model_dump_json())) == p


@pytest.mark.parametrize("field,value", [("ins", -1), ("coverage", 1.5), ("unexpected", 1)])
def test_payload_rejects_invalid_values(field: str, value: object) -> None:
    data = json.loads(interval_payload(closed(), "s1", "pi", BERLIN).model_dump_json())
    data[field] = value
    with pytest.raises(ValidationError):
        IntervalPayload.model_validate(data)


def test_every_payload_field_is_documented_in_the_schema() -> None:
    for name, schema in payload_schemas().items():
        for field, spec in schema["properties"].items():
            assert spec.get("title") and spec.get("description"), f"{name}.{field} lacks title or description"
