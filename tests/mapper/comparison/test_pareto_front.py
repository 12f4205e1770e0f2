"""The multi-objective run: every feasible point recorded, the front from the Pareto archive."""

from __future__ import annotations

import numpy as np

from mapper.comparison import pareto_front as cmp
from mapper.search.pareto import non_dominated
from search_spaces import MappingSpace

from .common import HW, LAYER


def test_pareto_run_front_is_the_non_dominated_set_of_its_points():
    p = cmp.pareto_run("tiny", LAYER, "hw", HW, budget=64)
    assert len(p.front) >= 1 and len(p.points) >= len(p.front)
    want = np.unique(p.points[non_dominated(p.points)], axis=0)
    assert np.array_equal(p.front, want)  # distinct, by runtime
    assert np.all(np.diff(p.front[:, 0]) > 0) and np.all(np.diff(p.front[:, 1]) < 0)



def test_recording_evaluator_keeps_feasible_points_only():
    sp = MappingSpace(LAYER, HW, max_levels=2)
    ev = cmp.RecordingEvaluator(sp)
    e = ev(sp.sample(np.random.default_rng(0), 200))
    pts = ev.all_points()
    assert len(pts) == int(e.feasible.sum()) > 0
    assert np.array_equal(pts[:, 0], e.metrics["runtime"][e.feasible])
