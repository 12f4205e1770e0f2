"""Score batches of genomes with the batch cost model: objective, feasibility, metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from costmodel.analysis import check_cost_model, compute_bound, evaluate_batch
from costmodel.errors import MaestroInputError
from costmodel.sparsity import SparsityConfig
from costmodel.sparsity.report import skip_fraction
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
    """Results for a batch: ``fitness`` is the objective, ``inf`` where infeasible or pruned
    (``pruned``: not scored, since its latency bound could not beat the incumbent or its
    tiles overflow the L1);
    ``evaluated`` counts the candidates the cost model scored."""

    fitness: np.ndarray
    feasible: np.ndarray
    violation: np.ndarray
    metrics: dict[str, np.ndarray] = field(default_factory=dict)
    pruned: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.pruned is None:
            self.pruned = np.zeros(len(self.fitness), dtype=bool)

    @property
    def evaluated(self) -> int:
        return int(len(self.fitness) - self.pruned.sum())


class Evaluator:
    """Evaluates genomes of one :class:`MappingSpace`, one cost-model call per dataflow structure.

    With ``prune`` (latency objective only), a call given the ``incumbent`` latency skips
    the candidates whose latency lower bound (:meth:`latency_bound`) is not below it: they
    cannot improve on it, and are returned as pruned, unscored and infeasible; so are the
    candidates whose innermost tiles overflow the L1 (:meth:`l1_excess`), with that excess
    as their violation, unless ``prune_l1`` is False.
    ``cost_model`` names the model that scores candidates
    (:data:`costmodel.analysis.COST_MODELS`); ``sparsity`` (physical only) the accelerator's
    formats and compute action for the layer's densities (:mod:`costmodel.sparsity`).
    ``stop_gap``: a pruning search may end once its best latency is within this share of the
    layer's latency floor (:attr:`stop_latency`); 0 ends it only at the floor, where it is
    optimal."""

    def __init__(self, space: MappingSpace, objective: str = "latency",
                 constraints: Constraints | None = None, prune: bool = False,
                 cost_model: str = "maestro", sparsity: SparsityConfig | None = None,
                 stop_gap: float = 0.0, prune_l1: bool | None = None):
        if not 0 <= stop_gap < math.inf:
            raise ValueError(f"stop_gap must be a finite number >= 0, got {stop_gap!r}")
        if objective not in OBJECTIVES:
            raise ValueError(f"unknown objective {objective!r}; expected one of {OBJECTIVES}")
        self.cost_model = check_cost_model(cost_model)
        self.sparsity = sparsity if cost_model == "physical" else None
        # skipped MACs take no cycle: the latency bounds hold for the executed ones only
        self.executed = (skip_fraction(space.layer, self.sparsity)
                         if cost_model == "physical" else 1.0)
        self.space = space
        self.objective = objective
        self.constraints = constraints or Constraints()
        self.evaluations = 0
        self.prune = prune and objective == "latency"
        # L1 overflows skipped with the bound (None: whenever pruning)
        self.prune_l1 = self.prune and (prune_l1 is None or prune_l1)
        # no valid mapping is faster than every PE busy on every cycle
        self.compute_bound = int(compute_bound(space.layer, space.hardware) * self.executed)
        self.stop_gap = stop_gap

    @property
    def floor(self) -> int:
        """No valid mapping of the space is faster: the compute bound, or where the cost
        model counts the busiest PE of every mapping (dense layers), PE 0's least work over
        the space (:attr:`MappingSpace.pe0_floor`) over the SIMD lanes if that is higher."""
        if self.executed < 1.0:
            return self.compute_bound
        lanes = max(int(self.space.hardware.simd_lanes), 1)
        return max(self.compute_bound, -(-self.space.pe0_floor // lanes))

    @property
    def stop_latency(self) -> int:
        """A best latency at or below this ends a pruning search: the :attr:`floor`, or
        within ``stop_gap`` of it."""
        return math.floor(self.floor * (1 + self.stop_gap))

    def latency_bound(self, g: Genomes) -> np.ndarray:
        """``[G]`` a lower bound on the latency of each genome's valid mappings: its MACs
        over the PEs it can keep busy at once (:meth:`MappingSpace.busy_bound`) x SIMD lanes,
        which the cost model's consistency check guarantees, and, where the cost model counts
        it, PE 0's MACs over the lanes (:meth:`MappingSpace.pe0_bound`: the busiest-PE check
        of ``maestro``, the floor of ``physical``)."""
        lanes = self.space.hardware.simd_lanes
        busy = np.maximum(self.space.busy_bound(g), 1) * lanes
        bound = -(-self.space.layer.macs // busy)
        if self.executed < 1.0:  # skipping: PE 0 executes fewer MACs than it holds
            return np.floor(bound * self.executed)
        return np.maximum(bound, -(-self.space.pe0_bound(g) // lanes))

    def l1_excess(self, g: Genomes) -> np.ndarray | None:
        """``[G]`` by how much (relative) each genome's innermost tiles overflow the L1, 0
        where they fit, or None where that is not known before the cost model: the L1
        limit is off, or a sparse layer's compressed tiles may need less. The genome's L1
        size (:meth:`MappingSpace.l1_requirement`) is what the cost model reports or
        less, so a genome it overflows is infeasible whatever its scores."""
        if not self.constraints.l1_capacity or self.sparsity is not None or not len(g):
            return None
        l1 = float(self.space.hardware.l1_size)
        return np.maximum(self.space.l1_requirement(g) / l1 - 1.0, 0.0)

    def metrics(self, g: Genomes) -> dict[str, np.ndarray]:
        """``{metric: [G]}`` of :data:`METRICS`, one cost-model call per dataflow structure (a
        structure the model rejects is left invalid)."""
        n = len(g)
        out = {k: np.zeros(n) for k in METRICS}
        out["valid"] = np.zeros(n, dtype=bool)
        out["flags"] = np.zeros(n, dtype=np.int64)
        if n == 0:
            return out
        keys = self.space.structure_keys(g)
        _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
        for k, f in enumerate(first):
            idx = np.nonzero(inv == k)[0]
            structure = self.space.structure_of(g, int(f))
            sizes, offs = self.space.sizes_offsets(g, idx, structure)
            try:
                rep = evaluate_batch(self.space.layer, structure, sizes, offs, self.space.hardware,
                                     cost_model=self.cost_model, sparsity=self.sparsity,
                                     fields=METRICS)
            except MaestroInputError:
                continue  # a structure MAESTRO cannot analyse: infeasible
            for name in METRICS:
                out[name][idx] = rep[name]
        return out

    def __call__(self, g: Genomes, incumbent: float = np.inf,
                 max_evals: int | None = None) -> Evaluation:
        """Score ``g``; with ``prune``, skip what cannot beat ``incumbent`` and score at most
        ``max_evals`` of the rest (the others are skipped too, as if pruned)."""
        pruned = np.zeros(len(g), dtype=bool)
        l1_excess = None
        if self.prune:
            if np.isfinite(incumbent) and len(g):
                pruned = self.latency_bound(g) >= incumbent
            l1_excess = self.l1_excess(g) if self.prune_l1 else None
            if l1_excess is not None:
                pruned |= l1_excess > 0
            if max_evals is not None:
                pruned[np.flatnonzero(~pruned)[max(max_evals, 0):]] = True
        keep = np.flatnonzero(~pruned)
        if len(keep) == len(g):
            m = self.metrics(g)
        else:
            sub = self.metrics(g.take(keep))
            m = {k: np.zeros(len(g), dtype=v.dtype) for k, v in sub.items()}
            for k, v in sub.items():
                m[k][keep] = v
        self.evaluations += len(keep)
        viol = self.constraints.violation(m, self.space.hardware)
        if l1_excess is not None:  # what a candidate pruned for its L1 is known to need
            viol = np.where(pruned & (l1_excess > 0), l1_excess, viol)
        feasible = m["valid"] & (viol == 0)
        fit = np.where(feasible, objective_values(m, self.objective), np.inf)
        return Evaluation(fit, feasible, viol, m, pruned)
