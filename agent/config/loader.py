"""Loading a YAML config: safe YAML with the line of every key, and pydantic's errors turned into
`<file>: <key path>: <message> (line N)` for the installer."""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Union, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    ValidationError,
)

from agent.config.agent import AgentConfig
from agent.config.camera import CameraSensorConfig
from agent.config.errors import ConfigError
from agent.config.fields import ID_PATTERN

_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """Safe YAML 1.1 without base-60 numbers, so `closing: 21:00` stays a time instead of becoming 1260."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT_TAG, _FLOAT_TAG)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _INT_TAG,
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"),
    list("-+0123456789"),
)
_Loader.add_implicit_resolver(
    _FLOAT_TAG,
    re.compile(
        r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)

KeyPath = tuple[str | int, ...]


def _line_map(node: yaml.Node, source: str) -> tuple[dict[KeyPath, int], list[tuple[int, str]]]:
    """1-based line of every key and list item by its path; also reports keys given twice (YAML keeps the last)."""
    lines: dict[KeyPath, int] = {(): node.start_mark.line + 1}
    problems: list[tuple[int, str]] = []
    active: set[int] = set()

    def walk(n: yaml.Node, path: KeyPath) -> None:
        if id(n) in active:
            return
        active.add(id(n))
        if isinstance(n, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key_node, value_node in n.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                key, line = key_node.value, key_node.start_mark.line + 1
                if key in seen and key != "<<":
                    where = format_path((*path, key))
                    problems.append(
                        (line, f"{source}: {where}: duplicate key (line {line}; first at line {seen[key]})")
                    )
                    continue
                seen[key] = line
                lines[(*path, key)] = line
                walk(value_node, (*path, key))
        elif isinstance(n, yaml.SequenceNode):
            for index, item in enumerate(n.value):
                lines[(*path, index)] = item.start_mark.line + 1
                walk(item, (*path, index))
        active.discard(id(n))

    walk(node, ())
    return lines, problems


def format_path(path: KeyPath) -> str:
    """('sensors', 1, 'port') -> 'sensors[1].port'."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _unwrap(tp: Any) -> Any:
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp
            tp = members[0]
        else:
            return tp


def _walk(loc: tuple[Any, ...]) -> tuple[KeyPath, Any]:
    """Map a pydantic error location onto the YAML key path, dropping discriminated-union tags.

    Returns the path and the type found at its end (a model class when the location is a mapping)."""
    tp: Any = AgentConfig
    path: list[str | int] = []
    for element in loc:
        tp = _unwrap(tp)
        if get_origin(tp) in (Union, types.UnionType):
            members = {
                tag: m
                for m in get_args(tp)
                if isinstance(m, type) and issubclass(m, BaseModel) and "type" in m.model_fields
                for tag in get_args(m.model_fields["type"].annotation)
            }
            if element in members:
                tp = members[element]
                continue
            path.append(element)
            tp = None
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            path.append(element)
            field = tp.model_fields.get(element) if isinstance(element, str) else None
            tp = field.annotation if field is not None else None
        elif get_origin(tp) is list:
            path.append(element)
            tp = get_args(tp)[0]
        else:
            path.append(element)
            tp = None
    return tuple(path), _unwrap(tp)


def _message(error: dict[str, Any], path: KeyPath) -> tuple[str, str]:
    """A readable message for one pydantic error, plus an optional suffix placed after the line number."""
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    msg: str = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if kind == "missing":
        return "field required", ""
    if kind == "extra_forbidden":
        _, model = _walk(tuple(error["loc"][:-1]))
        allowed = list(model.model_fields) if isinstance(model, type) and issubclass(model, BaseModel) else []
        key = str(path[-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        suffix = f"; allowed: {', '.join(allowed)}" if allowed else ""
        if close:
            suffix += f"; did you mean '{close[0]}'?"
        return f"unknown key '{key}'", suffix
    if kind == "union_tag_invalid":
        return f"unknown sensor type '{ctx.get('tag')}'; expected one of {ctx.get('expected_tags')}", ""
    if kind == "union_tag_not_found":
        return "field required (the sensor type: 'serial-lines', 'modbus' or 'simulated')", ""
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return ("is empty; expected a mapping of keys" if value is None else "expected a mapping of keys"), ""
    if kind == "list_type":
        return "expected a list (items start with '- ')", ""
    if kind == "too_short" and path == ("sensors",):
        return "at least one sensor is required", ""
    if kind == "string_type":
        if value is None:
            return "value missing", ""
        if isinstance(value, bool | int | float):
            return "expected text; put the value in quotes", ""
    if kind == "string_pattern_mismatch" and isinstance(value, str):
        if ctx.get("pattern") == ID_PATTERN:
            return f"invalid id {value!r}: use 1-64 letters, digits, '_' or '-', starting with a letter or digit", ""
        return f"{value!r} does not match {ctx.get('pattern')}", ""
    return (msg[:1].lower() + msg[1:]), ""


def _line_of(path: KeyPath, lines: dict[KeyPath, int]) -> int:
    while path not in lines and path:
        path = path[:-1]
    return lines.get(path, 1)


def _validation_errors(exc: ValidationError, source: str, lines: dict[KeyPath, int]) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        ctx = error.get("ctx") or {}
        if error["type"] == "duplicate_sensor_id":
            loc += (ctx["index"], "id")
        if error["type"] == "entity_id_clash":
            loc += tuple(ctx["at"])
        if error["type"] == "anomaly_short_interval":
            loc += ("enabled",)
        path, _ = _walk(loc)
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            path += ("type",)
        msg, suffix = _message(error, path)
        line = _line_of(path, lines)
        where = f"{format_path(path)}: " if path else ""
        found.append((line, f"{source}: {where}{msg} (line {line}){suffix}"))
    return found


def yaml_error(e: yaml.YAMLError, source: str) -> str:
    """One readable line for a YAML syntax error; PyYAML's own words for the two commonest slips (a tab in the
    indentation, a quote never closed) say neither what is wrong nor, for the quote, where."""
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    problem = getattr(e, "problem", None) or str(e)
    context = getattr(e, "context", None)
    context_mark = getattr(e, "context_mark", None)
    if problem.startswith("found character '\\t'") and mark is not None:
        return (
            f"{source}: line {mark.line + 1}: a tab character (column {mark.column + 1}); "
            "YAML indents with spaces only: replace the tab with spaces"
        )
    if context == "while scanning a quoted scalar" and context_mark is not None and "end of stream" in problem:
        quote = context_mark.buffer[context_mark.pointer] if context_mark.buffer else "'"
        return (
            f"{source}: line {context_mark.line + 1}: the quote {quote} opened here (column {context_mark.column + 1}) "
            "is never closed: add the closing quote or remove this one"
        )
    if context:
        problem = f"{context}, {problem}"
    if mark is None:
        return f"{source}: {problem}"
    return f"{source}: line {mark.line + 1}: {problem}"


def _file_problems(cfg: AgentConfig) -> list[tuple[KeyPath, Path, str]]:
    """The files the MQTT connection will read that cannot be read now (the secrets are read, never shown)."""
    mqtt = cfg.mqtt
    if not mqtt.enabled:
        return []
    secrets: list[tuple[KeyPath, Path | None, Callable[[], str | None]]] = [
        (("mqtt", "password_file"), mqtt.password_file, mqtt.resolved_password)
    ]
    files: list[tuple[KeyPath, Path | None]] = []
    if mqtt.tls is not None:
        tls = mqtt.tls
        secrets.append((("mqtt", "tls", "key_password_file"), tls.key_password_file, tls.resolved_key_password))
        files = [(("mqtt", "tls", name), getattr(tls, name)) for name in ("ca_file", "cert_file", "key_file")]
    found: list[tuple[KeyPath, Path, str]] = []
    for key, path, read in secrets:
        if path is not None:
            try:
                read()
            except ConfigError as e:
                found.append((key, path, e.errors[0].split(": ", 1)[1]))
    for key, path in files:
        if path is not None:
            try:
                with path.open("rb"):
                    pass
            except OSError as e:
                found.append((key, path, f"cannot read {path}: {e.strerror or e}"))
    return found


def _mistakes(cfg: AgentConfig) -> list[tuple[KeyPath, str]]:
    """Settings that are valid but almost certainly not meant: camera lines and zones given as fractions of the
    image (every coordinate within 0..1) while `units` is `pixels`, the default, so they sit in the top-left
    pixel and nothing is ever counted."""
    found: list[tuple[KeyPath, str]] = []
    for index, sensor in enumerate(cfg.sensors):
        if not isinstance(sensor, CameraSensorConfig) or sensor.counting.units != "pixels":
            continue
        counting = sensor.counting
        points = [p for line in counting.lines for p in [*line.points, *([line.in_point] if line.in_point else [])]]
        points += [p for zone in counting.zones for p in zone.points]
        polygons = ([counting.roi] if counting.roi else []) + list(counting.masks)
        points += [p for polygon in polygons for p in polygon]
        if points and all(abs(c) <= 1 for point in points for c in point):
            found.append(
                (
                    ("sensors", index, "counting"),
                    "every coordinate is between 0 and 1 but units is pixels (the default), so the lines and zones "
                    "lie in the top-left pixel and count nothing: add `units: normalized`, or give pixel coordinates",
                )
            )
    return found


def parse_config(
    text: str, source: str, file_warnings: list[str] | None = None, warnings: list[str] | None = None
) -> AgentConfig:
    """Validate YAML text; every problem is reported as `<source>: <key path>: <message> (line N)`.

    With `warnings`, settings that are valid but almost certainly a mistake are added to it in the same form.

    With `file_warnings`, the files the config names for the MQTT connection (password, certificates) are
    tried too, and those that cannot be read now are added to it in the same form. They are warnings, not
    errors: a relative name may be a systemd credential that only the service can see, and the agent counts
    (and keeps what it counts) while it cannot connect.
    """
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                raise ConfigError([f"{source}: the config file is empty"])
            lines, problems = _line_map(node, source)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        raise ConfigError([yaml_error(e, source)]) from None
    if data is None:
        raise ConfigError([f"{source}: the config file is empty"])
    if not isinstance(data, dict):
        raise ConfigError([f"{source}: line {lines[()]}: expected a mapping of keys (site, sensors, ...) at the top"])
    try:
        cfg = AgentConfig.model_validate(data)
    except ValidationError as e:
        found = problems + _validation_errors(e, source, lines)
        found.sort(key=lambda item: item[0])
        raise ConfigError([message for _, message in found]) from None
    if problems:
        raise ConfigError([message for _, message in problems])
    if file_warnings is not None:
        outside_systemd = "CREDENTIALS_DIRECTORY" not in os.environ
        for key, path, message in sorted(_file_problems(cfg), key=lambda problem: _line_of(problem[0], lines)):
            hint = (
                "; a relative name is a systemd credential when the service runs (LoadCredential=)"
                if outside_systemd and not path.is_absolute()
                else ""
            )
            file_warnings.append(f"{source}: {format_path(key)}: {message} (line {_line_of(key, lines)}){hint}")
    if warnings is not None:
        for key, message in _mistakes(cfg):
            warnings.append(f"{source}: {format_path(key)}: {message} (line {_line_of(key, lines)})")
    return cfg


def load_config(
    path: Path | str, file_warnings: list[str] | None = None, warnings: list[str] | None = None
) -> AgentConfig:
    """Read and validate a config file; every problem, including a missing or empty file, raises ConfigError
    (see `parse_config` for `file_warnings` and `warnings`)."""
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ConfigError([f"{source}: cannot read config file: {e.strerror or e}"]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError([f"{source}: not UTF-8 text (invalid byte at offset {e.start})"]) from None
    return parse_config(text, source, file_warnings, warnings)
