"""Compiled top-level record of one candidate (docs/cost-model.md §7.2): L2 sizes, the
off-chip term, counters, bandwidths, delay statistics and arithmetic intensity.

The scalar form of :func:`costmodel.engine.reduction._top_record`; ``T`` is the tuple of
report arrays :func:`costmodel.kernels.analyze` returns as the engine's result fields.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..validity import ERR_NO_VALID, ERR_ZERO_COMPUTE
from .cases import tdiv_pos

I64_MIN = np.iinfo(np.int64).min
I64_MAX = np.iinfo(np.int64).max


@njit(cache=True)
def offchip_req(V, C, perm, valid, comp1):
    """MAESTRO's off-chip requirement: ``r <- tdiv(max(r, tdiv(V, comp)), 2)`` over the
    valid cases in its order, i.e. the max of ``tdiv(V, comp) >> a`` (``a``: valid cases at
    or after the case); 0 without valid cases."""
    if 0 <= V < 2 ** 53:
        r = 0
        for q in range(C):
            lc = perm[q]
            if valid[lc]:
                r = max(r, V // comp1[lc]) >> 1
        return r
    out, after = 0, 0
    for q in range(C - 1, -1, -1):  # pathological sizes: the engine's own closed form
        lc = perm[q]
        if valid[lc]:
            after += 1
            out = max(out, tdiv_pos(V, comp1[lc]) >> min(after, 62))
    return out


@njit(cache=True)
def delay_stats(T, b, k, x, valid, ov, C, any_valid, tot):
    """Min, max and truncated average over the valid cases of delay ``x`` (§7.2)."""
    lo, hi, s = I64_MAX, 0, 0
    for lc in range(C):
        if valid[lc]:
            lo = min(lo, x[lc])
            hi = max(hi, x[lc])
        s += ov[lc] * x[lc]
    T[12][b, k, 0] = lo if any_valid else I64_MIN
    T[12][b, k, 1] = hi
    T[12][b, k, 2] = tdiv_pos(s, max(tot, 1)) if any_valid else I64_MIN
    return s


@njit(cache=True, error_model="numpy")
def top_record(b, S, P, H, T, DD, C, perm, occ, valid, eg, macs, ig, comp, d_in, d_out,
               delay, fvq, fv, any_valid):
    """Fill the top-level report fields of candidate ``b``; raises every case's ``delay`` to
    the off-chip term; returns the error bits."""
    tmask, outm, partner, ddm = S[8], S[8][2], S[14], S[15]
    l2 = np.zeros(2, dtype=np.int64)
    for t in range(2):
        for q in range(fvq + 1):
            l2[t] += ig[t, perm[q]]
    l2_in, l2_w, l2_out = 2 * l2[0], 2 * l2[1], 2 * eg[fv]
    off = H[2][b]
    in_off = tdiv_pos(tdiv_pos(l2_in + l2_w, off), 2)
    out_off = tdiv_pos(tdiv_pos(l2_out, off), 2)
    err = 0 if any_valid else ERR_NO_VALID
    comp1 = np.empty(C, dtype=np.int64)
    ov = np.empty(C, dtype=np.int64)
    tot, ov_macs, all_macs, eg_all, cyc, peak, bw_sum = 0, 0, 0, 0, 0, 0, 0
    l2r = np.zeros(2, dtype=np.int64)
    allv = True
    for lc in range(C):
        delay[lc] = max(delay[lc], max(in_off, out_off))
        comp1[lc] = max(comp[lc], 1)
        ov[lc] = occ[lc] if valid[lc] else 0
        tot += ov[lc]
        ov_macs += ov[lc] * macs[lc]
        all_macs += occ[lc] * macs[lc]
        eg_all += occ[lc] * eg[lc]
        cyc += ov[lc] * comp1[lc]
        l2r[0] += ov[lc] * ig[0, lc]
        l2r[1] += ov[lc] * ig[1, lc]
        if valid[lc]:
            if comp[lc] == 0:
                err |= ERR_ZERO_COMPUTE
            traffic = max(ig[0, lc] + ig[1, lc], eg[lc])
            peak = max(peak, tdiv_pos(traffic, comp1[lc]))
            bw_sum += tdiv_pos(occ[lc] * traffic, comp1[lc])
        else:
            allv = False
    if allv:  # the engine's max over all cases, without the 0 of invalid ones
        peak = tdiv_pos(max(ig[0, 0] + ig[1, 0], eg[0]), comp1[0])
        for lc in range(1, C):
            peak = max(peak, tdiv_pos(max(ig[0, lc] + ig[1, lc], eg[lc]), comp1[lc]))
    V = max(l2_out, l2_in + l2_w)
    T[6][b] = offchip_req(V, C, perm, valid, comp1)
    T[8][b], T[9][b], T[10][b] = l2_in, l2_w, l2_out
    T[5][b] = ov_macs
    cnt = T[11]
    for t in range(2):
        size = 1
        for v in range(len(ddm)):
            if ddm[v] and tmask[t, v]:
                size *= DD[v]
        cnt[b, t, 0], cnt[b, t, 1], cnt[b, t, 2], cnt[b, t, 3] = l2r[t], size, ov_macs, l2r[t]
    out = 1
    for v in range(len(ddm)):
        if ddm[v] and outm[v]:
            pv = partner[v]
            out *= DD[v] - DD[pv] + 1 if (pv >= 0 and ddm[pv]) else DD[v]
    cnt[b, 2, 0], cnt[b, 2, 1], cnt[b, 2, 2], cnt[b, 2, 3] = out, eg_all, all_macs, all_macs
    T[7][b] = peak
    T[15][b] = bw_sum / tot
    T[13][b], T[14][b] = cyc, tot
    delay_stats(T, b, 0, d_in, valid, ov, C, any_valid, tot)
    delay_stats(T, b, 1, d_out, valid, ov, C, any_valid, tot)
    delay_stats(T, b, 2, comp1, valid, ov, C, any_valid, tot)
    last = perm[C - 1]
    for q in range(C - 1, -1, -1):
        if valid[perm[q]]:
            last = perm[q]
            break
    T[16][b] = macs[last] / (ig[0, last] + ig[1, last]) if any_valid else 0.0
    return err
