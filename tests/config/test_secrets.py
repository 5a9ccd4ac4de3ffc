"""Secrets from the config, the environment, files and systemd credentials: never shown, errors name the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.errors import ConfigError
from agent.config.loader import parse_config
from agent.config.mqtt import MqttConfig, TlsConfig
from agent.config.summary import summary
from tests.config.configs import SIM

MQTT_WITH_PASSWORD = "site: s\nmqtt:\n  username: u\n  {}\nsensors:\n" + SIM


def test_password_from_config_is_secret() -> None:
    cfg = parse_config(MQTT_WITH_PASSWORD.format("password: hunter2"), "c.yaml")
    assert cfg.mqtt.resolved_password() == "hunter2"
    assert "hunter2" not in repr(cfg) and "hunter2" not in str(cfg) and "hunter2" not in summary(cfg)
    assert "hunter2" not in cfg.model_dump_json()


def test_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_TEST_PW", "s3cret")
    cfg = parse_config(MQTT_WITH_PASSWORD.format("password: ${FOOTFALL_TEST_PW}"), "c.yaml")
    assert cfg.mqtt.resolved_password() == "s3cret"
    monkeypatch.setenv("FOOTFALL_TEST_PW", "rotated")
    assert cfg.mqtt.resolved_password() == "rotated"
    monkeypatch.delenv("FOOTFALL_TEST_PW")
    with pytest.raises(ConfigError) as info:
        cfg.mqtt.resolved_password()
    assert info.value.errors == ["mqtt.password: environment variable FOOTFALL_TEST_PW is not set"]


def test_empty_environment_variable_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_TEST_PW", "")
    with pytest.raises(ConfigError) as info:
        parse_config(MQTT_WITH_PASSWORD.format("password: ${FOOTFALL_TEST_PW}"), "c.yaml")
    assert info.value.errors == ["c.yaml: mqtt.password: environment variable FOOTFALL_TEST_PW is empty (line 4)"]


def test_password_from_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    cfg = parse_config(MQTT_WITH_PASSWORD.format(f"password_file: {secret}"), "c.yaml")
    assert cfg.mqtt.resolved_password() == "from-file"
    assert "from-file" not in repr(cfg) and "from-file" not in summary(cfg)


def test_relative_password_file_from_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "mqtt-password").write_text("from-systemd\n")
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    (elsewhere / "mqtt-password").write_text("from-cwd\n")
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    cfg = parse_config(MQTT_WITH_PASSWORD.format("password_file: mqtt-password"), "c.yaml")
    assert cfg.mqtt.resolved_password() == "from-systemd"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    cfg = parse_config(MQTT_WITH_PASSWORD.format("password_file: mqtt-password"), "c.yaml")
    assert cfg.mqtt.resolved_password() == "from-cwd"


def test_unreadable_password_file_names_field_not_content(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    cfg = parse_config(MQTT_WITH_PASSWORD.format(f"password_file: {tmp_path / 'missing'}"), "c.yaml")
    with pytest.raises(ConfigError) as info:
        cfg.mqtt.resolved_password()
    assert info.value.errors == [f"mqtt.password_file: cannot read {tmp_path / 'missing'}: No such file or directory"]


def test_files_the_connection_will_read_are_tried_and_named_with_their_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    secret = tmp_path / "pw"
    secret.write_text("from-file\n")
    ca = tmp_path / "ca.pem"
    ca.write_text("a CA")
    text = (
        "site: s\nmqtt:\n  username: u\n  password_file: {pw}\n  tls:\n    ca_file: {ca}\n"
        "    cert_file: {cert}\n    key_password_file: key-pw\nsensors:\n" + SIM
    )
    warnings: list[str] = []
    parse_config(text.format(pw=secret, ca=ca, cert=ca), "c.yaml", warnings)
    assert warnings == [
        "c.yaml: mqtt.tls.key_password_file: cannot read key-pw: No such file or directory (line 8); "
        "a relative name is a systemd credential when the service runs (LoadCredential=)"
    ]
    warnings = []
    empty = tmp_path / "empty"
    empty.write_text("\n")
    parse_config(text.format(pw=empty, ca=tmp_path / "gone.pem", cert=ca), "c.yaml", warnings)
    assert warnings == [
        f"c.yaml: mqtt.password_file: {empty} is empty (line 4)",
        f"c.yaml: mqtt.tls.ca_file: cannot read {tmp_path / 'gone.pem'}: No such file or directory (line 6)",
        "c.yaml: mqtt.tls.key_password_file: cannot read key-pw: No such file or directory (line 8); "
        "a relative name is a systemd credential when the service runs (LoadCredential=)",
    ]
    assert "from-file" not in "".join(warnings)
    disabled: list[str] = []
    off = text.format(pw=empty, ca=ca, cert=ca).replace("mqtt:\n", "mqtt:\n  enabled: false\n")
    parse_config(off, "c.yaml", disabled)
    assert disabled == [], "no connection, nothing to read"


def test_key_password_from_credentials_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "key-pw").write_text("k3y\n")
    (tmp_path / "door.key").write_text("not really a key")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    text = (
        "site: s\nmqtt:\n  tls:\n    cert_file: /etc/door.crt\n    key_file: door.key\n"
        "    key_password_file: key-pw\nsensors:\n" + SIM
    )
    tls = parse_config(text, "c.yaml").mqtt.tls
    assert tls is not None
    assert tls.resolved_key_password() == "k3y"
    assert tls.key_file == tmp_path / "door.key"
    assert tls.cert_file == Path("/etc/door.crt")


def test_key_password_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOOTFALL_TEST_KEY_PW", "envkey")
    tls = TlsConfig(cert_file=Path("c.pem"), key_password="${FOOTFALL_TEST_KEY_PW}")
    assert tls.resolved_key_password() == "envkey"
    assert "envkey" not in repr(tls)
    assert TlsConfig().resolved_key_password() is None


def test_no_password_resolves_to_none() -> None:
    assert MqttConfig().resolved_password() is None
