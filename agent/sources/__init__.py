"""The I/O edge: everything that turns a physical (or simulated) counter into calls on a `CountSink`
(`agent.sources.base`); `agent.sources.build` makes the source a sensor's config asks for."""
