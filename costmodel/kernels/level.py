"""Compiled analysis of one row of a level and its children (docs/cost-model.md §3-§7).

:func:`analyze_level` is the scalar form of :class:`costmodel.engine.Engine`: it walks a
row's cases in lexicographic order, computes each case's quantities (:mod:`.cases`),
analyses each distinct child row once (recursively, memoised per call), and reduces the
cases to the level's record; at the top level it also writes the report's fields
(:mod:`.top`). ``S`` holds the structure's tables, ``P`` the candidates' tables and ``H``
the hardware (see :mod:`.pack`).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..validity import ERR_PES, ERR_UNIQUE_ZERO
from .cases import (
    EDGE,
    INIT,
    STEADY,
    agg,
    directive_states,
    h_a,
    h_b,
    ingress_table,
    maestro_order,
    s_factor,
)
from .top import top_record


@njit(cache=True)
def case_states(n, counts, idx, pos, ns, fl, var, last, lvars, posv, E, spee):
    """Fill ``posv``/``E``/``spee`` of the case with state indices ``idx``; returns its
    occurrences and innermost changing directive ``c``."""
    occ, c = 1, -1
    for j in range(n):
        p = pos[j, idx[j]]
        if counts[j] > 1 and p == STEADY:
            occ *= ns[j]
        if last[var[j]] == j and idx[j] >= 1:
            c = j
    for v in lvars:
        L = last[v]
        p = pos[L, idx[L]]
        posv[v] = p
        E[v] = p == EDGE or (p == INIT and fl[L, 1])
        spee[v] = fl[L, 2] if p == INIT else (p == EDGE and fl[L, 3])
    return occ, c


@njit(cache=True)
def output_side(n, kind, var, lvars, fkind, outm, outof, posv, E, spee, N, nec, mp, un,
                mpe, une, sps, sps2, top):
    """Egress, partial sums and (top level) MACs of one case (§5.2)."""
    nec1 = nec == 1
    g_b, g_a = 1, 1
    for v in lvars:
        if outm[v] and fkind[v] == 0:
            a, p = outof[v], posv[v]
            if p == INIT:
                g_b *= mpe[a] if E[v] else mp[a]
            else:
                g_b *= mp[a] if p == STEADY else mpe[a]
    for j in range(n):
        v = var[j]
        if kind[j] == 0 and not outm[v]:
            g_a *= mpe[v] if E[v] else mp[v]
    g_ab = g_b * g_a
    a_tf = h_a(True, False, n, kind, var, outm, posv, E, nec1, mp, un, mpe, une)
    a_tt = h_a(True, True, n, kind, var, outm, posv, E, nec1, mp, un, mpe, une)
    b_tf = h_b(True, False, True, lvars, fkind, outm, outof, posv, E, nec1, mp, un, mpe, une)
    b_tt = h_b(True, True, True, lvars, fkind, outm, outof, posv, E, nec1, mp, un, mpe, une)
    spE = False
    for v in lvars:
        if outm[v] and fkind[v] == 1:
            spE = spE or E[v]
    if sps >= 0:
        b_ff = h_b(False, False, True, lvars, fkind, outm, outof, posv, E, nec1, mp, un, mpe,
                   une)
        b_ft = h_b(False, True, True, lvars, fkind, outm, outof, posv, E, nec1, mp, un, mpe,
                   une)
        if not spE:
            eg_h = agg(0, N, nec, b_tf, b_ff, b_ft, b_tt)
        else:
            eg_h = agg(2 if spee[sps] else 1, N, nec, b_tf, b_ff, b_ft, b_tt)
    else:
        eg_h = b_tf
    p_tf, p_tt = a_tf * b_tf, a_tt * b_tt
    np_h = p_tt if (sps >= 0 and spE and nec1 and spee[sps]) else p_tf
    macs = 0
    if top:
        spE2 = spE
        for j in range(n):
            if kind[j] == 1:
                spE2 = spE2 or E[var[j]]
        if spE2:
            ee2 = spee[sps2]
            n_ee = 1 if ee2 else 0
            n_full = max(nec - n_ee - 1, 0)
            macs_h = p_tt if (nec1 and ee2) else p_tf
            if nec > 1:
                a_ft = h_a(False, True, n, kind, var, outm, posv, E, nec1, mp, un, mpe, une)
                b_ft2 = h_b(False, True, False, lvars, fkind, outm, outof, posv, E, nec1, mp,
                            un, mpe, une)
                macs_h += n_full * p_tf + n_ee * a_ft * b_ft2
        else:
            macs_h = N * p_tf
        macs = g_ab * macs_h
    return g_b * eg_h, g_ab * np_h, macs


@njit(cache=True)
def child_dd(DD, cvars, fkind, posv, E, nec1, ee, mp, mpe):
    """The child row's dims a case hands down (§5.4): ``mpe`` where the variable is at an
    edge (for a spatially mapped one, as seen by the unit variant ``ee``), else ``mp``."""
    for v in cvars:
        if fkind[v] == 0:
            bit = E[v]
        else:
            pick = nec1 or ee
            bit = (E[v] and pick) if posv[v] == INIT else (posv[v] == EDGE and pick)
        DD[v] = mpe[v] if bit else mp[v]


@njit(cache=True)
def find_child(nodes, nk, lvl, DD, cvars):
    """Index of the node of level ``lvl`` with dims ``DD`` among the first ``nk``, else -1."""
    ndd, nlv = nodes[0], nodes[1]
    for k in range(nk):
        if nlv[k] != lvl:
            continue
        same = True
        for v in cvars:
            if ndd[k, v] != DD[v]:
                same = False
                break
        if same:
            return k
    return -1


@njit(cache=True)
def row_setup(i, b, DD, S, P):
    """Level ``i``'s directives and variables, and the row's directive states, positions
    (Init, then Steady and/or Edge) and number of cases."""
    ndir, dkind, dvar, dlast, dfkind, dlvars, dcvars = S[1:8]
    n = ndir[i]
    kind, var = dkind[i, :n], dvar[i, :n]
    lvars, cvars = dlvars[i, 1:1 + dlvars[i, 0]], dcvars[i, 1:1 + dcvars[i, 0]]
    Nraw = P[2][b, i]
    ns, fl = directive_states(n, kind, var, P[0][b, i, :n], P[1][b, i, :n], DD, max(Nraw, 1))
    counts = np.empty(n, dtype=np.int64)
    pos = np.zeros((n, 3), dtype=np.int8)
    C = 1
    for j in range(n):
        counts[j] = 1 + fl[j, 4] + fl[j, 5]
        pos[j, 1] = STEADY if fl[j, 4] else EDGE
        pos[j, 2] = EDGE
        C *= counts[j]
    return n, kind, var, dlast[i], dfkind[i], lvars, cvars, Nraw, ns, fl, counts, pos, C


@njit(cache=True)
def register_children(i, b, DD, S, P, nodes, nk):
    """Add the child rows the valid cases of row ``DD`` of level ``i`` call to ``nodes``
    (level ``i + 1``, once each); returns the new node count, -1 when ``nodes`` is full."""
    n, kind, var, last, fkind, lvars, cvars, Nraw, ns, fl, counts, pos, C = row_setup(
        i, b, DD, S, P)
    nec = P[3][b, i]
    tab = P[5]
    mp, un, mpe, une = tab[b, i, 0], tab[b, i, 1], tab[b, i, 2], tab[b, i, 3]
    V = len(S[9])
    idx = np.zeros(n, dtype=np.int64)
    posv = np.zeros(V, dtype=np.int8)
    E = np.zeros(V, dtype=np.bool_)
    spee = np.zeros(V, dtype=np.bool_)
    cdd = np.zeros(V, dtype=np.int64)
    v0 = S[13][i]
    for _ in range(C):
        case_states(n, counts, idx, pos, ns, fl, var, last, lvars, posv, E, spee)
        _, npsum, _ = output_side(n, kind, var, lvars, fkind, S[8][2], S[9], posv, E, spee,
                                  Nraw, nec, mp, un, mpe, une, S[10][i], S[11][i], False)
        if npsum > 0:
            both = E[var[v0]] and spee[var[v0]]
            for w in range(2):
                child_dd(cdd, cvars, fkind, posv, E, nec == 1, both and (w == 0 or nec <= 1),
                         mp, mpe)
                if find_child(nodes, nk, i + 1, cdd, cvars) < 0:
                    if nk == len(nodes[1]):
                        return -1
                    nodes[0][nk] = cdd
                    nodes[1][nk] = i + 1
                    nk += 1
        next_case(idx, counts)
    return nk


@njit(cache=True, inline="always")
def next_case(idx, counts):
    """Advance the state indices ``idx`` to the next case (lexicographic, last fastest)."""
    for j in range(len(idx) - 1, -1, -1):
        idx[j] += 1
        if idx[j] < counts[j]:
            return
        idx[j] = 0


@njit(cache=True)
def analyze_level(i, b, DD, S, P, H, T, nodes, nk):
    """Record ``(runtime, avg_active, max_active, err, l1 [3])`` of level ``i`` for candidate
    ``b`` with dynamic dims ``DD``, its children's records being in ``nodes``; at the top
    level also fills the report arrays ``T``."""
    n, kind, var, last, fkind, lvars, cvars, Nraw, ns, fl, counts, pos, C = row_setup(
        i, b, DD, S, P)
    nlev, tmask, outof, spv, spv2, spin, sp_first = S[0], S[8], S[9], S[10], S[11], S[12], S[13]
    Nlv, necs, busys, tab, mvol = P[2:]
    nec = necs[b, i]
    nec1 = nec == 1
    mp, un, mpe, une = tab[b, i, 0], tab[b, i, 1], tab[b, i, 2], tab[b, i, 3]
    V = len(outof)
    igt = np.zeros((2, n + 1, 3), dtype=np.int64)
    bad = np.zeros((2, n), dtype=np.bool_)
    for t in range(2):
        igt[t], bad[t] = ingress_table(t, n, kind, var, last, tmask, counts, fl[:, 0], fl[:, 1],
                                       spin[i, t] >= 0, Nraw, nec, mp, un, mpe, une)
    innermost = i == nlev - 1
    top = i == 0
    occ = np.empty(C, dtype=np.int64)
    valid = np.empty(C, dtype=np.bool_)
    eg = np.empty(C, dtype=np.int64)
    npsum = np.empty(C, dtype=np.int64)
    macs = np.empty(C, dtype=np.int64)
    ig = np.empty((2, C), dtype=np.int64)
    cc = np.empty(C, dtype=np.int64)
    comp = np.zeros(C, dtype=np.int64)
    act = np.empty(C)
    most = np.empty(C, dtype=np.int64)
    ci = np.full(C, -1, dtype=np.int64)
    err = 0
    nrt, nav, nma, nerr, nl1 = nodes[2:]
    cdd = np.zeros(V, dtype=np.int64)
    idx = np.zeros(n, dtype=np.int64)
    posv = np.zeros(V, dtype=np.int8)
    E = np.zeros(V, dtype=np.bool_)
    spee = np.zeros(V, dtype=np.bool_)
    v0 = sp_first[i]
    simd = H[3][b]
    for lc in range(C):
        occ[lc], c = case_states(n, counts, idx, pos, ns, fl, var, last, lvars, posv, E, spee)
        cc[lc] = c
        eg[lc], npsum[lc], macs[lc] = output_side(
            n, kind, var, lvars, fkind, tmask[2], outof, posv, E, spee, Nraw, nec, mp, un, mpe,
            une, spv[i], spv2[i], top)
        valid[lc] = npsum[lc] > 0
        for t in range(2):
            s = 0
            if spin[i, t] >= 0:
                spE = False
                for v in lvars:
                    if tmask[t, v] and fkind[v] == 1:
                        spE = spE or E[v]
                if spE:
                    s = 2 if spee[spin[i, t]] else 1
            ig[t, lc] = igt[t, c + 1, s] if (c < 0 or tmask[t, var[c]]) else 0
            if valid[lc] and c >= 0 and bad[t, c] and tmask[t, var[c]]:
                err |= ERR_UNIQUE_ZERO
        is_e = E[var[v0]]
        active = nec if is_e else Nraw
        most[lc] = busys[b, i] if is_e else Nraw
        if innermost:
            comp[lc] = npsum[lc] if simd == 1 else (npsum[lc] + simd - 1) // simd
            act[lc] = active
        elif valid[lc]:
            both = is_e and spee[var[v0]]
            solo = both and nec <= 1
            child_dd(cdd, cvars, fkind, posv, E, nec1, both, mp, mpe)
            k1 = find_child(nodes, nk, i + 1, cdd, cvars)
            child_dd(cdd, cvars, fkind, posv, E, nec1, solo, mp, mpe)
            k2 = find_child(nodes, nk, i + 1, cdd, cvars)
            ci[lc] = k1
            comp[lc] = max(nrt[k1], nrt[k2])
            w1 = 1.0 if both else float(active)
            w2 = nec - 1 if (both and nec > 1) else 0
            a = nav[k1] * w1 + nav[k2] * w2
            act[lc] = a if a != 0 else float(active)
            most[lc] *= max(nma[k1], nma[k2])
            err |= nerr[k1] | nerr[k2]
        else:
            act[lc] = active
        next_case(idx, counts)
    perm = maestro_order(counts)
    fvq = C - 1
    any_valid = False
    for q in range(C):
        if valid[perm[q]]:
            fvq, any_valid = q, True
            break
    fv = perm[fvq]
    if innermost or not any_valid:
        l1a = 2 * mvol[b, i, 0] * (fvq + 1)
        l1b = 2 * mvol[b, i, 1] * (fvq + 1)
        l1c = 2 * mvol[b, i, 2]
    else:
        l1a, l1b, l1c = nl1[ci[fv], 0], nl1[ci[fv], 1], nl1[ci[fv], 2]
    lat, bw = H[1][b], H[0][b]
    d_in = np.empty(C, dtype=np.int64)
    d_out = np.empty(C, dtype=np.int64)
    delay = np.empty(C, dtype=np.int64)
    for lc in range(C):
        d_in[lc] = (ig[0, lc] + ig[1, lc] + bw - 1) // bw + lat - 1
        d_out[lc] = lat + (eg[lc] + bw - 1) // bw - 1
        if cc[lc] == -1:
            delay[lc] = comp[lc] + d_in[lc]
        else:
            delay[lc] = max(d_out[lc], comp[lc], d_in[lc])
    if top:
        err |= top_record(b, S, P, H, T, DD, C, perm, occ, valid, eg, macs, ig, comp, d_in,
                          d_out, delay, fvq, fv, any_valid)
    runtime, tot, most_v = 0, 0, 0
    fsum = 0.0
    for lc in range(C):
        ov = occ[lc] if valid[lc] else 0
        runtime += ov * delay[lc]
        tot += ov
        fsum += ov * act[lc]
        if ov > 0:
            most_v = max(most_v, most[lc])
    if Nraw == 0:
        err |= ERR_PES
    return runtime, fsum / max(tot, 1), most_v, err, l1a, l1b, l1c


@njit(cache=True)
def analyze_batch(S, P, H, T, DD0):
    """Analyse every candidate, its child rows first; records go into ``T``."""
    B, V = DD0.shape
    nodes = new_nodes(64, V)
    for b in range(B):
        nodes[0][0] = DD0[b]
        nodes[1][0] = 0
        nk, k = 1, 0
        while k < nk:  # top-down: the distinct rows of every level
            if nodes[1][k] < S[0] - 1:
                r = register_children(nodes[1][k], b, nodes[0][k], S, P, nodes, nk)
                if r < 0:
                    nodes = grow(nodes, nk)
                    continue
                nk = r
            k += 1
        for k in range(nk - 1, -1, -1):  # bottom-up: children before their parents
            rt, av, ma, err, l1a, l1b, l1c = analyze_level(nodes[1][k], b, nodes[0][k], S, P,
                                                           H, T, nodes, nk)
            nodes[2][k], nodes[3][k], nodes[4][k], nodes[5][k] = rt, av, ma, err
            nodes[6][k, 0], nodes[6][k, 1], nodes[6][k, 2] = l1a, l1b, l1c
        T[0][b], T[1][b], T[2][b], T[3][b] = nodes[2][0], nodes[3][0], nodes[4][0], nodes[5][0]
        T[4][b] = nodes[6][0]


@njit(cache=True)
def new_nodes(cap, V):
    """Room for ``cap`` rows: dims, level, runtime, avg_active, max_active, err, first_l1."""
    return (np.zeros((cap, V), dtype=np.int64), np.zeros(cap, dtype=np.int64),
            np.zeros(cap, dtype=np.int64), np.zeros(cap), np.zeros(cap, dtype=np.int64),
            np.zeros(cap, dtype=np.int64), np.zeros((cap, 3), dtype=np.int64))


@njit(cache=True)
def grow(nodes, nk):
    """``nodes`` with twice the room, its first ``nk`` dims and levels kept."""
    out = new_nodes(2 * len(nodes[1]), nodes[0].shape[1])
    out[0][:nk] = nodes[0][:nk]
    out[1][:nk] = nodes[1][:nk]
    return out


__all__ = ["analyze_batch", "analyze_level", "s_factor"]
