"""A batch of mapping genomes: numeric arrays that strategies sample, vary and de-duplicate.

A genome describes up to ``L`` cluster levels of one layer's dataflow (see
:mod:`search_spaces.mapping_space` for the meaning of each gene and the rules a valid genome
obeys). Everything is an array over a batch, so whole populations move at once.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache

import numpy as np


@dataclass
class Genomes:
    """A batch of ``G`` mapping genomes (see module docstring). Arrays are owned, not views."""

    levels: np.ndarray    # [G] number of cluster levels in use (1..max_levels)
    order: np.ndarray     # [G, L, D] permutation of dim indices, outermost loop first
    par: np.ndarray       # [G, L] index of the spatially mapped dim
    tiles: np.ndarray     # [G, L, D] tile sizes (Y/X in output rows/columns)
    clusters: np.ndarray  # [G, L] units per unit of the level above (column 0 unused, = 1)
    par2: np.ndarray | None = None  # [G, L] optional second spatial dim (-1: none)

    def __post_init__(self) -> None:
        if self.par2 is None:
            self.par2 = np.full(self.par.shape, -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.levels)

    def take(self, idx) -> Genomes:
        """The genomes at ``idx`` (indices, mask or slice), as owned arrays."""
        idx = idx if isinstance(idx, slice) else np.asarray(idx)
        if isinstance(idx, slice) or idx.ndim == 0:  # basic indexing gives views
            return Genomes(*(getattr(self, f)[idx].copy() for f in _FIELDS))
        return Genomes(*(getattr(self, f)[idx] for f in _FIELDS))  # fancy indexing copies

    @staticmethod
    def concat(parts: list[Genomes]) -> Genomes:
        return Genomes(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                          for f in fields(Genomes)})

    def _canonical(self) -> np.ndarray:
        """``[G, W]`` int64 rows that equal exactly when two genomes decode to the same
        dataflow: the genes of levels beyond ``levels`` (dormant material) are masked."""
        G, L = self.par.shape
        used = np.arange(L)[None, :] < self.levels[:, None]
        u3 = used[:, :, None]
        flat = np.concatenate([self.levels[:, None], np.where(u3, self.order, 0).reshape(G, -1),
                               np.where(used, self.par, 0), np.where(used, self.par2, -1),
                               np.where(u3, self.tiles, 0).reshape(G, -1),
                               np.where(used, self.clusters, 0)], axis=1)
        return np.ascontiguousarray(flat.astype(np.int64))

    def keys(self) -> np.ndarray:
        """A bytes key per genome that identifies the dataflow it decodes to (for
        de-duplication; genes of unused levels do not count)."""
        flat = self._canonical()
        return flat.view(np.dtype((np.void, flat.shape[1] * 8))).ravel()

    def hashes(self) -> np.ndarray:
        """A 64-bit hash of :meth:`keys` per genome (cheap to keep for millions of genomes;
        a collision only makes a search skip one candidate)."""
        flat = self._canonical().astype(np.uint64)
        mult = _hash_multipliers(flat.shape[1])
        with np.errstate(over="ignore"):
            h = (flat * mult[None, :]).sum(axis=1, dtype=np.uint64)
            h ^= h >> np.uint64(31)
            h *= np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
        return h


_FIELDS = tuple(f.name for f in fields(Genomes))


@cache
def _hash_multipliers(width: int) -> np.ndarray:
    """Fixed odd 64-bit multipliers, one per key column (the same in every process)."""
    rng = np.random.default_rng(0x5EED)
    out = rng.integers(0, 2**63, width, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    out.flags.writeable = False
    return out

