"""The comparison's multi-objective run: NSGA-II on (latency, energy) for one layer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from costmodel import Hardware, Layer
from mapper.comparison.runs import _bare
from mapper.search.evaluator import Evaluation, Evaluator
from mapper.search.loop import run_search
from mapper.search.pareto import ParetoArchive
from mapper.search.strategies import make_strategy
from mapper.tuning.plan import shape_seed
from search_spaces import Genomes, MappingSpace

FRONT_OBJECTIVES = ("runtime", "energy_nj")


class RecordingEvaluator(Evaluator):
    """An :class:`Evaluator` that keeps ``(runtime, energy_nj)`` of every feasible candidate."""

    def __init__(self, space: MappingSpace, objective: str = "latency", constraints=None):
        super().__init__(space, objective, constraints)
        self.points: list[np.ndarray] = []

    def __call__(self, g: Genomes, *args, **kwargs) -> Evaluation:
        ev = super().__call__(g, *args, **kwargs)
        f = ev.feasible
        self.points.append(np.column_stack([ev.metrics[k][f].astype(float)
                                            for k in FRONT_OBJECTIVES]))
        return ev

    def all_points(self) -> np.ndarray:
        """``[n, 2]`` runtime and energy of every feasible candidate scored so far."""
        return np.concatenate(self.points) if self.points else np.zeros((0, 2))


@dataclass
class ParetoResult:
    """The multi-objective run's points and their front."""

    model: str
    layer: str
    accelerator: str
    evaluations: int
    seconds: float
    points: np.ndarray  # [n, 2] runtime (cycles), energy (nJ) of every feasible evaluation
    front: np.ndarray   # [m, 2] the non-dominated ones, by runtime


def pareto_run(model: str, layer: Layer, accelerator: str, hw: Hardware, budget: int,
               seed: int = 0) -> ParetoResult:
    """NSGA-II on (latency, energy) for one layer, keeping every feasible point it evaluated
    (for the plot's cloud) and their front (:class:`ParetoArchive`)."""
    space = MappingSpace(layer, hw, max_levels=2)
    ev = RecordingEvaluator(space, "latency")
    strategy = make_strategy("nsga2", space, shape_seed(seed, layer))
    archive = ParetoArchive(FRONT_OBJECTIVES)
    res = run_search(space, strategy, ev, budget=budget, pareto=archive)
    pts = ev.all_points()
    # distinct points by runtime (the archive keeps equal points of different mappings)
    front = np.unique(archive.points, axis=0)
    return ParetoResult(model, layer.name, accelerator, res.evaluations, res.seconds, pts, front)


def pareto_layer(spec: str = "resnet50/CONV2_1_2",
                 layers: Sequence[tuple[str, Layer]] = ()) -> tuple[str, Layer]:
    """``MODEL/LAYER`` as ``(model, layer)``: from ``layers`` if there, else from the zoo."""
    model, _, name = spec.partition("/")
    for m, lay in layers:
        if (m, lay.name) == (model, name):
            return m, lay
    from mapper.workloads.zoo import load_model

    for lay in load_model(model).layers:
        if lay.name == name:
            return model, _bare(lay)
    raise ValueError(f"no layer {name!r} in model {model!r}")
