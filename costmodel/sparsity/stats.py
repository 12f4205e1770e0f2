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
nonzero counts of every tile position, the maximum over the tiles the mapping gives one group
of units in a step, one empirical distribution per distinct (mask, tile, stride, spatial axis,
units), and the expected maximum over ``G`` groups drawing from it,
``E[g(max)] = sum_k g(k) (F(k)^G - F(k-1)^G)`` (``g`` is non-decreasing). The tile counts are
window sums taken axis by axis (small integer types), shared by the geometries of a batch that
agree on the axes reduced so far, abutting windows built from a cached window dividing them;
the distributions are kept per mask in flat arrays looked up by sorted geometry keys, and the
sums run over all cases whose distributions have the same length at once.
"""

from __future__ import annotations

import hashlib
from itertools import product

import numpy as np

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
#: masks whose tile distributions are kept, and distributions kept per mask
MASK_SATS, MASK_TILES = 4, 16384
#: per mask digest: sorted geometry keys, each one's start and length in the flat arrays of
#: distinct step maxima and their CDF
_dists: dict[str, tuple[np.ndarray, ...]] = {}
#: widest abutting window summed from strided slices without a smaller window to build on
#: (wider: the summed-area table)
SLICES = 4
#: bytes of partial window sums and summed-area tables kept between calls (all masks)
PART_BYTES = 1 << 26
_parts: dict[str, dict[tuple, np.ndarray]] = {}
_part_bytes = 0
#: geometries with at most this many tile positions are computed together
#: (:func:`_small_distributions`)
SMALL_POSITIONS = 1 << 11


def tile_count(D, m, o):
    """Tiles of ``m`` elements stepping by ``o`` along an axis of ``D`` (the last one may be
    cut by the axis' end); integers or arrays. Where tiles leave gaps (``o > m``: a strided
    Y/X directive whose rows MAESTRO's stride adjustment packs), a tile that would start at or
    past the end holds nothing and is not counted."""
    return np.where(D <= m, 1, np.minimum(-(-(D - m) // o) + 1, -(-D // o)))


def step_cycles(k, r, simd):
    """Cycles of a unit with ``k`` kept operands, each used ``r`` times, on ``simd`` lanes
    (at least one cycle: the step still has to check its metadata). The work is a whole
    number of MACs: ``r k`` (a mean number of uses where ``r`` is fractional, e.g. an input
    row used by fewer filter rows at a window's edge) is rounded to the nearest one before
    the lanes divide it (a half taken as either neighbour with equal weight), so the ceiling
    adds no half cycle of rounding on average; a whole ``r k`` is unchanged."""
    w = r * k
    if not (np.asarray(r) % 1.0).any():       # whole uses (e.g. every weight): no rounding
        return np.maximum(1.0, np.ceil(w / simd - 1e-9))
    up = np.ceil(np.floor(w + 0.5) / simd - 1e-9)
    down = np.ceil(np.ceil(w - 0.5) / simd - 1e-9)
    return np.maximum(1.0, 0.5 * (up + down))


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


#: expected maxima of steps with an edge unit, by argument row (then the cache starts over)
_mixed_cache: dict[bytes, float] = {}


def expected_max_mixed(n, k, n_edge, k_edge, d, r, simd, total) -> np.ndarray:
    """``E[step_cycles(max)]`` over ``k`` units of ``n``-element tiles and ``k_edge`` units of
    ``n_edge``-element tiles (a spatial edge tile), occupancies independent
    hypergeometric as in :func:`expected_max_cycles` (which it is where either count is 0);
    every argument broadcasts to ``[B]``. Both laws are taken on one integer grid from the
    ``n``-tile window's low end (the maximum is rarely below it) to the higher window's top,
    exactly where the windows are narrow, else by the Edgeworth-corrected normal at ``GRID``
    cell midpoints; each distinct argument row once, cached."""
    args = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64)
                                 for a in (n, k, n_edge, k_edge, d, r, simd, total)))
    n, k, ne, ke, d, r, simd, total = args
    out = np.empty(n.shape)
    plain, only_edge = ke == 0, (k == 0) & (ke > 0)
    both = ~plain & ~only_edge
    if plain.any():
        out[plain] = expected_max_cycles(n[plain], d[plain], k[plain], r[plain],
                                         simd[plain], total[plain])
    if only_edge.any():
        o = only_edge
        out[o] = expected_max_cycles(ne[o], d[o], ke[o], r[o], simd[o], total[o])
    if both.any():
        rows = np.ascontiguousarray(np.stack([a[both] for a in args], axis=1))
        keys, inv = np.unique(rows.view(np.dtype((np.void, 64))).ravel(), return_inverse=True)
        vals = np.array([_mixed_cache.get(key.tobytes(), np.nan) for key in keys])
        miss = np.flatnonzero(np.isnan(vals))
        if len(miss):
            vals[miss] = _mixed(keys[miss].view(np.float64).reshape(-1, 8))
            if len(_mixed_cache) + len(miss) > CACHE_SIZE:
                _mixed_cache.clear()
            for j in miss:
                _mixed_cache[keys[j].tobytes()] = float(vals[j])
        out[both] = vals[inv.ravel()]
    return out


def _law_cdf(x, n, K, T, lo, hi, exact) -> np.ndarray:
    """``P(X <= x)`` at the points ``x`` ``[U, W]`` of hypergeometric laws whose windows are
    ``[lo, hi]``: from the exact pmf on the window where ``exact``, else from the
    Edgeworth-corrected normal (0 below the window, 1 from its top)."""
    F = np.empty(x.shape)
    _, _, mu, sd = _window(n, K, T)
    if exact.any():
        e = exact
        W = int((hi[e] - lo[e]).max()) + 1
        table = _exact_cdf(n[e], K[e], T[e], lo[e], hi[e], W)
        idx = (x[e] - lo[e, None]).astype(np.int64)
        F[e] = np.where(idx < 0, 0.0, np.take_along_axis(table, np.clip(idx, 0, W - 1), 1))
    if (~exact).any():
        a = ~exact
        F[a] = _cdf(x[a], n[a], K[a], T[a], mu[a], sd[a])
    return np.where(x >= hi[:, None], 1.0, np.where(x < lo[:, None], 0.0, F))


def _mixed(rows: np.ndarray) -> np.ndarray:
    """:func:`expected_max_mixed` of distinct argument rows ``[U, 8]`` with both counts
    positive."""
    n, k, ne, ke, d, r, simd, total = rows.T
    total = np.maximum(total, np.maximum(n, ne))
    K = np.clip(np.rint(d * total), 0, total)
    lo1, hi1, _, _ = _window(n, K, total)
    lo2, hi2, _, _ = _window(ne, K, total)
    lo, hi = lo1, np.maximum(hi1, hi2)
    h = np.maximum(1.0, np.ceil((hi - lo) / EXACT_WIDTH))   # 1: every integer
    J = int(np.ceil((hi - lo) / h).max()) + 1
    x = np.minimum(lo[:, None] + np.arange(J)[None, :] * h[:, None], hi[:, None])
    # the CDF where the step time may rise between grid points: at each cell's last integer
    at = np.where(h[:, None] > 1, np.floor((x[:, :-1] + x[:, 1:] - 1.0) / 2.0), x[:, :-1])
    exact = lambda lo_, hi_: hi_ - lo_ + 1 <= EXACT_WIDTH  # noqa: E731
    Fm = (_law_cdf(at, n, K, total, lo1, hi1, exact(lo1, hi1)) ** k[:, None]
          * _law_cdf(at, ne, K, total, lo2, hi2, exact(lo2, hi2)) ** ke[:, None])
    g = step_cycles(x, r[:, None], simd[:, None])
    return g[:, 0] + (np.diff(g, axis=1) * (1.0 - Fm)).sum(axis=1)


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


def _distinct(cols) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows ``[U, c]`` of the float columns ``cols`` (as bytes) and each row's
    index among them."""
    rows = np.ascontiguousarray(np.stack(cols, axis=1), dtype=np.float64)
    keys, inv = np.unique(rows.view(np.dtype((np.void, 8 * len(cols)))).ravel(),
                          return_inverse=True)
    return keys.view(np.float64).reshape(len(keys), len(cols)), inv.ravel()


def _exact(n, K, T, P, r, simd, lo, hi) -> np.ndarray:
    """Exact expected maximum from the pmf at every integer of ``[lo, hi]`` (``[U, W]``):
    ``g(lo) + sum_k (g(k+1) - g(k)) (1 - F(k)^P)`` (``g = step_cycles``). Rows repeat
    their parts: the CDF is computed once per distinct ``(n, K, T)``, its power per distinct
    ``(n, K, T, P)``, the step times per distinct ``(lo, hi, r, simd)``."""
    W = int((hi - lo).max()) + 1
    cases, which = _distinct([n, K, T])
    first = np.zeros(len(cases), dtype=np.int64)
    first[which] = np.arange(len(n))
    F = _exact_cdf(*cases.T, lo[first], hi[first], W)
    steps, gi = _distinct([lo, hi, r, simd])
    # beyond hi, k stays at hi: no contribution
    k = np.minimum(steps[:, 0, None] + np.arange(W, dtype=np.float64)[None, :], steps[:, 1, None])
    g = step_cycles(k, steps[:, 2, None], steps[:, 3, None])
    powers, ti = _distinct([which.astype(np.float64), P])
    tail = -np.expm1(powers[:, 1, None] * np.log(np.clip(F[powers[:, 0].astype(np.int64), :-1],
                                                          1e-300, 1.0)))
    return g[gi, 0] + (np.diff(g, axis=1)[gi] * tail[ti]).sum(axis=1)


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
    # by jumps, for each of the two roundings of a half (step_cycles takes their mean): the
    # rounded work reaches (v - 1) simd + 1 from r k >= (v - 1) simd + 1/2 (half up) or
    # r k > (v - 1) simd + 1/2 (half down) on
    tail_j = 0.0
    for half_up in (True, False):
        b = np.maximum(1.0, np.ceil((np.floor(r * lo + 0.5) if half_up else np.ceil(
            r * lo - 0.5)) / simd - 1e-9))
        top = np.maximum(1.0, np.ceil((np.floor(r * hi + 0.5) if half_up else np.ceil(
            r * hi - 0.5)) / simd - 1e-9))
        v = b[:, None] + 1.0 + j[:, :-1]
        x = ((v - 1.0) * simd[:, None] + 0.5) / r[:, None]
        kv = np.ceil(x - 1e-9) if half_up else np.floor(x + 1e-9) + 1.0
        F = np.where(v <= top[:, None], _cdf(kv - 1.0, n, K, T, mu, sd), 1.0)
        tail_j = tail_j + 0.5 * (-np.expm1(P[:, None] * np.log(np.clip(F, 1e-300, 1.0))))
        tail_j = tail_j + 0.5 * (b - g_lo)[:, None] * (j[:, :-1] == 0)  # its own start
    # by cells: edges k, CDF at each cell's middle integer
    h = np.maximum(1.0, np.ceil((hi - lo) / GRID))
    k = np.minimum(lo[:, None] + j * h[:, None], hi[:, None])
    mid = np.floor((k[:, :-1] + k[:, 1:] - 1.0) / 2.0)
    dg = step_cycles(k[:, 1:], r[:, None], simd[:, None]) - step_cycles(
        k[:, :-1], r[:, None], simd[:, None])
    few = (g_hi - g_lo <= GRID - 1)[:, None]
    F = _cdf(mid, n, K, T, mu, sd)
    cells = dg * -np.expm1(P[:, None] * np.log(np.clip(F, 1e-300, 1.0)))
    return g_lo + np.where(few, tail_j, cells).sum(axis=1)


def _cdf(k, n, K, T, mu, sd) -> np.ndarray:
    """``P(X <= k)``: normal with continuity correction and the skewness (Edgeworth) term."""
    from scipy.special import ndtr  # local: scipy.special takes 0.15 s to import, and every
    # search worker imports this module
    z = (k + 0.5 - mu[:, None]) / sd[:, None]
    skew = ((T - 2 * K) * np.sqrt(np.maximum(T - 1.0, 1.0)) * (T - 2 * n)
            / (np.sqrt(np.maximum(n * K * (T - K) * (T - n), 1e-300)) * np.maximum(T - 2, 1.0)))
    F = ndtr(z) - np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi) * skew[:, None] / 6 * (z * z - 1)
    return np.clip(F, 0.0, 1.0)


def mean_cycles(n, d, r, simd) -> np.ndarray:
    """The mean-only model: the step time of a unit holding the expected occupancy (its
    work rounded up to whole cycles)."""
    work = np.asarray(n, dtype=np.float64) * np.asarray(d, dtype=np.float64) * r
    return np.maximum(1.0, np.ceil(work / simd - 1e-9))


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


def _window_sums(X, ax: int, m: int, o: int, parent, dtype):
    """Nonzeros of the windows ``[s, s + m)``, ``s = 0, o, 2o, ...`` (whole windows), along
    axis ``ax`` of the partial-count array ``X``: the whole axis, every ``o``-th element
    (``m`` 1), or abutting windows (``o == m``) as ``f`` strided slices of
    ``parent = (f, array of m/f-windows)`` or ``m`` slices of ``X``."""
    D = X.shape[ax]
    lead = (slice(None),) * ax
    if m == D:
        return X.sum(axis=ax, keepdims=True, dtype=dtype)
    if m == 1:
        return X[lead + (slice(0, None, o),)]
    if o == m:
        f, src = parent if parent is not None else (m, X)
        src = src[lead + (slice(0, D // m * f),)]
        part = lambda j: src[lead + (slice(j, None, f),)]  # noqa: E731
        acc = np.add(part(0), part(1), dtype=dtype)
        for j in range(2, f):
            acc += part(j)
        return acc
    raise ValueError("window sums by slices need abutting windows")


def _group_max(counts, axis: int, units: int):
    """Per step, the maximum over ``units`` consecutive tiles along ``axis`` (the last group
    may be partial)."""
    if units >= 16:
        c = np.moveaxis(counts, axis, -1)
        full = c.shape[-1] // units * units
        out = c[..., :full].reshape(*c.shape[:-1], -1, units).max(axis=-1)
        if full < c.shape[-1]:
            out = np.concatenate([out, c[..., full:].max(axis=-1, keepdims=True)], axis=-1)
        return out
    lead = (slice(None),) * axis
    acc = counts[lead + (slice(0, None, units),)].copy()
    for j in range(1, units):
        s = counts[lead + (slice(j, None, units),)]
        part = acc[lead + (slice(0, s.shape[axis]),)]
        np.maximum(part, s, out=part)
    return acc


def _histogram(counts: np.ndarray) -> np.ndarray:
    """``np.bincount`` of nonnegative counts; large int8 or bool arrays are counted two at a time
    (as uint16 pairs, then both bytes' marginals), which avoids a widening copy."""
    flat = counts.ravel()
    if flat.dtype not in (np.bool_, np.int8) or len(flat) < (1 << 15):
        return np.bincount(flat.astype(np.intp))
    flat = flat.view(np.uint8)
    even = len(flat) // 2 * 2
    pairs = np.bincount(flat[:even].view(np.uint16), minlength=1 << 16).reshape(256, 256)
    hist = pairs.sum(axis=0) + pairs.sum(axis=1)
    if even < len(flat):
        hist[flat[-1]] += 1
    return hist


def _keep(key: str, k: tuple, arr: np.ndarray) -> np.ndarray:
    """Keep a partial-count array of mask ``key`` between calls (all start over past
    ``PART_BYTES``, but for this mask's summed-area table: the mask in use keeps it)."""
    global _part_bytes
    if _part_bytes + arr.nbytes > PART_BYTES:
        table = _parts.get(key, {}).get(("sat",))
        for d in _parts.values():
            d.clear()
        _part_bytes = 0
        if table is not None:
            _parts[key][("sat",)] = table
            _part_bytes = table.nbytes
    _parts.setdefault(key, {})[k] = arr
    _part_bytes += arr.nbytes
    return arr


def _sat32(mask: np.ndarray, key: str) -> np.ndarray:
    """The mask's summed-area table in int32 (zero-padded in front), kept between calls."""
    table = _parts.get(key, {}).get(("sat",))
    if table is None:
        table = np.asarray(mask, dtype=np.int32)
        for ax in range(table.ndim):
            table = np.cumsum(table, axis=ax, dtype=np.int32)
        table = _keep(key, ("sat",), np.pad(table, [(1, 0)] * table.ndim))
    return table


def _by_slices(geoms: np.ndarray, shape) -> np.ndarray:
    """Geometries whose every axis the slices route handles (whole axis, single elements, or
    abutting windows down a chain of halves and thirds to ``SLICES`` elements): they need no
    summed-area table."""
    nd = len(shape)
    m, o = geoms[:, :nd].copy(), geoms[:, nd:2 * nd]
    ok = (m == np.asarray(shape)) | (m == 1)
    ab = o == m
    while True:                       # halve / third while above SLICES (<= 64 rounds)
        live = m > SLICES
        two, three = live & (m % 2 == 0), live & (m % 2 != 0) & (m % 3 == 0)
        if not (two.any() or three.any()):
            break
        m = np.where(two, m // 2, np.where(three, m // 3, m))
    return (ok | (ab & (m <= SLICES))).all(axis=1)


def _small_distributions(mask: np.ndarray, key: str, geoms: np.ndarray):
    """:func:`_distributions` for geometries with few tile positions, all at once: every
    position of every geometry (the spatial axis varying fastest) from ``2^ndim`` gathers of
    the summed-area table, each step's maximum by one ``maximum.reduceat``, the histograms by
    one ``np.unique`` of (geometry, count) codes. Returns ``(lengths, values, CDFs)``."""
    nd = mask.ndim
    shape = np.asarray(mask.shape, dtype=np.int64)
    table = _sat32(mask, key)
    tile, stride = geoms[:, :nd], geoms[:, nd:2 * nd]
    axis, units = geoms[:, -2], geoms[:, -1]
    n = (shape - tile) // stride + 1                 # whole tiles per axis
    # axis order per geometry: the spatial axis last (others in order)
    spatial = np.where(axis >= 0, axis, nd - 1)
    perm = np.argsort(np.where(np.arange(nd)[None, :] == spatial[:, None], nd, 0)
                      + np.arange(nd)[None, :], axis=1, kind="stable")
    n_p = np.take_along_axis(n, perm, axis=1)
    P = n_p.prod(axis=1)
    g = np.repeat(np.arange(len(geoms)), P)
    local = np.arange(P.sum()) - np.repeat(np.cumsum(P) - P, P)
    inner = np.cumprod(n_p[:, ::-1], axis=1)[:, ::-1]  # positions per step of each axis
    inner = np.concatenate([inner[:, 1:], np.ones((len(geoms), 1), np.int64)], axis=1)
    sat_strides = np.array(table.strides, dtype=np.int64) // table.itemsize
    lo = np.zeros(len(g), dtype=np.int64)
    ext = []
    rep = lambda v: np.repeat(v, P)  # noqa: E731  (per geometry -> per position)
    for j in range(nd):                               # j-th axis of each geometry's order
        ax = perm[:, j]
        idx = (local // rep(inner[:, j])) % rep(n_p[:, j])
        lo += idx * rep(np.take_along_axis(stride, ax[:, None], 1)[:, 0] * sat_strides[ax])
        ext.append(rep(np.take_along_axis(tile, ax[:, None], 1)[:, 0] * sat_strides[ax]))
        if j == nd - 1:
            last = idx                                # index along the spatial axis
    flat = table.ravel()
    counts = np.zeros(len(g), dtype=np.int64)
    for corner in product((0, 1), repeat=nd):
        off = lo.copy()
        for j, c in enumerate(corner):
            if c:
                off += ext[j]
        counts += (-1) ** (nd - sum(corner)) * flat[off]
    # steps: runs of `units` consecutive tiles along the spatial axis of one row
    u = rep(np.where(axis >= 0, units, 1))
    new_step = np.ones(len(g), dtype=bool)
    new_step[1:] = (g[1:] != g[:-1]) | (last[1:] % u[1:] == 0)
    starts = np.flatnonzero(new_step)
    peak = np.maximum.reduceat(counts, starts)
    pg = g[starts]
    top = int(peak.max()) + 1
    vals, cnt = np.unique(pg * top + peak, return_counts=True)
    seg = vals // top
    run = np.cumsum(cnt)
    lens = np.bincount(seg, minlength=len(geoms))
    last_i = np.cumsum(lens) - 1
    before = np.concatenate([[0], run[last_i[:-1]]])
    total = run[last_i] - before
    F = (run - np.repeat(before, lens)) / np.repeat(total, lens)
    return lens, (vals % top).astype(np.float64), F


def _box_counts(mask: np.ndarray, key: str, tile, stride) -> np.ndarray:
    """Nonzeros of every whole tile from the mask's summed-area table (int32, kept between
    calls): ``2^ndim`` strided views of the table, one per box corner, the route for
    windows too wide to sum from slices."""
    table = _sat32(mask, key)
    lo, hi = [], []
    for m, o, D in zip(tile, stride, mask.shape):
        m, o = int(m), int(o)
        last = (D - m) // o * o                      # start of the last whole tile
        lo.append(slice(0, last + 1, o))
        hi.append(slice(m, m + last + 1, o))
    total = None
    for corner in product((0, 1), repeat=mask.ndim):
        view = table[tuple(h if c else lo_ for c, lo_, h in zip(corner, lo, hi))]
        if total is None:
            total = view.astype(np.int32, copy=True)
            if (mask.ndim - sum(corner)) % 2:
                np.negative(total, out=total)
        elif (mask.ndim - sum(corner)) % 2:
            total -= view
        else:
            total += view
    return total


def _distributions(mask: np.ndarray, key: str,
                   geoms: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Sorted distinct per-step maxima and their CDF for each geometry row ``(tile, stride,
    axis, units)`` (normalised: tiles within the tensor, strides and units at least 1).
    Axes are reduced from the last to the first by strided slices; a partial (the window
    sums over the axes reduced so far) is shared by the geometries that agree on those axes,
    within the call and, but for the last axis, between calls; an abutting window is built
    from one half, a third or a quarter its size where one is at hand, or from ``SLICES`` or
    fewer elements. Other windows (wider, overlapping or with gaps) come from the summed-area
    table (:func:`_box_counts`)."""
    nd = mask.ndim
    shape = mask.shape
    kept = _parts.setdefault(key, {})
    local: dict[tuple, np.ndarray] = {}
    out: list = [None] * len(geoms)
    n = (np.asarray(shape) - geoms[:, :nd]) // geoms[:, nd:2 * nd] + 1
    few = np.flatnonzero((n.prod(axis=1) <= SMALL_POSITIONS) & ~_by_slices(geoms, shape))
    if len(few):
        lens, vals, F = _small_distributions(mask, key, geoms[few])
        ends = np.cumsum(lens)
        for i, a, b in zip(few, ends - lens, ends):
            out[i] = (vals[a:b], F[a:b])
    geoms = geoms.copy()
    geoms[few] = -1                                  # done

    def find(k):
        hit = local.get(k)
        return kept.get(k) if hit is None else hit

    for i in np.lexsort(geoms[:, :nd].T[::-1]):    # ascending tiles: divisors come first
        row = geoms[i]
        if row[0] < 0:
            continue
        state: tuple = ()
        X = mask
        volume = 1
        for ax in range(nd - 1, -1, -1):
            m, o = int(row[ax]), int(row[nd + ax])
            if m == shape[ax]:
                o = m                                # one whole window, whatever the stride
            volume *= m
            new = ((ax, m, o),) + state
            Y = find(new)
            if Y is None:
                parent = None
                if o == m:
                    for f in (2, 3, 4):
                        src = find(((ax, m // f, m // f),) + state) if m % f == 0 else None
                        if src is not None:
                            parent = (f, src)
                            break
                if not (m in (1, shape[ax]) or o == m and (parent or m <= SLICES)):
                    X = _box_counts(mask, key, row[:nd], row[nd:2 * nd])
                    break                            # wide windows: the summed-area table
                dtype = (np.int8 if volume < (1 << 7) else np.int16 if volume < (1 << 15)
                         else np.int32)
                Y = _window_sums(X, ax, m, o, parent, dtype)
                if ax > 0:
                    _keep(key, new, Y)
                else:
                    local[new] = Y
            X, state = Y, new
        axis, units = int(row[-2]), int(row[-1])
        counts = _group_max(X, axis, units) if axis >= 0 and units > 1 else X
        hist = _histogram(counts)
        vals = np.flatnonzero(hist)
        cnt = hist[vals]
        out[i] = (vals.astype(np.float64), np.cumsum(cnt) / cnt.sum())
    return out


def _stored(mask: np.ndarray, key: str, gkeys: np.ndarray):
    """Start and length of each geometry's distribution (``gkeys``: distinct void rows) in
    the mask's flat store, computing the missing ones; returns them with the store's values
    and CDF."""
    st = _dists.get(key)
    hit, pos = np.zeros(len(gkeys), dtype=bool), np.zeros(len(gkeys), dtype=np.int64)
    if st is not None and len(st[0]):
        pos = np.minimum(np.searchsorted(st[0], gkeys), len(st[0]) - 1)
        hit = st[0][pos] == gkeys
        if len(st[0]) + (~hit).sum() > MASK_TILES:
            st, hit = None, hit & False              # full: the mask's store starts over
    if st is None:
        if key not in _dists and len(_dists) >= MASK_SATS:
            _dists.clear()
        st = _dists[key] = (gkeys[:0], np.empty(0, np.int64), np.empty(0, np.int64),
                            np.empty(0), np.empty(0))
    ks, start, length, vals, F = st
    if not hit.all():
        new = gkeys[~hit]
        rows = new.view(np.int64).reshape(len(new), -1)
        dist = _distributions(mask, key, rows)
        lens = np.array([len(v) for v, _ in dist], dtype=np.int64)
        starts = len(vals) + np.concatenate([[0], np.cumsum(lens)[:-1]])
        vals = np.concatenate([vals] + [v for v, _ in dist])
        F = np.concatenate([F] + [f for _, f in dist])
        ks, start, length = (np.concatenate([ks, new]), np.concatenate([start, starts]),
                             np.concatenate([length, lens]))
        order = np.argsort(ks, kind="stable")
        ks, start, length = ks[order], start[order], length[order]
        _dists[key] = (ks, start, length, vals, F)
        pos = np.searchsorted(ks, gkeys)
    return start[pos], length[pos], vals, F


def tile_distribution(mask: np.ndarray, key: str, tile, stride, axis: int = -1,
                      units: int = 1):
    """Sorted distinct per-step maxima of the nonzero counts of the tiles of shape ``tile``
    whose starts step by ``stride`` (whole tiles only; a tile wider than the tensor is
    clipped), ``units`` consecutive tiles along ``axis`` per step (the spatial assignment;
    ``axis`` -1: one tile per step), and their CDF; cached per argument set."""
    geom = _geometry(mask, np.asarray([tile]), np.asarray([stride]), axis, units, 1)
    s, n, vals, F = _stored(mask, key, geom.view(_geom_key(mask)).ravel())
    return vals[s[0]:s[0] + n[0]], F[s[0]:s[0] + n[0]]


def _geom_key(mask: np.ndarray) -> np.dtype:
    return np.dtype((np.void, (2 * mask.ndim + 2) * 8))


def _geometry(mask, tile, stride, axis, units, B: int) -> np.ndarray:
    """``[B, 2 ndim + 2]`` normalised geometry rows: tiles clipped to the tensor, strides and
    units at least 1, one unit where the spatial dim is not the tensor's."""
    tile = np.minimum(np.maximum(np.asarray(tile, dtype=np.int64), 1), np.asarray(mask.shape))
    stride = np.maximum(np.asarray(stride, dtype=np.int64), 1)
    axis = np.broadcast_to(np.asarray(axis, dtype=np.int64), (B,))
    units = np.where(axis >= 0, np.maximum(np.broadcast_to(units, (B,)).astype(np.int64), 1), 1)
    return np.ascontiguousarray(np.concatenate([tile, stride, axis[:, None], units[:, None]],
                                               axis=1))


_last_lookup: list = []


def _looked_up(mask: np.ndarray, key: str, tile, stride, axis, units):
    """Each candidate's distinct-geometry index and, per distinct geometry, its distribution's
    place in the mask's store (with the store's values and CDF); the last batch's answer is
    kept, since a model call asks for the buffer sizes and the step time of the same tiles."""
    B = len(tile)
    geom = _geometry(mask, tile, stride, axis, units, B)
    if _last_lookup and _last_lookup[0] == key and np.array_equal(_last_lookup[1], geom):
        return _last_lookup[2]
    gkeys, ginv = np.unique(geom.view(_geom_key(mask)).ravel(), return_inverse=True)
    start, length, vals, F = _stored(mask, key, gkeys)
    found = (ginv.ravel(), start, length, vals, F)
    _last_lookup[:] = [key, geom, found]
    return found


def mask_expected_max_cycles(mask: np.ndarray, key: str, tile, stride, axis, units, P, r,
                             simd) -> np.ndarray:
    """Expected step time of ``P`` active units on a mask's tiles: within a group of ``units``
    units the tiles are the mapping's (``units`` consecutive tiles along ``axis``, -1 when the
    spatial dim is not one of the tensor's), the ``P / units`` groups draw their step maxima
    independently from :func:`tile_distribution`. ``tile``, ``stride`` are ``[B, ndim]`` (the
    mask's axes), the rest broadcast to ``[B]``. One distribution per distinct geometry of the
    batch (kept per mask between calls), one sum per distinct ``(geometry, groups, r, simd)``
    (in the order of the counts), all in one pass over the cases' segments."""
    B = len(tile)
    ginv, start, length, vals, F = _looked_up(mask, key, tile, stride, axis, units)
    col = lambda a: np.broadcast_to(np.asarray(a), (B,))  # noqa: E731
    groups = np.maximum(1.0, np.rint(np.asarray(P, dtype=np.float64)
                                     / np.maximum(col(units), 1)))
    rows = np.ascontiguousarray(np.stack([ginv.ravel().astype(np.float64), col(groups),
                                          col(r), col(simd)], axis=1).astype(np.float64))
    cases, inv = np.unique(rows.view(np.dtype((np.void, 32))).ravel(), return_inverse=True)
    cases = cases.view(np.float64).reshape(-1, 4)
    g = cases[:, 0].astype(np.int64)
    cs, cl = start[g], length[g]
    # every case's segment of the store end to end, each summed in order by one reduceat
    first = np.cumsum(cl) - cl
    idx = np.repeat(cs - first, cl) + np.arange(int(cl.sum()))
    p, rr, s = (np.repeat(cases[:, j], cl) for j in (1, 2, 3))
    Fp = np.exp(p * np.log(np.clip(F[idx], 1e-300, 1.0)))
    w = np.diff(Fp, prepend=0.0)
    w[first] = Fp[first]
    res = np.add.reduceat(step_cycles(vals[idx], rr, s) * w, first)
    return res[inv.ravel()]


def mask_max_count(mask: np.ndarray, key: str, tile, stride, axis, units) -> np.ndarray:
    """``[B]`` nonzeros of the fullest whole tile of each candidate's geometry (the largest
    value of its step-maximum distribution: every tile belongs to some step); shares the
    distributions of :func:`mask_expected_max_cycles`."""
    ginv, start, length, vals, _ = _looked_up(mask, key, tile, stride, axis, units)
    return vals[start + length - 1][ginv]


_floors: dict[str, float] = {}


def mask_floor_density(mask: np.ndarray, key: str) -> float:
    """Lowest density of a box ``[0, e_1) x ... x [0, e_d)`` with every extent at least half its
    axis, ``ceil(D / 2) <= e <= D``: the region the whole tiles of any abutting tiling cover
    (``floor(D / m) m >= ceil(D / 2)``), so no such mapping's mean tile is sparser. Cached per
    mask."""
    hit = _floors.get(key)
    if hit is None:
        table = sat(mask)
        idx = np.ix_(*[np.arange(-(-D // 2), D + 1) for D in mask.shape])
        vol = np.ones(1)
        for ix in idx:
            vol = vol * ix
        if len(_floors) >= MASK_SATS:
            _floors.clear()
        hit = _floors[key] = float((table[idx] / vol).min())
    return hit


def clear_caches() -> None:
    """Forget every cached statistic (a cold start, for speed measurements and tests)."""
    global _cache, _part_bytes
    _cache = (_cache[0][:0], _cache[1][:0])
    from . import nm  # local: nm builds on this module
    nm.clear_caches()
    for c in (_dists, _parts, _floors, _mixed_cache, _chain_cache, _chain_laws):
        c.clear()
    _part_bytes = 0
    _last_lookup.clear()


#: cells (thresholds x states) above which a chain of overlapping windows is taken as
#: independent units (:func:`expected_max_chain`)
CHAIN_CELLS = 1 << 21
_chain_cache: dict[bytes, float] = {}
_chain_laws: dict[tuple, list | None] = {}


def _binom_pmf(n: int, d: float) -> np.ndarray:
    """Binomial ``(n, d)`` pmf at ``0 .. n`` (a piece of a large tensor: its elements'
    occupancies independent)."""
    from scipy.stats import binom  # local: scipy.stats is slow to import
    return binom.pmf(np.arange(n + 1), n, d)


def chain_cdf(m: int, o: int, per: int, units: int, d: float, ks: np.ndarray):
    """``P(max_u X_u <= k)`` at ``ks`` (consecutive integers) for ``units`` windows of ``m``
    positions stepping by ``o < m`` along an axis, each position holding ``per`` elements of
    density ``d``: neighbouring windows share their overlap, so their counts are positively
    correlated. Exact (binomial elements) by a dynamic programme along the units: a window is
    cut into blocks of ``o`` positions (and a head of ``m mod o``); the state is the joint
    law, with the windows so far below ``k``, of the blocks the next window shares; per unit
    the window's own first block is summed out under the bound (a running sum read at ``k``
    minus the other blocks, by precomputed flat indices) and a new block enters. The laws of
    every chain length are kept (a shorter chain of the same windows reuses them). None where
    the state passes :data:`CHAIN_CELLS`."""
    key = (m, o, per, d, int(ks[0]), len(ks))
    entry = _chain_laws.get(key)
    if entry is None:
        entry = _chain_start(m, o, per, d, ks)
        if len(_chain_laws) >= CACHE_SIZE:
            _chain_laws.clear()
        _chain_laws[key] = entry
    if entry is None:
        return None
    laws, state = entry[0], entry[1]
    flat, weight, tail, G = entry[2:]
    while len(laws) < units:
        if tail is not None and laws:    # the last window's head grows into a whole block
            from scipy.signal import fftconvolve
            state[0] = np.maximum(fftconvolve(state[0], tail.reshape((1,) * G + (-1,)),
                                              axes=-1), 0.0)
        c = np.cumsum(state[0], axis=1)                  # over the window's first block
        state[0] = c.ravel()[flat] * weight              # [K, g1 .. g_{G-1}, new]
        laws.append(state[0].reshape(len(ks), -1).sum(axis=1))
    return laws[units - 1]


def _chain_start(m: int, o: int, per: int, d: float, ks: np.ndarray):
    """:func:`chain_cdf`'s programme before its first window: ``[laws, [state], flat indices,
    weights, tail block pmf or None, G]``, or None where it would pass :data:`CHAIN_CELLS`."""
    t, h = divmod(m, o)
    G = t if h else t - 1                   # blocks shared with the next window
    q = o * per
    qn = (h if h else o) * per              # the block that enters with each window
    K = len(ks)
    if K * (q + 1) ** G > CHAIN_CELLS:
        return None
    block, new = _binom_pmf(q, d), _binom_pmf(qn, d)
    f = np.ones((K,) + (q + 1,) * G)
    for a in range(G):
        shape = [1] * (G + 1)
        shape[a + 1] = q + 1
        f = f * block.reshape(shape)
    # the running sum c [K, x, g1 .. g_{G-1}] read at x = k - g1 - .. - new
    out_shape = (K,) + (q + 1,) * (G - 1) + (qn + 1,)
    ix = np.indices(out_shape, sparse=True)
    kk = ks.astype(np.int64).reshape((K,) + (1,) * G)
    x = kk - sum(ix[1:], np.zeros((1,) * (G + 1), dtype=np.int64))
    flat = ix[0] * (q + 1) ** G + np.clip(x, 0, q) * (q + 1) ** (G - 1)
    for a in range(1, G):
        flat = flat + ix[a] * (q + 1) ** (G - 1 - a)
    weight = (x >= 0) * new.reshape((1,) * G + (qn + 1,))
    tail = _binom_pmf((o - h) * per, d) if h else None
    return [[], [f], flat, weight, tail, G]


def expected_max_chain(m, o, per, chain, groups, n_edge, k_edge, d, r, simd, total):
    """``E[step_cycles(max)]`` over ``groups`` independent chains of ``chain`` overlapping
    windows (:func:`chain_cdf`) and ``k_edge`` units of ``n_edge`` elements (an edge tile,
    taken as independent), on the integer window of one whole window's occupancy; rows whose
    chain is too large for the programme fall back to independent windows
    (:func:`expected_max_mixed`). Per distinct argument row, cached."""
    args = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in
                                 (m, o, per, chain, groups, n_edge, k_edge, d, r, simd, total)))
    rows = np.ascontiguousarray(np.stack(args, axis=1))
    keys, inv = np.unique(rows.view(np.dtype((np.void, 8 * rows.shape[1]))).ravel(),
                          return_inverse=True)
    vals = np.empty(len(keys))
    for j, key in enumerate(keys):
        kb = key.tobytes()
        if kb in _chain_cache:
            vals[j] = _chain_cache[kb]
            continue
        m1, o1, p1, ch, g, ne, ke, d1, r1, s1, T = np.frombuffer(kb, dtype=np.float64)
        n = m1 * p1
        lo, hi, _, _ = _window(np.array([n]), np.array([np.round(d1 * T)]), np.array([T]))
        ks = np.arange(lo[0], hi[0] + 1)
        F = chain_cdf(int(m1), int(o1), int(p1), int(ch), d1, ks)
        if F is None:
            v = float(expected_max_mixed([n], ch * g, ne, ke, d1, r1, s1, T)[0])
        else:
            F = np.clip(F, 0.0, 1.0) ** g
            if ke > 0:
                F = F * np.cumsum(_binom_pmf(int(ne), d1))[np.minimum(ks, ne).astype(int)] ** ke
            F[-1] = 1.0
            cyc = step_cycles(ks, r1, s1)
            v = float(cyc[0] * F[0] + (cyc[1:] * np.diff(F)).sum())
        if len(_chain_cache) >= CACHE_SIZE:
            _chain_cache.clear()
        _chain_cache[kb] = v
        vals[j] = v
    return vals[inv.ravel()]
