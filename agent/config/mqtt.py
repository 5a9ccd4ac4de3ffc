"""The `mqtt` section and its `tls` part: where the interval counts are sent, and how."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from agent.config.secrets import check_env_reference, credential_path_or_none, resolve_secret
from agent.config.units import Duration


class TlsConfig(BaseModel):
    """TLS towards the broker. An empty mapping (or `tls: true`) means TLS with the system's CA certificates."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    ca_file: Path | None = Field(
        None,
        title="CA certificate",
        description="PEM file of the CA that signed the broker's certificate; unset: the system CAs. "
        "A relative path is looked up in `$CREDENTIALS_DIRECTORY` first.",
    )
    cert_file: Path | None = Field(
        None,
        title="Client certificate",
        description="PEM client certificate, for brokers that authenticate devices by certificate. "
        "A relative path is looked up in `$CREDENTIALS_DIRECTORY` first.",
    )
    key_file: Path | None = Field(
        None,
        title="Client key",
        description="PEM private key of `cert_file` (unset if the key is inside `cert_file`). "
        "A relative path is looked up in `$CREDENTIALS_DIRECTORY` first.",
    )
    key_password: SecretStr | None = Field(
        None,
        title="Client key password",
        description="Password of an encrypted client key. `${VAR}` reads it from the environment variable VAR.",
    )
    key_password_file: Path | None = Field(
        None,
        title="Client key password file",
        description="File holding the key password (one line). A relative path is looked up in "
        "`$CREDENTIALS_DIRECTORY` first (systemd `LoadCredential=`).",
    )
    verify: bool = Field(
        True,
        title="Verify broker",
        description="Check the broker's certificate and host name. Turn off only for a test broker.",
    )

    _resolve_files = field_validator("ca_file", "cert_file", "key_file", "key_password_file")(credential_path_or_none)
    _env_reference = field_validator("key_password")(check_env_reference)

    @model_validator(mode="after")
    def _consistent(self) -> TlsConfig:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("key_file needs cert_file")
        if self.key_password is not None and self.key_password_file is not None:
            raise ValueError("set either key_password or key_password_file, not both")
        if (self.key_password is not None or self.key_password_file is not None) and self.cert_file is None:
            raise ValueError("a key password needs cert_file (and key_file if the key is separate)")
        return self

    def resolved_key_password(self) -> str | None:
        """The client key password, read now from the config, the environment or its file."""
        return resolve_secret(self.key_password, self.key_password_file, "mqtt.tls.key_password")


class MqttConfig(BaseModel):
    """The MQTT broker that receives the interval counts."""

    model_config = ConfigDict(extra="forbid", validate_default=True)

    enabled: bool = Field(
        True,
        title="Enabled",
        description="Publish to a broker. Off: intervals are only stored locally (and kept until it is on).",
    )
    host: str = Field("localhost", min_length=1, title="Broker host", description="Host name or IP of the broker.")
    port: int | None = Field(
        None, ge=1, le=65535, title="Broker port", description="TCP port; unset: 1883, or 8883 with `tls`."
    )
    client_id: str | None = Field(
        None,
        min_length=1,
        title="Client id",
        description="MQTT client id, unique per broker; unset: `footfall-<site>-<device>`.",
    )
    keepalive: int = Field(
        60,
        ge=1,
        le=65535,
        title="Keepalive",
        description="Seconds between pings while idle; a dead connection is noticed after about 1.5 times this.",
    )
    protocol: Literal["3.1.1", "5"] = Field(
        "3.1.1", title="Protocol version", description="MQTT protocol version: `3.1.1` or `5`."
    )
    topic_prefix: str = Field(
        "footfall/{site}/{device}",
        min_length=1,
        title="Topic prefix",
        description="Prefix of every topic; `{site}` and `{device}` are replaced. No `+`, `#`, `$` or control "
        "characters.",
    )
    username: str | None = Field(None, title="User name", description="User name for the broker, if it wants one.")
    password: SecretStr | None = Field(
        None,
        title="Password",
        description="Password for the broker. `${VAR}` reads it from the environment variable VAR; better "
        "still use `password_file`. Never logged.",
    )
    password_file: Path | None = Field(
        None,
        title="Password file",
        description="File holding the password (one line). A relative path is looked up in "
        "`$CREDENTIALS_DIRECTORY` first, so systemd `LoadCredential=mqtt-password:/etc/...` works with "
        "`password_file: mqtt-password`.",
    )
    tls: TlsConfig | None = Field(None, title="TLS", description="TLS settings (see `mqtt.tls`); unset: plain TCP.")
    max_inflight: int = Field(
        20,
        ge=1,
        le=65535,
        title="Messages in flight",
        description="Interval messages sent but not yet acknowledged at any time; higher drains a backlog "
        "faster over high-latency links.",
    )
    reconnect_min: Duration = Field(
        1, gt=0, title="Reconnect delay (first)", description="Wait before the first reconnect attempt."
    )
    reconnect_max: Duration = Field(
        60,
        gt=0,
        title="Reconnect delay (cap)",
        description="The reconnect delay doubles after each failure (with jitter) up to this cap.",
    )

    @field_validator("protocol", mode="before")
    @classmethod
    def _protocol_as_text(cls, value: Any) -> Any:
        """YAML reads `protocol: 5` as a number."""
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_switch(cls, value: Any) -> Any:
        """`tls: true` is shorthand for TLS with the system CAs."""
        if value is True:
            return {}
        if value is False:
            return None
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _topic_prefix_usable(cls, value: str) -> str:
        # The broker drops a client that publishes to any of these, and the agent would reconnect forever.
        if "+" in value or "#" in value:
            raise ValueError("topic_prefix must not contain the wildcards + or #")
        if "$" in value:
            raise ValueError(
                "topic_prefix must not contain $ (topics starting with $ belong to the broker, which drops a "
                "client that publishes there)"
            )
        if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in value):
            raise ValueError("topic_prefix must not contain control characters such as NUL")
        try:
            value.format(site="s", device="d")
        except (KeyError, IndexError, ValueError):
            raise ValueError("topic_prefix may only use the placeholders {site} and {device}") from None
        return value

    _resolve_files = field_validator("password_file")(credential_path_or_none)
    _env_reference = field_validator("password")(check_env_reference)

    @model_validator(mode="after")
    def _consistent(self) -> MqttConfig:
        if self.password is not None and self.password_file is not None:
            raise ValueError("set either password or password_file, not both")
        has_password = self.password is not None or self.password_file is not None
        if has_password and self.username is None:
            raise ValueError("a password needs a username")
        if self.reconnect_min > self.reconnect_max:
            raise ValueError(
                f"reconnect_min ({self.reconnect_min:g} s) must not exceed reconnect_max ({self.reconnect_max:g} s)"
            )
        return self

    def effective_port(self) -> int:
        """The configured port, else the MQTT default for plain or TLS connections."""
        if self.port is not None:
            return self.port
        return 8883 if self.tls is not None else 1883

    def resolved_password(self) -> str | None:
        """The broker password, read now (not at load) so a rotated credential file is picked up on reconnect."""
        return resolve_secret(self.password, self.password_file, "mqtt.password")
