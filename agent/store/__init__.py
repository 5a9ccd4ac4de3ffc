"""The durable local store: closed intervals, the MQTT outbox, sensor and detector state in one SQLite file."""
