"""The strategy interface: propose a batch (``ask``), learn from its scores (``tell``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from search_spaces import Genomes, MappingSpace

RESUME_STATE = "state"      # the search loop pickles the strategy with the rest of its state
RESUME_STORAGE = "storage"  # the strategy keeps its trials in a database (Optuna storage)


@dataclass(frozen=True)
class RunContext:
    """What a driver knows about one search, for :meth:`Strategy.options`.

    ``objective``: what the fitness is; ``pareto``: a Pareto front is kept too; ``island``:
    one of several independent runs sharing a layer's budget (each run's budget is smaller
    than the layer's, but the search as a whole is a large-budget one); ``widened``: the
    space also allows R/S as spatial dims, where nearly every mapping overflows the L1."""

    objective: str = "latency"
    pareto: bool = False
    island: bool = False
    widened: bool = False


class Strategy(ABC):
    """A search strategy over a :class:`MappingSpace`.

    The constructor only stores parameters; all randomness comes from ``seed``, so the same
    seed and budget give the same proposals. ``ask`` returns the next batch (empty when the
    strategy has nothing more to propose); ``tell`` receives the fitness of that batch
    (objective value, ``inf`` where infeasible) and the constraint violation.

    Class attributes declare what drivers may do with a strategy: ``islands`` (independent
    runs of one layer may share its budget), ``prunes`` (it benefits from an evaluator that
    skips candidates whose latency bound cannot win), ``resume`` (:data:`RESUME_STATE` or
    :data:`RESUME_STORAGE`), ``enumerates`` (it needs an enumerable space) and
    ``multi_objective`` (``tell`` also takes the energy as ``secondary``).
    """

    name: ClassVar[str] = "base"
    islands: ClassVar[bool] = False
    prunes: ClassVar[bool] = False
    resume: ClassVar[str] = RESUME_STATE
    enumerates: ClassVar[bool] = False
    multi_objective: bool = False  # per instance: an Optuna sampler may be either

    def __init__(self, space: MappingSpace, seed: int = 0, batch_size: int = 64):
        self.space = space
        self.seed = seed
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        # proposals per wanted evaluation: a search whose evaluator prunes raises it, so that
        # a batch still yields about batch_size scored candidates (strategies may ignore it)
        self.oversample = 1.0

    @classmethod
    def options(cls, space: MappingSpace, run: RunContext) -> dict:
        """Constructor parameters this strategy wants for ``run`` (a caller's own
        parameters override them). Default: none."""
        return {}

    def plan(self, budget: int | None, time_limit: float | None) -> None:  # noqa: B027
        """Called once before the first ``ask`` with the run's evaluation budget and time
        limit (either may be None), so a strategy can size its batches. Default: nothing."""

    @abstractmethod
    def ask(self, limit: int | None = None) -> Genomes:
        """The next batch, at most ``limit`` genomes (empty: nothing more to propose)."""

    def tell(self, g: Genomes, fitness: np.ndarray, violation: np.ndarray) -> None:  # noqa: B027
        """Default: nothing to learn (e.g. random search)."""

    def resume_point(self) -> tuple[int, float, Genomes] | None:
        """``(evaluations, best, genome)`` already spent by a persistent search (trials an
        earlier or concurrent worker stored), or None. Default: None."""
        return None

    def final_best(self) -> tuple[float, Genomes] | None:
        """A best to prefer over the run's own at its end (e.g. a shared study's, other
        workers' trials included), or None. Default: None."""
        return None
