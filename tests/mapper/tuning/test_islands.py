"""Islands: a layer's budget shared by independent runs; the best wins, whatever ``jobs``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import mapper.search.strategies.registry as registry
import mapper.tuning.plan as planning
from costmodel import Hardware, Layer, Network, SpatialMap
from costmodel.analysis import compute_bound
from mapper.search.strategies import make_strategy
from mapper.tuning.island import run_island
from mapper.tuning.plan import (
    IslandTask,
    extra_budgets,
    island_budgets,
    island_seed,
    latency_floor,
    needs_extension,
    shape_seed,
)
from mapper.tuning.settings import TuneSettings
from mapper.tuning.tuner import tune_layer, tune_model
from search_spaces import Constraints, MappingSpace

LAYER = Layer("a", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10))
NET = Network("n", [LAYER, Layer("fc", "GEMM", dict(M=4, N=32, K=64))])
HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)


def _search(layer, hw, settings, seed, budget, state_file, widen=False, island=0):
    """One island run as the tuner runs it (sharing the layer's budget when it is smaller)."""
    shared = budget is not None and settings.budget is not None and budget < settings.budget
    return run_island(IslandTask(layer, hw, settings, island, seed, budget, widen, shared,
                                 state_file))


@pytest.fixture
def small_islands(monkeypatch):
    monkeypatch.setattr(planning, "MIN_ISLAND_BUDGET", 100)


def test_budgets_split_evenly_above_the_minimum():
    no_extra = {"extra_islands": 0}
    assert island_budgets(TuneSettings(budget=80_000, islands=2, **no_extra)) == [40_000] * 2
    assert island_budgets(TuneSettings(budget=80_001, islands=3, **no_extra)) == [26_667] * 3
    # below 2 x MIN_ISLAND_BUDGET one run does better per evaluation
    assert island_budgets(TuneSettings(budget=30_000, islands=2, **no_extra)) == [30_000]
    assert island_budgets(TuneSettings(budget=30_000, islands=2)) == [30_000]
    assert extra_budgets(TuneSettings(budget=30_000, islands=2)) == []
    assert island_budgets(TuneSettings(budget=None, time_limit=1.0)) == [None]
    assert island_budgets(TuneSettings(strategy="tpe", budget=80_000)) == [80_000]
    with pytest.raises(ValueError, match="islands"):
        TuneSettings(islands=0)


def test_island_seeds_differ_and_island_zero_keeps_the_seed():
    assert island_seed(123, 0) == 123
    assert len({island_seed(123, j) for j in range(4)}) == 4


def test_best_island_wins_and_is_independent_of_jobs(small_islands):
    s = TuneSettings(budget=600, islands=3, seed=2, extra_islands=0)
    one, two = tune_layer(LAYER, HW, TuneSettings(**{**s.__dict__, "jobs": 1})), \
        tune_layer(LAYER, HW, TuneSettings(**{**s.__dict__, "jobs": 2}))
    assert str(one.dataflow) == str(two.dataflow) and one.best_fitness == two.best_fitness
    base = shape_seed(2, LAYER)
    runs = [_search(LAYER, HW, s, island_seed(base, j), 200, None, island=j) for j in range(3)]
    assert one.best_fitness == min(r.best_fitness for r in runs)
    # the GA may skip candidates that cannot win: at most the budget is scored
    assert one.evaluations == sum(r.evaluations for r in runs) <= 600
    # history: runs one after the other, best so far non-increasing over all evaluations
    ev = [h[0] for h in one.history]
    best = [h[2] for h in one.history]
    assert ev == sorted(ev) and ev[-1] == one.evaluations and np.all(np.diff(best) <= 0)


def test_tune_model_with_islands_matches_tune_layer(small_islands, tmp_path):
    s = TuneSettings(budget=400, islands=2, seed=3, jobs=2, extra_islands=0)
    res = tune_model(NET, HW, s, checkpoint_dir=tmp_path)
    alone = tune_layer(NET.layers[1], HW, s)
    assert str(res.layers[1].layer.dataflow) == str(alone.dataflow)
    assert res.layers[1].evaluations == alone.evaluations <= 400
    assert not list(tmp_path.glob("*.state"))  # island states are removed once merged
    again = tune_model(NET, HW, s, checkpoint_dir=tmp_path)  # resumed from the checkpoints
    assert again.resumed_layers == 2
    assert [str(r.layer.dataflow) for r in again.layers] == \
        [str(r.layer.dataflow) for r in res.layers]


def test_pareto_fronts_of_islands_are_merged(small_islands):
    s = TuneSettings(budget=400, islands=2, seed=1, pareto=True)
    r = tune_layer(LAYER, HW, s)
    pts = r.pareto.points
    assert len(pts) >= 1
    # no point of the merged front dominates another
    for i in range(len(pts)):
        dom = np.all(pts <= pts[i], axis=1) & np.any(pts < pts[i], axis=1)
        assert not dom.any()


def test_the_budget_caps_a_layer_with_its_reserve_for_extra_islands():
    share = planning.EXTRA_ISLAND_SHARE
    # the default: two islands of 24,000 and a reserve of two of 7,200
    assert island_budgets(TuneSettings()) == [24_000, 24_000]
    assert extra_budgets(TuneSettings()) == [round(24_000 * share)] * 2 == [7_200, 7_200]
    for budget, islands, extra in ((80_000, 2, 2), (80_001, 3, 1), (41_599, 2, 2),
                                   (100_000, 2, 5), (4_011, 2, 2), (16_000, 1, 2)):
        s = TuneSettings(budget=budget, islands=islands, extra_islands=extra)
        first, more = island_budgets(s), extra_budgets(s)
        assert sum(first) + sum(more) == budget  # a hard cap, all of it usable
        assert max(first) - min(first) <= 1
        assert min(first) >= min(budget, planning.MIN_ISLAND_BUDGET)
        if more:
            assert len(first) >= 2 and len(more) == extra
            assert all(abs(m - first[0] * share) <= 1 for m in more)
    # too small for two islands with their reserve: one run of the whole budget
    assert island_budgets(TuneSettings(budget=41_599)) == [41_599]
    assert island_budgets(TuneSettings(budget=4_011)) == [4_011]
    assert extra_budgets(TuneSettings(budget=4_011)) == []
    assert island_budgets(TuneSettings(objective="energy")) == [31_200, 31_200]
    assert extra_budgets(TuneSettings(extra_islands=0)) == []
    assert extra_budgets(TuneSettings(objective="energy")) == []
    assert extra_budgets(TuneSettings(strategy="tpe")) == []
    assert extra_budgets(TuneSettings(budget=None, time_limit=1.0)) == []
    with pytest.raises(ValueError, match="extra_islands"):
        TuneSettings(extra_islands=-1)
    for gap, top in ((float("nan"), 0.2), (-0.1, 0.2), (0.3, 0.2)):
        with pytest.raises(ValueError, match="extend_gap"):
            TuneSettings(extend_gap=gap, extend_max_gap=top)


def test_extension_window_around_the_compute_bound():
    s = TuneSettings(extend_gap=0.01, extend_max_gap=0.2)
    bound = compute_bound(LAYER, HW)
    assert bound == -(-LAYER.macs // HW.num_pes)
    assert [needs_extension(bound * f, LAYER, HW, s) for f in (1.0, 1.009, 1.02, 1.19, 1.21)] == \
        [False, False, True, True, False]
    assert needs_extension(float("inf"), LAYER, HW, s)  # nothing feasible yet: search more


def test_the_extension_window_starts_at_the_layers_floor():
    """K = 20 over 32 PEs cannot keep every PE busy: the floor (PE 0's least work, 1,764
    cycles) is 6.7% above the compute bound, and a layer at its floor needs no reserve."""
    odd = Layer("odd", "CONV", dict(K=20, C=6, R=3, S=3, Y=9, X=9))
    s = TuneSettings(extend_gap=0.005, extend_max_gap=0.2)
    assert compute_bound(odd, HW) == 1654 and latency_floor(odd, HW, s) == 1764
    assert not needs_extension(1764, odd, HW, s)
    assert needs_extension(1764 * 1.01, odd, HW, s)


def test_layers_far_from_the_compute_bound_get_extra_islands(small_islands):
    base = TuneSettings(budget=400, islands=2, seed=4, extra_islands=2, extend_max_gap=1e9)
    first, extra = island_budgets(base), extra_budgets(base)
    assert len(first) == 2 == len(extra) and sum(first) + sum(extra) == 400
    never = tune_layer(LAYER, HW, TuneSettings(**{**base.__dict__, "extend_gap": 1e9}))
    seed = shape_seed(4, LAYER)
    runs = [_search(LAYER, HW, base, island_seed(seed, j), b, None, island=j)
            for j, b in enumerate(first + extra)]
    assert never.evaluations == runs[0].evaluations + runs[1].evaluations
    bound = compute_bound(LAYER, HW)
    assert never.best_fitness > bound  # this layer cannot keep 32 PEs busy on every cycle
    more = tune_layer(LAYER, HW, TuneSettings(**{**base.__dict__, "extend_gap": 0.0}))
    assert more.evaluations == sum(r.evaluations for r in runs) > never.evaluations
    assert more.evaluations <= base.budget
    assert more.best_fitness == min(r.best_fitness for r in runs) <= never.best_fitness
    # the gap decides: just above the base result's gap, no extension
    gap = never.best_fitness / bound - 1
    same = tune_layer(LAYER, HW, TuneSettings(**{**base.__dict__, "extend_gap": gap * 1.001}))
    assert same.evaluations == never.evaluations and same.best_fitness == never.best_fitness
    # and so does the upper end of the window
    capped = tune_layer(LAYER, HW, TuneSettings(**{**base.__dict__, "extend_gap": 0.0,
                                                   "extend_max_gap": gap * 0.999}))
    assert capped.evaluations == never.evaluations


@pytest.mark.parametrize("jobs", [1, 2])  # 1: joblib runs the tasks as they are listed
def test_tune_model_extends_like_tune_layer_and_resumes(small_islands, tmp_path, jobs):
    s = TuneSettings(budget=400, islands=2, seed=3, jobs=jobs, extra_islands=1, extend_gap=0.0,
                     extend_max_gap=1e9)
    res = tune_model(NET, HW, s, checkpoint_dir=tmp_path)
    for layer, r in zip(NET.layers, res.layers):
        alone = tune_layer(layer, HW, TuneSettings(**{**s.__dict__, "jobs": 1}))
        assert str(r.layer.dataflow) == str(alone.dataflow)
        assert r.evaluations == alone.evaluations
        assert r.evaluations <= s.budget
        never = s.__dict__ | {"extend_gap": 1e9, "jobs": 1}  # the same first islands only
        first = tune_layer(layer, HW, TuneSettings(**never)).evaluations
        far = alone.best_fitness > compute_bound(layer, HW)  # so were its first islands
        assert (r.evaluations > first) == far and r.evaluations >= first
    assert not list(tmp_path.glob("*.state"))
    again = tune_model(NET, HW, s, checkpoint_dir=tmp_path)
    assert again.resumed_layers == 2


BIG_FILTER = Layer("big", "CONV", dict(K=4, C=3, R=7, S=7, Y=16, X=16))
# 7x7 filter rows mapped whole need an L1 of about 300 elements; one filter row per PE, far less
SMALL_L1 = Hardware(num_pes=16, l1_size=200, l2_size=100000, noc_bw=64, offchip_bw=64)


def test_a_layer_whose_filter_rows_cannot_fit_searches_the_wider_space_at_once(small_islands):
    small = Layer("small", "CONV", dict(K=4, C=3, R=3, S=3, Y=16, X=16))
    assert MappingSpace(small, SMALL_L1).min_l1() <= SMALL_L1.l1_size
    assert MappingSpace(BIG_FILTER, SMALL_L1).min_l1() > SMALL_L1.l1_size  # 7x7 rows: no fit
    s = TuneSettings(budget=2600, islands=2, seed=1)
    assert not planning.starts_wide(small, SMALL_L1, s)
    assert planning.starts_wide(BIG_FILTER, SMALL_L1, s)
    for other in ({"template": "kcp_ws"}, {"constraints": Constraints(l1_capacity=False)}):
        assert not planning.starts_wide(BIG_FILTER, SMALL_L1, TuneSettings(**{**s.__dict__,
                                                                          **other}))
    r = tune_layer(BIG_FILTER, SMALL_L1, s)
    assert r.found and r.report.valid and r.report.l1_size <= SMALL_L1.l1_size
    # the whole budget, reserve included, goes to equal wide islands at once
    budgets, wide = planning.first_islands(BIG_FILTER, SMALL_L1, s)
    assert wide and budgets == [650] * 4 and sum(budgets) == s.budget
    assert planning.first_islands(small, SMALL_L1, s) == (island_budgets(s), False)
    seed = shape_seed(1, BIG_FILTER)
    runs = [_search(BIG_FILTER, SMALL_L1, s, island_seed(seed, j), b, None, widen=True, island=j)
            for j, b in enumerate(budgets)]
    assert r.evaluations == sum(x.evaluations for x in runs) <= s.budget
    assert r.best_fitness == min(x.best_fitness for x in runs)
    res = tune_model(Network("n", [BIG_FILTER, small]), SMALL_L1,
                     TuneSettings(**{**s.__dict__, "jobs": 2}))
    assert str(res.layers[0].layer.dataflow) == str(r.dataflow)
    assert res.layers[0].evaluations == r.evaluations


def test_a_layer_with_no_feasible_mapping_gets_wider_extra_islands(small_islands):
    s = TuneSettings(budget=2600, islands=2, seed=1)
    assert planning.plan_extension(np.inf, BIG_FILTER, SMALL_L1, s) == (extra_budgets(s), True)
    assert planning.plan_extension(np.inf, BIG_FILTER, SMALL_L1,
                                TuneSettings(**{**s.__dict__, "extra_islands": 0})) == ([], False)
    wide = tune_layer(BIG_FILTER, SMALL_L1, s)
    assert wide.found and wide.report.valid and wide.report.l1_size <= SMALL_L1.l1_size
    assert any(isinstance(d, SpatialMap) and d.dim in ("R", "S")
               for d in wide.dataflow.directives)
    # whole-model tuning does the same, and an energy search too (no reserve: every
    # evaluation goes to the first, wide islands)
    res = tune_model(Network("n", [BIG_FILTER]), SMALL_L1, TuneSettings(**{**s.__dict__,
                                                                          "jobs": 2}))
    assert str(res.layers[0].layer.dataflow) == str(wide.dataflow)
    energy = tune_layer(BIG_FILTER, SMALL_L1, TuneSettings(**{**s.__dict__,
                                                              "objective": "energy"}))
    assert energy.found
    # a template keeps its own space: nothing to widen
    assert planning.plan_extension(np.inf, BIG_FILTER, SMALL_L1,
                                TuneSettings(**{**s.__dict__, "template": "kcp_ws"}))[1] is False


def test_a_wide_search_starts_from_the_smallest_tiles_so_a_tiny_budget_still_maps():
    """The widened space of a layer like the transformer's 2048-wide FC filters is nearly all
    L1 overflow: its GA runs open with :meth:`MappingSpace.smallest_tiles`, which fit."""
    fc = Layer("ff", "CONV", dict(N=4, K=64, C=1, R=1, S=2048, Y=1, X=2048))
    hw = Hardware(num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000)
    s = TuneSettings(budget=200, seed=0)
    assert planning.starts_wide(fc, hw, s)
    space = dataclasses.replace(MappingSpace(fc, hw), rs_spatial=True)
    seeds = space.smallest_tiles()
    assert (space.l1_requirement(seeds) <= hw.l1_size).any()
    first = make_strategy("ga", space, 0, seeds=seeds).ask(100)
    assert {k.tobytes() for k in seeds.keys()} <= {k.tobytes() for k in first.keys()}
    r = tune_layer(fc, hw, s)
    assert r.found and r.report.valid and r.evaluations <= 200


def test_islands_of_a_large_layer_budget_keep_the_large_budget_settings(monkeypatch):
    """The GA caps hill-climbing neighbourhoods and selects new genomes by busy bound under a
    small budget; a layer whose budget is split into islands does neither, its small reserve
    islands included, and a search for energy, for a Pareto front or of a widened space never
    selects by the bound."""
    real = registry.make_strategy

    class Sized(Exception):  # raised once the run is sized: no need to search
        pass

    def spy(name, space, seed, **params):
        st = real(name, space, seed, **params)
        plan = st.plan

        def record(budget, time_limit):
            plan(budget, time_limit)
            raise Sized(budget, round(st.local_share, 3), st.bound_select)
        st.plan = record
        return st
    monkeypatch.setattr(registry, "make_strategy", spy)

    def sized(settings, budget, widen=False):
        with pytest.raises(Sized) as exc:
            _search(LAYER, HW, settings, 0, budget, None, widen)
        return exc.value.args

    big = TuneSettings(budget=62_400)
    assert [sized(big, b) for b in island_budgets(big) + extra_budgets(big)] == [
        (24_000, 1.0, 1), (24_000, 1.0, 1), (7_200, 1.0, 1), (7_200, 1.0, 1)]
    assert sized(TuneSettings(budget=4_011), 4_011) == (4_011, 0.75, 4)
    assert sized(TuneSettings(budget=4_011, objective="energy"), 4_011)[2] == 1
    assert sized(TuneSettings(budget=4_011, pareto=True), 4_011)[2] == 1
    # nor does a search of the widened space (R/S spatial), where nearly everything overflows
    assert sized(TuneSettings(budget=4_011), 4_011, widen=True)[2] == 1
