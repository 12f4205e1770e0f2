"""Workloads: the bundled model zoo, ONNX import, and named hardware/model presets."""
