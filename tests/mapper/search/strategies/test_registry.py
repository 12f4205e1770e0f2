"""The strategy registry: every registered strategy passes the same conformance check, and a
new strategy needs one class and one registry line, nothing in the tuner."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costmodel import Hardware, Layer
from mapper.search.evaluator import Evaluator
from mapper.search.loop import run_search
from mapper.search.strategies import RunContext, Strategy, build_strategy, registry, strategy_class
from mapper.search.strategies.base import RESUME_STATE, RESUME_STORAGE
from mapper.tuning.plan import split_budget
from mapper.tuning.settings import TuneSettings
from mapper.tuning.tuner import tune_layer
from search_spaces import MappingSpace
from search_spaces.templates import make_space

LAYER = Layer("small", "CONV", dict(K=8, C=4, R=3, S=3, Y=6, X=6))
HW = Hardware(num_pes=16, l1_size=64, l2_size=4096, noc_bw=8, offchip_bw=16)
BUDGET = 120


def _space(name: str) -> MappingSpace:
    if strategy_class(name).enumerates:
        return dataclasses.replace(make_space(LAYER, HW, "kcp_ws"), tile_divisors=True)
    return MappingSpace(LAYER, HW, max_levels=2)


def _run(name: str, seed: int):
    sp = _space(name)
    st = build_strategy(name, sp, seed, RunContext(objective="latency"))
    return run_search(sp, st, Evaluator(sp, "latency"), budget=BUDGET)


@pytest.mark.parametrize("name", registry.STRATEGIES)
def test_every_registered_strategy_conforms(name):
    a, b = _run(name, 5), _run(name, 5)
    # seeded determinism
    assert a.best_fitness == b.best_fitness and str(a.dataflow) == str(b.dataflow)
    assert a.evaluations == b.evaluations
    # budget respected
    assert 0 < a.evaluations <= BUDGET
    # a feasible result, reported by the cost model as found
    assert a.found and np.isfinite(a.best_fitness) and a.report.valid
    assert a.report.runtime == a.best_fitness and a.report.l1_size <= HW.l1_size
    assert a.strategy == name


@pytest.mark.parametrize("name", registry.STRATEGIES)
def test_capabilities_are_declared(name):
    cls = strategy_class(name)
    assert issubclass(cls, Strategy)
    assert cls.resume in (RESUME_STATE, RESUME_STORAGE)
    assert isinstance(cls.options(_space(name), RunContext()), dict)
    # strategies that resume from a state file pickle with the loop: islands need that
    assert not cls.islands or cls.resume == RESUME_STATE


def test_unknown_and_duplicate_names_are_clear_errors():
    with pytest.raises(ValueError, match="unknown strategy 'nope'; expected one of ga"):
        registry.make_strategy("nope", _space("ga"))
    with pytest.raises(ValueError, match="registered twice"):
        registry.register("ga", registry.GeneticAlgorithm)


def test_options_follow_the_run_and_caller_params_win():
    sp = _space("ga")
    ga = strategy_class("ga")
    assert ga.options(sp, RunContext(objective="energy")) == {"objective": "energy"}
    assert ga.options(sp, RunContext(pareto=True))["objective"] == "pareto"
    island = ga.options(sp, RunContext(island=True))
    assert island["local_share"] == 1.0 and island["bound_select"] == 1
    assert "seeds" in ga.options(sp, RunContext(widened=True))
    st = build_strategy("ga", sp, 0, RunContext(island=True), bound_select=3)
    assert st.bound_select == 3 and st.local_share == 1.0
    assert strategy_class("exhaustive").options(sp, RunContext(objective="edp")) == {
        "objective": "edp"}


class Corners(Strategy):
    """A toy strategy: random samples, with islands."""

    name = "corners"
    islands = True

    def ask(self, limit=None):
        n = 32 if limit is None else min(32, limit)
        return self.space.sample(self.rng, n)


def test_a_new_strategy_is_one_class_and_one_registry_line(monkeypatch):
    monkeypatch.setitem(registry.REGISTRY, "corners", registry.StrategyEntry("corners", Corners))
    s = TuneSettings(strategy="corners", budget=200, seed=1, jobs=1)
    assert split_budget(s) == ([200], [])
    r = tune_layer(LAYER, HW, s)
    assert r.found and r.evaluations <= 200 and r.strategy == "corners"
