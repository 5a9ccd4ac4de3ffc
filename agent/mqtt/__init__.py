"""Everything on the wire: the topic tree, every payload as a pydantic model, the store-and-forward publisher,
Home Assistant discovery, remote commands, and the fleet view that `monitor` draws."""
