"""footfall-agent: people counting at the shop door, published over MQTT."""

__version__ = "0.1.0"
