"""The configuration reference, generated from the models' JSON Schema so the documentation cannot drift
from what the loader accepts."""

from __future__ import annotations

import json
from typing import Any

from agent.config.agent import AgentConfig
from agent.config.fields import ID_PATTERN
from agent.config.units import BYTESIZE_JSON_SCHEMA, DURATION_JSON_SCHEMA, format_bytes, format_duration

_SECTIONS: list[tuple[str, str | None]] = [
    ("Top level", None),
    ("intervals", "IntervalConfig"),
    ("store", "StoreConfig"),
    ("mqtt", "MqttConfig"),
    ("mqtt.tls", "TlsConfig"),
    ("homeassistant", "HomeAssistantConfig"),
    ("health", "HealthConfig"),
    ("anomaly", "AnomalySettings"),
    ("sensors: type serial-lines", "LineSensorConfig"),
    ("sensors: type modbus", "ModbusSensorConfig"),
    ("sensors: type simulated", "SimulatedSensorConfig"),
    ("sensors: type camera", "CameraSensorConfig"),
    ("sensors: type camera, detector type nanodet", "NanodetDetectorConfig"),
    ("sensors: type camera, detector type ssdlite", "SsdliteDetectorConfig"),
    ("sensors: type camera, detector type hog", "HogDetectorConfig"),
    ("sensors: type camera, counting", "CountingConfig"),
    ("sensors: type camera, counting.lines", "LineConfig"),
    ("sensors: type camera, counting.zones", "ZoneConfig"),
    ("sensors: type camera, counting.tracker", "TrackerConfig"),
]
_SECTION_OF_DEF = {name: heading for heading, name in _SECTIONS if name is not None}


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _is_schema(schema: dict[str, Any], of: dict[str, Any]) -> bool:
    return schema.get("anyOf") == of["anyOf"]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _type_text(schema: dict[str, Any]) -> str:
    if _is_schema(schema, DURATION_JSON_SCHEMA):
        return "duration"
    if _is_schema(schema, BYTESIZE_JSON_SCHEMA):
        return "byte size"
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return " or ".join(_type_text(o) for o in options)
    if "oneOf" in schema:
        return " or ".join(_type_text(o) for o in schema["oneOf"])
    if "prefixItems" in schema:
        return "[" + ", ".join(_type_text(i) for i in schema["prefixItems"]) + "]"
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"mapping (`{_SECTION_OF_DEF.get(name, name)}`)"
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return "one of " + ", ".join(f"`{v}`" for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items", {})
        if "oneOf" in items or "discriminator" in items:
            return "list of sensors"
        return f"list of {_type_text(items)}"
    if kind == "string":
        fmt = schema.get("format")
        if fmt == "path":
            return "path"
        if fmt == "password":
            return "secret"
        if fmt == "time":
            return "time (HH:MM)"
        if schema.get("pattern") == ID_PATTERN:
            return "id"
        return "string"
    if kind in ("integer", "number"):
        lo = schema.get("minimum", schema.get("exclusiveMinimum"))
        hi = schema.get("maximum", schema.get("exclusiveMaximum"))
        if lo is not None and hi is not None:
            return f"{kind} ({_number(lo)}..{_number(hi)})"
        if lo is not None:
            return f"{kind} (>{'=' if 'minimum' in schema else ''} {_number(lo)})"
        return str(kind)
    return str(kind or "any")


def _default_text(name: str, schema: dict[str, Any], required: set[str]) -> str:
    if name in required or "const" in schema:
        return "required"
    if "default" not in schema:
        return ""
    value = schema["default"]
    if value is None:
        return "not set"
    if _is_schema(schema, DURATION_JSON_SCHEMA):
        return f"`{format_duration(float(value))}`"
    if _is_schema(schema, BYTESIZE_JSON_SCHEMA):
        return f"`{format_bytes(int(value))}`"
    if isinstance(value, str):
        return f"`{value[:5] if schema.get('format') == 'time' else value}`"
    if isinstance(value, list):
        return _cell(", ".join(f"`{v}`" for v in value))
    return f"`{json.dumps(value)}`"


def reference_markdown() -> str:
    """The configuration reference (one table per section), generated from the JSON Schema of `AgentConfig`."""
    schema = AgentConfig.model_json_schema()
    defs = schema.get("$defs", {})
    out: list[str] = [
        "A *duration* is a number of seconds or a number with a unit: `500ms`, `30s`, `15m`, `1h`, `1d` "
        "(or combined, `1h30m`). A *byte size* is a number of bytes or a number with a unit: `500kB`, "
        "`256MB` (powers of 1000) or `256MiB`, `1GiB` (powers of 1024). A *time* is local wall-clock "
        "`HH:MM`.\n",
    ]
    for heading, def_name in _SECTIONS:
        section = schema if def_name is None else defs[def_name]
        out.append(f"### {heading}\n")
        description = section.get("description", "")
        if description:
            out.append(" ".join(description.split()) + "\n")
        out.append("| key | type | default | description |")
        out.append("|---|---|---|---|")
        required = set(section.get("required", []))
        for name, prop in section.get("properties", {}).items():
            out.append(
                f"| `{name}` | {_cell(_type_text(prop))} | {_default_text(name, prop, required)} "
                f"| {_cell(prop.get('description', ''))} |"
            )
        out.append("")
    return "\n".join(out)
