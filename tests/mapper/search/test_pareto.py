"""Pareto archive: only non-dominated feasible points survive, and none is lost."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from costmodel import Hardware, Layer
from mapper.search.evaluator import Evaluator
from mapper.search.loop import run_search
from mapper.search.pareto import ParetoArchive, non_dominated
from mapper.search.strategies import make_strategy
from search_spaces import MappingSpace


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9), st.integers(0, 9)),
                min_size=1, max_size=40))
def test_non_dominated_matches_brute_force(pts):
    p = np.array(pts, dtype=float)
    mask = non_dominated(p)
    for i in range(len(p)):
        dominated = any(np.all(p[j] <= p[i]) and np.any(p[j] < p[i]) for j in range(len(p)))
        assert mask[i] == (not dominated)


def test_search_keeps_a_pareto_front():
    lay = Layer("c", "CONV", dict(K=32, C=32, R=3, S=3, Y=16, X=16))
    hw = Hardware(num_pes=64, l1_size=512, l2_size=50000, noc_bw=32, offchip_bw=32)
    sp = MappingSpace(lay, hw)
    arch = ParetoArchive(("runtime", "energy_nj"))
    r = run_search(sp, make_strategy("nsga2", sp, seed=0), Evaluator(sp), budget=256,
                   pareto=arch)
    assert r.pareto is arch and len(arch) >= 1
    assert non_dominated(arch.points).all()
    assert arch.points[:, 0].min() == r.best_fitness
