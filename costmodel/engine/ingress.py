"""Input side of a case (spec §4.2-§4.3): ingress of the input and filter tensors, and
MAESTRO's abort on a changing temporal loop that brings no new data.

Ingress depends on the case only through ``c``, the innermost changing directive: a
TemporalMap factor never depends on the state (at Init, ``E`` is ``init_edge``, and a
directive with ``init_edge`` has no other state), nor does a SpatialMap factor once ``c`` is
fixed. So ingress is a small per-row table indexed by ``c`` (and, for a tensor spread over
the units, by the spatial situation of the case), gathered into ``[cases, rows]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..validity import ERR_UNIQUE_ZERO

if TYPE_CHECKING:
    from .cases import CaseGroup


def ingress_tables(g: CaseGroup, tv, ks, inited, variants):
    """PEIngress (§4.2) per possible innermost changing directive ``c``, as a TemporalMap
    part ``[len(ks) + 2, R]`` and SpatialMap parts, one per ``(first, ee)`` variant.

    Row 0 is ``c = -1`` (nothing changes: the full mapped volume at Init), row ``1 + i``
    is ``c = ks[i]`` and the last row, 0, serves every ``c`` whose variable is outside
    the tensor (the tensor does not change: full temporal reuse). Only the SpatialMap
    factors depend on ``(first, ee)``.
    """
    R, K = g.R, len(ks) + 2
    k = np.asarray(ks, dtype=np.int64)[:, None]
    nec1 = g.nec1
    q_t = np.ones((K, R), dtype=np.int64)
    q_t[-1] = 0
    q_s = {fe: np.ones((K, R), dtype=np.int64) for fe in variants}
    for j, d in enumerate(g.lv.directives):
        v = d.var
        if v not in tv:
            continue
        mp, un, mpe, une = g.mp[v], g.un[v], g.mpe[v], g.une[v]
        e0 = g.st[g.last[v]].init_edge  # E of v at Init
        if d.kind == "T":
            tau = np.where(e0, mpe, mp)
            q_t[0] *= tau
            q_t[1:-1] *= np.where(k == j, np.where(inited, mp, un), tau) if j in ks else tau
            continue
        for (first, ee), q in q_s.items():
            Mx, Ux = (mpe, une) if ee else (mp, un)
            q[0] *= np.where(e0, np.where(nec1, mpe if first or ee else 1, Mx), mp)
            if first:
                q[1:-1] *= Mx
            else:
                q[1:-1] *= np.where(k > j, Mx, np.where(k == j, np.where(inited, Mx, Ux), Ux))
    return q_t, q_s


def changing(g: CaseGroup, tv) -> list[int]:
    """Directives that can be the innermost changing one (last on their variable, more
    than one state) and whose variable is in ``tv``."""
    return [j for j, d in enumerate(g.lv.directives)
            if g.counts[j] > 1 and g.last[d.var] == j and d.var in tv]


def inited_flags(g: CaseGroup, tv, ks) -> np.ndarray:
    """``[len(ks), R]``: for ``c = ks[i]``, some later directive coupled to ``tv`` is at
    Init and not unrolled, so the tile was reset (no temporal reuse, §4.2 step 2)."""
    out = np.zeros((len(ks), g.R), dtype=bool)
    later = np.zeros(g.R, dtype=bool)
    for j in range(g.n - 1, -1, -1):
        if j in ks:
            out[ks.index(j)] = later
        v = g.lv.directives[j].var
        if v in tv:
            later = later | ~g.st[g.last[v]].unrolled
    return out


def agg_one_spatial(g: CaseGroup, sits, j, ks, inited) -> np.ndarray:
    """``[len(sits), len(ks) + 2, R]``: the AGG of the SpatialMap factors of the ingress
    tables when the tensor has a single SpatialMap directive ``j``: its four ``(first,
    ee)`` factors take only a few forms (c = -1, c before / at / after ``j``), so the table
    is assembled from row vectors."""
    v = g.lv.directives[j].var
    mp, un, mpe, une = g.mp[v], g.un[v], g.mpe[v], g.une[v]
    e0 = g.st[g.last[v]].init_edge
    nec1 = g.nec1

    def agg(tf, ff, ft, tt):
        return g.agg(sits, tf, ff, ft, tt)

    out = np.zeros((len(sits), len(ks) + 2, g.R), dtype=np.int64)
    full_e = np.where(e0, mpe, mp)
    out[:, 0] = agg(np.where(e0 & nec1, mpe, mp), np.where(e0 & nec1, 1, mp), full_e, full_e)
    after = before = None
    for i, k in enumerate(ks):
        if k > j:  # the spatial dim sits outside the changing loop: whole tiles
            after = agg(mp, mp, mpe, mpe) if after is None else after
            out[:, i + 1] = after
        elif k < j:  # non-first units receive only the new part
            before = agg(mp, un, une, mpe) if before is None else before
            out[:, i + 1] = before
        else:
            out[:, i + 1] = agg(mp, np.where(inited[i], mp, un),
                                np.where(inited[i], mpe, une), mpe)
    return out


_CASE_ROWS: dict[tuple, tuple] = {}


def _case_rows(g: CaseGroup, tv):
    """The possible changing directives ``ks`` of tensor ``tv`` and the table row of each
    case (``[*counts, 1]``, read-only): they depend only on the level's directive kinds and
    variables and the group's state counts, so they are cached across calls."""
    key = (g.lv._vars_info[4], g.counts, tv)
    hit = _CASE_ROWS.get(key)
    if hit is None:
        ks = tuple(changing(g, tv))
        colmap = np.full(g.n + 1, len(ks) + 1)
        colmap[0] = 0
        colmap[[k + 1 for k in ks]] = np.arange(1, len(ks) + 1)
        cidx = colmap[g.grid.c + 1]
        cidx.setflags(write=False)
        if len(_CASE_ROWS) >= 8192:
            _CASE_ROWS.clear()
        hit = _CASE_ROWS[key] = (ks, cidx)
    return hit


def input_side(g: CaseGroup) -> None:
    """Spatial ingress ``ig_f`` per input tensor, their sum ``ing_f``, and MAESTRO's
    unique-zero abort."""
    g.ig_f = []
    for tv in g.eng.tensors[:2]:
        ks, cidx = _case_rows(g, tv)
        inited = inited_flags(g, tv, ks)
        sp, sps, spE = g.sp_info(tv)
        if not sp:
            q_t, q_s = ingress_tables(g, tv, ks, inited, [(True, False)])
            ig = (q_t * q_s[True, False])[cidx.reshape(-1)]
        elif not np.count_nonzero(spE):
            q_t, q_s = ingress_tables(g, tv, ks, inited, [(True, False), (False, False)])
            a, = g.agg((0,), q_s[True, False], q_s[False, False], None, None)
            ig = (q_t * a)[cidx.reshape(-1)]
        else:
            ig = _edge_ingress(g, tv, ks, inited, cidx, sps, spE)
        g.ig_f.append(ig)
        _check_unique_zero(g, tv, ks, inited, cidx)
    g.ing_f = g.ig_f[0] + g.ig_f[1]


def _edge_ingress(g: CaseGroup, tv, ks, inited, cidx, sps, spE) -> np.ndarray:
    """``[C, R]`` ingress of a tensor spread over the units when some case is at a spatial
    edge: one table per spatial situation that occurs, each case reading its own."""
    spatial = [j for j, d in enumerate(g.lv.directives) if d.kind == "S" and d.var in tv]
    # the spatial situations that occur: 0 no edge, 1 edge, 2 sp_edge_edge
    ee = g.spee[sps]
    sits = ([0] + [1] * bool(np.count_nonzero(spE & ~ee))
            + [2] * bool(np.count_nonzero(spE & ee)))
    if len(spatial) == 1:
        q_t, _ = ingress_tables(g, tv, ks, inited, [])
        t3 = q_t * agg_one_spatial(g, sits, spatial[0], ks, inited)
    else:
        q_t, q_s = ingress_tables(g, tv, ks, inited, [
            (True, False), (False, False), (False, True), (True, True)])
        t3 = q_t * np.array(g.agg(
            sits, q_s[True, False], q_s[False, False], q_s[False, True], q_s[True, True]))
    sel = np.where(spE, np.where(ee, len(sits) - 1, 1), 0)  # position in sits
    idx = g.flat(cidx + sel * (len(ks) + 2))
    return t3.reshape(-1, g.R)[idx, np.arange(g.R)]


def _check_unique_zero(g: CaseGroup, tv, ks, inited, cidx) -> None:
    """MAESTRO aborts when the changing temporal loop of a valid case has no new data."""
    dirs = g.lv.directives
    bad = np.zeros((len(ks) + 2, g.R), dtype=bool)
    for i, j in enumerate(ks):
        if dirs[j].kind == "T":
            bad[i + 1] = ~inited[i] & (g.un[dirs[j].var] == 0)
    if np.count_nonzero(bad):
        hit = bad[cidx.reshape(-1)] & g.valid_f
        g.err |= np.where(hit.any(axis=0), ERR_UNIQUE_ZERO, 0)
