"""A domain-aware genetic algorithm in the style of GAMMA/DiGamma.

Each generation keeps an elite, breeds children by GAMMA's per-dimension tile crossover and by
domain mutations (tile steps, spatial-dim change, loop swaps, cluster resizing, adding or
removing a level), and spends part of the batch on tile-only variants of the best individuals.
Tile-only variants share their parent's dataflow shape, so the batch cost model scores them in
one call: this is where most evaluations go, and why the GA is fast.
"""

from __future__ import annotations

import numpy as np

from search_spaces import Genomes

from .base import Strategy


class GeneticAlgorithm(Strategy):
    """Population-based search whose batches are grouped by dataflow shape.

    Each generation picks ``n_shapes`` structures: the best distinct shapes of the population
    (exploitation) and new ones bred from elites by crossover and structural mutation
    (exploration, ``explore`` of them). Every structure gets ``per_shape`` children whose tiles
    and cluster sizes come from GAMMA-style crossover with other elites plus tile mutation.
    """

    name = "ga"

    def __init__(self, space, seed: int = 0, population: int = 64, n_shapes: int = 12,
                 per_shape: int = 24, explore: float = 0.5, mutation_rate: float = 0.3,
                 batch_size: int = 0, init_tiles_per_shape: int = 8):
        super().__init__(space, seed, batch_size or n_shapes * per_shape)
        self.population = population
        self.n_shapes = n_shapes
        self.per_shape = per_shape
        self.explore = explore
        self.mutation_rate = mutation_rate
        self.init_tiles_per_shape = init_tiles_per_shape
        self.pop: Genomes | None = None
        self.fit: np.ndarray | None = None
        self.viol: np.ndarray | None = None

    def ask(self, limit: int | None = None) -> Genomes:
        sp, rng = self.space, self.rng
        n_total = self.batch_size if limit is None else min(self.batch_size, limit)
        if self.pop is None or not np.isfinite(self.fit).any():
            return sp.sample(rng, n_total, tiles_per_shape=self.init_tiles_per_shape)
        pop = self.pop
        keys = sp.shape_keys(pop)
        _, first = np.unique(keys, return_index=True)
        first = np.sort(first)  # population is sorted best first: best of each shape
        n_new = max(1, int(round(self.explore * self.n_shapes)))
        keep = pop.take(first[: self.n_shapes - n_new])
        elite = pop.take(np.arange(min(len(pop), max(4, self.population // 4))))
        pa = elite.take(rng.integers(0, len(elite), n_new))
        pb = elite.take(rng.integers(0, len(elite), n_new))
        fresh = sp.mutate(rng, sp.crossover(rng, pa, pb), rate=self.mutation_rate)
        bases = Genomes.concat([keep, fresh])
        k = self.per_shape
        base_rep = bases.take(np.repeat(np.arange(len(bases)), k))
        partner = elite.take(rng.integers(0, len(elite), len(base_rep)))
        kids = sp.crossover_tiles(rng, base_rep, partner)
        kids = sp.mutate(rng, kids, rate=self.mutation_rate, structural=False)
        # the first child of each structure keeps its base's tiles: a structural move is
        # judged with the tiles that made its parent good
        kids = Genomes.concat([bases, kids.take(np.nonzero(np.arange(len(kids)) % k)[0])])
        return kids.take(np.arange(min(n_total, len(kids))))

    def tell(self, g: Genomes, fitness: np.ndarray, violation: np.ndarray) -> None:
        if self.pop is None:
            allg, fit, viol = g, fitness, violation
        else:
            allg = Genomes.concat([self.pop, g])
            fit = np.concatenate([self.fit, fitness])
            viol = np.concatenate([self.viol, violation])
        _, uniq = np.unique(allg.keys(), return_index=True)
        uniq = np.sort(uniq)
        allg, fit, viol = allg.take(uniq), fit[uniq], viol[uniq]
        order = np.lexsort((viol, np.where(np.isfinite(fit), fit, np.inf)))[: self.population]
        self.pop, self.fit, self.viol = allg.take(order), fit[order], viol[order]
