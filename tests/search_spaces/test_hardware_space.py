"""Hardware space: sampling, mutation along value lists, budgets."""

from __future__ import annotations

import numpy as np
import pytest

from search_spaces.hardware_space import (
    EDGE_REFERENCE,
    PARAMS,
    HardwareSpace,
    budget_preset,
    pow2_range,
    step_range,
)


def test_value_ranges():
    assert pow2_range(3, 40) == (4, 8, 16, 32)
    assert step_range(16, 64, 16) == (16, 32, 48, 64)


def test_samples_and_mutants_stay_on_the_value_lists():
    space = HardwareSpace()
    rng = np.random.default_rng(0)
    cfg = space.sample(rng, 200)
    moved = space.mutate(rng, cfg, rate=1.0)
    for p in PARAMS:
        assert np.isin(cfg[p], space.values(p)).all() and np.isin(moved[p], space.values(p)).all()
    assert any((moved[p] != cfg[p]).any() for p in PARAMS)
    assert space.hardware(cfg, 3).num_pes == cfg["num_pes"][3]


def test_budgets_of_the_reference_design():
    edge = budget_preset("edge")
    ref = HardwareSpace.from_hardware([EDGE_REFERENCE])
    assert HardwareSpace(area_budget=edge["area"], power_budget=edge["power"]).feasible(ref)[0]
    assert not HardwareSpace(area_budget=edge["area"] * 0.99).feasible(ref)[0]
    with pytest.raises(ValueError, match="unknown budget preset"):
        budget_preset("huge")
