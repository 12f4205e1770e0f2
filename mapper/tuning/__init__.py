"""Tuning drivers: per-layer and whole-model tuning, hardware co-optimisation, result files."""
