"""Home Assistant MQTT discovery as the running agent keeps it: announced on every connection and whenever
Home Assistant restarts, stale entities removed, and another agent under the same node id reported.

The configs themselves are built in `agent.mqtt.discovery`; this is the part with memory: what was announced
last (so that what is gone can be deleted) and which foreign devices have been reported already.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from agent.mqtt.discovery import (
    BIRTH_PAYLOAD,
    AgentDevice,
    birth_topic,
    config_device,
    config_filter,
    reconcile,
    stale_configs,
)
from agent.mqtt.inbox import Received
from agent.mqtt.publisher import Publisher

log = logging.getLogger(__name__)


class HomeAssistantLink:
    """The agent's side of discovery for one device identity."""

    def __init__(self, device: AgentDevice) -> None:
        self.device = device
        self.announcement: list[tuple[str, bytes]] = []
        self._foreign_devices: set[str] = set()

    def filters(self, prefix: str) -> list[str]:
        """Home Assistant's birth topic, and our own retained configs (to find stale ones after a restart)."""
        return [birth_topic(prefix), config_filter(self.device, prefix)]

    def announce(
        self,
        publisher: Publisher,
        prefix: str,
        state_topics: dict[str, str],
        zones: Mapping[str, Sequence[str]],
    ) -> None:
        """Retained configs for every current sensor and zone, empty ones for entities announced before and
        gone now."""
        messages = reconcile(self.device, state_topics, self.announcement, prefix, zones)
        for topic, payload in messages:
            publisher.publish_retained(topic, payload)
        self.announcement = [(topic, payload) for topic, payload in messages if payload]

    def withdraw(self, publisher: Publisher, prefix: str) -> None:
        """Delete every entity announced under `prefix` (Home Assistant turned off or moved)."""
        for topic, _ in self.announcement:
            publisher.publish_retained(topic, b"")
        for topic_filter in self.filters(prefix):
            publisher.unsubscribe(topic_filter)
        self.announcement = []

    def on_message(self, message: Received, publisher: Publisher, prefix: str) -> bool:
        """Act on a message under the discovery prefix; True when Home Assistant came online and wants the
        configs again."""
        if message.topic == birth_topic(prefix):
            # A retained birth replays on every subscription, and each connection announces anyway.
            if message.payload == BIRTH_PAYLOAD and not message.retain:
                log.info("Home Assistant is online: publishing the discovery configs again")
                return True
            return False
        owner = config_device(message.payload) if message.payload else None
        if owner is not None and owner != self.device.identifier:
            if owner not in self._foreign_devices:
                self._foreign_devices.add(owner)
                log.error(
                    "Home Assistant discovery: %s, another agent, announces entities under this agent's node id %s "
                    "(site and device ids joined by '_' coincide), so each overwrites the other's; give one of "
                    "them another site or device id",
                    owner,
                    self.device.node_id,
                )
            return False
        # Retained configs of this device seen after our own announcement: any we did not announce are stale.
        if message.payload and self.announcement:
            for topic, payload in stale_configs(self.device, [message.topic], self.announcement, prefix):
                log.info("removing Home Assistant entity %s: no such sensor in the config", topic)
                publisher.publish_retained(topic, payload)
        return False
