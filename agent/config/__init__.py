"""The YAML configuration: one module per section's pydantic models, the loader with line-numbered errors, the
generated reference. Loading a config needs neither numpy nor OpenCV."""
