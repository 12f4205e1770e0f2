"""The strategy interface: propose a batch (``ask``), learn from its scores (``tell``)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from search_spaces import Genomes, MappingSpace


class Strategy(ABC):
    """A search strategy over a :class:`MappingSpace`.

    The constructor only stores parameters; all randomness comes from ``seed``, so the same
    seed and budget give the same proposals. ``ask`` returns the next batch (empty when the
    strategy has nothing more to propose); ``tell`` receives the fitness of that batch
    (objective value, ``inf`` where infeasible) and the constraint violation.
    """

    name: ClassVar[str] = "base"

    def __init__(self, space: MappingSpace, seed: int = 0, batch_size: int = 64):
        self.space = space
        self.seed = seed
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        # proposals per wanted evaluation: a search whose evaluator prunes raises it, so that
        # a batch still yields about batch_size scored candidates (strategies may ignore it)
        self.oversample = 1.0

    def plan(self, budget: int | None, time_limit: float | None) -> None:  # noqa: B027
        """Called once before the first ``ask`` with the run's evaluation budget and time
        limit (either may be None), so a strategy can size its batches. Default: nothing."""

    @abstractmethod
    def ask(self, limit: int | None = None) -> Genomes:
        """The next batch, at most ``limit`` genomes (empty: nothing more to propose)."""

    def tell(self, g: Genomes, fitness: np.ndarray, violation: np.ndarray) -> None:  # noqa: B027
        """Default: nothing to learn (e.g. random search)."""
