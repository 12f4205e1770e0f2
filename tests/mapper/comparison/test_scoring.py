"""Scoring runs against the best-known value; the summary table built from the scores."""

from __future__ import annotations

import math

from mapper.comparison import scoring as cmp
from mapper.comparison.report import summary_markdown

from .common import make_record


def test_annotate_and_summarise():
    recs = [
        make_record("ga", layer="a", seed=0, best=10.0, history=[(5, 0.1, 20.0), (10, 0.2, 10.0)]),
        make_record("ga", layer="a", seed=1, best=10.05, history=[(8, 0.1, 10.05)]),
        make_record("random", layer="a", seed=0, best=12.0),
        make_record("random", layer="a", seed=1, best=math.inf, history=[(10, 0.1, math.inf)]),
        make_record("ga", layer="b", best=4.0), make_record("random", layer="b", best=8.0),
    ]
    best = cmp.annotate(recs)
    assert best[("m", "a", "hw", "latency")] == 10.0 and best[("m", "b", "hw", "latency")] == 4.0
    assert recs[0].normalised == 1.0 and recs[0].evals_to_1pct == 10
    assert recs[0].seconds_to_1pct == 0.2
    assert recs[1].evals_to_1pct == 8  # 10.05 is within 1% of 10
    assert recs[2].normalised == 1.2 and recs[2].evals_to_1pct is None
    assert math.isinf(recs[3].normalised)
    rows = {s.strategy: s for s in cmp.summarise(recs)}
    assert rows["ga"].layers_within == 1.0 and rows["ga"].median_normalised == 1.0
    assert rows["ga"].median_evals_to_1pct == 10 and rows["ga"].feasible == 1.0
    assert rows["random"].layers_within == 0.0 and rows["random"].feasible == 2 / 3
    assert rows["random"].median_normalised == 2.0  # 1.2, 2.0, inf
    assert math.isinf(rows["random"].median_evals_to_1pct)
    assert [s.strategy for s in cmp.summarise(recs)] == ["ga", "random"]
    md = summary_markdown(recs)
    assert "| ga | 3 | 1.000 | 100% | 10 |" in md and "not reached" in md
