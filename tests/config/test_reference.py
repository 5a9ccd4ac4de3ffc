"""The JSON Schema and the generated reference describe every field of every model."""

from __future__ import annotations

import json

from pydantic import BaseModel

from agent.anomaly.settings import AnomalySettings
from agent.config.agent import AgentConfig, HealthConfig, HomeAssistantConfig, IntervalConfig, StoreConfig
from agent.config.camera import CameraSensorConfig
from agent.config.counting import CountingConfig, LineConfig, TrackerConfig, ZoneConfig
from agent.config.detector import HogDetectorConfig, NanodetDetectorConfig, SsdliteDetectorConfig
from agent.config.modbus import ModbusSensorConfig
from agent.config.mqtt import MqttConfig, TlsConfig
from agent.config.reference import reference_markdown
from agent.config.serial_lines import LineSensorConfig
from agent.config.simulated import SimulatedSensorConfig

MODELS: list[type[BaseModel]] = [
    AgentConfig,
    IntervalConfig,
    StoreConfig,
    MqttConfig,
    TlsConfig,
    LineSensorConfig,
    ModbusSensorConfig,
    SimulatedSensorConfig,
    HomeAssistantConfig,
    HealthConfig,
]


def test_json_schema_is_generated_and_describes_every_field() -> None:
    schema = AgentConfig.model_json_schema()
    json.dumps(schema)
    assert schema["required"] == ["site", "sensors"]
    assert schema["additionalProperties"] is False
    for model in MODELS:
        for name, field in model.model_fields.items():
            assert field.title and field.description, f"{model.__name__}.{name} lacks a title or description"
    length = schema["$defs"]["IntervalConfig"]["properties"]["length"]
    assert {"type": "number", "minimum": 0} in length["anyOf"]
    assert any(o.get("type") == "string" and "pattern" in o for o in length["anyOf"])


SECTION_OF_MODEL = {
    AgentConfig: "Top level",
    IntervalConfig: "intervals",
    StoreConfig: "store",
    MqttConfig: "mqtt",
    TlsConfig: "mqtt.tls",
    HomeAssistantConfig: "homeassistant",
    HealthConfig: "health",
    AnomalySettings: "anomaly",
    LineSensorConfig: "sensors: type serial-lines",
    ModbusSensorConfig: "sensors: type modbus",
    SimulatedSensorConfig: "sensors: type simulated",
    CameraSensorConfig: "sensors: type camera",
    NanodetDetectorConfig: "sensors: type camera, detector type nanodet",
    SsdliteDetectorConfig: "sensors: type camera, detector type ssdlite",
    HogDetectorConfig: "sensors: type camera, detector type hog",
    CountingConfig: "sensors: type camera, counting",
    LineConfig: "sensors: type camera, counting.lines",
    ZoneConfig: "sensors: type camera, counting.zones",
    TrackerConfig: "sensors: type camera, counting.tracker",
}


def test_reference_mentions_every_field_of_every_model() -> None:
    doc = reference_markdown()
    assert doc == reference_markdown() and doc.endswith("\n")
    sections = {part.split("\n", 1)[0]: part for part in doc.split("### ")[1:]}
    assert set(sections) == set(SECTION_OF_MODEL.values())
    for model, heading in SECTION_OF_MODEL.items():
        rows = [line for line in sections[heading].splitlines() if line.startswith("| `")]
        assert [row.split("`")[1] for row in rows] == list(model.model_fields), heading
        assert all(row.count(" | ") == 3 for row in rows), heading
    assert "| `length` | duration | `15m` |" in sections["intervals"]
    assert "| `max_bytes` | byte size | `256MiB` |" in sections["store"]
    assert "| `site` | id | required |" in sections["Top level"]
    assert "| `heartbeat_timeout` | duration | not set |" in sections["sensors: type serial-lines"]
