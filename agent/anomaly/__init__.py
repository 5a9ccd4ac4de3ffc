"""Anomaly z-scores and sensor faults: the detector (pure), its episodes, its use per sensor, and the `score`
engine that runs it over a CSV of history."""
