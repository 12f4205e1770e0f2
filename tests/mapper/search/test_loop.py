"""The search loop's state, its targets and the evaluator's cost model."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import mapper.search.evaluator as evaluator_module
from costmodel import Hardware, Layer
from mapper.search.evaluator import Evaluator
from mapper.search.loop import SearchState, _load_state, reach, run_search
from mapper.search.strategies import make_strategy
from search_spaces import MappingSpace

LAYER = Layer("c", "CONV", dict(K=16, C=8, R=3, S=3, Y=10, X=10))
HW = Hardware(num_pes=32, l1_size=256, l2_size=20000, noc_bw=32, offchip_bw=32)


def test_reach_is_the_first_point_at_or_below_the_target():
    h = [(10, 0.1, 50.0), (20, 0.2, 30.0), (35, 0.4, 29.0)]
    assert reach(h, 30.0) == (20, 0.2) and reach(h, 100.0) == (10, 0.1)
    assert reach(h, 28.0) is None and reach([], 1.0) is None


def test_the_saved_state_is_a_dataclass_and_other_files_are_ignored(tmp_path):
    sp = MappingSpace(LAYER, HW)
    f = tmp_path / "s.state"
    res = run_search(sp, make_strategy("random", sp, 2), Evaluator(sp), budget=200,
                     state_file=f)
    st = _load_state(f)
    assert isinstance(st, SearchState)
    assert (st.evaluations, st.best, st.proposals) == (res.evaluations, res.best_fitness, 200)
    assert st.history == res.history and st.strategy.name == "random"
    f.write_bytes(pickle.dumps((1, 2, 3)))  # not a SearchState: start afresh
    assert _load_state(f) is None
    again = run_search(sp, make_strategy("random", sp, 2), Evaluator(sp), budget=200,
                       state_file=f)
    assert again.best_fitness == res.best_fitness


def test_the_evaluator_passes_its_cost_model_on(monkeypatch):
    seen = []
    real = evaluator_module.evaluate_batch

    def spy(*args, **kwargs):
        seen.append(kwargs.get("cost_model"))
        return real(*args, **{**kwargs, "cost_model": "maestro"})
    monkeypatch.setattr(evaluator_module, "evaluate_batch", spy)
    sp = MappingSpace(LAYER, HW)
    ev = Evaluator(sp, cost_model="physical")
    ev(sp.sample(np.random.default_rng(0), 20))
    assert seen and set(seen) == {"physical"}
    with pytest.raises(ValueError, match="unknown cost model 'nope'"):
        Evaluator(sp, cost_model="nope")
