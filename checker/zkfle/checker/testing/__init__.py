"""Helpers shared by tests and benchmarks (pytest's importlib mode keeps test modules from importing each other)."""
