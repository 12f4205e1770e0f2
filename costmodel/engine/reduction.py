"""Reduction of a group's cases to one record per row (spec §5.1-§5.3).

Every level's record holds the runtime (the sum over cases of occurrences x case delay), the
average and most units busy, the error flags and the L1 sizes of the first innermost record.
The top level's record adds what the report needs: the off-chip term, L2 sizes, access
counters, NoC bandwidths, delay statistics, arithmetic intensity, and the number of top-level
iterations with the sum of their compute delays (which tell compute-bound from data-bound).

Names: ``ov`` is ``[C, R]`` occurrences of the valid cases (0 for invalid ones), ``vm`` the
validity in MAESTRO's case order, ``fvq`` the position of the first valid case in that order
(of the last case when none is valid) and ``fv`` its lexicographic index, ``allv`` marks the
rows whose cases are all valid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..intmath import noc_sends, tdiv_pos
from ..levels import PARTNER, REF_DIMS
from ..validity import ERR_NO_VALID, ERR_ZERO_COMPUTE
from .arrays import case_fsum, divide_quiet, rowdot, valid_reduce

if TYPE_CHECKING:
    from .cases import CaseGroup


_POW2 = 2.0 ** np.arange(65)  # a >= 64 makes the term 0 anyway (V < 2**53), see _offchip_req
_INT64_MAX, _INT64_MIN = np.iinfo(np.int64).max, np.iinfo(np.int64).min


def init_level_fields(M: int) -> dict:
    """The record fields of every level, zeroed for ``M`` rows."""
    res = {k: np.zeros(M, dtype=np.int64) for k in ("runtime", "err")}
    res["avg_active"] = np.zeros(M)
    res["max_active"] = np.zeros(M, dtype=np.int64)
    res["first_l1"] = np.zeros((M, 3), dtype=np.int64)
    return res


def init_top_fields(res: dict, M: int) -> None:
    """Add the top-level record fields, zeroed for ``M`` rows."""
    ints = ["num_macs", "offchip_req", "peak_bw", "l2_size_in", "l2_size_w", "l2_size_out"]
    for k in ints:
        res[k] = np.zeros(M, dtype=np.int64)
    res["counters"] = np.zeros((M, 3, 4), dtype=np.int64)  # tensor x (l2r, l2w, l1r, l1w)
    res["delays"] = np.zeros((M, 3, 3), dtype=np.int64)   # (in, out, comp) x (min, max, avg)
    # sum of the compute delays over the top-level iterations, and their number: with the
    # runtime they tell whether compute or data movement bounds a mapping
    res["compute_cycles"] = np.zeros(M, dtype=np.int64)
    res["top_iterations"] = np.zeros(M, dtype=np.int64)
    for k in ("avg_bw", "ai"):
        res[k] = np.zeros(M)


def reduce_group(g: CaseGroup, res: dict, top: bool) -> None:
    """Reduce the cases to the level's record (spec §5.1): runtime, utilisation, errors,
    the first L1 record, and at the top level everything the report needs."""
    rows, R = g.rows, g.R
    valid = g.valid_f
    ov = (g.occ * valid.reshape(g.counts + (R,))).reshape(g.C, R)
    comp, act = g.compute()
    d_in, d_out, delay = _case_delays(g, comp)
    vm, fvq, fv, any_valid = _first_valid_case(g, valid)
    _first_l1(g, res, fvq, fv, any_valid)
    err = g.err
    if top:
        delay, err = _top_record(g, res, g.flat(g.occ), valid, valid.all(axis=0), ov, vm,
                                 fvq, fv, any_valid, comp, delay, d_in, g.flat(d_out))
    tot = ov.sum(axis=0)
    # an upper bound on the PEs busy at once (not MAESTRO's: our consistency check)
    most = g.flat(g.busy).astype(np.int64, copy=False)
    if g.child is not None:
        cm = g.child["max_active"]
        most = most * np.maximum(cm[g.ci_1], cm[g.ci_2])
    # only cases that occur: a case that never runs keeps no PE busy
    res["max_active"][rows] = np.where(ov > 0, most, 0).max(axis=0, initial=0)
    # MAESTRO reports 0 active units when no case is valid
    res["avg_active"][rows] = case_fsum(ov * act) / np.maximum(tot, 1)
    res["runtime"][rows] = rowdot(ov, delay)
    res["err"][rows] |= err


def _case_delays(g: CaseGroup, comp: np.ndarray):
    """NoC delays in ``d_in [C, R]`` and out ``d_out`` (broadcast) of each case, and its
    delay ``[C, R]`` under double buffering (§5.1 steps 7-8, §5.4)."""
    lat = g.eng.hw_param("noc_latency", g.cand)
    bw = g.eng.hw_param("noc_bw", g.cand)
    # NoC delay lat + sends(x) - 1 (§5.4), sends = ceil(x / bw) in C arithmetic (noc_sends)
    ing = g.ing_f
    d_in = ing + (bw - 1)
    np.floor_divide(d_in, bw, out=d_in)
    if ing.size and ing.min() < 0:
        d_in += (ing < 0) & (d_in * bw != ing)
    d_in += lat - 1
    d_out = lat + noc_sends(g.eg, bw) - 1
    delay = np.maximum(d_out, comp.reshape(g.counts + (g.R,))).reshape(g.C, g.R)
    np.maximum(delay, d_in, out=delay)
    # the all-Init case cannot hide the first fill behind compute
    first_fill = g.grid.first_fill
    delay[first_fill] = comp[first_fill] + d_in[first_fill]
    return d_in, d_out, delay


def _first_valid_case(g: CaseGroup, valid: np.ndarray):
    """``vm`` (validity in MAESTRO's case order), ``fvq``, ``fv`` and ``any_valid``: where
    InitBuffers stops running (§5.1 step 1), the row's last case when none is valid."""
    perm = g.grid.perm
    vm = valid[perm]
    fvq = np.argmax(vm, axis=0)
    any_valid = vm[fvq, np.arange(g.R)]
    # with no valid case: the row's last case (of a padded grid, the last it has)
    last = g.C - 1
    if g.exists is not None:
        last = g.C - 1 - np.argmax(g.exists_q()[::-1] > 0, axis=0)
    fvq = np.where(any_valid, fvq, last)
    return vm, fvq, perm[fvq], any_valid


# -- buffer sizes (spec §5.2) --------------------------------------------------------------
def _first_l1(g: CaseGroup, res, fvq, fv, any_valid):
    """L1 sizes of the first innermost record (§5.2): at the innermost level twice the
    mapped tiles (input/filter accumulated over the cases up to the first valid one),
    above it the record of the child called by the first valid case."""
    if g.innermost or g.child is None:
        res["first_l1"][g.rows] = _own_l1(g, fvq)
        return
    fl = g.child["first_l1"][g.ci_1[fv, np.arange(g.R)]]
    none = np.flatnonzero(~any_valid)  # no child called: this level's own record
    if len(none):
        fl[none] = _own_l1(g, fvq, none)
    res["first_l1"][g.rows] = fl


def _own_l1(g: CaseGroup, fvq, sub=slice(None)):
    """This level's L1 sizes for rows ``sub``: twice the mapped tiles, input and filter
    counted once per case up to the first valid one (InitBuffers accumulates, §5.2)."""
    out = 2 * g.eng.mapped_volumes(g.i)[g.cand[sub]]
    if g.exists is None:
        out[:, :2] *= fvq[sub, None] + 1
    else:  # the cases that exist among MAESTRO's first fvq + 1
        seen = np.cumsum(g.exists_q(), axis=0)
        out[:, :2] *= seen[fvq, np.arange(g.R)][sub, None]
    return out


def _lead_sum(g: CaseGroup, x, fvq):
    """Sum of ``x`` over MAESTRO's cases 0..fvq (InitBuffers accumulates, spec §5.2)."""
    perm = g.grid.perm
    out = x[perm[0]].copy()
    late = np.flatnonzero(fvq > 0)
    if len(late):
        xs = x[:, late][perm]
        lead = np.arange(g.C)[:, None] <= fvq[late]
        if g.exists is not None:
            lead &= g.exists_q()[:, late] > 0
        out[late] = np.where(lead, xs, 0).sum(axis=0)
    return out


def _l2_sizes(g: CaseGroup, eg, fvq, fv):
    """L2 sizes of the input, filter and output (§5.2): twice the ingress summed over the
    cases up to the first valid one, twice the first valid case's egress."""
    ig = g.ig_f
    l2_in = 2 * _lead_sum(g, ig[0], fvq)
    l2_w = 2 * _lead_sum(g, ig[1], fvq)
    l2_out = 2 * eg[fv, np.arange(g.R)]
    return l2_in, l2_w, l2_out


# -- top-level record (spec §5.1 steps 9-13, §5.3) ------------------------------------------
def _top_record(g: CaseGroup, res, occ, valid, allv, ov, vm, fvq, fv, any_valid, comp, delay,
                d_in, d_out):
    """Top-level only: off-chip term, buffer sizes, counters, bandwidths, delay stats,
    compute cycles and iteration count.
    Returns the case delays with the off-chip term and the rows' error flags."""
    rows = g.rows
    eg = g.flat(g.eg)
    macs = g.flat(g.macs)
    err = g.err.copy()
    l2_in, l2_w, l2_out = _l2_sizes(g, eg, fvq, fv)
    off = g.eng.hw.offchip_bw[g.cand]
    in_off = tdiv_pos(tdiv_pos(l2_in + l2_w, off), 2)
    out_off = tdiv_pos(tdiv_pos(l2_out, off), 2)
    delay = np.maximum(delay, np.maximum(in_off, out_off))
    part = np.flatnonzero(~allv)  # rows with an invalid case
    zero_comp = ((comp == 0) & valid).any(axis=0)
    err |= np.where(zero_comp, ERR_ZERO_COMPUTE, 0)
    err |= np.where(any_valid, 0, ERR_NO_VALID)
    comp1 = np.maximum(comp, 1)
    # max(tdiv(a, d), tdiv(b, d)) == tdiv(max(a, b), d) for d > 0
    V = np.maximum(l2_out, l2_in + l2_w)
    skip = g.eng.skip
    if "offchip_req" not in skip:
        res["offchip_req"][rows] = _offchip_req(g, V, comp1, valid, vm, part)
    res["l2_size_in"][rows], res["l2_size_w"][rows], res["l2_size_out"][rows] = (
        l2_in, l2_w, l2_out)
    _counters(g, res, occ, ov, eg, macs)
    tot = ov.sum(axis=0)
    _bandwidths(g, res, occ, eg, comp1, valid, part, tot, "avg_bw" not in skip)
    compute_cycles = rowdot(ov, comp1)  # 0 where no case is valid (ov is 0)
    res["compute_cycles"][rows] = compute_cycles
    res["top_iterations"][rows] = tot
    if "delays" not in skip:
        sums = [rowdot(ov, d_in), rowdot(ov, d_out), compute_cycles]
        _delay_stats(g, res, (d_in, d_out, comp1), sums, valid, part, any_valid, tot)
    if "ai" not in skip:
        res["ai"][rows] = _arithmetic_intensity(g, macs, vm, any_valid)
    return delay, err


def _offchip_req(g: CaseGroup, V, comp1, valid, vm, part):
    """MAESTRO's off-chip requirement, ``r <- tdiv(max(r, tdiv(V, comp)), 2)`` over the
    valid cases in its order (``V``: the row's larger L2 size), in closed form.

    That is the max over valid cases of ``tdiv(V, comp) >> a`` with ``a`` the number of
    valid cases at or after the case, i.e. ``V // min(comp * 2**a)`` for ``0 <= V <
    2**53``: a min over exact float products instead of an integer division per case.
    """
    perm = g.grid.perm
    pow2 = _POW2
    d = (comp1 * g.grid.pow2_after).min(axis=0)  # all valid: a = C - q
    if len(part):  # in MAESTRO's order; invalid cases do not count
        vp = vm[:, part]
        a = np.cumsum(vp[::-1].view(np.int8), axis=0, dtype=np.int16)[::-1]
        m = comp1[:, part][perm] * pow2[np.minimum(a, 64)]
        d[part] = np.where(vp, m, np.inf).min(axis=0)
    exact = (V >= 0) & (V < 2 ** 53)
    out = np.where(exact & (d <= V), V // np.where(d <= V, d, 1).astype(np.int64), 0)
    odd = np.flatnonzero(~exact)
    if len(odd):  # the recurrence itself, for pathological sizes
        v_m = tdiv_pos(V[odd], comp1[:, odd])[perm]
        after = np.cumsum(vm[::-1, odd].view(np.int8), axis=0, dtype=np.int16)[::-1]
        out[odd] = np.where(vm[:, odd], np.right_shift(v_m, np.minimum(after, 62)),
                            0).max(axis=0)
    return out


def _counters(g: CaseGroup, res, occ, ov, eg, macs):
    """Access counters (§5.3), tensor x (L2 read, L2 write, L1 read, L1 write)."""
    rows = g.rows
    t_in, t_w, t_out = g.eng.tensors
    ov_macs = rowdot(ov, macs)
    res["num_macs"][rows] = ov_macs
    cnt = res["counters"]
    for t, tv in enumerate((t_in, t_w)):
        l2r = rowdot(ov, g.ig_f[t])
        cnt[rows, t, 0] = l2r
        cnt[rows, t, 1] = np.prod([g.DD[v] for v in tv if v in g.DD], axis=0)
        cnt[rows, t, 2] = ov_macs
        cnt[rows, t, 3] = l2r
    all_macs = rowdot(occ, macs)
    cnt[rows, 2, 0] = _out_size(g, t_out)
    cnt[rows, 2, 1] = rowdot(occ, eg)
    cnt[rows, 2, 2] = all_macs
    cnt[rows, 2, 3] = all_macs


def _out_size(g: CaseGroup, tv):
    """Output size from the dynamic dims, a sliding dim taking ``D - partner + 1`` (stride
    ignored, §5.2)."""
    out = np.ones(g.R, dtype=np.int64)
    for v in tv:
        if v not in g.DD:
            continue
        if v in REF_DIMS and PARTNER[v] in g.DD:
            out = out * (g.DD[v] - g.DD[PARTNER[v]] + 1)
        else:
            out = out * g.DD[v]
    return out


def _bandwidths(g: CaseGroup, res, occ, eg, comp1, valid, part, tot, avg=True):
    """Peak and (with ``avg``) average NoC bandwidth: the larger of ingress and egress over
    the compute delay, per valid case (§5.1 step 12)."""
    rows = g.rows
    traffic = np.maximum(g.ing_f, eg)
    res["peak_bw"][rows] = valid_reduce(np.max, tdiv_pos(traffic, comp1), valid, part, 0)
    if avg:
        res["avg_bw"][rows] = divide_quiet(rowdot(tdiv_pos(occ * traffic, comp1), valid), tot)


def _delay_stats(g: CaseGroup, res, delays, sums, valid, part, any_valid, tot):
    """Min, max and average over the valid cases of each of ``delays`` (ingress, egress,
    compute), whose occurrence-weighted sums are ``sums`` (§5.1 step 13)."""
    rows = g.rows
    tot_s = np.maximum(tot, 1)
    # with no valid case MAESTRO reports min = avg = INT64_MIN and max = 0
    big, lo = _INT64_MAX, _INT64_MIN
    for k, (dly, total) in enumerate(zip(delays, sums)):
        res["delays"][rows, k, 0] = np.where(
            any_valid, valid_reduce(np.min, dly, valid, part, big), lo)
        res["delays"][rows, k, 1] = np.maximum(valid_reduce(np.max, dly, valid, part, 0), 0)
        res["delays"][rows, k, 2] = np.where(any_valid, tdiv_pos(total, tot_s), lo)


def _arithmetic_intensity(g: CaseGroup, macs, vm, any_valid):
    """MACs over ingress of the last valid case in MAESTRO's order (§5.1 step 5)."""
    ridx = np.arange(g.R)
    last = g.grid.perm[g.C - 1 - np.argmax(vm[::-1], axis=0)]
    ai = divide_quiet(macs[last, ridx].astype(float), g.ing_f[last, ridx])
    # MAESTRO sets it from its last valid case; with none it keeps its initial 0 (the
    # case picked above would depend on which rows share this batch)
    return np.where(any_valid, ai, 0.0)
