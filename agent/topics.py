"""The MQTT topic tree, in one place so the README, the publisher and dashboards agree."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topics:
    """Topics under `<prefix>` (by default `footfall/<site>/<device>`)."""

    prefix: str

    @classmethod
    def for_device(cls, template: str, site: str, device: str) -> Topics:
        return cls(template.format(site=site, device=device).rstrip("/"))

    @property
    def status(self) -> str:
        """Retained `online` / `offline` (the latter also as the last will)."""
        return f"{self.prefix}/status"

    def interval(self, sensor: str) -> str:
        """One QoS 1 message per closed interval of `sensor`."""
        return f"{self.prefix}/sensors/{sensor}/interval"
