"""The strategy comparison harness behind ``mapper compare`` and the benchmarks."""
