"""Bound pruning: the GA skips candidates whose latency bound cannot beat its best."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import Hardware, Layer
from mapper.search.evaluator import Evaluator
from mapper.search.loop import (
    MAX_PROPOSALS,
    MIN_PROPOSAL_BUDGET,
    SMALL_BUDGET_GROWTH,
    max_proposals,
    run_search,
)
from mapper.search.strategies import make_strategy
from search_spaces import Constraints, Genomes, MappingSpace
from search_spaces.variation import mutate

HW = Hardware(num_pes=32, l1_size=512, l2_size=50000, noc_bw=64, offchip_bw=64)
LAYERS = [
    Layer("conv", "CONV", dict(K=16, C=8, R=3, S=3, Y=12, X=12)),
    Layer("strided", "CONV", dict(K=8, C=3, R=5, S=5, Y=19, X=19), dict(Y=2, X=2)),
    Layer("dw", "DSCONV", dict(C=24, R=3, S=3, Y=10, X=10)),
    # 20 input rows, 9 output rows: a unit at rows 18-19 holds no whole filter window
    Layer("dw_edge", "DSCONV", dict(C=16, R=3, S=3, Y=20, X=20), dict(Y=2, X=2)),
    Layer("fc", "GEMM", dict(M=6, N=40, K=24)),
    # a 1x1 filter at stride 2: counted in the rows MAESTRO's stride rewrite keeps
    Layer("narrow", "CONV", dict(K=12, C=10, R=1, S=1, Y=23, X=22), dict(Y=2, X=2)),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda lay: lay.name)
@pytest.mark.parametrize("levels", [2, 3])
def test_latency_bound_never_exceeds_a_valid_latency(layer, levels):
    sp = MappingSpace(layer, Hardware(**{**HW.to_dict(), "simd_lanes": 2}), max_levels=levels)
    rng = np.random.default_rng(7)
    g = sp.sample(rng, 600, tiles_per_structure=10)
    g = Genomes.concat([g, mutate(sp, rng, g, rate=0.6)])
    ev = Evaluator(sp)
    m = ev.metrics(g)
    bound = ev.latency_bound(g)
    valid = m["valid"]
    assert valid.sum() > 50
    assert (m["runtime"][valid] >= bound[valid]).all()
    assert (bound >= ev.compute_bound).all()
    assert (m["runtime"][valid] >= ev.floor).all()
    phys = Evaluator(sp, cost_model="physical")
    mp = phys.metrics(g)
    assert (mp["runtime"][mp["valid"]] >= phys.floor).all()


def test_bound_counts_y_units_that_hold_a_whole_filter_window():
    """MobileNetV2 CONV1 (224 input rows, stride 2, 111 output rows), Y spread one output row
    per PE over 168 PEs: 111 units compute, so the bound is 111 busy PEs, and the
    best such mapping's latency (whole rows of K, X, C in time) is at least MACs / 111."""
    lay = Layer("CONV1", "CONV", dict(K=32, C=3, R=3, S=3, Y=224, X=224), dict(Y=2, X=2))
    hw = Hardware(num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000)
    sp = MappingSpace(lay, hw, max_levels=2, min_levels=2)
    g = sp.sample(np.random.default_rng(0), 400)
    d = sp.dims.index
    g.par[:], g.par2[:], g.tiles[:, :, d("Y")], g.clusters[:, 1] = d("Y"), -1, 1, 1
    # MAESTRO's 95,239 cycles for this one need 112 busy PEs (test_analysis)
    g.order[0] = [[d(x) for x in "SXYRKC"], [d(x) for x in "KXSRCY"]]
    g.tiles[0] = [[5, 1, 3, 3, 1, 1], [4, 1, 3, 3, 1, 1]]  # K C R S Y X
    g = sp.repair(g)
    assert str(sp.decode(g, 0)).startswith("TemporalMap(3,3) S; TemporalMap(3,2) X")
    assert (sp.busy_bound(g) == 111).all()
    m = Evaluator(sp).metrics(g)
    assert m["valid"].sum() > 10
    assert (m["runtime"][m["valid"]] >= -(-lay.macs // 111)).all()


def test_pruned_candidates_are_exactly_those_that_cannot_win():
    sp = MappingSpace(LAYERS[0], HW)
    g = sp.sample(np.random.default_rng(1), 600, tiles_per_structure=20)
    plain = Evaluator(sp)(g)
    incumbent = float(np.quantile(plain.fitness[plain.feasible], 0.3))
    ev = Evaluator(sp, prune=True)
    pruned = ev(g, incumbent=incumbent)
    over_l1 = sp.l1_requirement(g) > HW.l1_size
    expect = (ev.latency_bound(g) >= incumbent) | over_l1
    assert (pruned.pruned == expect).all() and expect.any() and over_l1.any()
    assert pruned.evaluated == ev.evaluations == int((~expect).sum())
    kept = ~expect
    assert (pruned.fitness[kept] == plain.fitness[kept]).all()
    assert np.isinf(pruned.fitness[expect]).all() and not pruned.feasible[expect].any()
    # nothing pruned could have beaten the incumbent, nor fitted the L1
    assert (plain.fitness[expect] >= incumbent).all()
    assert not plain.feasible[over_l1].any()
    # an L1 overflow carries the excess it is known to have, at most the model's violation
    excess = sp.l1_requirement(g)[over_l1] / HW.l1_size - 1
    assert np.allclose(pruned.violation[over_l1], excess)
    assert (plain.violation[over_l1] >= excess - 1e-12).all()
    # at most max_evals are scored, the first ones that survive the bound
    few = Evaluator(sp, prune=True)(g, incumbent=incumbent, max_evals=5)
    assert few.evaluated == 5 and (np.flatnonzero(~few.pruned) == np.flatnonzero(kept)[:5]).all()
    # no incumbent: only the L1 overflows; another objective, or no L1 limit: nothing
    assert (ev(g).pruned == over_l1).all()
    assert not Evaluator(sp, "energy", prune=True)(g, incumbent=incumbent).pruned.any()
    free = Evaluator(sp, constraints=Constraints(l1_capacity=False), prune=True)
    assert not free(g).pruned.any()
    assert not Evaluator(sp, prune=True, prune_l1=False)(g).pruned.any()


def test_only_small_tuning_budgets_prune_l1_overflows():
    """The default plan spends its evaluations as before; a small budget skips overflows."""
    from mapper.tuning.settings import L1_PRUNE_BELOW, TuneSettings

    assert not TuneSettings().prunes_l1()
    assert TuneSettings(budget=4_000).prunes_l1()
    assert not TuneSettings(budget=L1_PRUNE_BELOW).prunes_l1()
    assert not TuneSettings(budget=None, time_limit=5.0).prunes_l1()


def test_l1_requirement_never_exceeds_the_models_l1_size():
    """Pruning by the L1 is safe: the genome's L1 size is the cost model's or less."""
    for layer in LAYERS:
        for cost_model in ("maestro", "physical"):
            sp = MappingSpace(layer, HW, max_levels=3)
            g = sp.sample(np.random.default_rng(3), 400)
            m = Evaluator(sp, cost_model=cost_model).metrics(g)
            assert (sp.l1_requirement(g)[m["valid"]] <= m["l1_size"][m["valid"]]).all()


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


def test_small_budgets_may_propose_as_many_as_the_minimum_budget():
    """A pruning search proposes at most MAX_PROPOSALS per evaluation of its budget, but a
    small budget as many as MIN_PROPOSAL_BUDGET's, up to SMALL_BUDGET_GROWTH times its own
    cap: the default plan's islands (24,000 and 7,200 evaluations) keep their cap."""
    assert max_proposals(2_700) == max_proposals(MIN_PROPOSAL_BUDGET)
    assert max_proposals(900) == SMALL_BUDGET_GROWTH * MAX_PROPOSALS * 900
    assert max_proposals(MIN_PROPOSAL_BUDGET) == MAX_PROPOSALS * MIN_PROPOSAL_BUDGET
    assert max_proposals(24_000) == MAX_PROPOSALS * 24_000
    assert MIN_PROPOSAL_BUDGET <= 7_200


def test_a_search_that_reaches_the_compute_bound_stops():
    sp = MappingSpace(LAYERS[0], HW)
    ev = Evaluator(sp, prune=True)
    ev.compute_bound = 10**12  # as if any mapping were optimal: the first batch settles it
    r = run_search(sp, make_strategy("ga", sp, seed=0), ev, budget=50_000)
    assert r.found and len(r.history) == 1 and r.evaluations < 50_000


def test_a_search_that_reaches_the_pe0_floor_stops():
    """K = 20 and 7 x 7 outputs on 32 PEs: no split keeps every PE busy, so PE 0's least work
    (1,764 MACs) is above the compute bound (1,654); a search that finds it stops there."""
    layer = Layer("odd", "CONV", dict(K=20, C=6, R=3, S=3, Y=9, X=9))
    sp = MappingSpace(layer, HW)
    ev = Evaluator(sp, prune=True)
    assert ev.compute_bound == 1654 and ev.floor == sp.pe0_floor == 1764
    # which seeds reach 1,764 varies with the GA's selection and pruning (4 of 12 at
    # 20,000, 2 of 12 at 30,000, where the proposal cap ends the others early)
    r = run_search(sp, make_strategy("ga", sp, seed=2), ev, budget=30_000)
    assert r.best_fitness == 1764 and r.evaluations < 30_000


def test_tune_settings_can_turn_pruning_off(monkeypatch):
    """``TuneSettings(prune=False)`` (``mapper tune --no-prune``) scores every proposal, so
    the budget counts them all; pruning is on by default."""
    import mapper.tuning.island as island
    import mapper.tuning.tuner as tuner

    flags = []
    real = island.Evaluator

    def spy(*args, **kwargs):
        flags.append(kwargs.get("prune"))
        return real(*args, **kwargs)
    monkeypatch.setattr(island, "Evaluator", spy)
    on = tuner.tune_layer(LAYERS[0], HW, tuner.TuneSettings(budget=600))
    off = tuner.tune_layer(LAYERS[0], HW, tuner.TuneSettings(budget=600, prune=False))
    assert flags == [True, False]
    assert on.evaluations <= 600 and off.evaluations == 600  # nothing skipped, all counted


def test_a_search_ends_within_its_stop_gap_of_the_bound():
    """``stop_gap``: the search ends after the first batch whose best is within the gap of the
    layer's floor; until then it is the same search as without a gap."""
    sp = MappingSpace(LAYERS[0], HW)
    full = run_search(sp, make_strategy("ga", sp, seed=0), Evaluator(sp, prune=True),
                      budget=4000)
    bests = [b for _, _, b in full.history]
    assert bests[-1] < bests[0]  # it improved after its first batch
    target = bests[next(i for i, b in enumerate(bests) if b < bests[0])]
    gap = (target + 0.5) / Evaluator(sp).floor - 1
    ev = Evaluator(sp, prune=True, stop_gap=gap)
    assert ev.stop_latency == target
    early = run_search(sp, make_strategy("ga", sp, seed=0), ev, budget=4000)
    first = bests.index(target)
    assert [(e, b) for e, _, b in early.history] == [(e, b) for e, _, b in full.history[:first + 1]]
    assert early.best_fitness == target and early.evaluations < full.evaluations
    for bad in (-0.1, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="stop_gap"):
            Evaluator(sp, stop_gap=bad)


def test_tune_settings_pass_the_stop_gap_to_each_island(monkeypatch):
    """``TuneSettings.stop_gap`` (``mapper tune --stop-gap``) reaches every island's
    evaluator; a bad value names the field."""
    import mapper.tuning.island as island
    import mapper.tuning.tuner as tuner

    gaps = []
    real = island.Evaluator

    def spy(*args, **kwargs):
        gaps.append(kwargs.get("stop_gap"))
        return real(*args, **kwargs)
    monkeypatch.setattr(island, "Evaluator", spy)
    tuner.tune_layer(LAYERS[0], HW, tuner.TuneSettings(budget=600, stop_gap=0.25))
    assert gaps == [0.25]
    for bad in (-1, float("nan"), "x"):
        with pytest.raises(ValueError, match="stop_gap"):
            tuner.TuneSettings(stop_gap=bad)


def test_the_default_stop_gap_applies_only_to_large_budgets():
    """Without a ``stop_gap``, a budget below ``STOP_GAP_MIN_BUDGET`` is spent in full (gap
    0); a larger one, or a time limit alone, stops within ``STOP_GAP`` of the bound."""
    from mapper.tuning.settings import STOP_GAP, STOP_GAP_MIN_BUDGET, TuneSettings
    assert TuneSettings(budget=STOP_GAP_MIN_BUDGET - 1).island_stop_gap() == 0.0
    assert TuneSettings(budget=STOP_GAP_MIN_BUDGET).island_stop_gap() == STOP_GAP
    assert TuneSettings().island_stop_gap() == STOP_GAP
    assert TuneSettings(budget=None, time_limit=1.0).island_stop_gap() == STOP_GAP
    assert TuneSettings(budget=600, stop_gap=0.25).island_stop_gap() == 0.25


@pytest.mark.parametrize("cost_model", ["maestro", "physical"])
def test_pe0_count_tightens_the_bound_and_holds(cost_model):
    """Where PE 0's MACs are counted, the bound is their time: above the busy-PE bound on
    uneven mappings, and still below every valid latency of both cost models."""
    layer = Layer("c3", "CONV", dict(K=128, C=128, R=3, S=3, Y=28, X=28))
    sp = MappingSpace(layer, HW, max_levels=2)
    g = sp.sample(np.random.default_rng(3), 800, tiles_per_structure=10)
    ev = Evaluator(sp, cost_model=cost_model)
    m = ev.metrics(g)
    bound = ev.latency_bound(g)
    busy_only = -(-layer.macs // (np.maximum(sp.busy_bound(g), 1) * HW.simd_lanes))
    assert (bound > busy_only).mean() > 0.3
    assert (m["runtime"][m["valid"]] >= bound[m["valid"]]).all()
