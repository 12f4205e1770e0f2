"""Tuned job tables: entries only get faster (bandwidth share counted); shapes tuned once;
schedules with tuned dataflows are never longer than the template table's best schedule."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from mapper.scheduling.cores import magma_setting
from mapper.scheduling.job_table import build_job_table
from mapper.scheduling.problem import Problem, run_search
from mapper.scheduling.registry import make_strategy
from mapper.scheduling.tuned import schedule_tuned, tune_job_table
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


def _synthetic_tables():
    """Four cores, bandwidth 1 (even share 1/4). Jobs 0-3: the tuned mapping is quicker at
    an even share (max(90, 90 x 0.27 / 0.25) = 97.2 < 100) but moves 2.4x the data; jobs
    4-7 are data-heavy and have no tuned mapping; jobs 8-11: the tuned mapping is better in
    both latency and data. The link is saturated, so the extra data of jobs 0-3 lengthens
    the schedule."""
    jobs = load_instance_csv(DATA / "small_instance.csv")[:12]
    t = build_job_table(jobs, magma_setting(3))
    lat, bw = np.full(t.shape, 100.0), np.zeros(t.shape)
    tlat, tbw = lat.copy(), bw.copy()
    bw[0:4], tlat[0:4], tbw[0:4] = 0.1, 90.0, 0.27
    bw[4:8], tbw[4:8] = 0.9, 0.9
    bw[8:12], tlat[8:12], tbw[8:12] = 0.01, 50.0, 0.01
    table = replace(t, latency=lat, bw=bw, energy=np.ones(t.shape))
    tuned = replace(t, latency=tlat, bw=tbw, energy=np.full(t.shape, 2.0))
    return table, tuned


def _best(table, dram_bw, budget):
    p = Problem.from_table(table, dram_bw)
    return run_search(p, make_strategy("hybrid", p, 0), budget)


def test_tuned_schedule_never_longer_than_the_template_schedule():
    table, tuned = _synthetic_tables()
    base = _best(table, 1.0, 600)
    assert _best(tuned, 1.0, 600).makespan > base.makespan  # the even-share table loses
    res = schedule_tuned(table, tuned, 1.0, 600, templates=base)
    assert res.result.makespan < base.makespan
    assert res.kept == "chosen" and res.templates is base
    jobs = np.arange(12)
    on = res.table.latency[jobs, res.result.core] != table.latency[jobs, res.result.core]
    assert not on[0:4].any() and on[8:12].all() and res.tuned_jobs == 4
    p = Problem.from_table(res.table, 1.0)
    assert p.makespans(res.result.core[None], res.result.key[None])[0] == res.result.makespan
    assert res.result.energy == 8 * 1.0 + 4 * 2.0


def test_tuned_schedule_keeps_the_templates_when_no_tuned_mapping_helps():
    table, tuned = _synthetic_tables()
    tuned.latency[8:12], tuned.bw[8:12] = table.latency[8:12], table.bw[8:12]
    base = _best(table, 1.0, 600)
    res = schedule_tuned(table, tuned, 1.0, 600, templates=base)
    assert res.result.makespan <= base.makespan
    if res.result.makespan == base.makespan:
        assert res.kept == "templates" and res.tuned_jobs == 0


def test_tuned_schedule_on_a_tuned_table_is_never_longer():
    jobs = load_instance_csv(DATA / "small_instance.csv")[:10]
    t = build_job_table(jobs, magma_setting(3))
    tt, _ = tune_job_table(t, budget=12, dram_bw=0.5)
    res = schedule_tuned(t, tt, 0.5, 400)
    assert res.result.makespan <= res.templates.makespan
    assert res.stages["evaluations"] == 3 * 400


def test_hybrid_puts_initial_schedules_first():
    table, _ = _synthetic_tables()
    p = Problem.from_table(table, 1.0)
    core, key = np.arange(12)[None] % 4, np.linspace(0, 1, 12)[None]
    s = make_strategy("hybrid", p, 0, initial=(core, key))
    c, k = s.ask()
    np.testing.assert_array_equal(c[0], core[0])
    np.testing.assert_array_equal(k[0], key[0])
