"""Every genome of a finite mapping space, in a fixed order, for exhaustive search.

A space is finite when its structure (level count, loop orders, spatial dims) is fixed, as in
a template: then only tiles and cluster sizes vary. Tiles range over nested chains
``t0 >= t1 >= ...`` per dim (divisors only if the space asks for them), cluster sizes over
powers of two whose product fits the PE array. Genome ``i`` of the enumeration is the same in
every run, so a search can resume from an index.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .genomes import Genomes
from .mapping_space import MappingSpace


def is_enumerable(space: MappingSpace) -> bool:
    """True when the structure (levels, orders, spatial dims) is fixed."""
    return bool(space.fixed_levels) and all(
        lv in space.fixed_order and lv in space.fixed_par for lv in range(space.L))


def enumeration_size(space: MappingSpace) -> int:
    """How many genomes :func:`enumerate_genomes` yields (raises if the space is infinite)."""
    if not is_enumerable(space):
        raise ValueError("space is not enumerable: fix levels, loop orders and spatial dims")
    n = len(_cluster_options(space))
    for k in range(space.D):
        n *= len(_chains(space, k))
    return n


def enumerate_genomes(space: MappingSpace, chunk: int = 100_000,
                      start: int = 0) -> Iterator[Genomes]:
    """Yield every genome of an enumerable space from index ``start``, ``chunk`` at a time."""
    size = enumeration_size(space)
    chains = [_chains(space, k) for k in range(space.D)]
    clusters = _cluster_options(space)
    dims_shape = [len(c) for c in chains] + [len(clusters)]
    L, D = space.L, space.D
    order = np.array([[space.dims.index(d) for d in space.fixed_order[lv]] for lv in range(L)])
    par = np.array([space.dims.index(space.fixed_par[lv]) for lv in range(L)])
    for first in range(start, size, chunk):
        flat = np.arange(first, min(size, first + chunk))
        idx = np.unravel_index(flat, dims_shape)
        n = len(flat)
        tiles = np.stack([chains[k][idx[k]] for k in range(D)], axis=2)  # [n, L, D]
        par2 = np.array([-1 if space.fixed_par2.get(lv) is None
                         else space.dims.index(space.fixed_par2[lv]) for lv in range(L)])
        g = Genomes(np.full(n, L), np.broadcast_to(order, (n, L, D)).copy(),
                    np.broadcast_to(par, (n, L)).copy(), tiles, clusters[idx[D]].copy(),
                    np.broadcast_to(par2, (n, L)).copy())
        yield g


def _chains(space: MappingSpace, k: int) -> np.ndarray:
    """All nested tile chains ``t0 >= t1 >= ...`` of dim ``k`` (``[n, L]``)."""
    def options(hi: int) -> np.ndarray:
        vals = np.arange(1, hi + 1)
        return vals[hi % vals == 0] if space.tile_divisors else vals

    fixed = {lv: v for (lv, d), v in space.fixed_tiles.items() if d == space.dims[k]}
    chains = [[]]
    for lv in range(space.L):
        nxt = []
        for ch in chains:
            hi = int(space.extent[k]) if lv == 0 else ch[-1]
            spatial_rs = space.filter_mask[k] and space.fixed_par2.get(lv) == space.dims[k]
            full = space.filter_mask[k] and not spatial_rs
            opts = [fixed[lv]] if lv in fixed else ([hi] if full else options(hi))
            nxt += [ch + [int(t)] for t in opts if t <= hi]
        chains = nxt
    return np.array(chains, dtype=np.int64).reshape(len(chains), space.L)


def _cluster_options(space: MappingSpace) -> np.ndarray:
    """Cluster-size tuples for levels 1..L-1: fixed ones, else powers of two, product <= P."""
    opts = []
    for lv in range(1, space.L):
        if lv in space.fixed_clusters:
            opts.append([space.fixed_clusters[lv]])
        else:
            opts.append([2 ** e for e in range(int(np.log2(space.P)) + 1)])
    if not opts:
        return np.ones((1, 1), dtype=np.int64)
    grid = np.array(np.meshgrid(*opts, indexing="ij")).reshape(len(opts), -1).T
    grid = grid[grid.prod(axis=1) <= space.P]
    return np.concatenate([np.ones((len(grid), 1), dtype=np.int64), grid], axis=1)
