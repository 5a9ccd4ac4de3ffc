"""Config texts and helpers shared by the config tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
