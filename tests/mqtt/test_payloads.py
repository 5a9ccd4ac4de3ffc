from __future__ import annotations

import json
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from agent.aggregation.records import ClosedInterval, LineInterval, ZoneInterval
from agent.anomaly.detector import Score
from agent.anomaly.events import AnomalyEvent
from agent.mqtt.payloads import (
    PAYLOAD_MODELS,
    AnomalyEventPayload,
    IntervalAnomaly,
    IntervalPayload,
    anomaly_event_payload,
    interval_payload,
    metric_score,
    payload_schemas,
)

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


def scores() -> IntervalAnomaly:
    return IntervalAnomaly(
        ins=metric_score(Score(expected=41.23456, z=-5.05555, anomaly=True, fault=None)),
        outs=metric_score(Score(expected=None, z=None, anomaly=False, fault="no-data")),
    )


def test_interval_payload_carries_rounded_scores_per_count() -> None:
    p = interval_payload(closed(), "s1", "pi", BERLIN, scores())
    doc = json.loads(p.model_dump_json())
    assert doc["anomaly"] == {
        "ins": {"expected": 41.23, "z": -5.06, "anomaly": True, "fault": None},
        "outs": {"expected": None, "z": None, "anomaly": False, "fault": "no-data"},
    }
    assert IntervalPayload.model_validate(doc) == p
    assert json.loads(interval_payload(closed(), "s1", "pi", BERLIN).model_dump_json())["anomaly"] is None


def test_a_stored_payload_without_scores_is_still_valid() -> None:
    doc = json.loads(interval_payload(closed(), "s1", "pi", BERLIN).model_dump_json())
    del doc["anomaly"]
    assert IntervalPayload.model_validate(doc).anomaly is None


def test_an_unknown_fault_is_rejected() -> None:
    doc = json.loads(interval_payload(closed(), "s1", "pi", BERLIN, scores()).model_dump_json())
    doc["anomaly"]["ins"]["fault"] = "on-fire"
    with pytest.raises(ValidationError):
        IntervalPayload.model_validate(doc)


def test_a_camera_interval_carries_its_lines_and_zones_in_the_replay_shape() -> None:
    c = closed(
        lines={"door": LineInterval(5, 3), "side": LineInterval(0, 0)},
        zones={"queue": ZoneInterval(4, 2, 3, 2, 61.25, 75.04), "shelf": ZoneInterval(0, 0, 0, 0, None, None)},
    )
    p = interval_payload(c, "s1", "pi", BERLIN)
    doc = json.loads(p.model_dump_json())
    assert doc["lines"] == {"door": {"in": 5, "out": 3}, "side": {"in": 0, "out": 0}}
    assert doc["zones"]["queue"] == {
        "in": 4,
        "out": 2,
        "occupancy": 3,
        "dwell_count": 2,
        "dwell_median_s": 61.2,
        "dwell_mean_s": 75.0,
    }
    assert doc["zones"]["shelf"] == ZoneInterval(0, 0, 0, 0, None, None).as_dict(), "the shape replay --json prints"
    assert IntervalPayload.model_validate(doc) == p
    assert interval_payload(c, "s1", "pi", BERLIN).model_dump_json() == p.model_dump_json()


def test_a_serial_interval_has_null_lines_and_zones_and_old_payloads_stay_valid() -> None:
    doc = json.loads(interval_payload(closed(), "s1", "pi", BERLIN).model_dump_json())
    assert doc["lines"] is None and doc["zones"] is None
    del doc["lines"], doc["zones"]
    assert IntervalPayload.model_validate(doc).lines is None


@pytest.mark.parametrize(
    "bad", [{"door": {"in": -1, "out": 0}}, {"door": {"in": 1}}, {"door": {"in": 1, "out": 0, "x": 1}}]
)
def test_invalid_line_counts_are_rejected(bad: dict) -> None:
    doc = json.loads(interval_payload(closed(), "s1", "pi", BERLIN).model_dump_json())
    doc["lines"] = bad
    with pytest.raises(ValidationError):
        IntervalPayload.model_validate(doc)


def test_every_nested_interval_field_is_documented() -> None:
    defs = payload_schemas()["interval"]["$defs"]
    for name in ("LineCounts", "ZoneCounts"):
        for field, spec in defs[name]["properties"].items():
            assert spec.get("title") and spec.get("description"), f"{name}.{field} lacks title or description"


def event(phase: str = "start", fault: str | None = "stuck-zero") -> AnomalyEvent:
    return AnomalyEvent(
        sensor="door",
        metric="ins",
        phase=phase,  # type: ignore[arg-type]
        kind="fault" if fault else "traffic",
        fault=fault,
        start=1774746000.0,
        end=1774747800.0 if phase == "end" else None,
        peak_z=-3.14159 if fault is None else None,
        peak_count=0.0,
        peak_expected=57.777,
        intervals=2,
    )


def test_anomaly_event_has_a_stable_id_per_episode_and_phase() -> None:
    start = anomaly_event_payload(event(), "s1", "pi", BERLIN)
    assert start.id == "s1/pi/door/ins/stuck-zero/2026-03-29T03:00:00+02:00/start"
    assert (start.end, start.end_ts, start.peak_expected) == (None, None, 57.78)
    end = anomaly_event_payload(event("end", None), "s1", "pi", BERLIN)
    assert end.id == "s1/pi/door/ins/traffic/2026-03-29T03:00:00+02:00/end"
    assert (end.end, end.peak_z, end.kind) == ("2026-03-29T03:30:00+02:00", -3.14, "traffic")
    assert anomaly_event_payload(event(), "s1", "pi", BERLIN).model_dump_json() == start.model_dump_json()
    assert AnomalyEventPayload.model_validate_json(end.model_dump_json()) == end


def test_the_anomaly_event_is_listed_with_the_schemas() -> None:
    assert PAYLOAD_MODELS["anomaly"] is AnomalyEventPayload
    assert "anomaly" in payload_schemas()
