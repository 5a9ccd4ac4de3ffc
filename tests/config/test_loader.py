"""Config loading: every mistake names the key path and line, secrets stay secret, examples and reference stay valid."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.anomaly.settings import AnomalySettings
from agent.config.agent import AgentConfig, HealthConfig, HomeAssistantConfig
from agent.config.errors import ConfigError
from agent.config.loader import load_config, parse_config
from agent.config.modbus import ModbusSensorConfig
from agent.config.mqtt import MqttConfig, TlsConfig
from agent.config.serial_lines import LineSensorConfig
from agent.config.summary import summary
from agent.sources.line_protocol import Increment, Totals
from tests.config.configs import GOOD, ROOT, SIM

# (case, yaml, exact error lines expected among ConfigError.errors)
BAD: list[tuple[str, str, list[str]]] = [
    (
        "unknown key in a sensor, plus the key it was meant to be",
        "site: s\nsensors:\n  - id: a\n    type: serial-lines\n    prot: /dev/ttyUSB0\n",
        [
            "c.yaml: sensors[0].port: field required (line 3)",
            "c.yaml: sensors[0].prot: unknown key 'prot' (line 5); allowed: type, id, port, baudrate, bytesize, "
            "parity, stopbits, preset, pattern, in_values, out_values, counter_bits, max_step, max_count, "
            "heartbeat_timeout, encoding, max_line_bytes, reconnect_min, reconnect_max; did you mean 'port'?",
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
        ["c.yaml: line 2: a tab character (column 1); YAML indents with spaces only: replace the tab with spaces"],
    ),
    (
        "tab before a nested key",
        "site: s\nsensors:\n  - id: a\n  \ttype: simulated\n",
        ["c.yaml: line 4: a tab character (column 3); YAML indents with spaces only: replace the tab with spaces"],
    ),
    (
        "unclosed quote",
        'site: s\nsensors:\n  - id: a\n    type: serial-lines\n    port: "/dev/ttyUSB0\n    baudrate: 9600\n',
        [
            'c.yaml: line 5: the quote " opened here (column 11) is never closed: add the closing quote or '
            "remove this one"
        ],
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
    (
        "a $ in the topic prefix (the broker's own topics)",
        "site: s\nmqtt:\n  topic_prefix: $SYS/{site}/{device}\nsensors:\n" + SIM,
        [
            "c.yaml: mqtt.topic_prefix: topic_prefix must not contain $ (topics starting with $ belong to the "
            "broker, which drops a client that publishes there) (line 3)"
        ],
    ),
    (
        "a NUL in the topic prefix",
        'site: s\nmqtt:\n  topic_prefix: "footfall/\\0/{device}"\nsensors:\n' + SIM,
        ["c.yaml: mqtt.topic_prefix: topic_prefix must not contain control characters such as NUL (line 3)"],
    ),
    (
        "the store on a device file",
        "site: s\nstore:\n  path: /dev/null\nsensors:\n" + SIM,
        [
            "c.yaml: store.path: /dev/null is under /dev, a kernel file system, not storage: give a directory "
            "on a disk, such as /var/lib/footfall-agent (line 3)"
        ],
    ),
    (
        "the store in /proc",
        "site: s\nstore:\n  path: /proc/self\nsensors:\n" + SIM,
        [
            "c.yaml: store.path: /proc/self is under /proc, a kernel file system, not storage: give a directory "
            "on a disk, such as /var/lib/footfall-agent (line 3)"
        ],
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
        "camera.yaml",
    } <= names
    for path in examples:
        warnings: list[str] = []
        cfg = load_config(path, warnings=warnings)
        assert summary(cfg).startswith(f"site {cfg.site}, device {cfg.device}")
        assert warnings == [], "an example shows what is meant"
        for sensor in cfg.sensors:
            if isinstance(sensor, LineSensorConfig):
                sensor.parser()


def test_models_can_be_built_in_code() -> None:
    sensor = LineSensorConfig(id="a", port="/dev/ttyS0", preset="cumulative-csv")
    assert sensor.parser().parse("3,4") == Totals(3, 4)
    modbus = ModbusSensorConfig(id="b", port="p", in_register=0, out_register=2)
    cfg = AgentConfig(site="s", device="d", sensors=[sensor, modbus])
    assert cfg.sensors[1].type == "modbus"
    with pytest.raises(ValidationError):
        AgentConfig(site="s", device="d", sensors=[sensor, sensor])


def test_a_store_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    afile = tmp_path / "footfall.db"
    afile.write_text("")
    with pytest.raises(ConfigError) as info:
        parse_config(f"site: s\nstore:\n  path: {afile}\nsensors:\n" + SIM, "c.yaml")
    assert info.value.errors == [
        f"c.yaml: store.path: {afile} is a file, not a directory: the store is a directory that holds "
        "footfall.db (line 3)"
    ]
