"""Constraints: relative violations of capacities and budgets."""

from __future__ import annotations

import numpy as np

from search_spaces import Constraints

from .common import HW


def _metrics(l1, l2):
    n = len(l1)
    return {"runtime": np.ones(n), "l1_size": np.array(l1), "l2_size": np.array(l2),
            "energy_nj": np.ones(n)}


def test_capacities_are_enforced_by_default():
    m = _metrics([HW.l1_size, 2 * HW.l1_size], [HW.l2_size, HW.l2_size])
    assert Constraints().violation(m, HW).tolist() == [0.0, 1.0]
    assert Constraints(l1_capacity=False).violation(m, HW).tolist() == [0.0, 0.0]


def test_budgets_add_their_relative_excess():
    m = _metrics([1, 1], [1, 1])
    m["energy_nj"] = np.array([1.0, 3.0])
    assert Constraints(energy_budget=2.0).violation(m, HW).tolist() == [0.0, 0.5]


def test_breaches_name_what_the_violation_counts():
    m = _metrics([HW.l1_size, 2 * HW.l1_size], [HW.l2_size, 3 * HW.l2_size])
    c = Constraints()
    assert c.breaches(m, HW, 0) == []
    assert c.breaches(m, HW, 1) == [f"L1 {2 * HW.l1_size:g} > {HW.l1_size:g}",
                                    f"L2 {3 * HW.l2_size:g} > {HW.l2_size:g}"]
    assert Constraints(l2_capacity=False).breaches(m, HW, 1)[0].startswith("L1 ")
