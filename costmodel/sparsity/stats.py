"""Occupancy statistics of tiles of a sparse tensor, vectorised over candidates.

A unit's tile of ``n`` elements from a tensor of ``T`` elements with ``K = round(d T)``
nonzeros placed uniformly at random holds a hypergeometric number of nonzeros. A step of a
spatially split layer lasts as long as its slowest active unit, so its time is the expected
*maximum* over the ``P`` active units' work, not the work of the mean unit. Under an N:M
structure every aligned tile holds exactly ``n N / M`` nonzeros.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import hypergeom

#: evaluation points of the occupancy distribution per candidate
GRID = 64
#: half-width of the window around the mean, in standard deviations
SPAN = 9.0


def step_cycles(k, r, simd):
    """Cycles of a unit with ``k`` kept operands, each used ``r`` times, on ``simd`` lanes
    (at least one cycle: the step still has to check its metadata)."""
    return np.maximum(1.0, np.ceil(r * k / simd - 1e-9))


def expected_max_cycles(n, d, P, r, simd, total) -> np.ndarray:
    """``E[max over P units of step_cycles(X_u)]`` with ``X_u ~ Hypergeom(total, d total, n)``
    independent across units; every argument broadcasts to ``[B]``. Candidates that share
    their arguments are computed once."""
    args = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                 for a in (n, d, P, r, simd, total)))
    shape = args[0].shape
    rows = np.stack([a.ravel() for a in args], axis=1)
    uniq, inv = np.unique(rows, axis=0, return_inverse=True)
    return _expected_max(*uniq.T)[inv.ravel()].reshape(shape)


def _expected_max(n, d, P, r, simd, total) -> np.ndarray:
    total = np.maximum(total, n)
    K = np.clip(np.rint(d * total), 0, total)
    p = K / np.maximum(total, 1.0)
    mu = n * p
    var = n * p * (1 - p) * (total - n) / np.maximum(total - 1.0, 1.0)
    sd = np.sqrt(np.maximum(var, 0.0))
    lo = np.maximum(0.0, np.floor(mu - SPAN * sd - 1.0))
    hi = np.minimum(n, np.ceil(mu + SPAN * sd + 1.0))
    h = np.maximum(1.0, np.ceil((hi - lo) / GRID))
    j = np.arange(GRID, dtype=np.float64)[:, None]
    k0 = np.minimum(lo + j * h, hi)                       # [G, B]
    k1 = np.minimum(k0 + h, hi)
    mid = np.floor((k0 + k1 - 1.0) / 2.0)
    F = hypergeom.cdf(mid, total, K, n)
    tail = 1.0 - np.exp(P * np.log(np.clip(F, 1e-300, 1.0)))
    dg = step_cycles(k1, r, simd) - step_cycles(k0, r, simd)
    return step_cycles(lo, r, simd) + (dg * tail).sum(axis=0)


def mean_cycles(n, d, r, simd) -> np.ndarray:
    """The mean-only model: the step time of a unit holding the expected occupancy."""
    return step_cycles(np.asarray(n, dtype=np.float64) * np.asarray(d, dtype=np.float64),
                       r, simd)


def nm_cycles(n, nm, r, simd) -> np.ndarray:
    """Exact step time under an N:M structure: every unit keeps ``n N / M`` operands."""
    N, M = nm
    return step_cycles(np.asarray(n, dtype=np.float64) * N / M, r, simd)


def buffer_occupancy(n, density, structured: bool, z: float = 3.0) -> np.ndarray:
    """Kept elements a buffer for ``n``-element tiles must hold: exact under N:M, the mean
    plus ``z`` standard deviations (binomial) under random sparsity, at most ``n``."""
    n = np.asarray(n, dtype=np.float64)
    mean = n * density
    if structured:
        return np.ceil(mean)
    return np.minimum(n, np.ceil(mean + z * np.sqrt(n * density * (1.0 - density))))
