"""Core sizing: the PE budget is kept, and the result is never worse than the start."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mapper.scheduling.cores import magma_setting
from mapper.scheduling.job_table import build_job_table
from mapper.scheduling.sizing import ColumnCache, size_cores
from mapper.scheduling.workload import load_instance_csv

DATA = Path(__file__).parent / "data"


def test_column_cache_equals_the_whole_table():
    jobs = load_instance_csv(DATA / "small_instance.csv")
    s = magma_setting(3)
    a, b = ColumnCache(jobs).table(s.cores), build_job_table(jobs, s)
    np.testing.assert_array_equal(a.latency, b.latency)
    np.testing.assert_array_equal(a.bw, b.bw)


def test_sizing_keeps_the_budget_and_improves_on_the_start():
    jobs = load_instance_csv(DATA / "small_instance.csv")
    start = magma_setting(3)
    r = size_cores(jobs, start, dram_bw=0.2, step=256, screen_budget=200, time_limit=8.0)
    assert sum(c.num_pes for c in r.setting.cores) == sum(c.num_pes for c in start.cores)
    assert all(c.num_pes >= 256 for c in r.setting.cores)
    assert r.makespan <= r.tried[0][2] and len(r.tried) > 1
    assert r.makespan == min(t[2] for t in r.tried)
