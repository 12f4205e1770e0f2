"""Occupancy statistics of tiles of a sparse tensor, vectorised over candidates.

A unit's tile of ``n`` elements from a tensor of ``T`` elements with ``K = round(d T)``
nonzeros placed uniformly at random holds a hypergeometric number of nonzeros. A step of a
spatially split layer lasts as long as its slowest active unit, so its time is the expected
*maximum* over the ``P`` active units' work, not the work of the mean unit. Under an N:M
structure every aligned tile holds exactly ``n N / M`` nonzeros.

The expected maximum is computed once per distinct argument set of the batch (``np.unique``),
all distinct sets at once as arrays:

* where the occupancy window (mean +- ``SPAN`` standard deviations, within the support) has at
  most ``EXACT_WIDTH`` integers, exactly: the probability mass function by its ratio recurrence
  at every integer of the window, its running sum the CDF;
* wider windows (standard deviation above ~28 elements) from the normal approximation with
  continuity correction and the first Edgeworth (skewness) term, on a ``GRID``-point grid.
  Against the exact sum the error is below ``APPROX_REL_ERR`` (tested).

A tensor given as a mask (real data) replaces the hypergeometric law by the mask's own: the
nonzero counts of every tile position (summed-area table), the maximum over the tiles the
mapping gives one group of units in a step, one empirical distribution per distinct (mask,
tile, stride, spatial axis, units), and the expected maximum over ``G`` groups drawing from it,
``E[g(max)] = sum_k g(k) (F(k)^G - F(k-1)^G)`` (``g`` is non-decreasing).
"""

from __future__ import annotations

import hashlib
from itertools import product

import numpy as np
from scipy.special import ndtr

#: widest occupancy window (integers) computed exactly
EXACT_WIDTH = 512
#: evaluation points of the approximate CDF per wide case
GRID = 128
#: half-width of the occupancy window around the mean, in standard deviations
SPAN = 9.0
#: distinct argument sets kept between calls (then the cache starts over)
CACHE_SIZE = 1 << 16
_KEY = np.dtype((np.void, 6 * 8))   # one argument row as a sortable key
_cache: tuple[np.ndarray, np.ndarray] = (np.empty(0, dtype=_KEY), np.empty(0))
#: integers added above the window (small means have heavier tails than the normal)
TAIL_PAD = 12.0
#: bound on the relative error of the approximate path against the exact sum
APPROX_REL_ERR = 1e-3
#: masks whose summed-area table is kept, and (mask, tile, stride) count distributions kept
MASK_SATS, MASK_TILES = 4, 4096
_sats: dict[str, np.ndarray] = {}
_tile_counts: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


def step_cycles(k, r, simd):
    """Cycles of a unit with ``k`` kept operands, each used ``r`` times, on ``simd`` lanes
    (at least one cycle: the step still has to check its metadata)."""
    return np.maximum(1.0, np.ceil(r * k / simd - 1e-9))


def expected_max_cycles(n, d, P, r, simd, total, exact_width: int = EXACT_WIDTH) -> np.ndarray:
    """``E[max over P units of step_cycles(X_u)]`` with ``X_u ~ Hypergeom(total, d total, n)``
    independent across units; every argument broadcasts to ``[B]``. Candidates that share
    their arguments are computed once, and argument sets seen by earlier calls (the same layer
    in a search) come from a cache; ``exact_width`` moves the exact/approximate boundary."""
    args = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                 for a in (n, d, P, r, simd, total)))
    shape = args[0].shape
    rows = np.ascontiguousarray(np.stack([a.ravel() for a in args], axis=1))
    keys, inv = np.unique(rows.view(_KEY).ravel(), return_inverse=True)
    if exact_width != EXACT_WIDTH:
        return _compute(keys.view(np.float64).reshape(-1, 6), exact_width)[inv].reshape(shape)
    global _cache
    ck, cv = _cache
    pos = np.minimum(np.searchsorted(ck, keys), max(len(ck) - 1, 0))
    hit = ck[pos] == keys if len(ck) else np.zeros(len(keys), dtype=bool)
    out = np.where(hit, cv[pos] if len(ck) else 0.0, 0.0)
    if not hit.all():
        new = keys[~hit]
        out[~hit] = vals = _compute(new.view(np.float64).reshape(-1, 6), exact_width)
        if len(ck) + len(new) > CACHE_SIZE:
            ck, cv = ck[:0], cv[:0]
        ck, cv = np.concatenate([ck, new]), np.concatenate([cv, vals])
        order = np.argsort(ck, kind="stable")
        _cache = (ck[order], cv[order])
    return out[inv.ravel()].reshape(shape)


def _compute(rows: np.ndarray, exact_width: int) -> np.ndarray:
    """Expected maxima of distinct argument rows ``[U, 6]`` (see :func:`expected_max_cycles`)."""
    n, d, P, r, simd, total = rows.T
    total = np.maximum(total, n)
    K = np.clip(np.rint(d * total), 0, total)
    lo, hi, mu, sd = _window(n, K, total)
    out = np.empty(len(rows))
    width = hi - lo + 1
    wide = width > exact_width
    if wide.any():
        w = wide
        out[w] = _approx(n[w], K[w], total[w], P[w], r[w], simd[w], lo[w], hi[w], mu[w], sd[w])
    bins = np.ceil(np.log2(width) / 2)      # rows of similar width together: little padding
    for b in np.unique(bins[~wide]):
        s = np.flatnonzero((bins == b) & ~wide)
        out[s] = _exact(n[s], K[s], total[s], P[s], r[s], simd[s], lo[s], hi[s])
    return out


def _window(n, K, T):
    """Integer window ``[lo, hi]`` holding the occupancy's mass, its mean and deviation."""
    p = K / np.maximum(T, 1.0)
    mu = n * p
    sd = np.sqrt(np.maximum(n * p * (1 - p) * (T - n) / np.maximum(T - 1.0, 1.0), 0.0))
    # the upper side has room for heavy (Poisson-like) tails at small means: P units look there
    lo = np.maximum(np.maximum(0.0, n - (T - K)), np.floor(mu - SPAN * sd - 1.0))
    hi = np.minimum(np.minimum(n, K), np.ceil(mu + SPAN * sd + TAIL_PAD))
    return lo, np.maximum(hi, lo), mu, sd


def _tail_sum(k, F, P, r, simd, lo):
    """``g(lo) + sum_k (g(k+1) - g(k)) (1 - F(k)^P)`` along the last axis: the expected
    maximum of ``g = step_cycles`` over ``P`` units from the CDF ``F`` at the points ``k``."""
    g = step_cycles(k, r[:, None], simd[:, None])
    tail = -np.expm1(P[:, None] * np.log(np.clip(F[:, :-1], 1e-300, 1.0)))
    return g[:, 0] + (np.diff(g, axis=1) * tail).sum(axis=1)


def _exact(n, K, T, P, r, simd, lo, hi) -> np.ndarray:
    """Exact expected maximum from the pmf at every integer of ``[lo, hi]`` (``[U, W]``);
    the pmf is computed once per distinct ``(n, K, T)``."""
    W = int((hi - lo).max()) + 1
    nkt = np.ascontiguousarray(np.stack([n, K, T], axis=1))
    cases, which = np.unique(nkt.view(np.dtype((np.void, 24))).ravel(), return_inverse=True)
    cases = cases.view(np.float64).reshape(-1, 3)
    first = np.zeros(len(cases), dtype=np.int64)
    first[which] = np.arange(len(n))
    F = _exact_cdf(*cases.T, lo[first], hi[first], W)[which]
    k = np.minimum(lo[:, None] + np.arange(W, dtype=np.float64)[None, :], hi[:, None])
    return _tail_sum(k, F, P, r, simd, lo)   # beyond hi: k stays at hi, no contribution


def _exact_cdf(n, K, T, lo, hi, W: int) -> np.ndarray:
    """``[U, W]`` CDF at ``lo .. lo + W - 1`` (1 from ``hi`` on) by the pmf's ratio recurrence
    ``pmf(k+1) / pmf(k) = (K-k)(n-k) / ((k+1)(T-K-n+k+1))``, as a running product (a row
    that overflows it takes the same recurrence in logs)."""
    k = lo[:, None] + np.arange(W - 1, dtype=np.float64)[None, :]
    num = np.maximum(K[:, None] - k, 0.0) * np.maximum(n[:, None] - k, 0.0)
    den = (k + 1.0) * (T[:, None] - K[:, None] - n[:, None] + k + 1.0)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        pmf = np.concatenate([np.ones((len(n), 1)), np.cumprod(num / den, axis=1)], axis=1)
        bad = ~np.isfinite(pmf).all(axis=1)
        if bad.any():
            logp = np.cumsum(np.log(num[bad]) - np.log(den[bad]), axis=1)
            logp = np.concatenate([np.zeros((bad.sum(), 1)), logp], axis=1)
            pmf[bad] = np.exp(logp - logp.max(axis=1, keepdims=True))
    pmf = np.where(lo[:, None] + np.arange(W)[None, :] <= hi[:, None], pmf, 0.0)
    return np.cumsum(pmf, axis=1) / pmf.sum(axis=1, keepdims=True)


def _approx(n, K, T, P, r, simd, lo, hi, mu, sd) -> np.ndarray:
    """Expected maximum from the Edgeworth-corrected normal CDF. Where the step time takes at
    most ``GRID`` values over the window, the CDF is taken just below each of its jumps;
    otherwise on a ``GRID``-cell grid, each cell's increment weighted at its midpoint."""
    g_lo, g_hi = step_cycles(lo, r, simd), step_cycles(hi, r, simd)
    j = np.arange(GRID + 1, dtype=np.float64)[None, :]
    # by jumps: g(k) >= v from k_v = floor((v - 1 + 1e-9) simd / r) + 1 on
    v = g_lo[:, None] + 1.0 + j[:, :-1]
    kv = np.floor((v - 1.0 + 1e-9) * (simd / r)[:, None]) + 1.0
    at_jumps = np.where(v <= g_hi[:, None], _cdf(kv - 1.0, n, K, T, mu, sd), 1.0)
    # by cells: edges k, CDF at each cell's middle integer
    h = np.maximum(1.0, np.ceil((hi - lo) / GRID))
    k = np.minimum(lo[:, None] + j * h[:, None], hi[:, None])
    mid = np.floor((k[:, :-1] + k[:, 1:] - 1.0) / 2.0)
    dg = step_cycles(k[:, 1:], r[:, None], simd[:, None]) - step_cycles(
        k[:, :-1], r[:, None], simd[:, None])
    few = (g_hi - g_lo <= GRID)[:, None]
    weight = np.where(few, 1.0, dg)
    F = np.where(few, at_jumps, _cdf(mid, n, K, T, mu, sd))
    return g_lo + (weight * -np.expm1(P[:, None] * np.log(np.clip(F, 1e-300, 1.0)))).sum(axis=1)


def _cdf(k, n, K, T, mu, sd) -> np.ndarray:
    """``P(X <= k)``: normal with continuity correction and the skewness (Edgeworth) term."""
    z = (k + 0.5 - mu[:, None]) / sd[:, None]
    skew = ((T - 2 * K) * np.sqrt(np.maximum(T - 1.0, 1.0)) * (T - 2 * n)
            / (np.sqrt(np.maximum(n * K * (T - K) * (T - n), 1e-300)) * np.maximum(T - 2, 1.0)))
    F = ndtr(z) - np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) * skew[:, None] / 6 * (z * z - 1)
    return np.clip(F, 0.0, 1.0)


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


def sat(mask: np.ndarray) -> np.ndarray:
    """Summed-area table of ``mask`` (zero-padded in front on every axis)."""
    s = np.asarray(mask).astype(np.int64)
    for ax in range(s.ndim):
        s = np.cumsum(s, axis=ax)
    return np.pad(s, [(1, 0)] * s.ndim)


def box_sum(table, lo, hi):
    """Sum of the mask over boxes ``[lo, hi)`` (lists of broadcastable index arrays)."""
    total = 0
    for corner in product((0, 1), repeat=len(lo)):
        idx = tuple(h if c else lo_ for c, lo_, h in zip(corner, lo, hi))
        sign = (-1) ** (len(lo) - sum(corner))
        total = total + sign * table[idx]
    return total


def mask_key(mask: np.ndarray) -> str:
    """Content digest of a boolean mask (its shape and packed bits): the cache key."""
    h = hashlib.blake2b(str(mask.shape).encode(), digest_size=16)
    h.update(np.packbits(np.asarray(mask, dtype=bool)).tobytes())
    return h.hexdigest()


def tile_distribution(mask: np.ndarray, key: str, tile, stride, axis: int = -1,
                      units: int = 1):
    """Sorted distinct per-step maxima of the nonzero counts of the tiles of shape ``tile``
    whose starts step by ``stride`` (whole tiles only; a tile wider than the tensor is
    clipped), ``units`` consecutive tiles along ``axis`` per step (the spatial assignment;
    ``axis`` -1: one tile per step), and their CDF; cached per argument set."""
    tile = tuple(int(min(max(t, 1), D)) for t, D in zip(tile, mask.shape))
    stride = tuple(int(max(o, 1)) for o in stride)
    units = int(units) if axis >= 0 else 1
    ck = (key, tile, stride, int(axis), units)
    hit = _tile_counts.get(ck)
    if hit is not None:
        return hit
    table = _sats.get(key)
    if table is None:
        if len(_sats) >= MASK_SATS:
            _sats.clear()
        table = _sats[key] = sat(mask)
    lo, hi = [], []
    for ax, (m, o, D) in enumerate(zip(tile, stride, mask.shape)):
        shape = [1] * mask.ndim
        shape[ax] = -1
        start = np.arange(0, D - m + 1, o).reshape(shape)
        lo.append(start)
        hi.append(start + m)
    counts = np.asarray(box_sum(table, lo, hi))
    if units > 1:   # steps of `units` consecutive tiles along the spatial axis: their maximum
        c = np.moveaxis(counts, axis, -1)
        pad = -c.shape[-1] % units
        c = np.pad(c, [(0, 0)] * (c.ndim - 1) + [(0, pad)], constant_values=-1)
        counts = c.reshape(*c.shape[:-1], -1, units).max(axis=-1)
    vals, cnt = np.unique(counts.ravel(), return_counts=True)
    out = (vals.astype(np.float64), np.cumsum(cnt) / cnt.sum())
    if len(_tile_counts) >= MASK_TILES:
        _tile_counts.clear()
    _tile_counts[ck] = out
    return out


def mask_expected_max_cycles(mask: np.ndarray, key: str, tile, stride, axis, units, P, r,
                             simd) -> np.ndarray:
    """Expected step time of ``P`` active units on a mask's tiles: within a group of ``units``
    units the tiles are the mapping's (``units`` consecutive tiles along ``axis``, -1 when the
    spatial dim is not one of the tensor's), the ``P / units`` groups draw their step maxima
    independently from :func:`tile_distribution`. ``tile``, ``stride`` are ``[B, ndim]`` (the
    mask's axes), the rest broadcast to ``[B]``; one distribution per distinct geometry of the
    batch, one sum per distinct ``(groups, r, simd)``."""
    B = len(tile)
    col = lambda a: np.broadcast_to(np.asarray(a), (B,))[:, None]  # noqa: E731
    geom = np.concatenate([np.asarray(tile, dtype=np.int64), np.asarray(stride, dtype=np.int64),
                           col(axis).astype(np.int64), col(units).astype(np.int64)], axis=1)
    groups = np.maximum(1.0, np.rint(np.asarray(P, dtype=np.float64)
                                     / np.maximum(col(units)[:, 0], 1)))
    args = np.concatenate([col(groups), col(r), col(simd)], axis=1).astype(np.float64)
    shapes, which = np.unique(geom, axis=0, return_inverse=True)
    which = which.ravel()
    out = np.empty(B)
    nd = mask.ndim
    for u, row in enumerate(shapes):       # the few distinct tile geometries of the batch
        sel = np.flatnonzero(which == u)
        vals, F = tile_distribution(mask, key, row[:nd], row[nd:2 * nd], int(row[-2]),
                                    int(row[-1]))
        cases, inv = np.unique(args[sel], axis=0, return_inverse=True)
        p, rr, s = (c[:, None] for c in cases.T)
        Fp = np.exp(p * np.log(np.clip(F[None, :], 1e-300, 1.0)))
        w = np.diff(Fp, axis=1, prepend=0.0)
        out[sel] = (step_cycles(vals[None, :], rr, s) * w).sum(axis=1)[inv.ravel()]
    return out
