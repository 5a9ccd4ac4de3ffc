"""The MQTT topic tree, in one place so docs/mqtt.md, the publisher and dashboards agree."""

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

    def anomaly(self, sensor: str) -> str:
        """QoS 1 events (not retained) when an anomaly or sensor-fault episode of `sensor` starts or ends."""
        return f"{self.prefix}/sensors/{sensor}/anomaly"

    def state(self, sensor: str) -> str:
        """Retained live snapshot of `sensor` (occupancy, today's totals, last interval) for dashboards."""
        return f"{self.prefix}/sensors/{sensor}/state"

    @property
    def health(self) -> str:
        """Retained health report of the device, renewed every `health.period`."""
        return f"{self.prefix}/health"

    @property
    def command(self) -> str:
        """Where remote commands for this device arrive (protect it with a broker ACL)."""
        return f"{self.prefix}/command"

    @property
    def command_response(self) -> str:
        """One QoS 1 answer per command received, carrying the command's correlation id."""
        return f"{self.prefix}/command/response"
