"""Islands: a layer's budget shared by independent runs; the best wins, whatever ``jobs``."""

from __future__ import annotations

import numpy as np
import pytest

import mapper.tuner as tuner
from costmodel import Hardware, Layer, Network
from mapper.tuner import (
    TuneSettings,
    _search,
    island_budgets,
    island_seed,
    shape_seed,
    tune_layer,
    tune_model,
)

LAYER = Layer("a", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10))
NET = Network("n", [LAYER, Layer("fc", "GEMM", dict(M=4, N=32, K=64))])
HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)


@pytest.fixture
def small_islands(monkeypatch):
    monkeypatch.setattr(tuner, "MIN_ISLAND_BUDGET", 100)


def test_budgets_split_evenly_above_the_minimum():
    assert island_budgets(TuneSettings(budget=80_000, islands=2)) == [40_000, 40_000]
    assert island_budgets(TuneSettings(budget=80_001, islands=3)) == [26_667, 26_667, 26_667]
    # below 2 x MIN_ISLAND_BUDGET one run does better per evaluation
    assert island_budgets(TuneSettings(budget=30_000, islands=2)) == [30_000]
    assert island_budgets(TuneSettings(budget=None, time_limit=1.0)) == [None]
    assert island_budgets(TuneSettings(strategy="tpe", budget=80_000)) == [80_000]
    with pytest.raises(ValueError, match="islands"):
        island_budgets(TuneSettings(islands=0))


def test_island_seeds_differ_and_island_zero_keeps_the_seed():
    assert island_seed(123, 0) == 123
    assert len({island_seed(123, j) for j in range(4)}) == 4


def test_best_island_wins_and_is_independent_of_jobs(small_islands):
    s = TuneSettings(budget=600, islands=3, seed=2)
    one, two = tune_layer(LAYER, HW, TuneSettings(**{**s.__dict__, "jobs": 1})), \
        tune_layer(LAYER, HW, TuneSettings(**{**s.__dict__, "jobs": 2}))
    assert str(one.dataflow) == str(two.dataflow) and one.best_fitness == two.best_fitness
    assert one.evaluations == 600
    base = shape_seed(2, LAYER)
    runs = [_search(LAYER, HW, s, island_seed(base, j), 200, None) for j in range(3)]
    assert one.best_fitness == min(r.best_fitness for r in runs)
    # history: runs one after the other, best so far non-increasing over all 600 evaluations
    ev = [h[0] for h in one.history]
    best = [h[2] for h in one.history]
    assert ev == sorted(ev) and ev[-1] == 600 and np.all(np.diff(best) <= 0)


def test_tune_model_with_islands_matches_tune_layer(small_islands, tmp_path):
    s = TuneSettings(budget=400, islands=2, seed=3, jobs=2)
    res = tune_model(NET, HW, s, checkpoint_dir=tmp_path)
    assert [r.evaluations for r in res.layers] == [400, 400]
    alone = tune_layer(NET.layers[1], HW, s)
    assert str(res.layers[1].layer.dataflow) == str(alone.dataflow)
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
