"""Uniform random sampling of the mapping space (the baseline every strategy must beat)."""

from __future__ import annotations

from mapper.search.strategies.base import Strategy
from search_spaces import Genomes


class RandomSearch(Strategy):
    name = "random"
    islands = True

    def __init__(self, space, seed: int = 0, batch_size: int = 1024, tiles_per_structure: int = 64):
        super().__init__(space, seed, batch_size)
        self.tiles_per_structure = tiles_per_structure

    def ask(self, limit: int | None = None) -> Genomes:
        n = self.batch_size if limit is None else min(self.batch_size, limit)
        return self.space.sample(self.rng, n, tiles_per_structure=self.tiles_per_structure)
