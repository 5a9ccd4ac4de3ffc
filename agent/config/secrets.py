"""Secrets in the config (MQTT password, TLS key passphrase): from the file itself, `${ENV}`, a file or a
systemd credential. Errors name the field and the file, never the value."""

from __future__ import annotations

import os
import re
from pathlib import Path

from pydantic import (
    SecretStr,
)
from pydantic_core import PydanticCustomError

from agent.config.errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def credential_path(path: Path) -> Path:
    """A relative `*_file` is first looked up in systemd's `$CREDENTIALS_DIRECTORY` (LoadCredential=)."""
    creds = os.environ.get("CREDENTIALS_DIRECTORY")
    if not path.is_absolute() and creds:
        candidate = Path(creds) / path
        if candidate.exists():
            return candidate
    return path


def credential_path_or_none(value: Path | None) -> Path | None:
    return None if value is None else credential_path(value)


def check_env_reference(value: SecretStr | None) -> SecretStr | None:
    """Fail at load time (so check-config catches it) when a `${VAR}` secret names an unset variable."""
    if value is None:
        return None
    m = _ENV_REF.fullmatch(value.get_secret_value())
    if m is not None:
        if m.group(1) not in os.environ:
            raise PydanticCustomError("env_unset", "environment variable {var} is not set", {"var": m.group(1)})
        if not os.environ[m.group(1)]:
            raise PydanticCustomError("env_empty", "environment variable {var} is empty", {"var": m.group(1)})
    return value


def resolve_secret(value: SecretStr | None, file: Path | None, field: str) -> str | None:
    """The secret's value from the config, the environment or a file; errors name the field, never the value."""
    if file is not None:
        path = credential_path(file)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) else "not UTF-8 text"
            raise ConfigError([f"{field}_file: cannot read {path}: {reason}"]) from None
        secret = text.rstrip("\r\n")
        if not secret:
            raise ConfigError([f"{field}_file: {path} is empty"])
        return secret
    if value is None:
        return None
    raw = value.get_secret_value()
    m = _ENV_REF.fullmatch(raw)
    if m is None:
        return raw
    env = os.environ.get(m.group(1))
    if env is None:
        raise ConfigError([f"{field}: environment variable {m.group(1)} is not set"])
    if not env:
        raise ConfigError([f"{field}: environment variable {m.group(1)} is empty"])
    return env
