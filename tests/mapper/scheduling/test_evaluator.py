"""Properties of the bandwidth-sharing schedule evaluator."""

from __future__ import annotations

import numpy as np

from mapper.scheduling.evaluator import energies, positions, simulate

RNG = np.random.default_rng(0)
LAT = RNG.integers(100, 10_000, (12, 3)).astype(float)
BW = RNG.random((12, 3)) + 0.1


def _random(B=16):
    return RNG.integers(0, 3, (B, 12)), RNG.random((B, 12))


def test_plentiful_bandwidth_gives_the_busiest_core():
    core, key = _random()
    ms = simulate(LAT, BW, core, key, dram_bw=1e9).makespan
    loads = np.stack([np.where(core == c, LAT[np.arange(12), c], 0).sum(1) for c in range(3)], 1)
    np.testing.assert_allclose(ms, loads.max(1), rtol=1e-12)


def test_scarce_bandwidth_is_bound_by_the_data_to_move():
    core, key = _random()
    bw_cap = 0.05
    ms = simulate(LAT, BW, core, key, dram_bw=bw_cap).makespan
    area = (LAT * BW)[np.arange(12)[None], core].sum(1)
    assert (ms >= area / bw_cap * (1 - 1e-12)).all()
    assert (ms > simulate(LAT, BW, core, key, dram_bw=1e9).makespan).all()


def test_timeline_runs_each_queue_in_key_order_without_overlap():
    core, key = _random(4)
    t = simulate(LAT, BW, core, key, dram_bw=0.5, record=True)
    pos = positions(core, key, 3)
    for b in range(4):
        for c in range(3):
            jobs = np.flatnonzero(core[b] == c)
            jobs = jobs[np.argsort(pos[b, jobs])]
            np.testing.assert_array_equal(np.sort(key[b, jobs]), key[b, jobs])
            assert (t.end[b, jobs] >= t.start[b, jobs] + LAT[jobs, c] * (1 - 1e-9)).all()
            np.testing.assert_allclose(t.start[b, jobs[1:]], t.end[b, jobs[:-1]])
    np.testing.assert_allclose(t.end.max(1), t.makespan)


def test_a_job_on_a_core_it_does_not_fit_makes_the_schedule_infeasible():
    lat = LAT.copy()
    lat[0, 1] = np.inf
    core = np.zeros((2, 12), dtype=int)
    core[1, 0] = 1
    ms = simulate(lat, BW, core, np.zeros((2, 12)), dram_bw=1.0).makespan
    assert np.isfinite(ms[0]) and np.isinf(ms[1])


def test_energy_is_each_jobs_energy_on_its_core():
    core, _ = _random(3)
    e = RNG.random((12, 3))
    np.testing.assert_allclose(energies(e, core), [e[np.arange(12), c].sum() for c in core])
