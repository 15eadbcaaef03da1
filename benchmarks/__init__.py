"""Benchmarks of genesys-async against the simulator: `python -m benchmarks.run`."""
