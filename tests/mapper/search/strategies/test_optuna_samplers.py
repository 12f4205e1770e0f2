"""Optuna strategies: what the samplers are told about infeasible mappings."""

from __future__ import annotations

import numpy as np
import pytest

from mapper.search.strategies.optuna_samplers import OptunaStrategy
from search_spaces import MappingSpace

from .test_strategies import HW, LAYER


@pytest.mark.parametrize("sampler", ["cmaes", "tpe", "nsga2"])
def test_infeasible_values_grow_with_the_violation(sampler):
    st = OptunaStrategy(MappingSpace(LAYER, HW, max_levels=2), seed=0, sampler=sampler)
    g = st.ask(4)
    fitness = np.array([120.0, np.inf, np.inf, np.inf])
    violation = np.array([0.0, 0.5, 3.0, 0.0])  # the last: invalid, no measured violation
    st.tell(g, fitness, violation, secondary=np.array([7.0, 0, 0, 0]))
    vals = [t.values[0] for t in st.study.trials]
    assert vals[0] == 120.0
    assert st.penalty < vals[1] < vals[3] < vals[2]  # ranked by violation, 1.0 when unmeasured
    assert st.study_best()[0] == 120.0
