"""The running agent: wires sources, aggregation, anomaly scoring, the store and MQTT together, and keeps the
device visible (health, sensor states, Home Assistant, systemd notifications, logs)."""
