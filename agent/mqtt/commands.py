"""Remote commands for one agent: validated completely before anything acts, answered with the caller's id.

A command is a JSON object on the device's command topic, e.g.

    {"id": "c-17", "command": "republish", "since": "2026-03-29T00:00:00+02:00", "until": 1774821600,
     "sensor": "entrance"}

and its answer goes to the response topic with the same `id`:

    {"id": "c-17", "command": "republish", "ok": true, "result": {"intervals": 96}, "error": null, ...}

The broker is the only gate to the command topic, so protect it with an ACL. Everything that arrives is
parsed by pydantic first; an unknown command, a malformed payload, an unknown sensor or an impossible
time range gets an error answer and no handler is called. `dispatch()` is pure apart from the handler it
calls, and it is meant to run on the runtime's own loop thread, not on the MQTT network thread.
"""

from __future__ import annotations

import functools
import json
import logging
import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from agent.config.fields import ID_PATTERN

log = logging.getLogger(__name__)

MAX_COMMAND_BYTES = 4096
MAX_REPUBLISH_S = 31 * 86400.0
"""Longest range one `republish` may ask for: a month of 1-minute intervals per sensor, ~45,000 messages."""

MAX_EPOCH = 253402300799.0
"""The last second of year 9999: times beyond it (or before 1970) are no interval's and cannot be dated."""

ErrorCode = Literal["too_large", "invalid_json", "unknown_command", "invalid", "failed", "internal", "busy"]

# The id and name of a command that cannot be parsed whole (too large, or cut to its head by the inbox).
_PEEK_ID = re.compile(rb'"id"\s*:\s*"([\x21\x23-\x5b\x5d-\x7e]{1,128})"')
_PEEK_COMMAND = re.compile(rb'"command"\s*:\s*"([a-z_]{1,32})"')


def _epoch(value: Any) -> Any:
    """Accept Unix seconds or ISO-8601 with a UTC offset; a local time without offset is ambiguous."""
    if isinstance(value, bool):
        raise ValueError("expected Unix seconds or an ISO-8601 time with a UTC offset")
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("expected Unix seconds or an ISO-8601 time with a UTC offset") from None
        if parsed.tzinfo is None:
            raise ValueError("ISO-8601 time needs a UTC offset, e.g. 2026-03-29T00:00:00+02:00")
        return parsed.timestamp()
    return value


def _datable(value: float) -> float:
    if not 0 <= value <= MAX_EPOCH:
        raise ValueError("expected a time from 1970 to 9999 (Unix seconds 0 to 253402300799)")
    return value


Timestamp = Annotated[float, BeforeValidator(_epoch), Field(allow_inf_nan=False), AfterValidator(_datable)]
CommandId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[\x21-\x7e]+$")]


class _Command(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid", frozen=True)

    id: CommandId = Field(title="Correlation id", description="Echoed in the response; printable ASCII, no spaces.")


def _known_sensor(value: str | None, info: ValidationInfo) -> str | None:
    sensors = (info.context or {}).get("sensors")
    if value is not None and sensors is not None and value not in sensors:
        known = ", ".join(sorted(sensors)) or "none"
        raise ValueError(f"unknown sensor {value!r} (configured: {known})")
    return value


class ReloadCommand(_Command):
    """Re-read the config file; a broken file is rejected and the running config stays."""

    command: Literal["reload"] = Field(title="Command", description="`reload`: re-read the config file.")


class ResetOccupancyCommand(_Command):
    """Set one sensor's occupancy to 0 now (someone counted the people inside and it was wrong)."""

    command: Literal["reset_occupancy"] = Field(
        title="Command", description="`reset_occupancy`: set a sensor's occupancy to 0."
    )
    sensor: str = Field(pattern=ID_PATTERN, title="Sensor", description="Sensor id.")

    _sensor_known = field_validator("sensor")(_known_sensor)


class HealthCommand(_Command):
    """Publish a fresh health report now instead of at the next minute."""

    command: Literal["health"] = Field(title="Command", description="`health`: publish a health report now.")


class RepublishCommand(_Command):
    """Queue the stored intervals starting in [since, until) again, byte for byte (consumers dedupe by id)."""

    command: Literal["republish"] = Field(title="Command", description="`republish`: queue stored intervals again.")
    since: Timestamp = Field(title="Since", description="Range start (inclusive): Unix seconds or ISO-8601.")
    until: Timestamp = Field(title="Until", description="Range end (exclusive): Unix seconds or ISO-8601.")
    sensor: str | None = Field(None, pattern=ID_PATTERN, title="Sensor", description="Only this sensor; default all.")

    _sensor_known = field_validator("sensor")(_known_sensor)

    @model_validator(mode="after")
    def _range(self) -> RepublishCommand:
        if self.until <= self.since:
            raise ValueError("until must be after since")
        if self.until - self.since > MAX_REPUBLISH_S:
            raise ValueError(f"range longer than {MAX_REPUBLISH_S / 86400:.0f} days; split it")
        return self


Command = Annotated[
    ReloadCommand | ResetOccupancyCommand | HealthCommand | RepublishCommand, Field(discriminator="command")
]
COMMAND_NAMES: tuple[str, ...] = ("reload", "reset_occupancy", "health", "republish")


@functools.cache
def _adapter() -> TypeAdapter[Command]:
    """Built on the first command, not at import: an agent that is never sent one never pays for it."""
    return TypeAdapter(Command)


@dataclass(frozen=True)
class CommandError:
    """Why a payload was refused; `id` and `command` are echoed when they could be read at all."""

    code: ErrorCode
    message: str
    id: str | None = None
    command: str | None = None


class ErrorDetail(BaseModel):
    model_config = ConfigDict(defer_build=True, extra="forbid")

    code: ErrorCode = Field(title="Code", description="Machine-readable reason.")
    message: str = Field(title="Message", description="Human-readable reason.")


class CommandResponse(BaseModel):
    """The answer on the response topic: exactly one per command message received."""

    model_config = ConfigDict(defer_build=True, extra="forbid", title="Command response")

    id: str | None = Field(title="Correlation id", description="The command's id; null if it could not be read.")
    command: str | None = Field(title="Command", description="The command's name; null if it could not be read.")
    ok: bool = Field(title="OK", description="Whether the command was carried out.")
    result: dict[str, Any] | None = Field(None, title="Result", description="What the command did, when ok.")
    error: ErrorDetail | None = Field(None, title="Error", description="Why it was refused or failed, when not ok.")
    ts: float = Field(title="Time (epoch)", description="When the agent answered, Unix seconds.")

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()


class CommandFailed(Exception):
    """Raised by a handler when a valid command cannot be carried out (e.g. the new config is broken)."""


class CommandHandler(Protocol):
    """What the runtime implements; each method returns a small JSON-serialisable result."""

    def reload(self) -> dict[str, Any]: ...

    def reset_occupancy(self, sensor: str) -> dict[str, Any]: ...

    def publish_health(self) -> dict[str, Any]: ...

    def republish(self, since: float, until: float, sensor: str | None) -> dict[str, Any]: ...


def peek(data: bytes) -> tuple[str | None, str | None]:
    """(id, command) read from the start of a payload that is not parsed whole; None where unreadable."""
    cid, name = _PEEK_ID.search(data), _PEEK_COMMAND.search(data)
    return (cid.group(1).decode() if cid else None, name.group(1).decode() if name else None)


def parse_command(
    data: bytes, sensors: Collection[str] | None = None, size: int | None = None
) -> Command | CommandError:
    """Validate a raw payload. With `sensors`, sensor ids must be among them. `size` is the payload's size on
    the wire when `data` is only its head."""
    if (len(data) if size is None else size) > MAX_COMMAND_BYTES:
        return CommandError("too_large", f"command larger than {MAX_COMMAND_BYTES} bytes", *peek(data))
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return CommandError("invalid_json", f"not JSON: {exc}")
    except RecursionError:
        return CommandError("invalid_json", "not JSON this agent reads: nested too deeply", *peek(data))
    if not isinstance(doc, dict):
        return CommandError("invalid", "a command is a JSON object")
    cid = doc.get("id") if isinstance(doc.get("id"), str) else None
    name = doc.get("command")
    if not isinstance(name, str):
        return CommandError("invalid", "missing 'command' (one of: " + ", ".join(COMMAND_NAMES) + ")", cid)
    if name not in COMMAND_NAMES:
        return CommandError(
            "unknown_command", f"unknown command {name!r}; known: {', '.join(COMMAND_NAMES)}", cid, name
        )
    try:
        return _adapter().validate_python(doc, context={"sensors": sensors})
    except ValidationError as exc:
        return CommandError("invalid", _describe(exc), cid, name)


def dispatch(
    data: bytes,
    handler: CommandHandler,
    now: float,
    sensors: Collection[str] | None = None,
    size: int | None = None,
) -> CommandResponse:
    """Parse, then act through `handler` only if the whole command is valid; always return one response."""
    try:
        parsed = parse_command(data, sensors, size)
    except Exception as exc:  # noqa: BLE001 - whatever a payload does to the parser costs one answer
        log.exception("command could not be parsed")
        parsed = CommandError("internal", f"{type(exc).__name__}: {exc}", *peek(data))
    if isinstance(parsed, CommandError):
        log.warning("command refused (%s): %s", parsed.code, parsed.message)
        return error_response(parsed, now)
    try:
        if isinstance(parsed, ReloadCommand):
            result = handler.reload()
        elif isinstance(parsed, ResetOccupancyCommand):
            result = handler.reset_occupancy(parsed.sensor)
        elif isinstance(parsed, HealthCommand):
            result = handler.publish_health()
        else:
            result = handler.republish(parsed.since, parsed.until, parsed.sensor)
    except CommandFailed as exc:
        log.warning("command %s %s failed: %s", parsed.command, parsed.id, exc)
        return error_response(CommandError("failed", str(exc), parsed.id, parsed.command), now)
    except Exception as exc:  # noqa: BLE001 - a handler bug must cost one error answer, not the agent
        log.exception("command %s %s crashed", parsed.command, parsed.id)
        return error_response(CommandError("internal", f"{type(exc).__name__}: {exc}", parsed.id, parsed.command), now)
    log.info("command %s %s done", parsed.command, parsed.id)
    return CommandResponse(id=parsed.id, command=parsed.command, ok=True, result=result, ts=now)


def busy_response(data: bytes, now: float) -> CommandResponse:
    """The answer to a command the agent had no time for (a flood): nothing was done, send it again later."""
    return error_response(
        CommandError("busy", "too many commands at once; not carried out, try again", *peek(data)), now
    )


def error_response(error: CommandError, now: float) -> CommandResponse:
    return CommandResponse(
        id=error.id,
        command=error.command,
        ok=False,
        error=ErrorDetail(code=error.code, message=error.message),
        ts=now,
    )


def _describe(exc: ValidationError) -> str:
    """One line per problem, naming the field: `until: until must be after since`."""
    parts = []
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err["loc"][1:]]  # the first element is the union tag
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
    return "; ".join(parts)
