"""Output side of a case (spec §4.4): egress traffic, the critical PE's partial sums, MACs,
and which cases are valid (partial sums > 0).

``PEEgress`` is a product of one factor per directive. Only the SpatialMap factors depend on
the unit's variant ``(first, ee)`` (first unit of the level; last unit at an sp-edge-edge), so
the aggregation over sub-units (§4.3) runs on the product of the SpatialMap factors alone,
which is then multiplied by the product of the TemporalMap factors.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..intmath import nz
from ..levels import OUT_OF
from .arrays import broadcast_prod

if TYPE_CHECKING:
    from .cases import CaseGroup


def egress_factors(g: CaseGroup, tv, part, kind, first=True, ee=False, reuse_edge=True):
    """Factors of ``PEEgress`` (§4.4) of the directives of one kind.

    Part ``"A"`` (counted only for partial sums) covers the directives on dims outside the
    tensor, part ``"B"`` the tensor's dims, each through its first directive.
    ``kind == "T"`` factors do not depend on ``first``/``ee`` (Python bools); ``"S"`` factors
    do. A factor depends on the case only through the state of the last directive on its
    variable, so it is built from its per-row values at Init, Steady and Edge
    (:meth:`CaseGroup.state_factor`).
    """
    if part == "A":
        return _factors_a(g, tv, kind, first, ee)
    dirs = g.lv.directives
    mp, un, mpe, une, nec1 = g.mp, g.un, g.mpe, g.une, g.nec1
    out = []
    for v in tv:
        if dirs[g.first[v]].kind != kind:
            continue
        a = OUT_OF.get(v, v)
        last = g.last[v]
        init_edge = g.st[last].init_edge  # E of v at Init
        if kind == "T":
            out.append(g.state_factor(last, np.where(init_edge, mpe[a], mp[a]), mp[a], mpe[a]))
            continue
        base = mp[a] if first else nz(un[a])
        f_i = (np.where(init_edge, np.where(nec1, mpe[a], une[a] if reuse_edge else mpe[a]), base)
               if ee else base)
        f_e = np.where(nec1, mpe[v] if first or ee else 1, une[a] if ee else base)
        out.append(g.state_factor(last, f_i, base, f_e))
    return out


def _factors_a(g: CaseGroup, tv, kind, first, ee):
    """Part A of :func:`egress_factors`: directives of ``kind`` on dims outside ``tv``."""
    mp, un, mpe, une, nec1 = g.mp, g.un, g.mpe, g.une, g.nec1
    out = []
    for d in g.lv.directives:
        v = d.var
        if v in tv or d.kind != kind:
            continue
        last = g.last[v]
        init_edge = g.st[last].init_edge
        if kind == "T":
            out.append(g.state_factor(last, np.where(init_edge, mpe[v], mp[v]), mp[v], mpe[v]))
            continue
        base = mp[v] if first else nz(un[v])
        f_i = np.where(init_edge, mpe[v], base) if ee else base
        f_e = np.where(nec1, mpe[v] if first or ee else 1, une[v] if ee else base)
        out.append(g.state_factor(last, f_i, base, f_e))
    return out


def output_side(g: CaseGroup) -> None:
    """Egress ``eg``, critical-path partial sums ``npsum`` and, at the top level, MACs
    ``macs`` per case; validity ``valid_f`` (npsum > 0, and the case exists)."""
    t_out = g.eng.tensors[2]
    g_b = broadcast_prod(egress_factors(g, t_out, "B", "T"))
    g_ab = g_b * broadcast_prod(egress_factors(g, t_out, "A", "T"))

    memo: dict[tuple, np.ndarray] = {}  # the (first, ee) variants recur below

    def h_b(first, ee, reuse_edge=True):
        key = ("B", first, ee, reuse_edge)
        if key not in memo:
            memo[key] = broadcast_prod(
                egress_factors(g, t_out, "B", "S", first, ee, reuse_edge))
        return memo[key]

    def h_ab(first, ee, reuse_edge=True):
        key = ("AB", first, ee, reuse_edge)
        if key not in memo:
            memo[key] = (broadcast_prod(egress_factors(g, t_out, "A", "S", first, ee))
                         * h_b(first, ee, reuse_edge))
        return memo[key]

    # a (first, ee) variant is only built where some case needs it; np.where with an
    # all-False condition is its second operand, broadcast
    sp, sps, spE = g.sp_info(t_out)
    if sp and np.count_nonzero(spE):
        ee_star = g.spee[sps]
        if np.count_nonzero(spE & ee_star):
            eg_h = g.combine(h_b(True, False), h_b(False, False), h_b(False, True),
                             h_b(True, True), spE, ee_star)
        else:  # no case at an sp-edge-edge
            a, b0 = g.agg((0, 1), h_b(True, False), h_b(False, False), None, None)
            eg_h = np.where(spE, b0, a)
    elif sp:  # no case at a spatial edge
        eg_h, = g.agg((0,), h_b(True, False), h_b(False, False), None, None)
    else:
        eg_h = h_b(True, False)
    g.eg = g_b * eg_h
    p_tf = h_ab(True, False)
    tt_cases = spE & g.nec1 & g.spee[sps] if sp else False
    np_h = np.where(tt_cases, h_ab(True, True), p_tf) if np.count_nonzero(tt_cases) else p_tf
    g.npsum = g_ab * np_h
    valid = g.npsum > 0
    if g.exists is not None:  # a case a row does not have is not valid
        valid = valid & (g.exists > 0)
    g.valid_f = g.flat(valid)
    if g.i == 0:  # MACs are only reported, from the top level
        _, sps2, spE2 = g.sp_info(t_out, all_spatial=True)
        ee2 = g.spee[sps2]
        n_ee = ee2.astype(np.int64)
        n_full = np.maximum(g.nec - n_ee - 1, 0)
        if np.count_nonzero(spE2):
            macs_h = np.where(
                spE2,
                np.where(g.nec1 & ee2, h_ab(True, True), p_tf)
                + g.nec_gt1 * (n_full * p_tf + n_ee * h_ab(False, True, reuse_edge=False)),
                g.N * p_tf)
        else:  # no case at a spatial edge
            macs_h = g.N * p_tf
        g.macs = g_ab * macs_h
