"""What a reload may change live and what it must refuse, decided from two configs alone."""

from __future__ import annotations

import pytest

from agent.config.agent import AgentConfig
from agent.config.loader import parse_config
from agent.runtime.reload import plan_reload

BASE = """\
site: s
device: d
timezone: Europe/Berlin
intervals:
  length: 15m
mqtt:
  host: broker.example
sensors:
  - id: door
    type: serial-lines
    port: /dev/ttyUSB0
  - id: side
    type: simulated
"""


def config(text: str = BASE) -> AgentConfig:
    return parse_config(text, "c.yaml")


def test_identical_configs_change_nothing() -> None:
    plan = plan_reload(config(), config())
    assert not plan.restart_required and not plan.changes_anything
    assert plan.unchanged == ["door", "side"] and plan.summary() == "nothing changed"
    assert plan.result()["changed"] is False


def test_sensors_added_removed_and_changed() -> None:
    new = BASE.replace("    port: /dev/ttyUSB0\n", "    port: /dev/ttyUSB1\n").replace(
        "  - id: side\n    type: simulated\n", "  - id: lobby\n    type: simulated\n"
    )
    plan = plan_reload(config(), config(new))
    assert (plan.added, plan.removed, plan.changed, plan.unchanged) == (["lobby"], ["side"], ["door"], [])
    assert not plan.restart_required and not plan.mqtt
    assert plan.summary() == "added lobby; removed side; restarted the source of door"


def test_live_settings_are_flagged() -> None:
    new = BASE.replace("  host: broker.example\n", "  host: other.example\n") + (
        "log_level: debug\nhomeassistant:\n  enabled: false\nhealth:\n  period: 10s\n"
    )
    plan = plan_reload(config(), config(new))
    assert (plan.mqtt, plan.homeassistant, plan.health, plan.log_level) == (True, True, True, True)
    assert not plan.restart_required and plan.changes_anything
    assert plan.summary() == "new MQTT settings; new Home Assistant settings; new health settings; new log level"


@pytest.mark.parametrize(
    ("old", "new", "reason"),
    [
        ("site: s\n", "site: t\n", "site changed from 's' to 't'"),
        ("device: d\n", "device: e\n", "device changed from 'd' to 'e'"),
        ("timezone: Europe/Berlin\n", "timezone: UTC\n", "timezone changed from 'Europe/Berlin' to 'UTC'"),
        ("  length: 15m\n", "  length: 5m\n", "intervals.length changed from 900.0 to 300.0"),
        ("  length: 15m\n", "  length: 15m\n  occupancy_reset: '05:00'\n", "intervals.occupancy_reset changed"),
        ("mqtt:\n", "store:\n  path: /srv/ff\nmqtt:\n", "store.path changed from '/var/lib/footfall-agent'"),
        ("mqtt:\n", "mqtt:\n  topic_prefix: shops/{site}/{device}\n", "mqtt.topic_prefix changed"),
    ],
)
def test_settings_that_shape_stored_data_need_a_restart(old: str, new: str, reason: str) -> None:
    plan = plan_reload(config(), config(BASE.replace(old, new)))
    assert len(plan.restart_required) == 1 and plan.restart_required[0].startswith(reason)


def test_secret_values_never_appear_in_the_plan() -> None:
    with_password = BASE.replace("  host: broker.example\n", "  host: broker.example\n  username: u\n  password: {}\n")
    plan = plan_reload(config(with_password.format("hunter2-old")), config(with_password.format("hunter2-new")))
    assert plan.mqtt and "hunter2" not in repr(plan) + plan.summary() + repr(plan.result())


@pytest.mark.parametrize(
    "anomaly",
    ["anomaly:\n  threshold: 6\n", "anomaly:\n  profile_halflife_weeks: 8\n", "anomaly:\n  enabled: false\n"],
)
def test_a_reload_of_only_the_anomaly_section_is_applied(anomaly: str) -> None:
    plan = plan_reload(config(), config(BASE + anomaly))
    assert plan.anomaly and plan.changes_anything and not plan.restart_required
    assert plan.unchanged == ["door", "side"] and not (plan.mqtt or plan.health or plan.homeassistant)
    assert plan.summary() == "new anomaly settings"
    assert plan.result()["anomaly"] is True and plan.result()["changed"] is True


def test_spelling_out_the_anomaly_defaults_changes_nothing() -> None:
    plan = plan_reload(config(), config(BASE + "anomaly:\n  enabled: true\n  threshold: 4.5\n"))
    assert not plan.anomaly and not plan.changes_anything
