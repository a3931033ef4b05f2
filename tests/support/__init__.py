"""Helpers shared by the Python tests and the benchmarks (importable as ``tests.support``)."""
