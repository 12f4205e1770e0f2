"""One group of rows of a level and its per-case quantities (spec §4, §5.1 step 6).

Within a group every per-case quantity is a numpy array of shape ``[s_0, ..., s_{n-1}, rows]``
with one axis per directive (``s_j`` = its state count), in lexicographic case order, and
broadcasting does the rest: a quantity that depends on a few directives' states has size 1 on
the other axes, so products over directives are outer products and cost about one pass over the
cases instead of one pass per directive. Rows come last: a per-row value is a plain ``[rows]``
vector, numpy's inner loops run along the rows, and reductions over cases are row-vector ops.
A variable's state is that of the *last* directive on it, so per-variable factors live on that
directive's axis; the other axes only carry occurrence counts.

:class:`CaseGroup` sets up the states of each case, then the output side (:mod:`.egress`:
egress, partial sums, MACs, validity) and the input side (:mod:`.ingress`), and gives the
compute delay of each case, from the PEs' partial sums or from the child level's records.
"""

from __future__ import annotations

from functools import lru_cache
from math import prod
from typing import TYPE_CHECKING

import numpy as np

from ..intmath import ceil_div
from ..levels import Level
from ..validity import ERR_OCC_WRAP
from .arrays import broadcast_prod
from .egress import output_side
from .ingress import input_side
from .states import EDGE, INIT, STEADY, DirStates, case_grid, positions

if TYPE_CHECKING:
    from .recursion import Engine


class CaseGroup:
    """Rows of one level sharing state counts; per-case quantities are broadcast n-D arrays.

    Attributes ending in ``_f`` are materialised ``[cases, rows]`` arrays in lexicographic
    case order; ``self.grid.perm`` gives MAESTRO's order for the order-dependent results.
    """

    def __init__(self, eng: Engine, lv: Level, i: int, rows, cand, DD, st: list[DirStates],
                 counts: tuple[int, ...], ident: bool = False):
        self.eng, self.lv, self.i = eng, lv, i
        self.rows, self.cand, self.DD = rows, cand, DD
        self.innermost = i == len(eng.levels) - 1
        dirs = lv.directives
        n = len(dirs)
        self.R, self.n, self.counts = len(cand), n, counts
        self.C = prod(counts)
        self.vars, self.first, self.last, last_axes, _ = _level_vars(lv)
        self.grid = case_grid(counts, last_axes)
        self.st = st
        if ident:  # the rows are the level's candidates in order: no gathers
            self.N, self.nec, busy_nec = lv.N, lv.nec, lv.busy_nec
            self.mp, self.un, self.mpe, self.une = lv.mp, lv.un, lv.mpe, lv.une
        else:
            self.N, self.nec, busy_nec = lv.N[cand], lv.nec[cand], lv.busy_nec[cand]
            g = lambda t: {k: v[cand] for k, v in t.items()}  # noqa: E731
            self.mp, self.un, self.mpe, self.une = g(lv.mp), g(lv.un), g(lv.mpe), g(lv.une)
        self.nec1 = self.nec == 1
        # unit counts the spatial aggregation (agg) uses, per row
        self.N_m1 = self.N - 1
        self.nec_m1 = np.maximum(self.nec - 1, 0)
        self.nec_m2 = np.maximum(self.nec - 2, 0)
        self.nec_gt1 = self.nec > 1
        self._case_states()
        self.err = np.zeros(self.R, dtype=np.int64)
        if self.occ_err is not None:
            self.err |= self.occ_err
        output_side(self)
        input_side(self)
        v0 = dirs[lv.spatial[0]].var
        self.is_e = self.E[v0]
        self.spee0 = self.spee[v0]
        self.active = np.where(self.is_e, self.nec, self.N)
        self.busy = np.where(self.is_e, busy_nec, self.N)  # for the busy-PE check
        self.child = None

    def _case_states(self):
        """Occurrences of each case and, per variable, its position, edge flag ``E`` and
        sp_edge_edge flag ``spee`` in each case (from the last directive on it, §3.2)."""
        st, counts, n = self.st, self.counts, self.n
        fixed, steady = _fixed_positions(counts)
        pos = [p if p is not None else self._axis(j, positions(counts[j], st[j]))
               for j, p in enumerate(fixed)]
        self.exists = self._existing(counts, st)
        self._exists_q_cache = None
        occ = [np.where(steady[j] if steady[j] is not None else pos[j] == STEADY, st[j].ns, 1)
               for j in range(n) if counts[j] > 1]
        self.occ, self.occ_err = _int_occurrences(
            broadcast_prod(occ if self.exists is None else occ + [self.exists]), self.R)
        self.pos = pos
        self.posv = {v: pos[self.last[v]] for v in self.vars}
        # built on first use: most variables' flags are never read
        self.E = _Lazy(self._edge_flags)
        self.spee = _Lazy(self._spee_flags)

    def _edge_flags(self, v):
        """Edge flag ``E`` of variable ``v`` in each case (from the last directive on it)."""
        L = self.last[v]
        p, s = self.pos[L], self.st[L]
        if self.counts[L] == 1:  # always at Init
            return s.init_edge.reshape((1,) * self.n + (self.R,))
        return (p == EDGE) | ((p == INIT) & s.init_edge)

    def _spee_flags(self, v):
        """sp_edge_edge flag of variable ``v`` in each case."""
        L = self.last[v]
        p, s = self.pos[L], self.st[L]
        if self.counts[L] == 1:
            return s.ee_i.reshape((1,) * self.n + (self.R,))
        return np.where(p == INIT, s.ee_i, (p == EDGE) & s.ee_e)

    # -- layout helpers ----------------------------------------------------------------
    def _axis(self, j, table):
        """A ``[s_j, R or 1]`` table as ``[1, .., s_j, .., 1, R or 1]`` (directive j's axis)."""
        shape = [1] * self.n + [table.shape[1]]
        shape[j] = table.shape[0]
        return table.reshape(shape)

    def state_factor(self, j: int, init, steady, edge) -> np.ndarray:
        """A per-case quantity that depends on the case only through the state of directive
        ``j``: its ``[R]`` values at Init, Steady and Edge, laid out on directive j's axis
        (a directive with two states has Steady or Edge second, per row)."""
        k = self.counts[j]
        if k == 1:
            table = np.asarray(init)[None]
        elif k == 3:
            table = np.array([init, steady, edge])
        else:
            table = np.array([init, np.where(self.st[j].has_st, steady, edge)])
        return self._axis(j, table)

    def _existing(self, counts, st):
        """Where the group pads rows with fewer states (:func:`.states.merge_groups`): a
        broadcast 0/1 array of the cases each row really has, else None (every case exists)."""
        parts = []
        for j, k in enumerate(counts):
            if k == 1:
                continue
            s = st[j]
            if np.count_nonzero(s.has_st) + np.count_nonzero(s.has_ed) == (k - 1) * self.R:
                continue  # every row has all k states
            t = [np.ones(self.R, dtype=bool)] + ([s.has_st, s.has_ed] if k == 3
                                                 else [s.has_st | s.has_ed])
            parts.append(self._axis(j, np.array(t, dtype=np.int64)))
        return broadcast_prod(parts) if parts else None

    def flat(self, x):
        """Materialise a broadcast per-case quantity as ``[C, R]`` (lexicographic cases)."""
        x = np.asarray(x)
        shape = self.counts + (self.R,)
        if x.shape == shape:
            return x.reshape(self.C, self.R)
        out = np.empty(shape, dtype=x.dtype)  # one C-level copy (np.broadcast_to costs more)
        out[...] = x
        return out.reshape(self.C, self.R)

    def exists_q(self) -> np.ndarray:
        """``[C, R]`` 0/1: the padded cases each row has, in MAESTRO's case order (cached)."""
        if self._exists_q_cache is None:
            self._exists_q_cache = self.flat(self.exists)[self.grid.perm]
        return self._exists_q_cache

    # -- spatial aggregation (spec §4.3) -------------------------------------------------
    def sp_info(self, tv, all_spatial=False):
        """(sp, sps var, spE) of a tensor (spec §4.3), optionally over all SpatialMaps too."""
        dirs = self.lv.directives
        sp_vars = [v for v in tv if dirs[self.first[v]].kind == "S"]
        sp = bool(sp_vars)
        sps = sp_vars[-1] if sp_vars else None
        spE = False
        for v in sp_vars:
            spE = spE | self.E[v]
        if all_spatial:
            for d in dirs:
                if d.kind == "S":
                    sp, sps = True, d.var
                    spE = spE | self.E[d.var]
        return sp, sps, spE

    def agg(self, sits, f_tf, f_ff, f_ft, f_tt):
        """AGG (spec §4.3) of a per-unit quantity given at (first, ee) = TF, FF, FT and TT,
        for each spatial situation in ``sits``: 0 no edge (first unit + N - 1 others),
        1 edge (first + nec - 1 full units), 2 edge with sp_edge_edge (the last unit partial).
        """
        out = []
        for s in sits:
            if s == 0:
                out.append(f_tf + self.N_m1 * f_ff)
            elif s == 1:
                out.append(f_tf + self.nec_m1 * f_ff)
            else:
                out.append(np.where(self.nec1, f_tt, f_tf) + self.nec_m2 * f_ff
                           + self.nec_gt1 * f_ft)
        return out

    def combine(self, f_tf, f_ff, f_ft, f_tt, spE, ee_star):
        """AGG of broadcast per-case quantities, each case in its own spatial situation."""
        a, b0, b1 = self.agg((0, 1, 2), f_tf, f_ff, f_ft, f_tt)
        return np.where(spE, np.where(ee_star, b1, b0), a)

    # -- child level (spec §4.5, §5.1 step 6) ---------------------------------------------
    def _child_mask(self, bit_vars, spatial, ee=False):
        """Part of the bitmask of the child dims a case hands down (§4.5; bit b set means
        ``mpe``) from the variables whose first directive is (``spatial``) or is not a
        SpatialMap; only the former depend on the sp-edge-edge variant ``ee``."""
        dirs = self.lv.directives
        mask = 0
        for b, v in enumerate(bit_vars):
            if (dirs[self.first[v]].kind == "S") != spatial:
                continue
            neq = self.mp[v] != self.mpe[v]
            if not spatial:
                bit = self.E[v]
            else:
                p = self.posv[v]
                pick = self.nec1 | ee
                bit = np.where(p == INIT, self.E[v] & pick, (p == EDGE) & pick)
            mask = mask + ((bit & neq).astype(np.int64) << b)
        return mask

    def child_keys(self, bit_vars, nb):
        """Keys ``candidate << nb | mask`` of the child analyses the valid cases need (§5.1
        step 6). Where the first SpatialMap is at an edge with sp_edge_edge (``both``), a case
        calls the sp-edge-edge variant and, with more than one active unit, the regular one
        too; elsewhere only the regular one. ``key_1`` is the child called first, ``key_2``
        the other one (``key_1`` again where a case calls only one)."""
        base = (self.cand.astype(np.int64) - self.eng.cand_lo) << nb
        common = base + self._child_mask(bit_vars, False)
        self.both = self.is_e & self.spee0
        if not any(self.lv.directives[self.first[v]].kind == "S" for v in bit_vars):
            self.key_1 = self.key_2 = self.flat(common)
            return self.key_1[self.valid_f]
        sp_t = self._child_mask(bit_vars, True, True)
        sp_f = self._child_mask(bit_vars, True, False)
        solo = self.both & (self.nec <= 1)
        self.key_1 = self.flat(common + np.where(self.both, sp_t, sp_f))
        self.key_2 = self.flat(common + np.where(solo, sp_t, sp_f))
        return np.concatenate([self.key_1[self.valid_f], self.key_2[self.valid_f]])

    def take_child(self, cres, lookup):
        """Child record indices of every case; inherit the errors of the children that valid
        cases call."""
        self.child = cres
        self.ci_1 = lookup(self.key_1)
        self.ci_2 = self.ci_1 if self.key_2 is self.key_1 else lookup(self.key_2)
        err = cres["err"]
        if np.count_nonzero(err):
            called = np.where(self.valid_f, err[self.ci_1] | err[self.ci_2], 0)
            self.err |= np.bitwise_or.reduce(called, axis=0)

    # -- compute delay and active units per case (spec §5.1 step 6, 11) ----------------
    def compute(self):
        """``[C, R]`` compute delay and active units of each case: at the PEs the critical
        PE's partial sums over the SIMD lanes, above them from the child records."""
        if not self.innermost:
            return self._child_compute()
        simd = self.eng.hw_param("simd_lanes", self.cand)
        npsum = self.flat(self.npsum)
        comp = npsum if isinstance(simd, int) and simd == 1 else ceil_div(npsum, simd)
        return comp, self.flat(self.active.astype(float))

    def _child_compute(self):
        """Compute delay and active units of each case from the child records (§5.1 step 6):
        the slowest child sets the pace; active units add up over the children."""
        active = self.active.astype(float)
        if self.child is None:
            return np.zeros((self.C, self.R), dtype=np.int64), self.flat(active)
        rt, avg = self.child["runtime"], self.child["avg_active"]
        one = self.ci_2 is self.ci_1  # every case calls a single child record
        comp = rt[self.ci_1] if one else np.maximum(rt[self.ci_1], rt[self.ci_2])
        # sp-edge-edge child + (nec - 1) regular ones, or N (nec at an edge) regular ones
        w_1 = np.where(self.both, 1.0, active)
        w_2 = np.where(self.both & (self.nec > 1), self.nec - 1, 0)
        shape = self.counts + (self.R,)
        av_1 = avg[self.ci_1].reshape(shape)
        act = av_1 * w_1 + (av_1 if one else avg[self.ci_2].reshape(shape)) * w_2
        if not avg.all():  # a child without valid cases reports 0 units
            act = act + (act == 0) * active
        return comp, act.reshape(self.C, self.R)


@lru_cache(maxsize=4096)
def _fixed_positions(counts: tuple[int, ...]):
    """Per directive of a group with state counts ``counts``: its positions laid out on its
    axis (``[1, .., s_j, .., 1, 1]``) and where they are Steady, when they are the same for
    every row (one or three states), else None (two states: Steady or Edge per row).
    Read-only, cached."""
    n = len(counts)
    fixed, steady = [], []
    for j, k in enumerate(counts):
        if k == 2:
            fixed.append(None)
            steady.append(None)
            continue
        shape = [1] * (n + 1)
        shape[j] = k
        p = positions(k, None).reshape(shape)
        s = p == STEADY
        s.setflags(write=False)
        fixed.append(p)
        steady.append(s)
    return tuple(fixed), tuple(steady)


class _Lazy(dict):
    """A dict whose missing entries are computed by ``fn(key)`` on first access."""

    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def __missing__(self, key):
        value = self[key] = self.fn(key)
        return value


def _level_vars(lv: Level):
    """A level's variables (in directive order), the first and last directive on each,
    which directives are the last on their variable, and the directives' (kind, variable)
    (cached on the level)."""
    info = lv.__dict__.get("_vars_info")
    if info is None:
        dirs = lv.directives
        n = len(dirs)
        vs = list(dict.fromkeys(d.var for d in dirs))
        last = {v: max(j for j in range(n) if dirs[j].var == v) for v in vs}
        first = {v: min(j for j in range(n) if dirs[j].var == v) for v in vs}
        info = (vs, first, last, tuple(last[d.var] == j for j, d in enumerate(dirs)),
                tuple((d.kind, d.var) for d in dirs))
        lv._vars_info = info
    return info


_INT_MAX = 2**31 - 1


def _int_occurrences(occ, R: int):
    """A case's occurrence count as MAESTRO holds it, and the rows it aborts on (spec §3.2).

    MAESTRO multiplies the states' counts in a C ``int``: a product of 2^31 or more wraps
    modulo 2^32 (a GEMM 2048 x 2048 x 2202 with unit tiles on 2 PEs counts 645,922,816 MACs
    instead of 9,235,857,408), and a wrapped count that is not positive fails the engine's
    assertion ``num_case_occurrences > 0`` (SIGABRT). Returns ``(occ, err)``: ``err`` is
    None when nothing wraps, else ``ERR_OCC_WRAP`` on every row with a wrapped case. The
    int64 product cannot overflow itself: it is at most the product of the layer's dims.
    """
    if isinstance(occ, int) or occ.max(initial=0) <= _INT_MAX:
        return occ, None
    wrapped = (occ + 2**31) % 2**32 - 2**31
    hit = (wrapped != occ).reshape(-1, occ.shape[-1]).any(axis=0)
    return wrapped, np.broadcast_to(np.where(hit, ERR_OCC_WRAP, 0), (R,)).astype(np.int64)
