"""Scheduling many DNN layers (jobs) on a multi-core accelerator with shared off-chip bandwidth.

workload -> cores -> job table (cost model) -> evaluator (makespan) <- strategies (search).
"""
