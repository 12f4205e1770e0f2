"""Bound pruning: the GA skips candidates whose latency bound cannot beat its best."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import Hardware, Layer
from mapper.evaluator import Evaluator
from mapper.search import MAX_PROPOSALS, run_search
from mapper.strategies import make_strategy
from search_spaces import Genomes, MappingSpace

HW = Hardware(num_pes=32, l1_size=512, l2_size=50000, noc_bw=64, offchip_bw=64)
LAYERS = [
    Layer("conv", "CONV", dict(K=16, C=8, R=3, S=3, Y=12, X=12)),
    Layer("strided", "CONV", dict(K=8, C=3, R=5, S=5, Y=19, X=19), dict(Y=2, X=2)),
    Layer("dw", "DSCONV", dict(C=24, R=3, S=3, Y=10, X=10)),
    Layer("fc", "GEMM", dict(M=6, N=40, K=24)),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda lay: lay.name)
@pytest.mark.parametrize("levels", [2, 3])
def test_latency_bound_never_exceeds_a_valid_latency(layer, levels):
    sp = MappingSpace(layer, Hardware(**{**HW.to_dict(), "simd_lanes": 2}), max_levels=levels)
    rng = np.random.default_rng(7)
    g = sp.sample(rng, 600, tiles_per_shape=10)
    g = Genomes.concat([g, sp.mutate(rng, g, rate=0.6)])
    ev = Evaluator(sp)
    m = ev.metrics(g)
    bound = ev.latency_bound(g)
    valid = m["valid"]
    assert valid.sum() > 50
    assert (m["runtime"][valid] >= bound[valid]).all()
    assert (bound >= ev.compute_bound).all()


def test_pruned_candidates_are_exactly_those_that_cannot_win():
    sp = MappingSpace(LAYERS[0], HW)
    g = sp.sample(np.random.default_rng(1), 600, tiles_per_shape=20)
    plain = Evaluator(sp)(g)
    incumbent = float(np.quantile(plain.fitness[plain.feasible], 0.3))
    ev = Evaluator(sp, prune=True)
    pruned = ev(g, incumbent=incumbent)
    expect = ev.latency_bound(g) >= incumbent
    assert (pruned.pruned == expect).all() and expect.any()
    assert pruned.evaluated == ev.evaluations == int((~expect).sum())
    kept = ~expect
    assert (pruned.fitness[kept] == plain.fitness[kept]).all()
    assert np.isinf(pruned.fitness[expect]).all() and not pruned.feasible[expect].any()
    # nothing pruned could have beaten the incumbent
    assert (plain.fitness[expect] >= incumbent).all()
    # at most max_evals are scored, the first ones that survive the bound
    few = Evaluator(sp, prune=True)(g, incumbent=incumbent, max_evals=5)
    assert few.evaluated == 5 and (np.flatnonzero(~few.pruned) == np.flatnonzero(kept)[:5]).all()
    # no incumbent, or another objective: nothing is pruned
    assert not ev(g).pruned.any()
    assert not Evaluator(sp, "energy", prune=True)(g, incumbent=incumbent).pruned.any()


def test_pruning_search_respects_its_budgets():
    sp = MappingSpace(LAYERS[0], HW)
    ev = Evaluator(sp, prune=True)
    r = run_search(sp, make_strategy("ga", sp, seed=3), ev, budget=3000)
    assert r.evaluations == ev.evaluations <= 3000
    assert r.found and r.report.valid
    # the same seed gives the same search
    again = run_search(sp, make_strategy("ga", sp, seed=3), Evaluator(sp, prune=True),
                       budget=3000)
    assert again.best_fitness == r.best_fitness and again.evaluations == r.evaluations
    assert MAX_PROPOSALS >= 1


def test_a_search_that_reaches_the_compute_bound_stops():
    sp = MappingSpace(LAYERS[0], HW)
    ev = Evaluator(sp, prune=True)
    ev.compute_bound = 10**12  # as if any mapping were optimal: the first batch settles it
    r = run_search(sp, make_strategy("ga", sp, seed=0), ev, budget=50_000)
    assert r.found and len(r.history) == 1 and r.evaluations < 50_000
