"""Score batches of genomes with the batch cost model: objective, feasibility, metrics."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from costmodel.analysis import evaluate_batch
from costmodel.errors import MaestroInputError
from search_spaces import Constraints, Genomes, MappingSpace

OBJECTIVES = ("latency", "energy", "edp")
METRICS = ("runtime", "energy_nj", "l1_size", "l2_size", "noc_bw_req", "offchip_bw_req", "area",
           "power", "num_macs", "valid", "flags")


def objective_values(metrics: dict[str, np.ndarray], objective: str) -> np.ndarray:
    """The scalar objective (lower is better) of evaluated candidates."""
    rt = metrics["runtime"].astype(float)
    if objective == "latency":
        return rt
    if objective == "energy":
        return metrics["energy_nj"].astype(float)
    if objective == "edp":
        return rt * metrics["energy_nj"]
    raise ValueError(f"unknown objective {objective!r}; expected one of {OBJECTIVES}")


@dataclass
class Evaluation:
    """Results for a batch: ``fitness`` is the objective, ``inf`` where infeasible."""

    fitness: np.ndarray
    feasible: np.ndarray
    violation: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)


class Evaluator:
    """Evaluates genomes of one :class:`MappingSpace`, one cost-model call per dataflow shape."""

    def __init__(self, space: MappingSpace, objective: str = "latency",
                 constraints: Constraints | None = None):
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; expected one of {OBJECTIVES}")
        self.space = space
        self.objective = objective
        self.constraints = constraints or Constraints()
        self.evaluations = 0

    def metrics(self, g: Genomes) -> dict[str, np.ndarray]:
        n = len(g)
        out = {k: np.zeros(n) for k in METRICS}
        out["valid"] = np.zeros(n, dtype=bool)
        out["flags"] = np.zeros(n, dtype=np.int64)
        if n == 0:
            return out
        keys = self.space.shape_keys(g)
        _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        for k, f in enumerate(first):
            idx = np.nonzero(inv == k)[0]
            shape = self.space.shape_of(g, int(f))
            sizes, offs = self.space.sizes_offsets(g, idx, shape)
            try:
                rep = evaluate_batch(self.space.layer, shape, sizes, offs, self.space.hardware)
            except MaestroInputError:
                continue  # a shape MAESTRO cannot analyse: infeasible
            for name in METRICS:
                out[name][idx] = rep[name]
        return out

    def __call__(self, g: Genomes) -> Evaluation:
        m = self.metrics(g)
        self.evaluations += len(g)
        viol = self.constraints.violation(m, self.space.hardware)
        feasible = m["valid"] & (viol == 0)
        fit = np.where(feasible, objective_values(m, self.objective), np.inf)
        return Evaluation(fit, feasible, viol, m)
