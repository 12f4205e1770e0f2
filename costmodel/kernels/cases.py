"""Compiled per-row pieces of a level's analysis: directive states, the case order, and the
per-case output side (egress, partial sums, MACs) and input side (ingress tables).

These are the scalar forms of :mod:`costmodel.engine.states`, :mod:`~costmodel.engine.egress`
and :mod:`~costmodel.engine.ingress` (docs/cost-model.md §4-§5): one row, one case at a time.
Arrays indexed by ``v`` are over the kernel's variable table (:mod:`.pack`); ``j`` indexes
the level's directives.
"""

from __future__ import annotations

import numpy as np
from numba import njit

INIT, STEADY, EDGE = 0, 1, 2


@njit(cache=True, inline="always")
def tdiv_pos(a, b):
    """C division (toward zero) by a positive ``b``."""
    q = a // b
    if a < 0 and q * b != a:
        q += 1
    return q


@njit(cache=True)
def directive_states(n, kind, var, m, o, DD, N):
    """``ns`` and the flags (unrolled, init_edge, ee_i, ee_e, has_st, has_ed) ``[n, 6]`` of
    each directive of a row (§4; ``N`` at least 1)."""
    ns = np.zeros(n, dtype=np.int64)
    fl = np.zeros((n, 6), dtype=np.bool_)
    for j in range(n):
        D, mj, oj = DD[var[j]], m[j], o[j]
        if kind[j] == 0:
            fl[j, 0] = D <= mj
            fl[j, 1] = D < mj
            s = max(D - mj, 0) // oj
            fl[j, 4] = (mj < D) and s > 0
            fl[j, 5] = (not fl[j, 1]) and s * oj + mj < D
        else:
            cov = mj + oj * (N - 1)
            fl[j, 0] = D <= cov
            fl[j, 1] = D < cov
            fl[j, 2] = fl[j, 1]
            s = tdiv_pos(tdiv_pos(D - mj, oj) + 1, N) - 1
            fl[j, 4] = (cov < D) and s > 0
            edge = (not fl[j, 0]) and (s + 1) * oj * N + cov > D and s * oj * N + cov != D
            rem = D - (s + 1) * oj * N
            a = 1 if rem < mj else tdiv_pos(rem - mj, oj) + 1
            fl[j, 3] = (a - 1) * oj + mj < rem
            fl[j, 5] = (not fl[j, 1]) and edge
        ns[j] = s
    return ns, fl


@njit(cache=True)
def maestro_order(counts):
    """``perm[q]``: the lexicographic index of MAESTRO's ``q``-th case (directive ``j`` at
    state ``ceil(q / f_j) mod s_j``, ``f_j`` the product of the later counts)."""
    n = len(counts)
    C = 1
    for j in range(n):
        C *= counts[j]
    perm = np.empty(C, dtype=np.int64)
    for q in range(C):
        f, lex, stride = 1, 0, 1
        for j in range(n - 1, -1, -1):
            s = (q + f - 1) // f % counts[j]
            lex += s * stride
            stride *= counts[j]
            f *= counts[j]
        perm[q] = lex
    return perm


@njit(cache=True, inline="always")
def s_factor(p, Ev, ee, first, reuse, nec1, mp_a, un_a, mpe_a, une_a, mpe_v):
    """A SpatialMap factor of PEEgress for unit variant ``(first, ee)`` (§5.2)."""
    base = mp_a if first else (un_a if un_a != 0 else 1)
    f_i = base
    if Ev and ee:
        f_i = mpe_a if (nec1 or not reuse) else une_a
    if nec1:
        f_e = mpe_v if (first or ee) else 1
    else:
        f_e = une_a if ee else base
    if p == INIT:
        return f_i
    return base if p == STEADY else f_e


@njit(cache=True)
def h_b(first, ee, reuse, lvars, fkind, outm, outof, posv, E, nec1, mp, un, mpe, une):
    """Product of the SpatialMap factors on the output's own dims (part B)."""
    out = 1
    for v in lvars:
        if outm[v] and fkind[v] == 1:
            a = outof[v]
            out *= s_factor(posv[v], E[v], ee, first, reuse, nec1, mp[a], un[a], mpe[a],
                            une[a], mpe[v])
    return out


@njit(cache=True)
def h_a(first, ee, n, kind, var, outm, posv, E, nec1, mp, un, mpe, une):
    """Product of the SpatialMap factors on dims outside the output (part A)."""
    out = 1
    for j in range(n):
        v = var[j]
        if kind[j] == 1 and not outm[v]:
            out *= s_factor(posv[v], E[v], ee, first, False, nec1, mp[v], un[v], mpe[v],
                            une[v], mpe[v])
    return out


@njit(cache=True, inline="always")
def agg(s, N, nec, tf, ff, ft, tt):
    """AGG over the units (§5.2) in spatial situation ``s``: 0 no edge, 1 edge, 2 edge with a
    partial last unit."""
    if s == 0:
        return tf + (N - 1) * ff
    if s == 1:
        return tf + max(nec - 1, 0) * ff
    return (tt if nec == 1 else tf) + max(nec - 2, 0) * ff + (ft if nec > 1 else 0)


@njit(cache=True)
def ingress_row(r, inited_r, n, kind, var, last, tm, init_edge, nec1, mp, un, mpe, une):
    """PEIngress factors of one tensor for innermost changing directive ``r`` (-1: nothing
    changes): the TemporalMap product and the SpatialMap products of the four unit variants
    (first, ee) = TF, FF, FT, TT (§5.3)."""
    qt = 1
    qs = np.ones(4, dtype=np.int64)
    for j in range(n):
        v = var[j]
        if not tm[v]:
            continue
        e0 = init_edge[last[v]]
        if kind[j] == 0:
            tau = mpe[v] if e0 else mp[v]
            if r == j:
                qt *= mp[v] if inited_r else un[v]
            else:
                qt *= tau
            continue
        for w in range(4):
            first, ee = w == 0 or w == 3, w >= 2
            Mx, Ux = (mpe[v], une[v]) if ee else (mp[v], un[v])
            if r == -1:
                if e0:
                    f = Mx if not nec1 else (mpe[v] if (first or ee) else 1)
                else:
                    f = mp[v]
            elif first or r > j:
                f = Mx
            elif r == j:
                f = Mx if inited_r else Ux
            else:
                f = Ux
            qs[w] *= f
    return qt, qs


@njit(cache=True)
def ingress_table(t, n, kind, var, last, tmask, counts, unrolled, init_edge, sp, N, nec,
                  mp, un, mpe, une):
    """``[n + 1, 3]`` ingress of tensor ``t`` by changing directive ``c + 1`` (row 0: ``c =
    -1``) and spatial situation; rows of directives that cannot change the tensor stay 0.
    Also ``bad [n]``: a changing TemporalMap with no new data (MAESTRO aborts)."""
    tm = tmask[t]
    nec1 = nec == 1
    inited = np.zeros(n, dtype=np.bool_)
    is_k = np.zeros(n, dtype=np.bool_)
    later = False
    for j in range(n - 1, -1, -1):
        v = var[j]
        is_k[j] = counts[j] > 1 and last[v] == j and tm[v]
        if is_k[j]:
            inited[j] = later
        if tm[v]:
            later = later or not unrolled[last[v]]
    tab = np.zeros((n + 1, 3), dtype=np.int64)
    bad = np.zeros(n, dtype=np.bool_)
    for r in range(-1, n):
        if r >= 0 and not is_k[r]:
            continue
        ini = inited[r] if r >= 0 else False
        qt, qs = ingress_row(r, ini, n, kind, var, last, tm, init_edge, nec1, mp, un, mpe, une)
        for s in range(3):
            if sp:
                tab[r + 1, s] = qt * agg(s, N, nec, qs[0], qs[1], qs[2], qs[3])
            else:
                tab[r + 1, s] = qt * qs[0]
        if r >= 0 and kind[r] == 0:
            bad[r] = (not ini) and un[var[r]] == 0
    return tab, bad
