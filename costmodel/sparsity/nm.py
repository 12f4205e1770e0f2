"""N:M structured sparsity: the exact step time of units whose tiles split N:M groups.

A window along the N:M axis that covers whole groups holds exactly ``N / M`` of them; one that
splits a group holds a hypergeometric part of it (N of the group's M positions kept at
random). :func:`nm_compute_ratio` walks the windows a mapping gives its units step by step
and returns the sparse over dense compute time; units that share a split group are dependent
and take the dynamic programme of :func:`nm_spatial_step_cdf`. docs/sparsity.md has the
model and its validation.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, bisect_right
from collections import Counter
from functools import lru_cache
from math import ceil, comb, gcd

import numpy as np

from .stats import CACHE_SIZE, _distinct, step_cycles, tile_count

#: N:M compute ratios kept between calls, by argument row (then the cache starts over)
_nm_cache: dict[tuple, tuple[float, float]] = {}
#: CDFs of the kept count in a window's split end groups, by (head, tail, rows, N, M)
_nm_cdfs: dict[tuple, np.ndarray] = {}


def _hyp_pmf(M: int, N: int, length: int) -> np.ndarray:
    """Kept elements among ``length`` positions of one N:M group (N of M kept at random)."""
    return np.array([comb(N, x) * comb(M - N, length - x)
                     for x in range(min(N, length) + 1)], dtype=np.float64) / comb(M, length)


def _power_pmf(p: np.ndarray, k: int) -> np.ndarray:
    """pmf of the sum of ``k`` independent draws from ``p`` (repeated squaring)."""
    out, base = np.ones(1), p
    while k:
        if k & 1:
            out = np.convolve(out, base)
        k >>= 1
        if k:
            base = np.convolve(base, base)
    return out


def _split_parts(a: int, length: int, M: int) -> tuple[int, int, int]:
    """``(head, tail, whole)`` of the window ``[a, a + length)`` (``0 <= a < M``): the
    positions it takes of the group it starts in and of the group it ends in where those
    are split (0 otherwise), and the groups it covers whole."""
    b = a + length
    if b <= M:                                  # inside one group
        return (0, 0, 1) if length == M else (length, 0, 0)
    return (M - a if a else 0), b % M, b // M - (1 if a else 0)


@lru_cache(maxsize=4096)
def _partial_row_pmf(head: int, tail: int, N: int, M: int) -> np.ndarray:
    """One row's kept count in the split parts ``head`` and ``tail`` of its window's end
    groups (cached, read-only)."""
    pmf = np.ones(1)
    for part in (head, tail):
        if 0 < part < M:
            pmf = np.convolve(pmf, _hyp_pmf(M, N, part))
    pmf.flags.writeable = False
    return pmf


#: row counts above which a power of a per-row pmf is taken by FFT (within 2e-10 of exact
#: convolution, tested)
FFT_ROWS = 4
#: mass an FFT window may leave out on each side of the kept count's law (Hoeffding's bound
#: sets the window), and the CDF mass trimmed off each end of a stored law
TAIL = 1e-16
TRIM = 1e-13


def _trimmed(lo: int, F: np.ndarray) -> tuple[int, np.ndarray]:
    """``(lo', F')``: the CDF ``F`` over counts from ``lo`` without its ends below ``TRIM``
    and above ``1 - TRIM`` (the mass there, at most ``TRIM`` a side, counts at the first kept
    count and is dropped past the last)."""
    a = int(np.searchsorted(F, TRIM, side="right"))
    b = int(np.searchsorted(F, 1.0 - TRIM, side="left"))
    a, b = min(a, len(F) - 1), min(max(a, b), len(F) - 1)
    return lo + a, np.ascontiguousarray(F[a:b + 1])


def _split_cdfs(splits: list[tuple[int, int, int]], N: int,
                M: int) -> list[tuple[int, np.ndarray]]:
    """``(lo, CDF over counts lo, lo + 1, ...)`` of the kept count in the split end groups
    ``(head, tail, rows)`` of ``rows`` independent rows (cached). The missing ones with many
    rows are powered together by FFT, one transform per size, on a circular window around
    the mean that holds all but :data:`TAIL` of the mass on each side (Hoeffding: the per-row
    count spans ``c`` values, so ``|S - mean| > c sqrt(rows ln(2 / TAIL) / 2)`` has
    probability below ``TAIL``); the mass outside folds in at most ``2 TAIL``."""
    need = sorted({c for c in splits if c + (N, M) not in _nm_cdfs})
    if len(_nm_cdfs) + len(need) > CACHE_SIZE:
        _nm_cdfs.clear()
        need = sorted(set(splits))
    big: dict[int, list] = {}
    for h, t, rows in need:
        pmf = _partial_row_pmf(h, t, N, M)
        if rows <= FFT_ROWS or len(pmf) == 1:
            F = np.minimum(np.cumsum(_power_pmf(pmf, rows)), 1.0)
            _nm_cdfs[(h, t, rows, N, M)] = _trimmed(0, F)
        else:
            c = len(pmf) - 1
            mean = rows * float(pmf @ np.arange(len(pmf)))
            half = ceil(c * np.sqrt(rows * np.log(2.0 / TAIL) / 2.0)) + 1
            lo, hi = max(0, int(mean) - half), min(rows * c, int(ceil(mean)) + half)
            size = 1 << (hi - lo).bit_length()           # >= the window's hi - lo + 1
            big.setdefault(size, []).append((h, t, rows, pmf, lo, hi - lo + 1))
    for size, group in big.items():
        pad = np.zeros((len(group), size))
        for i, g in enumerate(group):
            pad[i, :len(g[3])] = g[3]
        powers = np.array([g[2] for g in group], dtype=np.float64)[:, None]
        dens = np.fft.irfft(np.fft.rfft(pad, axis=1) ** powers, n=size, axis=1)
        lo = np.array([g[4] for g in group])
        width = np.array([g[5] for g in group])[:, None]
        at = np.arange(size)[None, :]                    # the window, unrolled from lo
        p = np.where(at < width, np.take_along_axis(dens, (lo[:, None] + at) % size, axis=1),
                     0.0)
        F = np.minimum(np.cumsum(np.clip(p, 0.0, None), axis=1), 1.0)
        a = np.minimum((F <= TRIM).sum(axis=1), width[:, 0] - 1)     # F is nondecreasing
        b = np.minimum(np.maximum((F < 1.0 - TRIM).sum(axis=1), a), width[:, 0] - 1)
        for (h, t, rows, *_), f, l0, a0, b0 in zip(group, F, lo, a, b):
            _nm_cdfs[(h, t, rows, N, M)] = (int(l0 + a0), f[a0:b0 + 1])
    return [_nm_cdfs[c + (N, M)] for c in splits]


def _nm_cdfs_for(cases: list[tuple[int, int, int]], N: int,
                 M: int) -> list[tuple[int, np.ndarray]]:
    """``(base, CDF)`` of the kept count of ``(offset, length, rows)`` windows: the count is
    ``base`` (the whole groups, and the split groups' least count) plus the split groups'
    part above it (:func:`_split_cdfs`)."""
    parts = [_split_parts(a, length, M) for a, length, _ in cases]
    F = _split_cdfs([(h, t, rows) for (h, t, _), (*_, rows) in zip(parts, cases)], N, M)
    return [(whole * N * rows + lo, f)
            for (_, _, whole), (*_, rows), (lo, f) in zip(parts, cases, F)]


@lru_cache(maxsize=1 << 14)
def _residue_counts(start: int, o: int, n: int, M: int) -> dict[int, int]:
    """How many of the ``n`` window starts ``start, start + o, ...`` fall at each offset
    within their group (the offsets repeat every ``M / gcd(o, M)`` windows), in the order
    of their first window (cached: read-only)."""
    period = M // gcd(o, M)
    q, rem = divmod(n, period)
    out: dict[int, int] = {}
    for j in range(min(period, n)):
        a = (start + j * o) % M
        out[a] = out.get(a, 0) + q + (j < rem)
    return out


def _nm_steps(t, o, D, spatial, units, M, start: int = 0):
    """The step kinds along the N:M axis of a tile starting at offset ``start`` of its
    group: ``[(steps, {(offset, length): windows}, fold)]``, the windows each step of that
    kind gives its units (one per step unless ``spatial``); ``fold`` is ``(start offset in
    its group, units, last window's length)`` of a spatial step (None otherwise)."""
    tiles = 1 if D <= t else min(-(-(D - t) // o) + 1, -(-D // o))   # tile_count, ints
    last = (tiles - 1, min(t, D - (tiles - 1) * o))
    if not spatial:
        full = _residue_counts(start, o, tiles - 1, M)
        kinds = [(c, {(a, t): 1}, None) for a, c in full.items()]
        return kinds + [(1, {((start + last[0] * o) % M, last[1]): 1}, None)]
    folds = -(-tiles // units)
    kinds = []
    for s, c in _residue_counts(start, units * o, folds - 1, M).items():
        kinds.append((c, {(a, t): n for a, n in _residue_counts(s, o, units, M).items()},
                      (s, units, t)))
    first = (folds - 1) * units
    wins = {(a, t): n for a, n in _residue_counts((start + first * o) % M, o,
                                                   tiles - 1 - first, M).items()}
    key = ((start + last[0] * o) % M, last[1])
    wins[key] = wins.get(key, 0) + 1
    return kinds + [(1, wins, ((start + first * o) % M, tiles - first, last[1]))]


#: cells of a case table below which :func:`_expected_max` computes every case (finding the
#: distinct ones costs more)
DISTINCT_CELLS = 1 << 13


def _expected_max(flat, first, lens, law, base, P, r, simd, W: int) -> np.ndarray:
    """``E[step_cycles(max of P draws)]`` per case: the CDF ``law`` (an index into CDFs kept
    end to end in ``flat`` from ``first``, ``lens`` long, each taken on ``W`` counts with its
    end repeated) over counts ``base..base+W-1``; ``law``, ``base``, ``P``, ``r``, ``simd``
    are ``[C]``. Cases repeat their parts: in larger tables the powered CDF is computed once
    per distinct ``(law, P)``, the step times once per distinct ``(base, r, simd)``."""
    if len(law) * W <= DISTINCT_CELLS:
        F = flat[first[law, None] + np.minimum(np.arange(W)[None, :], (lens[law] - 1)[:, None])]
        Fp = np.exp(P[:, None] * np.log(np.clip(F, 1e-300, 1.0)))
        return (step_cycles(base[:, None] + np.arange(W)[None, :], r[:, None], simd[:, None])
                * _steps_of(Fp)).sum(axis=1)
    powers, pi = _distinct([law.astype(np.float64), P])
    lid = powers[:, 0].astype(np.int64)
    F = flat[first[lid, None] + np.minimum(np.arange(W)[None, :], (lens[lid] - 1)[:, None])]
    Fp = np.exp(powers[:, 1, None] * np.log(np.clip(F, 1e-300, 1.0)))
    steps, gi = _distinct([base, r, simd])
    g = step_cycles(steps[:, 0, None] + np.arange(W)[None, :], steps[:, 1, None],
                    steps[:, 2, None])
    return (g[gi] * _steps_of(Fp)[pi]).sum(axis=1)


#: columns of one unit class in :func:`nm_compute_ratio`'s argument rows
CLASS_COLS = 5


def _max_law(parts) -> tuple[np.ndarray, np.ndarray]:
    """``(counts, CDF)`` of the largest of independent draws: ``parts`` lists ``(base, CDF,
    draws)``, each CDF over counts from its ``base`` (0 below it, 1 past its end)."""
    lo = int(min(b for b, _, _ in parts))
    hi = int(max(b + len(F) for b, F, _ in parts))
    prod = np.ones(hi - lo)
    for b, F, n in parts:
        if n:
            b = int(b)                  # F over [b, b + len(F)), 0 before, its end after
            law = np.concatenate((np.zeros(b - lo), F, np.full(hi - b - len(F), F[-1])))
            prod = prod * law ** n
    return np.arange(lo, hi), prod


def _expected_cycles(x, F, r, simd) -> float:
    """``E[step_cycles(X)]`` for a CDF ``F`` over the counts ``x``."""
    return float((step_cycles(x, r, simd) * _steps_of(F)).sum())


def _steps_of(F: np.ndarray) -> np.ndarray:
    """Probabilities of a CDF's counts along its last axis (``np.diff`` with 0 prepended)."""
    p = np.empty_like(F)
    p[..., 0] = F[..., 0]
    np.subtract(F[..., 1:], F[..., :-1], out=p[..., 1:])
    return p


#: expected step time of a single-window step with a unit on an edge tile, by its split
#: groups, rows and draws, ``r``, SIMD and the N:M structure
_nm_edge: dict[tuple, float] = {}


def _edge_expected(b1, F1, n1, b2, F2, n2, r, simd) -> np.ndarray:
    """``E[step_cycles(max)]`` per case of the largest of ``n1`` draws from the CDF ``F1``
    over counts from ``b1`` and ``n2`` from ``F2`` from ``b2`` (:func:`_max_law` then
    :func:`_expected_cycles`, case by case): the cases with the same count range length and
    draws are taken together, element for element as one case alone."""
    b1, b2 = b1.astype(np.int64), b2.astype(np.int64)
    len1 = np.array([len(f) for f in F1])
    len2 = np.array([len(f) for f in F2])
    lo = np.minimum(b1, b2)
    L = np.maximum(b1 + len1, b2 + len2) - lo
    flat = np.concatenate(F1 + F2)
    off1 = np.cumsum(len1) - len1
    off2 = len1.sum() + np.cumsum(len2) - len2
    whole_r = (r % 1.0) == 0
    groups: dict[tuple, list] = {}
    for k, key in enumerate(zip(L.tolist(), n1.tolist(), n2.tolist(), whole_r.tolist())):
        groups.setdefault(key, []).append(k)
    out = np.empty(len(b1))
    for (width, _, _, _), ks in groups.items():
        ks = np.array(ks)
        x = lo[ks, None] + np.arange(width)[None, :]
        prod = np.ones((len(ks), width))
        for b, ln, off, n in ((b1, len1, off1, n1), (b2, len2, off2, n2)):
            if n[ks[0]]:
                at = off[ks, None] + np.clip(x - b[ks, None], 0, ln[ks, None] - 1)
                prod = prod * np.where(x < b[ks, None], 0.0, flat[at]) ** n[ks[0]]
        out[ks] = (step_cycles(x, r[ks, None], simd[ks, None])
                   * _steps_of(prod)).sum(axis=1)
    return out


def _single_window_steps(keys, rows_, N: int, M: int, C: int, dense, sparse) -> None:
    """Add the dense and expected sparse step times of argument rows ``keys[rows_]`` whose
    units each take one window per step (the N:M axis is not spatial) to ``dense`` and
    ``sparse``: the windows' group offsets repeat every ``M / gcd(o, M)`` steps, so the steps
    are counted per offset (plus the last, possibly shorter, window); per unit class, steps
    whose units all span the same rows are summed in arrays, those with one unit on an edge
    tile (fewer rows) one by one."""
    kk = keys[rows_]
    t, o, D = (kk[:, c].astype(np.int64) for c in range(3))
    r, rd, sd = kk[:, 5], kk[:, 6], kk[:, 7]
    s0 = kk[:, -1].astype(np.int64)                  # the tile's start in its group
    tiles = tile_count(D, t, o)
    n = tiles - 1
    period = M // np.gcd(o, M)
    j = np.arange(M)[None, :]
    valid = j < np.minimum(period, n)[:, None]
    cnt = n[:, None] // period[:, None] + (j < (n % period)[:, None])
    a = (s0[:, None] + j * o[:, None]) % M
    ci, cj = np.nonzero(valid)
    case_row = np.concatenate([ci, np.arange(len(kk))])
    case_a = np.concatenate([a[ci, cj], (s0 + (tiles - 1) * o) % M])
    case_len = np.concatenate([t[ci], np.minimum(t, D - (tiles - 1) * o)])
    case_cnt = np.concatenate([cnt[ci, cj], np.ones(len(kk), dtype=np.int64)]).astype(
        np.float64)
    b = case_a + case_len
    inside = b <= M
    head = np.where(inside, np.where(case_len == M, 0, case_len),
                    np.where(case_a > 0, M - case_a, 0))
    tail = np.where(inside, 0, b % M)
    whole = np.where(inside, case_len == M, b // M - (case_a > 0))
    for c in range(C):
        col = 8 + CLASS_COLS * c
        rw, n_main, rw_e, n_e, w = (kk[case_row, col + i] for i in range(CLASS_COLS))
        live = w > 0
        widest = np.where(n_main > 0, rw, rw_e)        # the dense step's slowest unit
        np.add.at(dense, rows_[case_row[live]], (w * case_cnt * np.maximum(
            1.0, np.ceil(rd[case_row] * case_len * widest / sd[case_row] - 1e-9)))[live])
        sel_live = np.flatnonzero(live)
        if not len(sel_live):
            continue
        rw_i = rw.astype(np.int64)
        span = int(rw_i.max()) + 1
        code = (head * M + tail) * span + rw_i             # one split law per code
        codes, sinv = np.unique(code[sel_live], return_inverse=True)
        sinv = sinv.ravel()
        laws = _split_cdfs([(int(k // span // M), int(k // span % M), int(k % span))
                            for k in codes], N, M)
        F = [f for _, f in laws]
        lens = np.array([len(f) for f in F])
        base = (whole * N * rw).astype(np.float64)
        base[sel_live] += np.array([lo for lo, _ in laws], dtype=np.float64)[sinv]
        plain = np.flatnonzero(n_e[sel_live] == 0)
        if len(plain):
            flat = np.concatenate(F)
            first = np.cumsum(lens) - lens
            ids = sinv[plain]
            L = lens[ids]
            width = 1 << np.ceil(np.log2(L)).astype(np.int64)
            for wd in np.unique(width):                 # CDF lengths within a factor of 2
                pick = np.flatnonzero(width == wd)
                sel = sel_live[plain[pick]]
                row = case_row[sel]
                e = _expected_max(flat, first, lens, ids[pick], base[sel], n_main[sel], r[row],
                                  sd[row], int(wd))
                np.add.at(sparse, rows_[row], w[sel] * case_cnt[sel] * e)
        edge = np.flatnonzero(n_e[sel_live] != 0)   # a unit of the step on an edge tile
        if not len(edge):
            continue
        es = sel_live[edge]
        er = case_row[es]
        ekeys = list(zip(*(a.tolist() for a in (head[es], tail[es], whole[es], rw[es],
                                                n_main[es], rw_e[es], n_e[es], r[er], sd[er])),
                         [(N, M)] * len(es)))
        todo = [k for k, key in enumerate(ekeys) if key not in _nm_edge]
        Fe = _split_cdfs([(int(head[es[k]]), int(tail[es[k]]), int(rw_e[es[k]])) for k in todo],
                         N, M)
        if len(_nm_edge) + len(todo) > CACHE_SIZE:
            _nm_edge.clear()
        if todo:
            sel = es[todo]
            row = case_row[sel]
            e = _edge_expected(base[sel], [F[j] for j in sinv[edge[todo]]], n_main[sel],
                               whole[sel] * N * rw_e[sel] + np.array([lo for lo, _ in Fe]),
                               [f for _, f in Fe], n_e[sel], r[row], sd[row])
            for k, v in zip(todo, e.tolist()):
                _nm_edge[ekeys[k]] = v
        for sel, key in zip(es, ekeys):
            sparse[rows_[case_row[sel]]] += w[sel] * case_cnt[sel] * _nm_edge[key]


#: per kind of spatial step, ``(steps, dense step time, expected sparse step time)``, by the
#: argument columns of one unit class (see :func:`_spatial_terms`)
_nm_terms: dict[tuple, tuple] = {}
#: :func:`_nm_steps` of a spatial axis (windows as ordered items) with each kind's longest
#: window, by its arguments
_nm_kinds: dict[tuple, list] = {}
#: expected step time of one spatial step kind, by its step (``(fold, t)`` where the units
#: abut, else its windows) and ``(rows, draws, r, r_dense, simd, N, M)``
_nm_step_e: dict[tuple, float] = {}


def _spatial_terms(items, N: int, M: int) -> dict:
    """``((steps, dense time, expected sparse time), ...)`` of the step kinds of each unit
    class whose units lie along the N:M axis (the spatial case of :func:`nm_compute_ratio`),
    by its key ``(t, o, D, units, start, rows, draws, r, r_dense, simd, N, M)``; ``items``
    maps the keys to compute to ``(draws, r, r_dense, simd)``: ``draws`` independent draws
    of ``rows`` rows each per step. Cached: argument rows that differ in other classes or
    weights share them; the step kinds' expected times missing from their cache are computed
    together (:func:`_step_expectations`)."""
    out: dict = {}
    plan: dict = {}
    known: dict = {}            # expected step times by step key (cached, or to compute)
    pending: dict = {}          # step key -> (fold, t, windows or None, rows, draws, r, simd)
    for key, (groups, r1, rd1, s1) in items.items():
        got = _nm_terms.get(key)
        if got is not None:
            out[key] = got
            continue
        t1, o1, D1, un, s0, rw = key[:6]
        steps_key = (t1, o1, D1, un, M, s0)
        kinds = _nm_kinds.get(steps_key)
        if kinds is None:
            if len(_nm_kinds) >= CACHE_SIZE:
                _nm_kinds.clear()
            kinds = _nm_kinds[steps_key] = [
                (count, tuple(wins.items()), fold, max(length for _, length in wins))
                for count, wins, fold in _nm_steps(t1, o1, D1, True, un, M, s0)]
        terms = []
        for count, wins, fold, longest in kinds:
            step_dense = max(1.0, ceil(rd1 * longest * rw / s1 - 1e-9))
            exact = o1 == t1
            ekey = ((fold, t1) if exact else wins) + key[5:]
            if ekey not in known:
                e = _nm_step_e.get(ekey)
                if e is None:
                    pending[ekey] = (fold, t1, exact, wins, rw, groups, r1, s1)
                known[ekey] = e
            terms.append((count, step_dense, ekey))
        plan[key] = terms
    if pending:
        for ekey, e in zip(pending, _step_expectations(list(pending.values()), N, M)):
            known[ekey] = e
            if len(_nm_step_e) >= CACHE_SIZE:
                _nm_step_e.clear()
            _nm_step_e[ekey] = e
    for key, terms in plan.items():
        if len(_nm_terms) >= CACHE_SIZE:
            _nm_terms.clear()
        _nm_terms[key] = out[key] = tuple((count, step_dense, known[ekey])
                                          for count, step_dense, ekey in terms)
    return out


def _power(x: np.ndarray, e: np.ndarray, n: np.ndarray) -> np.ndarray:
    """``x ** e`` for consecutive runs of ``n`` elements of ``x`` with one exponent each
    (``e``), every element as ``x ** e`` with that scalar exponent gives it: NumPy takes the
    exponents 2, 0.5 and -1 as square, root and reciprocal there, whose roundings differ
    from ``pow``'s."""
    out = np.power(x, np.repeat(e, n))
    for v, f in ((2.0, np.square), (0.5, np.sqrt), (-1.0, np.reciprocal)):
        if (e == v).any():
            s = np.repeat(e == v, n)
            out[s] = f(x[s])
    return out


def _step_expectations(steps: list, N: int, M: int) -> list[float]:
    """Expected step time of spatial step kinds ``(fold, t, abutting, windows, rows, draws,
    r, simd)``: ``E[step_cycles(max)]`` with the step maximum's CDF from the programme of
    :func:`nm_spatial_step_cdf` where the units abut and it fits, raised
    to the ``draws``, else the largest of independent windows (``draws`` per window of
    ``windows``, :func:`_max_law`). All steps together, element for element as
    :func:`_max_law` and :func:`_expected_cycles` take one step: the CDFs placed on the
    steps' count ranges end to end, the sums over the steps of one length at once."""
    specs = []                  # per step: its CDFs as (base, CDF, power)
    windows: dict = {}
    for fold, t1, exact, wins, rw, groups, _, _ in steps:
        F = nm_spatial_step_cdf(fold[0], t1, fold[1], fold[2], rw, N, M) if exact else None
        if F is not None:
            specs.append([(0, F, groups)])
            continue
        specs.append((wins, rw, groups))            # windows taken as independent
        for (a, ln), _ in wins:
            windows.setdefault((a, ln, rw), None)
    if windows:
        for w, law in zip(windows, _nm_cdfs_for(list(windows), N, M)):
            windows[w] = law
        specs = [s if isinstance(s, list) else
                 [(*windows[(a, ln, s[1])], s[2] * n) for (a, ln), n in s[0]] for s in specs]
    K = len(specs)
    pk, pos, pb, Fs, pl, pe = [], [], [], [], [], []     # per CDF, the steps' in order
    for k, spec in enumerate(specs):
        for i, (b, f, n) in enumerate(spec):
            pk.append(k)
            pos.append(i)
            pb.append(int(b))
            Fs.append(f)
            pl.append(len(f))
            pe.append(n)
    pk, pos = np.array(pk), np.array(pos)
    pb, pl = np.array(pb, dtype=np.int64), np.array(pl, dtype=np.int64)
    pe = np.array(pe, dtype=np.float64)
    flat = np.concatenate(Fs)
    off = np.cumsum(pl) - pl
    firsts = np.flatnonzero(pos == 0)                 # each step's first CDF
    lo = np.minimum.reduceat(pb, firsts)
    hi = np.maximum.reduceat(pb + pl, firsts)
    st = np.maximum.reduceat(pb, firsts)
    r = np.array([s[6] for s in steps], dtype=np.float64)
    simd = np.array([s[7] for s in steps], dtype=np.float64)
    # below the highest base a CDF is 0, so the step's law and its probabilities: computed
    # from there to the top, each step's counts end to end (element j of step k: count
    # st_k + j)
    L = hi - st
    first = np.cumsum(L) - L
    kid = np.repeat(np.arange(K), L)
    x = st[kid] + (np.arange(int(L.sum())) - first[kid])
    prod = np.ones(len(x))
    for i in range(int(pos.max()) + 1):           # the CDFs in order, one per step at a time
        sel = np.flatnonzero(pos == i)
        n_el = L[pk[sel]]
        el = np.repeat(first[pk[sel]] - (np.cumsum(n_el) - n_el), n_el) + np.arange(n_el.sum())
        at = np.repeat(off[sel] - pb[sel], n_el) + np.minimum(
            x[el], np.repeat(pb[sel] + pl[sel] - 1, n_el))
        prod[el] = prod[el] * _power(flat[at], pe[sel], n_el)
    terms = np.empty(len(x))
    whole_r = ((r % 1.0) == 0)[kid]
    for wr in (True, False):
        s = np.flatnonzero(whole_r == wr)
        if len(s):
            terms[s] = step_cycles(x[s], r[kid[s]], simd[kid[s]])
    p = np.empty(len(x))                          # _steps_of, step by step
    np.subtract(prod[1:], prod[:-1], out=p[1:])
    p[first] = prod[first]
    terms *= p
    # each sum over its step's whole count range (zeros below the highest base), the steps
    # of one length at once
    span = hi - lo
    start = np.cumsum(span) - span
    full = np.zeros(int(span.sum()))
    full[(start + st - lo - first)[kid] + np.arange(len(x))] = terms
    out = np.empty(K)
    for n in np.unique(span):
        ks = np.flatnonzero(span == n)
        out[ks] = full[start[ks, None] + np.arange(n)[None, :]].sum(axis=1)
    return out.tolist()


def _unique_rows(flat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique`` of the rows of ``flat`` ``[B, k]`` as raw bytes (void), with the inverse:
    the rows are first told apart by a random projection, sorted as floats, and only the
    distinct ones sorted as bytes; where two different rows project alike (checked on the
    bits), every row is sorted as bytes."""
    void = np.dtype((np.void, flat.shape[1] * 8))
    h = np.einsum("ij,j->i", flat, _projection(flat.shape[1]))   # no BLAS: its threads spin
    _, rep, hinv = np.unique(h, return_index=True, return_inverse=True)
    hinv = hinv.ravel()
    bits = flat.view(np.int64)
    if len(rep) < len(flat) and not (bits == bits[rep[hinv]]).all():
        return np.unique(flat.view(void).ravel(), return_inverse=True)
    ukeys, uinv = np.unique(flat[rep].view(void).ravel(), return_inverse=True)
    return ukeys, uinv.ravel()[hinv]


@lru_cache(maxsize=64)
def _projection(k: int) -> np.ndarray:
    """Fixed random weights of :func:`_unique_rows`' projection of ``k`` columns."""
    return np.random.default_rng(k).uniform(0.5, 1.5, k)


def nm_compute_ratio(t, o, D, spatial, units, nm, classes, r, r_dense, simd, start=0,
                     parts: bool = False):
    """Sparse over dense compute time under an N:M structure, walking the windows the mapping
    gives the units along the N:M axis: a unit's tile spans some rows (its extent on the
    tensor's other axes) and the window ``[i o, i o + t)`` of an axis of ``D`` (a multiple of
    M), step after step; with the spatial dim on that axis a step's units take consecutive
    windows. A window that covers whole groups holds exactly ``N / M`` of them; one that
    splits a group holds a hypergeometric part of it, so a step lasts the expected maximum
    over its units, and units that split one group between them are dependent
    (:func:`nm_spatial_step_cdf`). ``classes`` ``[B, C, 5]``: the kinds of steps the tiles of
    the other axes make, each ``(rows, units, edge rows, edge units, weight)``: ``units``
    draws of ``rows`` rows and ``edge units`` of ``edge rows`` (a spatial edge tile) per step,
    in a share ``weight`` of the steps (weight 0: unused). ``start``: the offset within its
    group at which the axis' extent starts (an outer level's tile). ``parts``: return the
    ratio and the dense time the ratio is of (to weigh tiles of an outer level that differ
    in ``start`` or ``D``). Arguments ``[B]``; one value per
    distinct argument row, cached; the windows' kept-count CDFs cached by their split groups
    and rows; single-window steps summed in array operations per CDF length class (within 2x)."""
    N, M = nm
    cl = np.asarray(classes, dtype=np.float64)
    C = cl.shape[1]
    cols = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in
                                 (t, o, D, spatial, units, r, r_dense, simd, start)))
    B = len(cl)
    flat = np.empty((B, 9 + CLASS_COLS * C))
    for i, c in enumerate(cols[:-1]):
        flat[:, i] = c
    flat[:, 8:-1] = cl.reshape(B, -1)
    flat[:, -1] = cols[-1]
    ukeys, inv = _unique_rows(flat)
    keys = ukeys.view(np.float64).reshape(len(ukeys), -1)
    got = np.array([_nm_cache.get((N, M, k.tobytes()), (np.nan, np.nan)) for k in ukeys],
                   dtype=np.float64).reshape(-1, 2)
    vals, dense_of = got[:, 0].copy(), got[:, 1].copy()
    miss = np.flatnonzero(np.isnan(vals))
    dense = np.zeros(len(keys))
    sparse = np.zeros(len(keys))
    temporal = miss[keys[miss, 3] == 0]
    if len(temporal):
        _single_window_steps(keys, temporal, N, M, C, dense, sparse)
    spread = miss[keys[miss, 3] != 0]          # spatial units along the N:M axis
    if len(spread):
        cls = keys[spread, 8:8 + CLASS_COLS * C].reshape(len(spread), C, CLASS_COLS)
        jj, cc = np.nonzero(~(cls[:, :, 4] <= 0))
        at = keys[spread[jj]]
        ints = at[:, [0, 1, 2, 4, -1]].astype(np.int64).tolist()
        rws = cls[jj, cc, 0].astype(np.int64).tolist()
        items = list(zip(spread[jj].tolist(), ints, rws, cls[jj, cc, 1], cls[jj, cc, 4],
                         at[:, 5], at[:, 6], at[:, 7]))
        todo: dict = {}
        keyed = []
        for _, (t1, o1, D1, un, s0), rw, groups, _, r1, rd1, s1 in items:
            key = (t1, o1, D1, un, s0, rw, float(groups), float(r1), float(rd1), float(s1),
                   N, M)
            keyed.append(key)
            if key not in todo:
                todo[key] = (groups, r1, rd1, s1)
        terms = _spatial_terms(todo, N, M)
        for (j, _, _, _, w, *_), key in zip(items, keyed):
            for count, step_dense, step_sparse in terms[key]:
                dense[j] += w * count * step_dense
                sparse[j] += w * count * step_sparse
    vals[miss] = sparse[miss] / dense[miss]
    dense_of[miss] = dense[miss]
    if len(_nm_cache) + len(miss) > CACHE_SIZE:
        _nm_cache.clear()
    for j in miss:
        _nm_cache[(N, M, ukeys[j].tobytes())] = (float(vals[j]), float(dense[j]))
    inv = inv.ravel()
    return (vals[inv], dense_of[inv]) if parts else vals[inv]


#: largest joint table (cells) of one group's segment counts, and of the programme's
#: ``k x c`` table, computed exactly (e.g. 2:4 split into one-element windows over up to 39
#: rows; units of at most 255 elements); a step with bigger ones takes its units as
#: independent
JOINT_CELLS = 1 << 16
#: largest ``k x (incoming, middle, outgoing counts)`` table of one group's step in
#: :func:`nm_spatial_step_cdf` (beyond: the spatial units are taken as independent)
STEP_WORK = 1 << 20
#: step-maximum CDFs of spatial N:M steps, by (start, t, units, last length, rows, N, M)
_nm_steps_cdf: dict[tuple, np.ndarray | None] = {}


def _group_law(lengths: tuple, rows: int, N: int, M: int):
    """Joint law of the kept counts, summed over ``rows`` independent rows, of the segments
    ``lengths`` of one N:M group (the group's other positions belong to no unit), as a grid
    over the segments' counts (without the last one's where the segments cover the group:
    it is implied), or None past :data:`JOINT_CELLS` cells. One row keeps N of the M
    positions at random; the rows' sum is the row law's ``rows``-th convolution power, by
    FFT over the grid. Cached: the groups' steps with and without open units share it."""
    key = (lengths, rows, N, M)
    if key in _laws:
        return _laws[key]
    if len(_laws) >= 1024:
        _laws.clear()
    _laws[key] = out = _group_law_of(lengths, rows, N, M)
    return out


#: :func:`_group_law` by its arguments (read-only)
_laws: dict[tuple, np.ndarray | None] = {}


def _group_law_of(lengths: tuple, rows: int, N: int, M: int):
    """:func:`_group_law` without its cache."""
    free = M - sum(lengths)
    dims = lengths[:-1] if free == 0 else lengths
    grid = [rows * ln + 1 for ln in dims]
    if int(np.prod(grid, dtype=np.float64)) > JOINT_CELLS:
        return None
    # one row's law: prod_j C(l_j, x_j) C(rest length, N - sum x) / C(M, N)
    row = np.ones([ln + 1 for ln in dims])
    total = np.zeros([1] * len(dims), dtype=np.int64)
    for j, ln in enumerate(dims):
        shape = [1] * len(dims)
        shape[j] = ln + 1
        row = row * np.array([comb(ln, v) for v in range(ln + 1)],
                             dtype=np.float64).reshape(shape)
        total = total + np.arange(ln + 1).reshape(shape)
    rest_len = lengths[-1] if free == 0 else free
    tail = np.array([comb(rest_len, v) for v in range(N + 1)], dtype=np.float64)
    rest = N - total
    row = row * np.where((rest >= 0) & (rest <= rest_len), tail[np.clip(rest, 0, N)], 0.0)
    row = row / comb(M, N)
    if not dims:
        return np.ones(())
    axes = list(range(len(grid)))
    out = np.clip(np.fft.irfftn(np.fft.rfftn(row, grid, axes) ** rows, grid, axes), 0.0, None)
    out.flags.writeable = False
    return out


_steps: dict[tuple, object] = {}


def _group_step(segs: tuple, first_in: bool, last_out: bool, rows: int, N: int, M: int):
    """What the programme of :func:`_chain_cdf` needs of one group (cached): with no unit
    open on entry, the cumulative law over the largest complete unit's count (rows) of the
    count passed on (columns); with one open, the (incoming, largest complete, outgoing)
    count triples of positive probability, their probabilities and their grouping by the
    outgoing count. None where the joint table is too large."""
    key = (segs, first_in, last_out, rows, N, M)
    if key in _steps:
        return _steps[key]
    law = _group_law(segs, rows, N, M)
    out = None
    if law is not None:
        nd = law.ndim
        coord = [np.arange(n).reshape([n if a == j else 1 for a in range(nd)])
                 for j, n in enumerate(law.shape)]
        if len(coord) < len(segs):          # the last segment's count is implied
            coord.append(rows * N - sum(coord, np.zeros([1] * nd, dtype=np.int64)))
        zero = np.zeros([1] * nd, dtype=np.int64)
        lo_mid, hi_mid = int(first_in), len(segs) - int(last_out)
        mid = zero
        for c in coord[lo_mid:hi_mid]:
            mid = np.maximum(mid, c)
        x_out = coord[-1] if last_out else zero
        x_in = coord[0] if first_in else zero
        # FFT noise on impossible cells dropped
        p = np.where((x_out >= 0) & (x_out <= rows * segs[-1]), law, 0.0).ravel()
        x_out = np.where(p.reshape(law.shape) > 0, x_out, 0)
        Mi, Xo, Xi = int(mid.max()) + 1, int(x_out.max()) + 1, int(x_in.max()) + 1
        if not first_in:
            code = (mid * Xo + x_out).ravel()
            H = np.bincount(code, weights=p, minlength=Mi * Xo).reshape(Mi, Xo)
            out = np.cumsum(H, axis=0)
        else:
            code = ((x_in * Mi + mid) * Xo + x_out).ravel()
            if Xi * Mi * Xo <= 4 * len(p):
                pq = np.bincount(code, weights=p, minlength=Xi * Mi * Xo)
                nz = np.flatnonzero(pq > 1e-300)
                pq = pq[nz]
            else:       # a sparse table: the same sums over the codes that occur
                pos = p > 0
                nz, inv = np.unique(code[pos], return_inverse=True)
                pq = np.bincount(inv.ravel(), weights=p[pos])
                nz, pq = nz[pq > 1e-300], pq[pq > 1e-300]
            trip = np.empty((len(nz), 3), dtype=np.int64)
            trip[:, 0], rest = np.divmod(nz, Mi * Xo)
            trip[:, 1], trip[:, 2] = np.divmod(rest, Xo)
            order = np.argsort(trip[:, 2], kind="stable")
            xs, first = np.unique(trip[order, 2], return_index=True)
            out = (trip, pq, order, xs, first, Xo)
    if len(_steps) >= 1024:
        _steps.clear()
    _steps[key] = out
    return out


#: the programme's state after a chain's first groups: ids of the prefixes (by parent id
#: and the group's segments and open ends), the states by id, and the bytes they hold
_prefix_ids: dict[tuple, int] = {}
_prefix_states: dict[int, tuple[np.ndarray, bool]] = {}
_prefix_bytes = 0
_prefix_count = itertools.count()
#: bytes of programme states kept (then the prefix cache starts over)
PREFIX_BYTES = 1 << 26


def _prefix_node(parent: int | None, step: tuple) -> int:
    """Id of the chain prefix ``parent`` followed by the group ``step`` (ids are never
    reused, so an id names one prefix even across a clearing)."""
    key = (parent, step)
    node = _prefix_ids.get(key)
    if node is None:
        node = _prefix_ids[key] = next(_prefix_count)
    return node


def _keep_prefix(node: int, state: np.ndarray, open_unit: bool) -> None:
    """Keep the programme's state after the groups of prefix ``node``: chains that start
    alike (the same start, unit length and rows, more or fewer units) resume from it."""
    global _prefix_bytes
    if _prefix_bytes + state.nbytes > PREFIX_BYTES or len(_prefix_ids) > CACHE_SIZE:
        _prefix_ids.clear()
        _prefix_states.clear()
        _prefix_bytes = 0
    state.flags.writeable = False
    _prefix_states[node] = (state, open_unit)
    _prefix_bytes += state.nbytes


#: :func:`_step_plan`'s tables by group step, ``K`` and state width, and the bytes they hold
_plans: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
_plan_bytes = 0
#: bytes of step plans kept (then the plans start over)
PLAN_BYTES = 1 << 26


def _step_plan(key: tuple, law, K: int, W: int) -> tuple[np.ndarray, np.ndarray]:
    """``(at, weight)`` ``[K, T]`` of one programme step of :func:`_chain_cdf` with a unit
    open on entry, the triples in the order of their outgoing count: the entry of the
    state's cumulative table ``[K, W]`` (flat) where the closed units hold at most ``k -
    x_in`` (the open unit closes with ``x_in``), and the triple's probability where it can
    end below ``k`` (``x_in <= k`` and the largest complete unit at most ``k``), else 0.
    Cached: the step recurs along a chain and between chains."""
    global _plan_bytes
    key = key + (K, W)
    got = _plans.get(key)
    if got is not None:
        return got
    trip, pq, order = law[:3]
    ks = np.arange(K)[:, None]
    idx = ks - trip[order, 0][None, :]
    at = ks * W + np.clip(idx, 0, W - 1)
    weight = np.where((idx >= 0) & (trip[order, 1][None, :] <= ks), pq[order][None, :], 0.0)
    if _plan_bytes + at.nbytes + weight.nbytes > PLAN_BYTES:
        _plans.clear()
        _plan_bytes = 0
    _plans[key] = got = (at, weight)
    _plan_bytes += at.nbytes + weight.nbytes
    return got


def _chain_cdf(start: int, lengths: tuple, rows: int, N: int, M: int) -> np.ndarray | None:
    """CDF of the largest kept count among abutting unit windows of ``lengths`` from
    ``start`` (``0 <= start < M``) over ``rows`` rows, where only the chain's ends may meet
    group borders (:func:`nm_spatial_step_cdf`). Cached; None where a table is too large."""
    key = (start, lengths, rows, N, M)
    if key in _nm_steps_cdf:
        return _nm_steps_cdf[key]
    units = len(lengths)
    bounds = list(itertools.accumulate(lengths, initial=start))
    K = rows * max(lengths) + 1                        # k = 0 .. largest unit count
    ks = np.arange(K)[:, None]
    state = np.ones((K, 1))                            # no unit open yet: c = 0
    open_unit = False
    out = None
    node = _prefix_node(None, (K, rows, N, M))
    for g in range(start // M, -(-bounds[-1] // M)):
        lo, hi = g * M, (g + 1) * M
        segs, ends = [], []                            # per segment: length, closes here?
        for u in range(max(bisect_right(bounds, lo) - 1, 0),
                       min(bisect_left(bounds, hi), units)):
            a, b = max(bounds[u], lo), min(bounds[u + 1], hi)
            if a < b:
                segs.append(b - a)
                ends.append(bounds[u + 1] <= hi)
        first_in, last_out = open_unit, not ends[-1]
        node = _prefix_node(node, (tuple(segs), first_in, last_out))
        known = _prefix_states.get(node)
        if known is not None:                          # the same groups so far: resume
            state, open_unit = known
            continue
        if len(segs) == 1 and not ends[0] and open_unit and segs[0] == M:
            state = np.concatenate([np.zeros((K, rows * N)), state], axis=1)[:, :K]
            _keep_prefix(node, state, open_unit)
            continue                                   # a whole group inside one unit
        law = _group_step(tuple(segs), first_in, last_out, rows, N, M)
        if law is None:
            break
        if not first_in:             # nothing open: P(closed <= k) times the group's law
            cumH = law[np.minimum(np.arange(K), len(law) - 1)]
            new = state.sum(axis=1, keepdims=True) * cumH
        else:
            trip, pq, order, xs, first, Xo = law
            if K * len(trip) > STEP_WORK:
                break
            cs = np.cumsum(state, axis=1)          # P(closed <= k, open <= x)
            at, weight = _step_plan((tuple(segs), first_in, last_out, rows, N, M), law, K,
                                    cs.shape[1])
            new = np.zeros((K, Xo))
            new[:, xs] = np.add.reduceat(np.take(cs, at) * weight, first, axis=1)
        state = new[:, :K] if last_out else new.sum(axis=1, keepdims=True)
        open_unit = last_out
        _keep_prefix(node, state, open_unit)
    else:
        c = np.arange(state.shape[1])[None, :]
        out = np.minimum((state * (c <= ks)).sum(axis=1), 1.0)
    if len(_nm_steps_cdf) >= CACHE_SIZE:
        _nm_steps_cdf.clear()
    _nm_steps_cdf[key] = out
    return out


def nm_spatial_step_cdf(start: int, t: int, units: int, last: int, rows: int, N: int,
                        M: int) -> np.ndarray | None:
    """CDF over ``k = 0, 1, ...`` of the largest kept count among the units of one step that
    split the N:M axis into abutting windows: unit ``u`` takes ``[start + u t, start + u t +
    t)`` (the last one ``last`` long), ``0 <= start < M``, each over ``rows`` rows. Units that
    share a group are dependent (a group's N kept elements are split between them). Where a
    unit border meets a group border the step splits into independent chains, identical
    chains counted once; a chain's law comes from a dynamic programme over its groups that
    carries, for every ``k``, the probability that the units closed so far hold at most
    ``k`` and the unit still open holds ``c``. None where a group's joint table or the
    programme's ``k x c`` table would pass :data:`JOINT_CELLS` cells (a unit's count above
    255), or a group's step :data:`STEP_WORK`."""
    if (rows * max(t, last) + 1) ** 2 > JOINT_CELLS:
        return None                                    # the programme's table is too large
    key = (start, t, units, last, rows, N, M)
    if key in _step_max:
        return _step_max[key]
    if len(_step_max) >= CACHE_SIZE:
        _step_max.clear()
    _step_max[key] = out = _step_max_cdf(start, t, units, last, rows, N, M)
    return out


#: :func:`nm_spatial_step_cdf` by its arguments
_step_max: dict[tuple, np.ndarray | None] = {}


def _step_max_cdf(start: int, t: int, units: int, last: int, rows: int, N: int,
                  M: int) -> np.ndarray | None:
    """:func:`nm_spatial_step_cdf` without its cache."""
    bounds = [start + u * t for u in range(units)] + [start + (units - 1) * t + last]
    cuts = [0] + [u for u in range(1, units) if bounds[u] % M == 0] + [units]
    chains: Counter = Counter()
    for a, b in zip(cuts[:-1], cuts[1:]):
        chains[(bounds[a] % M, tuple(bounds[u + 1] - bounds[u] for u in range(a, b)))] += 1
    K = rows * max(t, last) + 1
    out = np.ones(K)
    for (s0, lengths), n in chains.items():
        F = _chain_cdf(s0, lengths, rows, N, M)
        if F is None:
            return None
        out = out * F[np.minimum(np.arange(K), len(F) - 1)] ** n
    return out


def clear_caches() -> None:
    """Forget every cached N:M law and ratio."""
    global _prefix_bytes, _plan_bytes
    for c in (_nm_cache, _nm_cdfs, _nm_steps_cdf, _steps, _nm_terms, _prefix_ids,
              _prefix_states, _plans, _nm_kinds, _nm_step_e, _nm_edge,
              _step_max, _laws):
        c.clear()
    _prefix_bytes = _plan_bytes = 0
    _partial_row_pmf.cache_clear()
    _residue_counts.cache_clear()
