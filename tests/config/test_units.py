"""Durations, byte sizes and times as installers write them, and back."""

from __future__ import annotations

from datetime import time

import pytest
from pydantic import ValidationError

from agent.config.agent import IntervalConfig
from agent.config.loader import parse_config
from agent.config.simulated import SimulatedSensorConfig
from agent.config.units import format_duration, parse_byte_size, parse_duration
from tests.config.configs import SIM


def test_clock_times_are_not_read_as_base_60_numbers() -> None:
    text = "site: s\nsensors:\n  - id: a\n    type: simulated\n    opening: 8:30\n    closing: 21:00\n"
    sensor = parse_config(text, "c.yaml").sensors[0]
    assert isinstance(sensor, SimulatedSensorConfig)
    assert (sensor.opening, sensor.closing) == (time(8, 30), time(21, 0))


def test_bare_number_is_not_a_clock_time() -> None:
    with pytest.raises(ValidationError):
        IntervalConfig(occupancy_reset=1260)


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
