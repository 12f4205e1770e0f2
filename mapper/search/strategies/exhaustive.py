"""Exhaustive, vectorised enumeration of a finite (restricted) mapping space.

Candidates whose L1 requirement (computable from the genome alone, and never above what the
cost model reports) exceeds the L1 capacity are pruned before evaluation; the search stops early
when a mapping reaches the compute bound MACs / (PEs x SIMD lanes), which no mapping can beat.
The best mapping returned is therefore the optimum of the space.
"""

from __future__ import annotations

import numpy as np

from mapper.search.strategies.base import RunContext, Strategy
from search_spaces import Genomes
from search_spaces.enumeration import enumerate_genomes, enumeration_size, is_enumerable


class Exhaustive(Strategy):
    name = "exhaustive"
    enumerates = True

    @classmethod
    def options(cls, space, run: RunContext) -> dict:
        return {"objective": run.objective}  # the early stop at the compute bound is latency's

    def __init__(self, space, seed: int = 0, batch_size: int = 65536, prune: bool = True,
                 objective: str = "latency"):
        super().__init__(space, seed, batch_size)
        if not is_enumerable(space):
            raise ValueError("exhaustive search needs an enumerable space (a template, or fixed "
                             "levels, loop orders and spatial dims)")
        self.size = enumeration_size(space)
        self._it = enumerate_genomes(space, batch_size)
        self.prune = prune
        self._next = 0
        self.pruned = 0
        self.done = False
        hw = space.hardware
        self.bound = space.layer.macs / (hw.num_pes * hw.simd_lanes)
        self.objective = objective

    def ask(self, limit: int | None = None) -> Genomes:
        if limit is not None and limit < self.batch_size:
            self.batch_size = limit
            self._it = enumerate_genomes(self.space, limit, start=self._next)
        while not self.done:
            g = next(self._it, None)
            if g is None:
                break
            self._next += len(g)
            if self.prune:
                keep = self.space.l1_requirement(g) <= self.space.hardware.l1_size
                self.pruned += int((~keep).sum())
                g = g.take(np.nonzero(keep)[0])
            if len(g):
                return g
        return self.space.empty()

    def tell(self, g, fitness, violation) -> None:
        if self.objective == "latency" and len(fitness) and np.min(fitness) <= np.ceil(self.bound):
            self.done = True  # compute bound reached: nothing can be faster
