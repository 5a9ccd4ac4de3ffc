"""Counts into wall-clock intervals: the interval clock, cumulative counter registers, per-sensor aggregation
and the closed interval it produces. Pure: no I/O, no threads."""
