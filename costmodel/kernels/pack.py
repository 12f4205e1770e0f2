"""Pack :func:`costmodel.levels.build_levels`'s levels into the flat arrays the compiled
kernel reads: structure tables ``S`` (one per dataflow shape), candidate tables ``P``,
hardware ``H`` and the top level's dims.

Variables (``K``, ``C``, ..., ``Y'``, ``X'``) are numbered in a table ``names``; ``-1``
marks an absent entry.
"""

from __future__ import annotations

import numpy as np

from ..layer import TensorTable
from ..levels import OUT_OF, REF_DIMS, Level


def var_names(levels: list[Level], table: TensorTable) -> list[str]:
    """Every variable the levels and tensors name, in a fixed order."""
    names = set(levels[0].SD)
    for lv in levels:
        names |= set(lv.mp) | set(lv.SD)
    for tv in table.tensors():
        names |= set(tv)
    return sorted(names)


def structure(levels: list[Level], table: TensorTable, names: list[str]) -> tuple:
    """``S``: the tables that depend only on the dataflow's shape (see :mod:`.level`)."""
    L, V = len(levels), len(names)
    ix = {v: k for k, v in enumerate(names)}
    nmax = max(len(lv.directives) for lv in levels)
    ndir = np.array([len(lv.directives) for lv in levels], dtype=np.int64)
    dkind = np.zeros((L, nmax), dtype=np.int64)
    dvar = np.zeros((L, nmax), dtype=np.int64)
    dlast = np.full((L, V), -1, dtype=np.int64)
    dfkind = np.full((L, V), -1, dtype=np.int64)
    dlvars = np.full((L, V + 1), -1, dtype=np.int64)  # count, then the variables
    dcvars = np.zeros((L, V + 1), dtype=np.int64)
    spv = np.full(L, -1, dtype=np.int64)
    spv2 = np.full(L, -1, dtype=np.int64)
    spin = np.full((L, 2), -1, dtype=np.int64)
    sp_first = np.array([lv.spatial[0] for lv in levels], dtype=np.int64)
    tensors = table.tensors()
    for i, lv in enumerate(levels):
        lvars = list(dict.fromkeys(d.var for d in lv.directives))
        for j, d in enumerate(lv.directives):
            dkind[i, j] = d.kind == "S"
            dvar[i, j] = ix[d.var]
            dlast[i, ix[d.var]] = j
            if dfkind[i, ix[d.var]] < 0:
                dfkind[i, ix[d.var]] = d.kind == "S"
        dlvars[i, 0] = len(lvars)
        dlvars[i, 1:1 + len(lvars)] = [ix[v] for v in lvars]
        if i + 1 < L:
            cv = list(levels[i + 1].SD)
            dcvars[i, 0] = len(cv)
            dcvars[i, 1:1 + len(cv)] = [ix[v] for v in cv]
        first_kind = {v: next(d.kind for d in lv.directives if d.var == v) for v in lvars}
        for t, tv in enumerate(tensors):
            sp = [v for v in tv if first_kind.get(v) == "S"]
            if sp and t < 2:
                spin[i, t] = ix[sp[-1]]
            elif sp:
                spv[i] = ix[sp[-1]]
        spv2[i] = ix[[d.var for d in lv.directives if d.kind == "S"][-1]]
    tmask = np.zeros((3, V), dtype=np.bool_)
    for t, tv in enumerate(tensors):
        tmask[t, [ix[v] for v in tv]] = True
    outof = np.array([ix.get(OUT_OF.get(v, v), k) for k, v in enumerate(names)], dtype=np.int64)
    partner = np.array([ix.get(REF_DIMS[v], -1) if v in REF_DIMS else -1 for v in names],
                       dtype=np.int64)
    ddm = np.array([v in levels[0].SD for v in names], dtype=np.bool_)
    return (L, ndir, dkind, dvar, dlast, dfkind, dlvars, dcvars, tmask, outof, spv, spv2,
            spin, sp_first, partner, ddm)


def candidates(levels: list[Level], table: TensorTable, names: list[str]) -> tuple:
    """``P``: directive sizes and offsets, unit counts and tile tables per candidate."""
    B, L, V = len(levels[0].N), len(levels), len(names)
    ix = {v: k for k, v in enumerate(names)}
    nmax = max(len(lv.directives) for lv in levels)
    dm = np.ones((B, L, nmax), dtype=np.int64)
    do = np.ones((B, L, nmax), dtype=np.int64)
    tab = np.zeros((B, L, 4, V), dtype=np.int64)
    for i, lv in enumerate(levels):
        for j, d in enumerate(lv.directives):
            dm[:, i, j] = d.m
            do[:, i, j] = d.o
        for r, t in enumerate((lv.mp, lv.un, lv.mpe, lv.une)):
            for v, a in t.items():
                tab[:, i, r, ix[v]] = a
    Nlv = np.stack([lv.N for lv in levels], axis=1).astype(np.int64)
    nec = np.stack([lv.nec for lv in levels], axis=1).astype(np.int64)
    busy = np.stack([lv.busy_nec for lv in levels], axis=1).astype(np.int64)
    mvol = np.ones((B, L, 3), dtype=np.int64)  # MappedVol of input, filter, output (§7.1)
    for i, lv in enumerate(levels):
        for t, tv in enumerate(table.tensors()):
            for v in tv:
                if v in lv.mp:
                    mvol[:, i, t] *= lv.mp[v]
    return dm, do, Nlv, nec, busy, tab, mvol


def top_dims(levels: list[Level], names: list[str]) -> np.ndarray:
    """``[B, V]``: the top level's dims (0 for variables it does not have)."""
    B = len(levels[0].N)
    out = np.zeros((B, len(names)), dtype=np.int64)
    for k, v in enumerate(names):
        if v in levels[0].SD:
            out[:, k] = levels[0].SD[v]
    return out
