"""`footfall-agent doctor`: what an installer or a support desk checks first, each finding ok, warn or fail with
what to do about it; one module per concern (the machine, serial ports, cameras, the broker)."""
