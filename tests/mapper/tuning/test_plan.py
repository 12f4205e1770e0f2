"""LayerPlan: a layer's first islands, then the reserve or done, then the merged result."""

from __future__ import annotations

import math

import pytest

import mapper.tuning.plan as planning
from costmodel import Hardware, Layer
from mapper.search.loop import SearchResult
from mapper.tuning.plan import LayerPlan, island_seed, island_state, merge_islands, shape_seed
from mapper.tuning.settings import TuneSettings

LAYER = Layer("a", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10))
HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)


def _result(best: float, evaluations: int = 10) -> SearchResult:
    return SearchResult(best, None, None, None, evaluations, 1.0,
                        [(evaluations, 1.0, best)], "ga")


@pytest.fixture
def small_islands(monkeypatch):
    monkeypatch.setattr(planning, "MIN_ISLAND_BUDGET", 100)


def test_first_islands_share_the_budget_and_are_seeded_from_the_shape(small_islands, tmp_path):
    s = TuneSettings(budget=400, islands=2, extra_islands=2)
    plan = LayerPlan.make(LAYER, HW, s, state_file=tmp_path / "x.state")
    tasks = plan.pending()
    base = shape_seed(0, LAYER)
    assert [t.island for t in tasks] == [0, 1]
    assert [t.seed for t in tasks] == [island_seed(base, 0), island_seed(base, 1)]
    assert all(t.shared and not t.widen for t in tasks)
    assert sum(t.budget for t in tasks) + sum(planning.extra_budgets(s)) == 400
    assert [t.state_file for t in tasks] == [tmp_path / "x.state", tmp_path / "x.i1.state"]
    assert tasks[0].layer.dataflow is None


def test_a_layer_at_its_compute_bound_is_done_after_its_first_islands(small_islands):
    plan = LayerPlan.make(LAYER, HW, TuneSettings(budget=400, islands=2, extend_gap=1e9,
                                                  extend_max_gap=1e9))
    plan.feed([_result(100.0), _result(90.0)])
    assert plan.done and plan.pending() == []
    merged = plan.result()
    assert merged.best_fitness == 90.0 and merged.evaluations == 20 and merged.seconds == 2.0
    assert [h[0] for h in merged.history] == [10, 20]


def test_a_layer_far_from_its_bound_gets_the_reserve(small_islands):
    s = TuneSettings(budget=400, islands=2, extra_islands=2, extend_gap=0.0,
                     extend_max_gap=1e9)
    plan = LayerPlan.make(LAYER, HW, s)
    plan.feed([_result(1e9), _result(2e9)])
    reserve = plan.pending()
    assert not plan.done
    assert [t.island for t in reserve] == [2, 3] and all(t.shared for t in reserve)
    assert [t.budget for t in reserve] == planning.extra_budgets(s)
    with pytest.raises(ValueError, match="expected 2 island results, got 1"):
        plan.feed([_result(1.0)])
    plan.feed([_result(3e9), _result(5e8)])
    assert plan.done and plan.result(seconds=7.0).best_fitness == 5e8
    assert plan.result(seconds=7.0).seconds == 7.0


def test_nothing_feasible_gets_the_reserve_in_the_widened_space(small_islands):
    plan = LayerPlan.make(LAYER, HW, TuneSettings(budget=400, islands=2))
    plan.feed([_result(math.inf), _result(math.inf)])
    assert all(t.widen for t in plan.pending())


def test_one_run_of_the_whole_budget_is_not_an_island():
    plan = LayerPlan.make(LAYER, HW, TuneSettings(budget=4_011))
    (task,) = plan.pending()
    assert task.budget == 4_011 and not task.shared
    plan.feed([_result(5.0)])
    assert plan.done and plan.result().best_fitness == 5.0
    (tpe,) = LayerPlan.make(LAYER, HW, TuneSettings(strategy="tpe")).pending()
    assert tpe.budget == TuneSettings().budget and not tpe.shared


def test_a_plan_that_is_not_done_has_no_result():
    with pytest.raises(ValueError, match="not done"):
        LayerPlan.make(LAYER, HW, TuneSettings(budget=50)).result()


def test_island_state_names_and_merge_ties_go_to_the_first_run(tmp_path):
    assert island_state(None, 3) is None
    assert island_state(tmp_path / "l.state", 0) == tmp_path / "l.state"
    assert island_state(tmp_path / "l.state", 2) == tmp_path / "l.i2.state"
    a, b = _result(5.0), _result(5.0)
    assert merge_islands([a, b], 1.0).history[-1] == (20, 1.0, 5.0)
    assert merge_islands([a, b], 1.0).strategy == "ga"
