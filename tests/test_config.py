"""Config loading: every mistake names the key path and line, secrets stay secret, examples and reference stay valid."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import time
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from agent.anomaly import AnomalySettings
from agent.config import (
    AgentConfig,
    CameraSensorConfig,
    ConfigError,
    HealthConfig,
    HomeAssistantConfig,
    IntervalConfig,
    LineSensorConfig,
    ModbusSensorConfig,
    MqttConfig,
    SimulatedSensorConfig,
    StoreConfig,
    TlsConfig,
    demo_config,
    format_duration,
    load_config,
    parse_byte_size,
    parse_config,
    parse_duration,
    reference_markdown,
    summary,
)
from agent.counting_config import CountingConfig, LineConfig, TrackerConfig, ZoneConfig
from agent.detector_config import HogDetectorConfig, SsdliteDetectorConfig
from agent.line_protocol import Increment, Totals

ROOT = Path(__file__).resolve().parents[1]
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

GOOD = """\
site: store-042
device: door-1
timezone: Europe/Berlin
intervals:
  length: 15m
mqtt:
  host: broker.example
  tls: {}
sensors:
  - id: door-a
    type: serial-lines
    port: /dev/ttyUSB0
  - id: door-b
    type: modbus
    port: /dev/ttyUSB1
    in_register: 0
    out_register: 2
"""

SIM = "  - id: a\n    type: simulated\n"

# (case, yaml, exact error lines expected among ConfigError.errors)
BAD: list[tuple[str, str, list[str]]] = [
    (
        "unknown key in a sensor, plus the key it was meant to be",
        "site: s\nsensors:\n  - id: a\n    type: serial-lines\n    prot: /dev/ttyUSB0\n",
        [
            "c.yaml: sensors[0].port: field required (line 3)",
            "c.yaml: sensors[0].prot: unknown key 'prot' (line 5); allowed: type, id, port, baudrate, bytesize, "
            "parity, stopbits, preset, pattern, in_values, out_values, counter_bits, max_step, heartbeat_timeout, "
            "encoding, max_line_bytes, reconnect_min, reconnect_max; did you mean 'port'?",
        ],
    ),
    (
        "unknown key in mqtt",
        "site: s\nmqtt:\n  host: h\n\n  prot: 1883\nsensors:\n" + SIM,
        [
            "c.yaml: mqtt.prot: unknown key 'prot' (line 5); allowed: enabled, host, port, client_id, keepalive, "
            "protocol, topic_prefix, username, password, password_file, tls, max_inflight, reconnect_min, "
            "reconnect_max; did you mean 'port'?"
        ],
    ),
    (
        "unknown top-level key",
        "site: s\nsensorz: []\nsensors:\n" + SIM,
        [
            "c.yaml: sensorz: unknown key 'sensorz' (line 2); allowed: site, device, timezone, intervals, store, "
            "mqtt, homeassistant, health, anomaly, sensors, log_level; did you mean 'sensors'?"
        ],
    ),
    (
        "missing port of the second sensor",
        "site: s\nsensors:\n" + SIM + "  - id: b\n    type: serial-lines\n    baudrate: 9600\n",
        ["c.yaml: sensors[1].port: field required (line 5)"],
    ),
    (
        "wrong type",
        "site: s\nsensors:\n  - id: a\n    type: serial-lines\n    port: /dev/ttyS0\n    baudrate: fast\n",
        ["c.yaml: sensors[0].baudrate: input should be a valid integer, unable to parse string as an integer (line 6)"],
    ),
    (
        "number where text is needed",
        "site: 42\nsensors:\n" + SIM,
        ["c.yaml: site: expected text; put the value in quotes (line 1)"],
    ),
    (
        "value not among the choices",
        "site: s\nsensors:\n  - id: a\n    type: serial-lines\n    port: /dev/ttyS0\n    parity: X\n",
        ["c.yaml: sensors[0].parity: input should be 'N', 'E', 'O', 'M' or 'S' (line 6)"],
    ),
    (
        "bad regex",
        "site: s\nsensors:\n  - id: a\n    type: serial-lines\n    port: /dev/ttyS0\n    pattern: '(?P<in>\\d+'\n",
        ["c.yaml: sensors[0].pattern: invalid regex: missing ), unterminated subpattern at position 0 (line 6)"],
    ),
    (
        "regex without the groups it needs",
        "site: s\nsensors:\n  - id: a\n    type: serial-lines\n    port: /dev/ttyS0\n    pattern: 'IN (\\d+)'\n",
        [
            "c.yaml: sensors[0].pattern: regex needs named groups: (?P<direction>...) with optional (?P<count>...) "
            "for events, or (?P<in>...) and (?P<out>...) for cumulative totals (line 6)"
        ],
    ),
    (
        "preset and pattern together",
        "site: s\nsensors:\n  - id: a\n    type: serial-lines\n    port: /dev/ttyS0\n    preset: event\n"
        "    pattern: '(?P<direction>\\w+)'\n",
        ["c.yaml: sensors[0].pattern: set either preset or pattern, not both (line 7)"],
    ),
    (
        "duplicate sensor ids",
        "site: s\nsensors:\n" + SIM + "  - id: b\n    type: simulated\n  - id: a\n    type: simulated\n",
        ["c.yaml: sensors[2].id: duplicate sensor id 'a' (already used by sensors[0]) (line 7)"],
    ),
    (
        "interval that does not divide an hour",
        "site: s\nintervals:\n  length: 7m\nsensors:\n" + SIM,
        [
            "c.yaml: intervals.length: interval length must be whole seconds from 1 to 3600 that divide an hour "
            "evenly (e.g. 60, 300, 900, 1800, 3600), got 420 (line 3)"
        ],
    ),
    (
        "interval longer than an hour",
        "site: s\nintervals:\n  length: 2h\nsensors:\n" + SIM,
        [
            "c.yaml: intervals.length: interval length must be whole seconds from 1 to 3600 that divide an hour "
            "evenly (e.g. 60, 300, 900, 1800, 3600), got 7200 (line 3)"
        ],
    ),
    (
        "bad time zone",
        "site: s\ntimezone: Europe/Berln\nsensors:\n" + SIM,
        ["c.yaml: timezone: unknown time zone 'Europe/Berln'; did you mean Europe/Berlin? (line 2)"],
    ),
    (
        "unset environment variable for the password",
        "site: s\nmqtt:\n  username: u\n  password: ${FOOTFALL_TEST_UNSET}\nsensors:\n" + SIM,
        ["c.yaml: mqtt.password: environment variable FOOTFALL_TEST_UNSET is not set (line 4)"],
    ),
    (
        "unset environment variable for the key password",
        "site: s\nmqtt:\n  tls:\n    cert_file: c.pem\n    key_password: ${FOOTFALL_TEST_UNSET}\nsensors:\n" + SIM,
        ["c.yaml: mqtt.tls.key_password: environment variable FOOTFALL_TEST_UNSET is not set (line 5)"],
    ),
    (
        "YAML syntax error",
        "site: s\nsensors:\n  - id: a\n   type: simulated\n",
        ["c.yaml: line 4: while parsing a block collection, expected <block end>, but found '<block mapping start>'"],
    ),
    (
        "tab indentation",
        "site: s\n\tsensors: []\n",
        ["c.yaml: line 2: while scanning for the next token, found character '\\t' that cannot start any token"],
    ),
    (
        "two documents",
        "site: s\n---\nsite: t\n",
        ["c.yaml: line 2: expected a single document in the stream, but found another document"],
    ),
    (
        "unknown sensor type",
        "site: s\nsensors:\n  - id: a\n    type: serial\n",
        [
            "c.yaml: sensors[0].type: unknown sensor type 'serial'; expected one of 'serial-lines', 'modbus', "
            "'simulated', 'camera' (line 4)"
        ],
    ),
    (
        "missing sensor type",
        "site: s\nsensors:\n  - id: a\n    port: /dev/ttyS0\n",
        ["c.yaml: sensors[0].type: field required (the sensor type: 'serial-lines', 'modbus' or 'simulated') (line 3)"],
    ),
    ("missing site", "sensors:\n" + SIM, ["c.yaml: site: field required (line 1)"]),
    ("no sensors", "site: s\nsensors: []\n", ["c.yaml: sensors: at least one sensor is required (line 2)"]),
    (
        "bad id",
        "site: s\nsensors:\n  - id: door a\n    type: simulated\n",
        [
            "c.yaml: sensors[0].id: invalid id 'door a': use 1-64 letters, digits, '_' or '-', "
            "starting with a letter or digit (line 3)"
        ],
    ),
    (
        "bad duration",
        "site: s\nstore:\n  checkpoint: 5 sec\nsensors:\n" + SIM,
        [
            "c.yaml: store.checkpoint: invalid duration '5 sec': use seconds (e.g. 30) or a number with a unit "
            "ms, s, m, h or d (e.g. 500ms, 15m, 1h) (line 3)"
        ],
    ),
    (
        "store too small",
        "site: s\nstore:\n  max_bytes: 500kB\nsensors:\n" + SIM,
        ["c.yaml: store.max_bytes: max_bytes must be at least 1MiB (1048576 bytes), got 500000 (line 3)"],
    ),
    (
        "overlapping modbus registers",
        "site: s\nsensors:\n  - id: a\n    type: modbus\n    port: /dev/ttyS0\n    in_register: 0\n"
        "    out_register: 1\n",
        ["c.yaml: sensors[0]: in_register 0 and out_register 1 overlap (32-bit totals use 2 registers each) (line 3)"],
    ),
    (
        "opening after closing",
        "site: s\nsensors:\n  - id: a\n    type: simulated\n    opening: 22:00\n",
        ["c.yaml: sensors[0]: opening (22:00) must be before closing (21:00) (line 3)"],
    ),
    (
        "password without user name",
        "site: s\nmqtt:\n  password: pw\nsensors:\n" + SIM,
        ["c.yaml: mqtt: a password needs a username (line 2)"],
    ),
    (
        "key given twice",
        "site: s\nmqtt:\n  host: a\n  host: b\nsensors:\n" + SIM,
        ["c.yaml: mqtt.host: duplicate key (line 4; first at line 3)"],
    ),
    ("empty file", "# all commented out\n", ["c.yaml: the config file is empty"]),
    ("not a mapping", "- site: s\n", ["c.yaml: line 1: expected a mapping of keys (site, sensors, ...) at the top"]),
    (
        "section that is not a mapping",
        "site: s\nmqtt: localhost\nsensors:\n" + SIM,
        ["c.yaml: mqtt: expected a mapping of keys (line 2)"],
    ),
    (
        "wildcard in the discovery prefix",
        "site: s\nhomeassistant:\n  discovery_prefix: ha/#\nsensors:\n" + SIM,
        [
            "c.yaml: homeassistant.discovery_prefix: discovery_prefix must not contain + or # nor start or end "
            "with / (line 3)"
        ],
    ),
    (
        "unknown key in the health section",
        "site: s\nhealth:\n  every: 10s\nsensors:\n" + SIM,
        ["c.yaml: health.every: unknown key 'every' (line 3); allowed: period"],
    ),
    (
        "health period below a second",
        "site: s\nhealth:\n  period: 100ms\nsensors:\n" + SIM,
        ["c.yaml: health.period: input should be greater than or equal to 1 (line 3)"],
    ),
    (
        "wildcard in the topic prefix",
        "site: s\nmqtt:\n  topic_prefix: footfall/+/{device}\nsensors:\n" + SIM,
        ["c.yaml: mqtt.topic_prefix: topic_prefix must not contain the wildcards + or # (line 3)"],
    ),
]


@pytest.mark.parametrize(("text", "expected"), [(t, e) for _, t, e in BAD], ids=[c for c, _, _ in BAD])
def test_bad_config_names_path_and_line(text: str, expected: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOOTFALL_TEST_UNSET", raising=False)
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    for line in expected:
        assert line in info.value.errors
    assert str(info.value) == "\n".join(info.value.errors)


def test_errors_are_sorted_by_line_and_all_reported() -> None:
    text = "site: s\nmqtt:\n  port: x\nsensors:\n  - id: a\n    type: serial-lines\n    baud: 1\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    lines = [int(e.split("(line ")[1].split(")")[0]) for e in info.value.errors]
    assert lines == sorted(lines) and len(lines) == 3


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors == [f"{path}: cannot read config file: No such file or directory"]


def test_empty_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.errors == [f"{path}: the config file is empty"]


def test_load_config_reports_the_path_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("rel.yaml").write_text("site: s\nsensors:\n  - id: a\n    type: serial-lines\n")
    with pytest.raises(ConfigError) as info:
        load_config(Path("rel.yaml"))
    assert info.value.errors == ["rel.yaml: sensors[0].port: field required (line 3)"]


def test_good_config_and_summary() -> None:
    cfg = parse_config(GOOD, "c.yaml")
    assert cfg.intervals.length == 900
    assert cfg.mqtt.effective_port() == 8883
    assert cfg.tz.key == "Europe/Berlin"
    assert summary(cfg) == (
        "site store-042, device door-1, timezone Europe/Berlin, 15 min intervals, 2 sensors "
        "(door-a serial-lines /dev/ttyUSB0, door-b modbus /dev/ttyUSB1), "
        "mqtt mqtts://broker.example:8883 as footfall-store-042-door-1"
    )


def test_defaults() -> None:
    cfg = parse_config("site: s\nsensors:\n  - id: a\n    type: serial-lines\n    port: /dev/ttyS0\n", "c.yaml")
    sensor = cfg.sensors[0]
    assert isinstance(sensor, LineSensorConfig)
    assert sensor.preset == "event" and sensor.parser().parse("OUT 3") == Increment(0, 3)
    assert (sensor.baudrate, sensor.bytesize, sensor.parity, sensor.stopbits) == (9600, 8, "N", 1)
    assert (sensor.reconnect_min, sensor.reconnect_max, sensor.heartbeat_timeout) == (0.5, 30.0, None)
    assert cfg.timezone == "UTC" and cfg.log_level == "info"
    assert cfg.intervals.length == 900.0 and cfg.intervals.occupancy_reset == time(4, 0)
    assert cfg.store.path == Path("/var/lib/footfall-agent") and cfg.store.max_bytes == 256 * 1024 * 1024
    assert cfg.mqtt.effective_port() == 1883 and cfg.mqtt.client_id is None
    assert cfg.homeassistant == HomeAssistantConfig(enabled=True, discovery_prefix="homeassistant")
    assert cfg.health.period == 60.0
    assert len(cfg.device) >= 1
    assert summary(cfg).endswith(f"mqtt mqtt://localhost:1883 as footfall-s-{cfg.device}")


def test_preset_parser_comes_from_config() -> None:
    text = "site: s\nsensors:\n  - id: a\n    type: serial-lines\n    port: p\n    preset: cumulative-json\n"
    sensor = parse_config(text, "c.yaml").sensors[0]
    assert isinstance(sensor, LineSensorConfig)
    assert sensor.parser().parse('{"out": 2, "in": 1}') == Totals(1, 2)


def test_clock_times_are_not_read_as_base_60_numbers() -> None:
    text = "site: s\nsensors:\n  - id: a\n    type: simulated\n    opening: 8:30\n    closing: 21:00\n"
    sensor = parse_config(text, "c.yaml").sensors[0]
    assert isinstance(sensor, SimulatedSensorConfig)
    assert (sensor.opening, sensor.closing) == (time(8, 30), time(21, 0))


def test_bare_number_is_not_a_clock_time() -> None:
    with pytest.raises(ValidationError):
        IntervalConfig(occupancy_reset=1260)


def test_homeassistant_and_health_sections() -> None:
    text = "site: s\nhomeassistant:\n  enabled: false\n  discovery_prefix: ha/x\nhealth:\n  period: 5m\nsensors:\n"
    cfg = parse_config(text + SIM, "c.yaml")
    assert (cfg.homeassistant.enabled, cfg.homeassistant.discovery_prefix, cfg.health.period) == (False, "ha/x", 300)
    empty = parse_config("site: s\nhomeassistant:\nhealth:\nsensors:\n" + SIM, "c.yaml")
    assert empty.homeassistant == HomeAssistantConfig() and empty.health == HealthConfig()


def test_anomaly_section() -> None:
    assert parse_config("site: s\nsensors:\n" + SIM, "c.yaml").anomaly == AnomalySettings()
    assert AnomalySettings().enabled
    cfg = parse_config("site: s\nanomaly:\n  threshold: 5\n  warmup_weeks: 2\nsensors:\n" + SIM, "c.yaml")
    assert (cfg.anomaly.threshold, cfg.anomaly.warmup_weeks, cfg.anomaly.enabled) == (5.0, 2, True)
    assert parse_config("site: s\nanomaly:\nsensors:\n" + SIM, "c.yaml").anomaly == AnomalySettings()
    with pytest.raises(ConfigError) as info:
        parse_config("site: s\nanomaly:\n  treshold: 5\nsensors:\n" + SIM, "c.yaml")
    assert "anomaly.treshold: unknown key 'treshold' (line 3)" in str(info.value)


@pytest.mark.parametrize(
    ("length", "anomaly", "scores"),
    [
        ("1m", "", True),
        ("1m", "anomaly:\n  enabled: true\n", True),
        ("1h", "anomaly:\n  enabled: false\n", False),
        ("30s", "", False),
        ("30s", "anomaly:\n  threshold: 5\n", False),
        ("1s", "anomaly:\n  enabled: false\n", False),
        ("30s", "anomaly:\n  enabled: true\n", None),
        ("1s", "anomaly:\n  threshold: 5\n  enabled: yes\n", None),
    ],
)
def test_anomaly_scoring_needs_intervals_of_a_minute(length: str, anomaly: str, scores: bool | None) -> None:
    text = f"site: s\nintervals:\n  length: {length}\n{anomaly}sensors:\n" + SIM
    if scores is not None:
        assert parse_config(text, "c.yaml").scores_anomalies is scores
        return
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    line = text.splitlines().index(next(x for x in text.splitlines() if x.startswith("  enabled:"))) + 1
    seconds = length.removesuffix("s")
    assert info.value.errors == [
        f"c.yaml: anomaly.enabled: anomaly scoring needs intervals of at least 60 s, intervals.length is "
        f"{seconds} s: remove this line or set it to false (line {line})"
    ]


def test_mqtt_shorthands() -> None:
    text = "site: s\nmqtt:\n  tls: true\n  protocol: 5\nsensors:\n" + SIM
    cfg = parse_config(text, "c.yaml")
    assert cfg.mqtt.tls == TlsConfig() and cfg.mqtt.protocol == "5" and cfg.mqtt.effective_port() == 8883
    assert parse_config("site: s\nmqtt:\nsensors:\n" + SIM, "c.yaml").mqtt == MqttConfig()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (0.25, 0.25),
        ("30", 30.0),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("15m", 900.0),
        ("15min", 900.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("1h30m", 5400.0),
        (" 2 s ", 2.0),
        ("1.5h", 5400.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["", "abc", "5 sec", "-1", -1, "1h x", "m", True, None, float("inf")])
def test_bad_durations(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"), [(900, "15m"), (0.5, "500ms"), (30, "30s"), (3600, "1h"), (86400, "1d"), (90, "90s")]
)
def test_format_duration_round_trips(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (1048576, 1048576),
        ("1048576", 1048576),
        ("500kB", 500_000),
        ("256MB", 256_000_000),
        ("256MiB", 268_435_456),
        ("1GiB", 1_073_741_824),
        ("1gib", 1_073_741_824),
        ("2 KiB", 2048),
        ("1.5MiB", 1_572_864),
        ("10B", 10),
    ],
)
def test_byte_sizes(value: object, size: int) -> None:
    assert parse_byte_size(value) == size


@pytest.mark.parametrize("value", ["", "lots", "5 XB", -1, True, 1.5, "1 MiBs"])
def test_bad_byte_sizes(value: object) -> None:
    with pytest.raises(ValueError):
        parse_byte_size(value)


def test_durations_and_sizes_in_yaml() -> None:
    text = "site: s\nstore:\n  checkpoint: 500ms\n  max_bytes: 1GiB\nsensors:\n" + SIM
    cfg = parse_config(text, "c.yaml")
    assert cfg.store.checkpoint == 0.5 and cfg.store.max_bytes == 1 << 30


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


def test_a_zone_whose_home_assistant_entity_would_clash_is_named_with_its_line() -> None:
    camera = (
        "  - id: {id}\n    type: camera\n    source: 0\n    counting:\n"
        "      lines: [{{name: door, points: [[0, 0], [10, 0]], in_point: [5, 5]}}]\n"
        "      zones:\n        - {{name: {zone}, points: [[0, 0], [10, 0], [10, 10]]}}\n"
    )
    text = "site: s\nsensors:\n" + camera.format(id="a", zone="x_zone_y") + camera.format(id="a_zone_x", zone="y")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert info.value.errors == [
        "c.yaml: sensors[1].counting.zones[0].name: zone 'y' of sensor 'a_zone_x' would have the same Home "
        "Assistant entity id 'a_zone_x_zone_y_occupancy' as zone 'x_zone_y' of sensor 'a': rename one (line 16)"
    ]
    parse_config(text.replace("name: y,", "name: z,"), "c.yaml")


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


def test_every_firmware_example_loads() -> None:
    examples = sorted((ROOT / "firmware-config").glob("*.yaml"))
    names = {p.name for p in examples}
    assert {
        "serial-event-lines.yaml",
        "serial-cumulative-kv.yaml",
        "serial-cumulative-json.yaml",
        "modbus-rtu.yaml",
        "mqtt-tls.yaml",
        "multi-sensor.yaml",
    } <= names
    for path in examples:
        cfg = load_config(path)
        assert summary(cfg).startswith(f"site {cfg.site}, device {cfg.device}")
        for sensor in cfg.sensors:
            if isinstance(sensor, LineSensorConfig):
                sensor.parser()


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


def test_demo_config(tmp_path: Path) -> None:
    cfg = demo_config(tmp_path)
    assert (cfg.site, cfg.device, cfg.intervals.length) == ("demo", "demo", 60)
    assert cfg.store.path == tmp_path
    assert [(s.id, s.type) for s in cfg.sensors] == [("door", "simulated")]
    assert (cfg.mqtt.host, cfg.mqtt.effective_port()) == ("localhost", 1883)
    assert cfg.tz is not None
    assert summary(cfg).endswith("1 sensor (door simulated), mqtt mqtt://localhost:1883 as footfall-demo-demo")


def test_demo_config_follows_tz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    assert demo_config(tmp_path).timezone == "Asia/Kolkata"


def test_models_can_be_built_in_code() -> None:
    sensor = LineSensorConfig(id="a", port="/dev/ttyS0", preset="cumulative-csv")
    assert sensor.parser().parse("3,4") == Totals(3, 4)
    modbus = ModbusSensorConfig(id="b", port="p", in_register=0, out_register=2)
    cfg = AgentConfig(site="s", device="d", sensors=[sensor, modbus])
    assert cfg.sensors[1].type == "modbus"
    with pytest.raises(ValidationError):
        AgentConfig(site="s", device="d", sensors=[sensor, sensor])


CAMERA = (
    "site: s\nsensors:\n  - id: cam\n    type: camera\n    source: {source}\n{extra}"
    "    counting:\n      lines:\n        - {{name: door, points: [[0, 200], [640, 200]], in_direction: down}}\n"
    "        - {{name: side, points: [[320, 0], [320, 100]], in_direction: left}}\n"
)


def test_camera_defaults_suit_the_tracker() -> None:
    cam = parse_config(CAMERA.format(source="/dev/video0", extra=""), "c.yaml").sensors[0]
    assert isinstance(cam, CameraSensorConfig)
    assert isinstance(cam.detector, SsdliteDetectorConfig)
    assert (cam.detector.model, cam.detector.threads, cam.loop, cam.count_line) == ("int8", 1, False, None)
    assert cam.detector.score_threshold <= cam.counting.tracker.low_score
    custom = parse_config(CAMERA.format(source="0", extra="    detector: {threads: 2}\n"), "c.yaml").sensors[0]
    assert isinstance(custom, CameraSensorConfig) and custom.source == 0
    assert isinstance(custom.detector, SsdliteDetectorConfig) and custom.detector.threads == 2
    assert custom.detector.score_threshold == cam.detector.score_threshold


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("    count_line: back\n", "count_line 'back' is not one of the lines: door, side"),
        ("    width: 640\n", "set width and height together"),
        ("    fps: 0\n", "greater than 0"),
        ("    detector: {type: yolo}\n", "yolo"),
        ("    lens: wide\n", "unknown key 'lens'"),
    ],
)
def test_camera_config_errors(extra: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(CAMERA.format(source="rtsp://cam/stream", extra=extra), "c.yaml")
    assert message in str(info.value)


def test_camera_needs_a_line() -> None:
    text = "site: s\nsensors:\n  - id: cam\n    type: camera\n    source: 0\n    counting: {}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert "at least one counting line" in str(info.value)


def test_loading_a_camera_config_loads_neither_opencv_nor_onnxruntime() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from agent.config import parse_config; "
        f"parse_config({CAMERA.format(source='0', extra='')!r}, 'c.yaml'); "
        "print('cv2' in sys.modules, 'onnxruntime' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_loading_the_config_module_loads_no_camera_library() -> None:
    """Camera, counting and detector settings are plain models: an agent without cameras never needs numpy."""
    code = (
        "import sys\n"
        "import agent.config\n"
        "print(sorted(m for m in ('numpy', 'cv2', 'onnxruntime', 'scipy') if m in sys.modules))\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
