"""Tuned job tables: entries only get faster (bandwidth share counted); shapes tuned once."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mapper.scheduling.cores import magma_setting
from mapper.scheduling.job_table import build_job_table
from mapper.scheduling.tuned import tune_job_table
from mapper.scheduling.workload import load_instance_csv

DATA = Path(__file__).parent / "data"


def test_tuned_table_is_never_slower_and_tunes_each_shape_once():
    jobs = load_instance_csv(DATA / "small_instance.csv")[:6]
    jobs = jobs + jobs[:2]  # repeated shapes are tuned once
    t = build_job_table(jobs, magma_setting(3))
    tt, stats = tune_job_table(t, budget=12, dram_bw=1.0)
    share = 1.0 / 4  # magma3's four cores share bandwidth 1
    dur = np.maximum(t.latency, t.area / share)
    tdur = np.maximum(tt.latency, tt.area / share)
    assert (tdur <= dur).all() and np.isfinite(tt.latency).all()
    shapes = {j.layer.shape_key() for j in jobs}
    assert stats["tuned_pairs"] == len(shapes)  # magma3: four 32-PE cores, one hardware
    assert stats["entries_replaced"] > 0
    np.testing.assert_array_equal(tt.latency[6:], tt.latency[:2])
