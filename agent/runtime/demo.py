"""The demo's goodbye: nothing of it stays retained on the broker it found on the user's machine.

A broker on localhost may well be the one Home Assistant uses. The demo announces no Home Assistant discovery
(its config turns it off), and on exit deletes every retained message under its own topics and its Home
Assistant node: its status, health and sensor state, a killed demo's last will, and the discovery configs an
earlier version announced. It only ever touches the demo's own topics.
"""

from __future__ import annotations

import threading
import time

from agent import __version__
from agent.config.agent import AgentConfig
from agent.mqtt.discovery import AgentDevice, config_filter
from agent.mqtt.topics import Topics

SETTLE_S = 0.5
"""Retained messages arrive in one burst after subscribing; this long without one more and they are all in."""


def demo_filters(cfg: AgentConfig) -> list[str]:
    """The topic filters the demo publishes under: its topic tree and its Home Assistant node."""
    topics = Topics.for_device(cfg.mqtt.topic_prefix, cfg.site, cfg.device)
    device = AgentDevice(cfg.site, cfg.device, __version__, topics.status, topics.health)
    return [f"{topics.prefix}/#", config_filter(device, cfg.homeassistant.discovery_prefix)]


def remove_retained(cfg: AgentConfig, timeout: float = 5.0) -> list[str] | None:
    """Delete every retained message under the demo's filters; the topics cleared, or None when no broker
    answered (then the demo left nothing there either)."""
    import paho.mqtt.client as mqtt

    found: dict[str, bool] = {}
    lock = threading.Lock()
    last = [time.monotonic()]
    subscribed = threading.Event()

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        with lock:
            if msg.retain and msg.payload:
                found[msg.topic] = True
            last[0] = time.monotonic()

    client = mqtt.Client(
        callback_api_version=mqtt.CallbackAPIVersion.VERSION2, client_id=f"footfall-demo-goodbye-{time.time_ns()}"
    )
    client.on_message = on_message
    client.on_subscribe = lambda *args: subscribed.set()
    try:
        client.connect(cfg.mqtt.host, cfg.mqtt.effective_port(), keepalive=10)
    except OSError:
        return None
    client.loop_start()
    deadline = time.monotonic() + timeout
    try:
        client.subscribe([(f, 1) for f in demo_filters(cfg)])
        if not subscribed.wait(max(0.0, deadline - time.monotonic())):
            return None
        last[0] = time.monotonic()
        while time.monotonic() - last[0] < SETTLE_S and time.monotonic() < deadline:
            time.sleep(0.05)
        with lock:
            topics = sorted(found)
        for topic in topics:
            client.publish(topic, b"", qos=1, retain=True).wait_for_publish(max(0.1, deadline - time.monotonic()))
        return topics
    finally:
        client.disconnect()
        client.loop_stop()
