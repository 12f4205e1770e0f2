"""A batch of mapping genomes: numeric arrays that strategies sample, vary and de-duplicate.

A genome describes up to ``L`` cluster levels of one layer's dataflow (see
:mod:`search_spaces.mapping_space` for the meaning of each gene and the rules a valid genome
obeys). Everything is an array over a batch, so whole populations move at once.
"""

from __future__ import annotations

import math
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
        if idx.dtype.kind in "iu":  # ``take`` copies rows several times faster
            return Genomes(*(getattr(self, f).take(idx, axis=0) for f in _FIELDS))
        return Genomes(*(getattr(self, f)[idx] for f in _FIELDS))  # fancy indexing copies

    def put(self, idx: np.ndarray, src: Genomes) -> None:
        """Overwrite the genomes at ``idx`` with those of ``src``, in place."""
        for f in _FIELDS:
            getattr(self, f)[idx] = getattr(src, f)

    @staticmethod
    def concat(parts: list[Genomes]) -> Genomes:
        return Genomes(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    def copy(self) -> Genomes:
        """All genomes, as owned copies of the arrays (cheaper than ``take`` of every index)."""
        return Genomes(*(getattr(self, f).copy() for f in _FIELDS))

    def _canonical(self) -> np.ndarray:
        """``[G, W]`` C-contiguous int64 rows that equal exactly when two genomes decode to
        the same dataflow: the genes of levels beyond ``levels`` (dormant material) are
        masked (0; -1 for ``par2``). Filled in place, one block of columns per field."""
        G, L = self.par.shape
        LD = self.order.shape[1] * self.order.shape[2]
        used = np.arange(L)[None, :] < self.levels[:, None]
        u3 = used[:, :, None]
        flat = np.zeros((G, 1 + 2 * LD + 3 * L), dtype=np.int64)
        flat[:, 0] = self.levels
        c = 1
        for arr, mask, fill in ((self.order, u3, 0), (self.par, used, 0), (self.par2, used, -1),
                                (self.tiles, u3, 0), (self.clusters, used, 0)):
            width = math.prod(arr.shape[1:])
            block = flat[:, c:c + width].reshape(arr.shape)
            if fill:
                block.fill(fill)
            np.copyto(block, arr, where=mask)
            c += width
        return flat

    def keys(self) -> np.ndarray:
        """A bytes key per genome that identifies the dataflow it decodes to (for
        de-duplication; genes of unused levels do not count)."""
        flat = self._canonical()
        return flat.view(np.dtype((np.void, flat.shape[1] * 8))).ravel()

    def distinct(self, hashes: np.ndarray | None = None) -> np.ndarray:
        """Increasing indices of the first genome of each distinct :meth:`keys` (those of
        ``np.unique(keys, return_index=True)``), found by sorting the cheaper
        :meth:`hashes` (``hashes``: those of these genomes, where already known); the keys
        are compared only where hashes are equal, to tell a collision (then the keys
        decide)."""
        h = self.hashes() if hashes is None else hashes
        least, label = equal_groups(h)
        if len(least) < len(h):  # equal hashes: a collision unless their keys are equal too
            flat = self._canonical()
            if not (flat[least[label]] == flat).all():
                _, first = np.unique(self.keys(), return_index=True)
                return np.sort(first)
        return np.sort(least)

    def hashes(self) -> np.ndarray:
        """A 64-bit hash of :meth:`keys` per genome (cheap to keep for millions of genomes;
        a collision only makes a search skip one candidate): the key's int64 columns, read
        as uint64, times fixed odd multipliers, summed modulo 2**64 and mixed.

        Computed from the fields without building the key: a sum modulo 2**64 does not
        depend on its order, so each level's genes are summed by a dot product and the
        level's share is kept where it is in use, or replaced by that of its masked genes
        (all 0 but ``par2`` = -1) where it is dormant."""
        L, D = self.order.shape[1:]
        LD = L * D
        m = hash_multipliers(1 + 2 * LD + 3 * L)
        m_order = m[1:1 + LD].reshape(L, D)
        m_par, m_par2 = m[1 + LD:1 + LD + L], m[1 + LD + L:1 + LD + 2 * L]
        m_tiles, m_clusters = m[1 + LD + 2 * L:1 + 2 * LD + 2 * L].reshape(L, D), m[-L:]
        used = np.arange(L)[None, :] < self.levels[:, None]
        with np.errstate(over="ignore"):
            share = np.einsum("gld,ld->gl", _as_u64(self.order), m_order)
            share += np.einsum("gld,ld->gl", _as_u64(self.tiles), m_tiles)
            share += _as_u64(self.par) * m_par
            share += _as_u64(self.par2) * m_par2
            share += _as_u64(self.clusters) * m_clusters
            share = np.where(used, share, np.uint64(0) - m_par2)  # par2 = -1 when dormant
            h = _as_u64(self.levels) * m[0]
            for lv in range(L):
                h += share[:, lv]
            h ^= h >> np.uint64(31)
            h *= np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
        return h


def first_occurrences(values: np.ndarray) -> np.ndarray:
    """Increasing indices of the first occurrence of each distinct value of ``values`` (1-D;
    ``np.sort`` of ``np.unique(values, return_index=True)[1]``)."""
    return np.sort(equal_groups(values)[0])


def equal_groups(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(least, label)`` of the groups of equal ``values`` (1-D): per group the least index
    of its values, and per value its group's number (``least[label[i]]`` is the first index
    holding ``values[i]``). An unstable sort and the least index of each run of equal values:
    several times faster than the stable sort ``np.unique`` needs for its indices."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    order = np.argsort(values)
    v = values[order]
    starts = np.concatenate(([True], v[1:] != v[:-1]))
    label = np.empty(n, dtype=np.intp)
    label[order] = np.cumsum(starts) - 1
    return np.minimum.reduceat(order, np.flatnonzero(starts)), label


def _as_u64(a: np.ndarray) -> np.ndarray:
    """``a`` as int64 read as uint64 (two's complement: -1 is 2**64 - 1), without a copy
    when it is int64 already."""
    return np.asarray(a, dtype=np.int64).view(np.uint64)


_FIELDS = tuple(f.name for f in fields(Genomes))


@cache
def hash_multipliers(width: int) -> np.ndarray:
    """Fixed odd 64-bit multipliers, one per key column (the same in every process)."""
    rng = np.random.default_rng(0x5EED)
    out = rng.integers(0, 2**63, width, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    out.flags.writeable = False
    return out

