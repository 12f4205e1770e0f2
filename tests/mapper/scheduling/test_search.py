"""Strategies: seeded, budgeted, feasible, and better than random at equal evaluations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mapper.scheduling.cores import magma_setting
from mapper.scheduling.heuristics import seeds
from mapper.scheduling.job_table import build_job_table
from mapper.scheduling.problem import Problem, run_search
from mapper.scheduling.registry import STRATEGIES, make_strategy
from mapper.scheduling.workload import load_instance_csv

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def problem():
    """The small instance without its one dominant job, so that the schedule matters."""
    t = build_job_table(load_instance_csv(DATA / "small_instance.csv"), magma_setting(3))
    keep = t.latency.min(axis=1) < 1e6
    return Problem(t.latency[keep], t.bw[keep], 0.2, t.energy[keep])


@pytest.mark.parametrize("name", STRATEGIES)
def test_every_strategy_is_seeded_and_budgeted(problem, name):
    budget = 16 if name in ("tpe", "cmaes", "qmc") else 300
    a = run_search(problem, make_strategy(name, problem, seed=3), budget)
    b = run_search(problem, make_strategy(name, problem, seed=3), budget)
    assert a.evaluations == b.evaluations == budget
    assert a.makespan == b.makespan and np.isfinite(a.makespan)
    np.testing.assert_array_equal(a.core, b.core)
    assert np.isclose(problem.makespans(a.core[None], a.key[None])[0], a.makespan)


def test_default_strategy_beats_random_search(problem):
    ours = [run_search(problem, make_strategy("hybrid", problem, s), 1000).makespan
            for s in range(3)]
    rand = [run_search(problem, make_strategy("random", problem, s), 1000).makespan
            for s in range(3)]
    assert max(ours) < 0.97 * min(rand)


def test_list_scheduling_seeds_are_feasible_and_better_than_random(problem):
    c, k = seeds(problem, np.random.default_rng(0))
    assert problem.feasible[np.arange(problem.num_jobs)[None], c].all()
    rng = np.random.default_rng(0)
    rc = rng.integers(0, problem.num_cores, (64, problem.num_jobs))
    assert problem.makespans(c, k).min() < problem.makespans(rc, rng.random(rc.shape)).min()


def test_strategies_never_use_a_core_a_job_does_not_fit(problem):
    lat = problem.latency.copy()
    lat[:, 0] = np.inf
    p = Problem(lat, problem.bw, problem.dram_bw, problem.energy)
    for name in ("hybrid", "magma-ga", "random"):
        r = run_search(p, make_strategy(name, p, 0), 300)
        assert np.isfinite(r.makespan) and (r.core != 0).all()


def test_dispatch_seeds_are_feasible_and_avoid_contention(problem):
    from mapper.scheduling.dispatch import dispatch, dispatch_seeds

    c, k = dispatch_seeds(problem, np.random.default_rng(0))
    assert problem.feasible[np.arange(problem.num_jobs)[None], c].all()
    assert len({tuple(x) for x in c}) > 1
    # two equal cores; jobs 0 and 1 each want 2/3 of the bandwidth, 2 and 3 almost none: fitting
    # demands to the bandwidth pairs a heavy job with a light one instead of the two heavy ones
    lat = np.full((4, 2), 10.0)
    bw = np.array([[1.0, 1.0], [1.0, 1.0], [0.01, 0.01], [0.01, 0.01]])
    p = Problem(lat, bw, 1.5)
    fit, naive = dispatch(p, np.arange(4), bw_fit=True), dispatch(p, np.arange(4), bw_fit=False)
    assert fit[0][0] != fit[0][2] and naive[0][0] != naive[0][1]
    ms = [p.makespans(c[None], k[None])[0] for c, k in (fit, naive)]
    assert ms[0] < ms[1]


def test_least_data_assignment_meets_the_cap_with_the_least_data():
    from mapper.scheduling.heuristics import least_data, least_data_lp

    # core 0 fast and data-heavy, core 1 slow and frugal: a cap of 8 cycles per core fits two
    # jobs on core 1, so the least data is 2 x 1 + 2 x 10
    lat = np.tile([1.0, 4.0], (4, 1))
    p = Problem(lat, np.tile([10.0, 0.25], (4, 1)), 1.0)
    for c in (least_data(p, 8.0, False), least_data(p, 8.0, True), least_data_lp(p, 8.0)):
        load = np.bincount(c, weights=lat[np.arange(4), c], minlength=2)
        assert (load <= 8.0).all() and p.area[np.arange(4), c].sum() == 22.0
    assert least_data(p, 3.0) is None  # four jobs cannot fit under 3 cycles per core


def test_overload_weights_the_jobs_that_run_while_the_link_is_oversubscribed():
    from mapper.scheduling.hybrid import HybridSearch

    # job 0 on core 0 for 10 cycles; jobs 1 then 2 on core 1 for 5 each; only 0 and 1 together
    # exceed the bandwidth, so they share all the weight
    lat = np.array([[10.0, 10.0], [5.0, 5.0], [5.0, 5.0]])
    bw = np.array([[1.0, 1.0], [1.0, 1.0], [0.01, 0.01]])
    core, key = np.array([0, 1, 1]), np.array([0.0, 0.0, 1.0])
    np.testing.assert_allclose(HybridSearch(Problem(lat, bw, 1.5))._overload(core, key),
                               [0.5, 0.5, 0.0])
    assert HybridSearch(Problem(lat, bw, 2.5))._overload(core, key) is None


def test_least_data_seeds_are_queued_only_where_the_link_is_saturated():
    from mapper.scheduling.heuristics import data_seeds

    rng = np.random.default_rng(0)
    lat = rng.uniform(10, 20, (30, 4))
    lat[:, 3] *= 4  # a slow core that moves a tenth of the data
    bw = np.tile([1.0, 1.0, 1.0, 0.025], (30, 1))
    for dram_bw, queued in ((0.5, True), (100.0, False)):
        p = Problem(lat, bw, dram_bw)
        s = make_strategy("hybrid", p, 0)
        s.plan(1000)
        c, k = s.ask()
        s.tell(c, k, p.makespans(c, k))
        assert (s.link == "saturated") == queued
    p = Problem(lat, bw, 0.5)
    c, k = data_seeds(p, 500.0)
    assert len(c) and p.feasible[np.arange(30)[None], c].all()
    assert run_search(p, make_strategy("hybrid", p, 0), 1000).makespan <= p.makespans(c, k).min()


def test_min_load_solves_the_partition_that_longest_first_misses():
    from mapper.scheduling.heuristics import list_schedule, load_seeds, min_load

    # two equal cores, jobs of 8, 7, 6, 5 and 4 cycles: longest first ends at 17, the best
    # split (8 + 7 against 6 + 5 + 4) at 15
    lat = np.tile(np.array([8.0, 7.0, 6.0, 5.0, 4.0])[:, None], (1, 2))
    p = Problem(lat, np.full((5, 2), 1e-3), 100.0)
    c = min_load(p)
    assert np.bincount(c, weights=lat[:, 0], minlength=2).max() == 15.0
    lc, lk = list_schedule(p, np.arange(5))
    assert p.makespans(lc[None], lk[None])[0] == 17.0
    sc, sk = load_seeds(p, np.zeros(5))
    assert (sc == c).all() and p.makespans(sc, sk).max() == 15.0


def test_polish_phase_starts_with_a_rebalancing_where_the_link_is_idle():
    rng = np.random.default_rng(1)
    lat = rng.uniform(10, 20, (30, 3))
    p = Problem(lat, np.full((30, 3), 1e-3), 10.0)
    s = make_strategy("hybrid", p, 0)
    s.plan(1000)
    c, k = s.ask()
    ms = p.makespans(c, k)
    s.tell(c, k, ms)
    assert s.link == "idle" and not s.balanced
    s.told = 800  # within the polish phase
    c2, k2 = s.ask()
    assert s.balanced and len(c2) == s.polish_batch
    load = np.bincount(c2[0], weights=lat[np.arange(30), c2[0]], minlength=3)
    assert load.max() < ms.min() and p.makespans(c2[:3], k2[:3]).min() < ms.min()


def test_improving_changes_of_a_batch_are_applied_together_when_polishing():
    from mapper.scheduling.hybrid import HybridSearch

    # four equal jobs on one core; each of jobs 1, 2, 3 alone moved to an idle core helps
    lat = np.full((4, 4), 10.0)
    p = Problem(lat, np.full((4, 4), 1e-3), 10.0)
    s = HybridSearch(p, 0, delta_genes=3)
    s.plan(100)
    s.told = 90  # within the polish phase
    base_c, base_k = np.zeros(4, np.int64), np.arange(4) / 4
    s.base = (base_c, base_k, 40.0)
    moved = np.tile(base_c, (4, 1))
    moved[0, 1], moved[1, 2], moved[2, 3] = 1, 2, 3
    moved[3] = [1, 2, 3, 1]  # changes more jobs than a local move: not kept
    s._collect_deltas(moved, np.tile(base_k, (4, 1)), np.array([30.0, 30.0, 30.0, 10.0]))
    assert len(s.deltas) == 3
    c, k = s._compositions(10)
    ms = p.makespans(c, k)
    assert ms.min() == 10.0 and (ms < 30.0).all()  # all three moves together: 10 cycles


def test_polish_phase_asks_smaller_batches_and_keeps_the_budget(problem):
    s = make_strategy("hybrid", problem, 0)
    sizes = []
    s.ask = _recording(s, sizes)
    assert run_search(problem, s, 1000).evaluations == 1000
    assert sizes[:3] == [100, 100, 100] and max(sizes[-12:]) == 25 and sum(sizes) == 1000


def _recording(s, sizes):
    ask = s.ask

    def wrapped(limit=None):
        out = ask(limit)
        sizes.append(len(out[0]))
        return out
    return wrapped


def test_progress_sees_every_batch_and_the_best_so_far(problem):
    seen = []
    res = run_search(problem, make_strategy("random", problem, seed=1), 200,
                     progress=lambda used, best: seen.append((used, best)))
    assert [u for u, _ in seen] == list(range(64, 200, 64)) + [200]
    assert all(a[1] >= b[1] for a, b in zip(seen, seen[1:])) and seen[-1][1] == res.makespan
