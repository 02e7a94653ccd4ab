"""Writers of telemetry files (for fixtures, tests and tools that log without a framework)."""

from traindx.writers.tfevents import EventFileWriter

__all__ = ["EventFileWriter"]
