"""The camera path on the device: person detectors, the tracker, counting lines and zones, and the per-frame
camera counter that chains them (also used by `replay` and `snapshot`)."""
