"""Scoring a comparison's runs against the best-known value of their layer."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from mapper.comparison.runs import MODES, RunRecord
from mapper.search.loop import reach

WITHIN = 0.01  # "reached" = within 1% of the best-known value


def _group(r: RunRecord) -> tuple[str, str, str, str]:
    return (r.model, r.layer, r.accelerator, r.objective)


def annotate(records: Sequence[RunRecord]) -> dict[tuple[str, str, str, str], float]:
    """Fill ``best_known``, ``normalised`` and the evaluations/seconds to reach 1% of it.

    Best-known is per (model, layer, accelerator, objective) over all ``records``.
    """
    best: dict[tuple[str, str, str, str], float] = defaultdict(lambda: math.inf)
    for r in records:
        best[_group(r)] = min(best[_group(r)], r.best)
    for r in records:
        bk = best[_group(r)]
        r.best_known = bk
        r.normalised = r.best / bk if math.isfinite(bk) and bk > 0 else math.inf
        r.evals_to_1pct, r.seconds_to_1pct = reach(r.history, bk * (1 + WITHIN)) or (None, None)
    return dict(best)


def _median(values: Sequence[float]) -> float:
    """Median where ``inf`` counts as worse than anything (no interpolation with inf)."""
    if not values:
        return math.nan
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


@dataclass
class StrategySummary:
    """One row of the summary table."""

    mode: str
    strategy: str
    runs: int
    median_normalised: float
    layers_within: float       # share of (layer, accelerator) whose median over seeds is <= 1%
    median_evals_to_1pct: float
    median_seconds_to_1pct: float
    evals_per_second: float    # median over runs
    feasible: float            # share of runs that found a feasible mapping


def summarise(records: Sequence[RunRecord]) -> list[StrategySummary]:
    """Per (mode, strategy) figures, best median first within each mode."""
    by: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in records:
        by[(r.mode, r.strategy)].append(r)
    rows = []
    for (mode, strategy), rs in by.items():
        per_layer: dict[tuple, list[float]] = defaultdict(list)
        for r in rs:
            per_layer[_group(r)].append(r.normalised)
        within = [_median(v) <= 1 + WITHIN for v in per_layer.values()]
        rows.append(StrategySummary(
            mode, strategy, len(rs), _median([r.normalised for r in rs]),
            sum(within) / len(within),
            _median([math.inf if r.evals_to_1pct is None else r.evals_to_1pct for r in rs]),
            _median([math.inf if r.seconds_to_1pct is None else r.seconds_to_1pct for r in rs]),
            _median([r.evaluations / r.seconds if r.seconds > 0 else 0.0 for r in rs]),
            sum(math.isfinite(r.best) for r in rs) / len(rs)))
    order = {m: k for k, m in enumerate(MODES)}
    rows.sort(key=lambda s: (order.get(s.mode, 9), s.median_normalised, -s.layers_within,
                             s.median_evals_to_1pct, s.strategy))
    return rows
