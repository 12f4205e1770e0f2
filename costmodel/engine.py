"""The recursive cost engine (spec §3-§5), vectorised over candidates and iteration cases.

A level is analysed for a batch of *rows*; a row is a candidate index plus a dynamic
dimension table ``DD``. Rows whose directives have the same number of iteration states share
a case list and MAESTRO's case order (§3.2 depends only on those counts); they form a group.
Rows with fewer states may join a group with more as padding, their missing states being
cases that do not exist (:func:`_merge_groups`): a group's numpy calls cost about the same
for 1 row as for 100, so fewer, larger groups make small batches several times faster.

Within a group every per-case quantity is a numpy array of shape ``[s_0, ..., s_{n-1}, rows]``
with one axis per directive (``s_j`` = its state count), in lexicographic case order, and
broadcasting does the rest: a quantity that depends on a few directives' states has size 1 on
the other axes, so products over directives are outer products and cost about one pass over the
cases instead of one pass per directive. Rows come last: a per-row value is a plain ``[rows]``
vector, numpy's inner loops run along the rows, and reductions over cases are row-vector ops.
Three facts, all consequences of §3-§4, keep most quantities small:

* A variable's state is that of the *last* directive on it, so per-variable factors live on
  that directive's axis; the other axes only carry occurrence counts.
* Ingress (§4.2) depends on the case only through ``c``, the innermost changing directive:
  a TemporalMap factor never depends on the state (at Init, ``E`` is ``init_edge``, and a
  directive with ``init_edge`` has no other state), nor does a SpatialMap factor once ``c`` is
  fixed. So ingress is a small per-row table indexed by ``c``.
* In PEEgress (§4.4) only SpatialMap factors depend on ``(first, ee)``; the aggregation over
  sub-units (§4.3) is done on their product alone and multiplied by the TemporalMap product.

The child level's dims are ``mp`` or ``mpe`` of each variable (§4.5), so a child row is the key
``(candidate, bitmask)``; the child level is evaluated once per distinct key (memoisation,
spec §5.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache
from math import prod

import numpy as np

from .intmath import ceil_div, nz, tdiv_pos
from .layer import TensorTable
from .levels import OUT_OF, PARTNER, REF_DIMS, Level
from .validity import ERR_NO_VALID, ERR_PES, ERR_UNIQUE_ZERO, ERR_ZERO_COMPUTE
from .validity import ERROR_REASONS as ERROR_REASONS  # importable from here too

INIT, STEADY, EDGE = 0, 1, 2

# child keys: below this many (candidates << mask bits) a dense flag table dedupes them
_DENSE_KEYS = 1 << 24
# candidates analysed together (all levels): large enough to amortise numpy's per-call cost
# over many rows, small enough to bound the memory of the per-case arrays
CHUNK = 16384
# groups of rows with different state counts are analysed as one padded group while its
# cases x rows stay within MERGE_FACTOR x theirs + MERGE_SLACK (see _merge_groups): padding
# pays for small groups (a search's batches) and costs for large ones, so only the slack
# (about one group's fixed cost) is allowed; a factor of 2 made benchmarks/
# costmodel_throughput.py (large one-shape batches) 32% slower for no gain in tuning time
MERGE_FACTOR = 1
MERGE_SLACK = 4096


@dataclass
class HardwareBatch:
    """Per-candidate hardware parameters (int64 arrays of equal length)."""

    num_pes: np.ndarray
    noc_bw: np.ndarray
    noc_latency: np.ndarray
    offchip_bw: np.ndarray
    simd_lanes: np.ndarray


@dataclass
class _DirStates:
    """Iteration-state descriptors of one directive for a batch of rows (spec §3.1)."""

    ns: np.ndarray         # Steady occurrence count
    unrolled: np.ndarray   # at Init
    init_edge: np.ndarray  # at Init
    ee_i: np.ndarray       # sp_edge_edge at Init
    ee_e: np.ndarray       # sp_edge_edge at Edge
    has_st: np.ndarray     # a Steady state exists
    has_ed: np.ndarray     # an Edge state exists


def _dir_states(ns: np.ndarray, flags: np.ndarray) -> list[_DirStates]:
    """Per-directive views of ``ns [n, R]`` and ``flags [n, 6, R]`` (see :meth:`Engine._states`)."""
    return [_DirStates(ns[j], *flags[j]) for j in range(len(ns))]


@dataclass(frozen=True)
class _CaseGrid:
    """Row-independent case structure of one count vector (cases in lexicographic order)."""

    c: np.ndarray     # [*counts, 1]: innermost changing directive, -1 for the all-Init cases
    perm: np.ndarray  # [C]: MAESTRO's q-th case (§3.2) -> lexicographic flat index


@lru_cache(maxsize=4096)
def case_grid(counts: tuple[int, ...], last_axes: tuple[bool, ...]) -> _CaseGrid:
    """The ``c`` of every case and MAESTRO's case order for directives with ``counts`` states.

    ``last_axes[j]`` is True when directive j is the last one on its variable; only those
    decide the variable states, hence ``c`` (the last directive whose variable is not at Init).
    MAESTRO's case ``q`` uses state ``ceil(q / f_j) mod s_j`` for directive ``j``, with
    ``f_j`` the product of the later counts.
    """
    idx = np.indices(counts, dtype=np.int64)
    c = np.full(counts, -1, dtype=np.int64)
    for j, is_last in enumerate(last_axes):
        if is_last:
            c = np.where(idx[j] >= 1, j, c)
    total = prod(counts)
    q = np.arange(total, dtype=np.int64)
    state = [((q + f - 1) // f) % s
             for s, f in zip(counts, [prod(counts[j + 1:]) for j in range(len(counts))])]
    perm = np.ravel_multi_index(state, counts)
    return _CaseGrid(c.reshape(counts + (1,)), np.asarray(perm, dtype=np.int64))


def _prod(factors):
    """Product of broadcastable arrays, smallest first (so outer products grow only once)."""
    factors = sorted((f for f in factors if not isinstance(f, int)), key=np.size)
    out = 1
    for f in factors:
        out = out * f
    return out


def _row_param(a: np.ndarray):
    """A per-row hardware parameter, as a Python int when every row has the same value
    (numpy divides by a scalar several times faster)."""
    if len(a) and (a == a[0]).all():
        return int(a[0])
    return a


def _rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row dot product over the cases of two ``[C, R]`` arrays (no temporary)."""
    return np.einsum("cr,cr->r", a, b)


def _case_fsum(x: np.ndarray) -> np.ndarray:
    """Sum of floats over the cases (axis 0), adding them in case order for every row count:
    ``x.sum(axis=0)`` would switch to pairwise summation for a single row, so a batch and a
    single evaluation could differ in the last bit."""
    return np.cumsum(x, axis=0)[-1]


def _valid_reduce(op, x, valid, allv, fill):
    """``op`` (np.min or np.max) over each row's valid cases, ``fill`` counting for the
    invalid ones; rows whose cases are all valid (the usual) skip the masking."""
    out = op(x, axis=0)
    part = np.flatnonzero(~allv)
    if len(part):
        out[part] = op(np.where(valid[:, part], x[:, part], fill), axis=0)
    return out


class Engine:
    """Analyses one layer's levels for a batch of candidates."""

    def __init__(self, levels: list[Level], table: TensorTable, hw: HardwareBatch):
        self.levels = levels
        self.table = table
        self.hw = hw
        self.tensors = table.tensors()
        self._mvol: dict[int, np.ndarray] = {}

    def mapped_volumes(self, i: int) -> np.ndarray:
        """``[B, 3]``: MappedVol (§4.4) of the input, filter and output tensors at level ``i``
        per candidate (products of ``mp`` over each tensor's dims; input-space Y and X)."""
        if i not in self._mvol:
            lv = self.levels[i]
            cols = []
            for tv in self.tensors:
                vol = np.ones(len(lv.N), dtype=np.int64)
                for v in tv:
                    if v in lv.mp:
                        vol = vol * lv.mp[v]
                cols.append(vol)
            self._mvol[i] = np.stack(cols, axis=1)
        return self._mvol[i]

    # ------------------------------------------------------------------ iteration states
    @staticmethod
    def _states(lv: Level, cand: np.ndarray, DD: dict[str, np.ndarray]):
        """Per-directive state descriptors for each row (spec §3.1): the Steady count
        ``ns [n, M]`` and ``flags [n, 6, M]`` = (unrolled, init_edge, sp_edge_edge at Init,
        sp_edge_edge at Edge, has Steady, has Edge), stacked so a group takes its rows at once.
        """
        n, M = len(lv.directives), len(cand)
        N = np.maximum(lv.N[cand], 1)
        ns_all = np.empty((n, M), dtype=np.int64)
        flags = np.zeros((n, 6, M), dtype=bool)
        for j, d in enumerate(lv.directives):
            D = DD[d.var]
            m, o = d.m[cand], d.o[cand]
            f = flags[j]
            if d.kind == "T":
                f[0] = D <= m                                  # unrolled
                f[1] = D < m                                   # init_edge
                ns = np.maximum(D - m, 0) // o  # only matters when D > m (a Steady state)
                f[4] = (m < D) & (ns > 0)                      # has Steady
                f[5] = ~f[1] & (ns * o + m < D)                # has Edge
            else:
                cov = m + o * (N - 1)
                f[0] = D <= cov
                f[1] = D < cov
                f[2] = f[1]
                ns = tdiv_pos(tdiv_pos(D - m, o) + 1, N) - 1
                f[4] = (cov < D) & (ns > 0)
                edge = ~f[0] & ((ns + 1) * o * N + cov > D) & (ns * o * N + cov != D)
                rem = D - (ns + 1) * o * N
                a = np.where(rem < m, 1, tdiv_pos(rem - m, o) + 1)
                f[3] = (a - 1) * o + m < rem
                f[5] = ~f[1] & edge
            ns_all[j] = ns
        return ns_all, flags

    # ------------------------------------------------------------------ level analysis
    def analyze(self, i: int, cand: np.ndarray, DD: dict[str, np.ndarray]) -> dict:
        """Analyse level ``i`` for rows ``(cand, DD)``; returns per-row result arrays.

        The top level runs in chunks of :data:`CHUNK` candidates (with all their sub-levels),
        which bounds the memory of the per-case arrays.
        """
        if i != 0 or len(cand) <= CHUNK:
            return self._analyze(i, cand, DD)
        parts = [self._analyze(0, cand[lo:lo + CHUNK], {k: v[lo:lo + CHUNK] for k, v in DD.items()})
                 for lo in range(0, len(cand), CHUNK)]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def _analyze(self, i: int, cand: np.ndarray, DD: dict[str, np.ndarray]) -> dict:
        """:meth:`analyze` for one chunk: states, groups, the child level, the records."""
        lv = self.levels[i]
        if i == 0:  # child keys are relative to this range of candidates
            self.cand_lo = int(cand.min()) if len(cand) else 0
            self.cand_span = int(cand.max()) - self.cand_lo + 1 if len(cand) else 1
        M = len(cand)
        top = i == 0
        ns, flags = self._states(lv, cand, DD)
        res = {k: np.zeros(M, dtype=np.int64) for k in ("runtime", "err")}
        res["avg_active"] = np.zeros(M)
        res["max_active"] = np.zeros(M, dtype=np.int64)
        res["first_l1"] = np.zeros((M, 3), dtype=np.int64)
        if top:
            _init_top_fields(res, M)
        n = len(lv.directives)
        # group rows by their state counts: 2 bits per directive (1 + has Steady + has Edge);
        # rows are sorted by group so that every group is a slice (views, no scatter)
        code = ((flags[:, 4].astype(np.int64) + flags[:, 5]) << (2 * np.arange(n))[:, None]).sum(0)
        order = None
        if (code[1:] < code[:-1]).any():
            order = np.argsort(code, kind="stable")
            code, cand, ns, flags = code[order], cand[order], ns[:, order], flags[:, :, order]
            if top:
                DD = {k: v[order] for k, v in DD.items()}
        ucodes, starts = np.unique(code, return_index=True)
        bounds = [*starts.tolist(), M]
        groups = []
        for lo, hi, counts in _merge_groups(ucodes, bounds, n):
            rows = slice(bounds[lo], bounds[hi])
            sub_dd = {k: v[rows] for k, v in DD.items()} if top else None
            groups.append(_Group(self, lv, i, rows, cand[rows], sub_dd,
                                 _dir_states(ns[:, rows], flags[:, :, rows]), counts))
        if i < len(self.levels) - 1:
            self._recurse(i, groups)
        for grp in groups:
            grp.finish(res, top)
        res["err"] |= np.where(lv.N[cand] == 0, ERR_PES, 0)
        if order is not None:  # back to the caller's row order
            inv = np.empty_like(order)
            inv[order] = np.arange(M)
            res = {k: v[inv] for k, v in res.items()}
        return res

    def _recurse(self, i: int, groups: list[_Group]) -> None:
        """Evaluate the child level once for every distinct (candidate, child dims) needed.

        A child dim is the parent's ``mp[v]`` or ``mpe[v]`` (§4.5), static per candidate, so
        the key of a child row is ``candidate << nb | bitmask``, with one bit per variable whose
        two values differ for some candidate. Rows of one candidate share their children.
        """
        lv, child = self.levels[i], self.levels[i + 1]
        cvars = list(child.SD.keys())
        bit_vars = [v for v in cvars if (lv.mp[v] != lv.mpe[v]).any()]
        nb = len(bit_vars)
        keys = [grp.child_keys(bit_vars, nb) for grp in groups]
        allk = np.concatenate(keys)
        if len(allk) == 0:
            return
        n_keys = self.cand_span << nb
        if n_keys <= _DENSE_KEYS:
            flags = np.zeros(n_keys, dtype=bool)
            flags[allk] = True
            uniq = np.flatnonzero(flags)
            table = np.cumsum(flags) - 1

            def lookup(k):
                return table[k]
        else:
            uniq = np.unique(allk)

            def lookup(k):
                return np.minimum(np.searchsorted(uniq, k), len(uniq) - 1)
        cc = (uniq >> nb) + self.cand_lo
        DD = {v: lv.mp[v][cc] for v in cvars}
        for b, v in enumerate(bit_vars):
            DD[v] = np.where(((uniq >> b) & 1).astype(bool), lv.mpe[v][cc], DD[v])
        cres = self._analyze(i + 1, cc, DD)
        for grp in groups:
            grp.take_child(cres, lookup)


def _code_counts(c: int, n: int) -> tuple[int, ...]:
    """State counts of the ``n`` directives of a group code (2 bits each: has Steady + has
    Edge)."""
    return tuple(1 + ((c >> (2 * j)) & 3) for j in range(n))


def _merge_groups(ucodes: np.ndarray, bounds: list[int], n: int):
    """Runs ``(first, end, counts)`` of consecutive state-count groups analysed as one.

    A group costs a fixed numpy overhead (about 0.5 ms) plus work in proportion to its cases
    x rows. Rows with fewer states than ``counts`` fit a merged group as padding: their
    missing states become cases that do not exist (:attr:`_Group.exists`), which changes no
    result because MAESTRO's case order restricted to the existing cases is the order of the
    row's own counts (see :func:`case_grid`). Groups are merged while the padded cells stay
    within :data:`MERGE_FACTOR` x the exact ones plus :data:`MERGE_SLACK`.
    """
    counts = [_code_counts(int(c), n) for c in ucodes]
    lo = 0
    while lo < len(counts):
        pad = counts[lo]
        exact = prod(pad) * (bounds[lo + 1] - bounds[lo])
        hi = lo + 1
        while hi < len(counts):
            merged = tuple(map(max, pad, counts[hi]))
            rows = bounds[hi + 1] - bounds[lo]
            ex = exact + prod(counts[hi]) * (bounds[hi + 1] - bounds[hi])
            if prod(merged) * rows > MERGE_FACTOR * ex + MERGE_SLACK:
                break
            pad, exact, hi = merged, ex, hi + 1
        yield lo, hi, pad
        lo = hi


def _init_top_fields(res: dict, M: int) -> None:
    ints = ["num_macs", "offchip_req", "peak_bw", "l2_size_in", "l2_size_w", "l2_size_out"]
    for k in ints:
        res[k] = np.zeros(M, dtype=np.int64)
    res["counters"] = np.zeros((M, 3, 4), dtype=np.int64)  # tensor x (l2r, l2w, l1r, l1w)
    res["delays"] = np.zeros((M, 3, 3), dtype=np.int64)   # (in, out, comp) x (min, max, avg)
    for k in ("avg_bw", "ai"):
        res[k] = np.zeros(M)


class _Group:
    """Rows of one level sharing state counts; per-case quantities are broadcast n-D arrays.

    Attributes ending in ``_f`` are materialised ``[cases, rows]`` arrays in lexicographic
    case order; ``self.grid.perm`` gives MAESTRO's order for the order-dependent results.
    """

    def __init__(self, eng: Engine, lv: Level, i: int, rows, cand, DD, st, counts):
        self.eng, self.lv, self.i = eng, lv, i
        self.rows, self.cand, self.DD = rows, cand, DD
        self.innermost = i == len(eng.levels) - 1
        dirs = lv.directives
        n = len(dirs)
        self.R, self.n, self.counts = len(cand), n, counts
        self.C = prod(counts)
        vars_ = list(dict.fromkeys(d.var for d in dirs))
        self.last = {v: max(j for j in range(n) if dirs[j].var == v) for v in vars_}
        self.first = {v: min(j for j in range(n) if dirs[j].var == v) for v in vars_}
        self.grid = case_grid(counts, tuple(self.last[d.var] == j for j, d in enumerate(dirs)))
        self.st = st
        self.N = lv.N[cand]
        self.nec = lv.nec[cand]
        self.nec1 = self.nec == 1
        g = lambda t: {k: v[cand] for k, v in t.items()}  # noqa: E731
        self.mp, self.un, self.mpe, self.une = g(lv.mp), g(lv.un), g(lv.mpe), g(lv.une)
        pos = [self._axis(j, self._positions(counts[j], st[j])) for j in range(n)]
        self.exists = self._existing(counts, st)
        self._exists_q_cache = None
        occ = [np.where(pos[j] == STEADY, st[j].ns, 1) for j in range(n) if counts[j] > 1]
        self.occ = _prod(occ if self.exists is None else occ + [self.exists])
        self.posv, self.E, self.spee = {}, {}, {}
        for v in vars_:
            L = self.last[v]
            p, s = pos[L], st[L]
            self.posv[v] = p
            self.E[v] = (p == EDGE) | ((p == INIT) & s.init_edge)
            self.spee[v] = np.where(p == INIT, s.ee_i, (p == EDGE) & s.ee_e)
        self.err = np.zeros(self.R, dtype=np.int64)
        self._output_side()
        self._input_side()
        v0 = dirs[lv.spatial[0]].var
        self.is_e = self.E[v0]
        self.spee0 = self.spee[v0]
        self.active = np.where(self.is_e, self.nec, self.N)
        self.busy = np.where(self.is_e, lv.busy_nec[cand], self.N)  # for the busy-PE check
        self.child = None

    # -- layout helpers ----------------------------------------------------------------
    def _axis(self, j, table):
        """A ``[s_j, R or 1]`` table as ``[1, .., s_j, .., 1, R or 1]`` (directive j's axis)."""
        shape = [1] * self.n + [table.shape[1]]
        shape[j] = table.shape[0]
        return table.reshape(shape)

    def _existing(self, counts, st):
        """Where the group pads rows with fewer states (:func:`_merge_groups`): a broadcast
        0/1 array of the cases each row really has, else None (every case exists)."""
        parts = []
        for j, k in enumerate(counts):
            if k == 1:
                continue
            s = st[j]
            if (s.has_st.sum() + s.has_ed.sum()) == (k - 1) * self.R:
                continue  # every row has all k states
            t = [np.ones(self.R, dtype=bool)] + ([s.has_st, s.has_ed] if k == 3
                                                 else [s.has_st | s.has_ed])
            parts.append(self._axis(j, np.stack(t).astype(np.int64)))
        return _prod(parts) if parts else None

    def flat(self, x):
        """Materialise a broadcast per-case quantity as ``[C, R]`` (lexicographic cases)."""
        return np.broadcast_to(x, self.counts + (self.R,)).reshape(self.C, self.R)

    @staticmethod
    def _positions(count, s: _DirStates):
        """State positions of one directive per row: ``[count, 1 or R]`` (Init first, §3.1)."""
        if count == 1:
            return np.full((1, 1), INIT, dtype=np.int8)
        if count == 3:
            return np.array([[INIT], [STEADY], [EDGE]], dtype=np.int8)
        second = np.where(s.has_st, STEADY, EDGE).astype(np.int8)
        return np.stack([np.zeros_like(second), second])

    # -- output side: egress, partial sums, MACs (spec §4.4) ---------------------------
    def _egress_factors(self, tv, part, kind, first=True, ee=False, reuse_edge=True):
        """Factors of ``PEEgress`` (§4.4) of the directives of one kind.

        Part ``"A"`` (counted only for partial sums) covers the directives on dims outside the
        tensor, part ``"B"`` the tensor's dims, each through its first directive.
        ``kind == "T"`` factors do not depend on ``first``/``ee``; ``"S"`` factors do.
        """
        dirs = self.lv.directives
        mp, un, mpe, une, E, nec1 = self.mp, self.un, self.mpe, self.une, self.E, self.nec1
        ee_any = first | np.asarray(ee)
        out = []
        if part == "A":
            for d in dirs:
                v = d.var
                if v in tv or d.kind != kind:
                    continue
                if kind == "T":
                    out.append(np.where(E[v], mpe[v], mp[v]))
                    continue
                p = self.posv[v]
                base = mp[v] if first else nz(un[v])
                f_i = np.where(E[v] & ee, mpe[v], base)
                f_e = np.where(nec1, np.where(ee_any, mpe[v], 1), np.where(ee, une[v], base))
                out.append(np.where(p == INIT, f_i, np.where(p == STEADY, base, f_e)))
            return out
        for v in tv:
            if dirs[self.first[v]].kind != kind:
                continue
            a = OUT_OF.get(v, v)
            p = self.posv[v]
            if kind == "T":
                out.append(np.where(p == INIT, np.where(E[v], mpe[a], mp[a]),
                                    np.where(p == STEADY, mp[a], mpe[a])))
                continue
            base = mp[a] if first else nz(un[a])
            f_i = np.where(E[v] & ee,
                           np.where(nec1, mpe[a], une[a] if reuse_edge else mpe[a]), base)
            f_e = np.where(nec1, np.where(ee_any, mpe[v], 1), np.where(ee, une[a], base))
            out.append(np.where(p == INIT, f_i, np.where(p == STEADY, base, f_e)))
        return out

    def _sp_info(self, tv, all_spatial=False):
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

    def _agg(self, sits, f_tf, f_ff, f_ft, f_tt):
        """AGG (spec §4.3) of a per-unit quantity given at (first, ee) = TF, FF, FT and TT,
        for each spatial situation in ``sits``: 0 no edge (first unit + N - 1 others),
        1 edge (first + nec - 1 full units), 2 edge with sp_edge_edge (the last unit partial).
        """
        N, nec = self.N, self.nec
        out = []
        for s in sits:
            if s == 0:
                out.append(f_tf + (N - 1) * f_ff)
            elif s == 1:
                out.append(f_tf + np.maximum(nec - 1, 0) * f_ff)
            else:
                out.append(np.where(nec == 1, f_tt, f_tf) + np.maximum(nec - 2, 0) * f_ff
                           + (nec > 1) * f_ft)
        return out

    def _combine(self, f_tf, f_ff, f_ft, f_tt, spE, ee_star):
        """AGG of broadcast per-case quantities, each case in its own spatial situation."""
        a, b0, b1 = self._agg((0, 1, 2), f_tf, f_ff, f_ft, f_tt)
        return np.where(spE, np.where(ee_star, b1, b0), a)

    def _output_side(self):
        """Egress, critical-path partial sums and MACs per case; validity (npsum > 0)."""
        t_out = self.eng.tensors[2]
        g_b = _prod(self._egress_factors(t_out, "B", "T"))
        g_ab = g_b * _prod(self._egress_factors(t_out, "A", "T"))

        @cache  # the (first, ee) variants recur below
        def h_b(first, ee, reuse_edge=True):
            return _prod(self._egress_factors(t_out, "B", "S", first, ee, reuse_edge))

        def h_ab(first, ee, reuse_edge=True):
            return (_prod(self._egress_factors(t_out, "A", "S", first, ee))
                    * h_b(first, ee, reuse_edge))

        sp, sps, spE = self._sp_info(t_out)
        if sp:
            ee_star = self.spee[sps]
            eg_h = self._combine(h_b(True, False), h_b(False, False), h_b(False, True),
                                 h_b(True, True), spE, ee_star)
        else:
            eg_h = h_b(True, False)
        self.eg = g_b * eg_h
        p_tf, p_tt = h_ab(True, False), h_ab(True, True)
        if sp:
            np_h = np.where(spE & self.nec1 & self.spee[sps], p_tt, p_tf)
        else:
            np_h = p_tf
        self.npsum = g_ab * np_h
        valid = self.npsum > 0
        if self.exists is not None:  # a case a row does not have is not valid
            valid = valid & (self.exists > 0)
        self.valid_f = self.flat(valid)
        if self.i == 0:  # MACs are only reported, from the top level
            _, sps2, spE2 = self._sp_info(t_out, all_spatial=True)
            ee2 = self.spee[sps2]
            n_ee = ee2.astype(np.int64)
            n_full = np.maximum(self.nec - n_ee - 1, 0)
            macs_h = np.where(
                spE2,
                np.where(self.nec1 & ee2, p_tt, p_tf)
                + (self.nec > 1) * (n_full * p_tf + n_ee * h_ab(False, True, reuse_edge=False)),
                self.N * p_tf)
            self.macs = g_ab * macs_h

    # -- input side: ingress (spec §4.2-§4.3) ------------------------------------------
    def _ingress_tables(self, tv, ks, inited, variants):
        """PEIngress (§4.2) per possible innermost changing directive ``c``, as a TemporalMap
        part ``[len(ks) + 2, R]`` and SpatialMap parts, one per ``(first, ee)`` variant.

        Row 0 is ``c = -1`` (nothing changes: the full mapped volume at Init), row ``1 + i``
        is ``c = ks[i]`` and the last row, 0, serves every ``c`` whose variable is outside
        the tensor (the tensor does not change: full temporal reuse). Only the SpatialMap
        factors depend on ``(first, ee)``.
        """
        R, K = self.R, len(ks) + 2
        k = np.asarray(ks, dtype=np.int64)[:, None]
        nec1 = self.nec1
        q_t = np.ones((K, R), dtype=np.int64)
        q_t[-1] = 0
        q_s = {fe: np.ones((K, R), dtype=np.int64) for fe in variants}
        for j, d in enumerate(self.lv.directives):
            v = d.var
            if v not in tv:
                continue
            mp, un, mpe, une = self.mp[v], self.un[v], self.mpe[v], self.une[v]
            e0 = self.st[self.last[v]].init_edge  # E of v at Init
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

    def _changing(self, tv):
        """Directives that can be the innermost changing one (last on their variable, more
        than one state) and whose variable is in ``tv``."""
        dirs = self.lv.directives
        return [j for j, d in enumerate(dirs)
                if self.counts[j] > 1 and self.last[d.var] == j and d.var in tv]

    def _inited(self, tv, ks):
        """``[len(ks), R]``: for ``c = ks[i]``, some later directive coupled to ``tv`` is at
        Init and not unrolled, so the tile was reset (no temporal reuse, §4.2 step 2)."""
        out = np.zeros((len(ks), self.R), dtype=bool)
        later = np.zeros(self.R, dtype=bool)
        for j in range(self.n - 1, -1, -1):
            if j in ks:
                out[ks.index(j)] = later
            v = self.lv.directives[j].var
            if v in tv:
                later = later | ~self.st[self.last[v]].unrolled
        return out


    def _agg_one_spatial(self, sits, j, ks, inited):
        """``[len(sits), len(ks) + 2, R]``: the AGG of the SpatialMap factors of the ingress
        tables when the tensor has a single SpatialMap directive ``j``: its four ``(first,
        ee)`` factors take only a few forms (c = -1, c before / at / after ``j``), so the table
        is assembled from row vectors."""
        v = self.lv.directives[j].var
        mp, un, mpe, une = self.mp[v], self.un[v], self.mpe[v], self.une[v]
        e0 = self.st[self.last[v]].init_edge
        nec1 = self.nec1

        def agg(tf, ff, ft, tt):
            return self._agg(sits, tf, ff, ft, tt)

        out = np.zeros((len(sits), len(ks) + 2, self.R), dtype=np.int64)
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

    def _input_side(self):
        """Spatial ingress per input tensor, their sum, and MAESTRO's unique-zero abort."""
        self.ig_f = []
        for tv in self.eng.tensors[:2]:
            ks = self._changing(tv)
            colmap = np.full(self.n + 1, len(ks) + 1)
            colmap[0] = 0
            colmap[[k + 1 for k in ks]] = np.arange(1, len(ks) + 1)
            cidx = colmap[self.grid.c + 1]  # [*counts, 1]: table row of each case
            inited = self._inited(tv, ks)
            sp, sps, spE = self._sp_info(tv)
            if not sp:
                q_t, q_s = self._ingress_tables(tv, ks, inited, [(True, False)])
                ig = (q_t * q_s[True, False])[cidx.reshape(-1)]
            elif not np.any(spE):
                q_t, q_s = self._ingress_tables(tv, ks, inited, [(True, False), (False, False)])
                a, = self._agg((0,), q_s[True, False], q_s[False, False], None, None)
                ig = (q_t * a)[cidx.reshape(-1)]
            else:
                spatial = [j for j, d in enumerate(self.lv.directives)
                           if d.kind == "S" and d.var in tv]
                # the spatial situations that occur: 0 no edge, 1 edge, 2 sp_edge_edge
                ee = self.spee[sps]
                sits = [0] + [1] * bool(np.any(spE & ~ee)) + [2] * bool(np.any(spE & ee))
                if len(spatial) == 1:
                    q_t, _ = self._ingress_tables(tv, ks, inited, [])
                    t3 = q_t * self._agg_one_spatial(sits, spatial[0], ks, inited)
                else:
                    q_t, q_s = self._ingress_tables(tv, ks, inited, [
                        (True, False), (False, False), (False, True), (True, True)])
                    t3 = q_t * np.stack(self._agg(
                        sits, q_s[True, False], q_s[False, False], q_s[False, True],
                        q_s[True, True]))
                sel = np.where(spE, np.where(ee, len(sits) - 1, 1), 0)  # position in sits
                idx = self.flat(cidx + sel * (len(ks) + 2))
                ig = np.take_along_axis(t3.reshape(-1, self.R), idx, axis=0)
            self.ig_f.append(ig)
            self._check_unique_zero(tv, ks, inited, cidx)
        self.ing_f = self.ig_f[0] + self.ig_f[1]

    def _check_unique_zero(self, tv, ks, inited, cidx):
        """MAESTRO aborts when the changing temporal loop of a valid case has no new data."""
        dirs = self.lv.directives
        bad = np.zeros((len(ks) + 2, self.R), dtype=bool)
        for i, j in enumerate(ks):
            if dirs[j].kind == "T":
                bad[i + 1] = ~inited[i] & (self.un[dirs[j].var] == 0)
        if bad.any():
            hit = bad[cidx.reshape(-1)] & self.valid_f
            self.err |= np.where(hit.any(axis=0), ERR_UNIQUE_ZERO, 0)

    # -- child level -------------------------------------------------------------------
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
        if err.any():
            called = np.where(self.valid_f, err[self.ci_1] | err[self.ci_2], 0)
            self.err |= np.bitwise_or.reduce(called, axis=0)

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
        if (avg == 0).any():  # a child without valid cases reports 0 units
            act = act + (act == 0) * active
        return comp, act.reshape(self.C, self.R)

    # -- reduce cases to the level's record (spec §5.1) --------------------------------
    def finish(self, res, top):
        """Reduce the cases to the level's record (spec §5.1): runtime, utilisation, errors,
        the first L1 record, and at the top level everything the report needs."""
        hw = self.eng.hw
        cand, C = self.cand, self.C
        rows = self.rows
        valid = self.valid_f
        allv = valid[np.argmin(valid, axis=0), np.arange(self.R)]  # all cases valid
        ov = (self.occ * valid.reshape(self.counts + (self.R,))).reshape(C, self.R)
        lat = _row_param(hw.noc_latency[cand])
        bw = _row_param(hw.noc_bw[cand])
        if self.innermost:
            simd = _row_param(hw.simd_lanes[cand])
            npsum = self.flat(self.npsum)
            comp = npsum if isinstance(simd, int) and simd == 1 else ceil_div(npsum, simd)
            act = self.flat(self.active.astype(float))
        else:
            comp, act = self._child_compute()
        d_in = self.ing_f + (bw - 1)  # NoC delay lat + ceil(x / bw) - 1 (§5.4)
        np.floor_divide(d_in, bw, out=d_in)
        d_in += lat - 1
        d_out = lat + ceil_div(self.eg, bw) - 1
        delay = np.maximum(d_out, comp.reshape(self.counts + (self.R,))).reshape(C, self.R)
        np.maximum(delay, d_in, out=delay)
        # the all-Init case cannot hide the first fill behind compute
        first_fill = np.flatnonzero(self.grid.c.reshape(-1) == -1)
        delay[first_fill] = comp[first_fill] + d_in[first_fill]
        # MAESTRO's case order: InitBuffers runs on every case up to the first valid one
        perm = self.grid.perm
        vm = valid[perm]
        fvq = np.argmax(vm, axis=0)
        any_valid = vm[fvq, np.arange(self.R)]
        # with no valid case: the row's last case (of a padded grid, the last it has)
        last = C - 1
        if self.exists is not None:
            last = C - 1 - np.argmax(self._exists_q()[::-1] > 0, axis=0)
        fvq = np.where(any_valid, fvq, last)
        fv = perm[fvq]
        self._first_l1(res, fvq, fv, any_valid)
        err = self.err
        if top:
            delay, err = self._top_record(res, self.flat(self.occ), valid, allv, ov, vm, fvq,
                                          fv, any_valid, comp, delay, d_in, self.flat(d_out))
        tot = ov.sum(axis=0)
        # an upper bound on the PEs busy at once (not MAESTRO's: our consistency check)
        most = self.flat(self.busy).astype(np.int64)
        if self.child is not None:
            cm = self.child["max_active"]
            most = most * np.maximum(cm[self.ci_1], cm[self.ci_2])
        # only cases that occur: a case that never runs keeps no PE busy
        res["max_active"][rows] = np.where(ov > 0, most, 0).max(axis=0, initial=0)
        # MAESTRO reports 0 active units when no case is valid
        res["avg_active"][rows] = _case_fsum(ov * act) / np.maximum(tot, 1)
        res["runtime"][rows] = _rowdot(ov, delay)
        res["err"][rows] |= err

    def _first_l1(self, res, fvq, fv, any_valid):
        """L1 sizes of the first innermost record (§5.2): at the innermost level twice the
        mapped tiles (input/filter accumulated over the cases up to the first valid one),
        above it the record of the child called by the first valid case."""
        if self.innermost or self.child is None:
            res["first_l1"][self.rows] = self._own_l1(fvq)
            return
        fl = self.child["first_l1"][self.ci_1[fv, np.arange(self.R)]]
        none = np.flatnonzero(~any_valid)  # no child called: this level's own record
        if len(none):
            fl[none] = self._own_l1(fvq, none)
        res["first_l1"][self.rows] = fl

    def _own_l1(self, fvq, sub=slice(None)):
        """This level's L1 sizes for rows ``sub``: twice the mapped tiles, input and filter
        counted once per case up to the first valid one (InitBuffers accumulates, §5.2)."""
        out = 2 * self.eng.mapped_volumes(self.i)[self.cand[sub]]
        if self.exists is None:
            out[:, :2] *= fvq[sub, None] + 1
        else:  # the cases that exist among MAESTRO's first fvq + 1
            seen = np.cumsum(self._exists_q(), axis=0)
            out[:, :2] *= seen[fvq, np.arange(self.R)][sub, None]
        return out

    def _exists_q(self) -> np.ndarray:
        """``[C, R]`` 0/1: the padded cases each row has, in MAESTRO's case order (cached)."""
        if self._exists_q_cache is None:
            self._exists_q_cache = self.flat(self.exists)[self.grid.perm]
        return self._exists_q_cache

    def _lead_sum(self, x, fvq):
        """Sum of ``x`` over MAESTRO's cases 0..fvq (InitBuffers accumulates, spec §5.2)."""
        perm = self.grid.perm
        out = x[perm[0]].copy()
        late = np.flatnonzero(fvq > 0)
        if len(late):
            xs = x[:, late][perm]
            lead = np.arange(self.C)[:, None] <= fvq[late]
            if self.exists is not None:
                lead &= self._exists_q()[:, late] > 0
            out[late] = np.where(lead, xs, 0).sum(axis=0)
        return out

    def _offchip_req(self, V, comp1, valid, vm, allv):
        """MAESTRO's off-chip requirement, ``r <- tdiv(max(r, tdiv(V, comp)), 2)`` over the
        valid cases in its order (``V``: the row's larger L2 size), in closed form.

        That is the max over valid cases of ``tdiv(V, comp) >> a`` with ``a`` the number of
        valid cases at or after the case, i.e. ``V // min(comp * 2**a)`` for ``0 <= V <
        2**53``: a min over exact float products instead of an integer division per case.
        """
        perm, C = self.grid.perm, self.C
        pow2 = 2.0 ** np.arange(65)  # a >= 64 makes the term 0 anyway (V < 2**53)
        w = np.empty(C)
        w[perm] = pow2[np.minimum(np.arange(C, 0, -1), 64)]  # all valid: a = C - q
        d = (comp1 * w[:, None]).min(axis=0)
        part = np.flatnonzero(~allv)
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

    def _top_record(self, res, occ, valid, allv, ov, vm, fvq, fv, any_valid, comp, delay,
                    d_in, d_out):
        """Top-level only: off-chip term, buffer sizes, counters, bandwidths, delay stats."""
        hw = self.eng.hw
        cand, rows, R, C = self.cand, self.rows, self.R, self.C
        ridx = np.arange(R)
        t_in, t_w, t_out = self.eng.tensors
        eg = self.flat(self.eg)
        macs = self.flat(self.macs)
        err = self.err.copy()
        ig = self.ig_f
        l2_in = 2 * self._lead_sum(ig[0], fvq)
        l2_w = 2 * self._lead_sum(ig[1], fvq)
        l2_out = 2 * eg[fv, ridx]
        off = hw.offchip_bw[cand]
        in_off = tdiv_pos(tdiv_pos(l2_in + l2_w, off), 2)
        out_off = tdiv_pos(tdiv_pos(l2_out, off), 2)
        delay = np.maximum(delay, np.maximum(in_off, out_off))
        zero_comp = ((comp == 0) & valid).any(axis=0)
        err |= np.where(zero_comp, ERR_ZERO_COMPUTE, 0)
        err |= np.where(any_valid, 0, ERR_NO_VALID)
        comp1 = np.maximum(comp, 1)
        # max(tdiv(a, d), tdiv(b, d)) == tdiv(max(a, b), d) for d > 0
        V = np.maximum(l2_out, l2_in + l2_w)
        res["offchip_req"][rows] = self._offchip_req(V, comp1, valid, vm, allv)
        res["l2_size_in"][rows], res["l2_size_w"][rows], res["l2_size_out"][rows] = (
            l2_in, l2_w, l2_out)
        ov_macs = _rowdot(ov, macs)
        res["num_macs"][rows] = ov_macs
        cnt = res["counters"]
        for t, tv in enumerate((t_in, t_w)):
            l2r = _rowdot(ov, ig[t])
            cnt[rows, t, 0] = l2r
            cnt[rows, t, 1] = np.prod([self.DD[v] for v in tv if v in self.DD], axis=0)
            cnt[rows, t, 2] = ov_macs
            cnt[rows, t, 3] = l2r
        all_macs = _rowdot(occ, macs)
        cnt[rows, 2, 0] = self._out_size(t_out)
        cnt[rows, 2, 1] = _rowdot(occ, eg)
        cnt[rows, 2, 2] = all_macs
        cnt[rows, 2, 3] = all_macs
        traffic = np.maximum(self.ing_f, eg)
        res["peak_bw"][rows] = _valid_reduce(np.max, tdiv_pos(traffic, comp1), valid, allv, 0)
        tot = ov.sum(axis=0)
        tot_s = np.maximum(tot, 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            res["avg_bw"][rows] = _rowdot(tdiv_pos(occ * traffic, comp1), valid) / tot
        # with no valid case MAESTRO reports min = avg = INT64_MIN and max = 0
        big = np.iinfo(np.int64).max
        lo = np.iinfo(np.int64).min
        for k, dly in enumerate((d_in, d_out, comp1)):
            res["delays"][rows, k, 0] = np.where(
                any_valid, _valid_reduce(np.min, dly, valid, allv, big), lo)
            res["delays"][rows, k, 1] = np.maximum(_valid_reduce(np.max, dly, valid, allv, 0), 0)
            res["delays"][rows, k, 2] = np.where(any_valid, tdiv_pos(_rowdot(ov, dly), tot_s), lo)
        last = self.grid.perm[C - 1 - np.argmax(vm[::-1], axis=0)]
        with np.errstate(divide="ignore", invalid="ignore"):
            ai = macs[last, ridx].astype(float) / self.ing_f[last, ridx]
        # MAESTRO sets it from its last valid case; with none it keeps its initial 0 (the
        # case picked above would depend on which rows share this batch)
        res["ai"][rows] = np.where(any_valid, ai, 0.0)
        return delay, err

    def _out_size(self, tv):
        out = np.ones(self.R, dtype=np.int64)
        for v in tv:
            if v not in self.DD:
                continue
            if v in REF_DIMS and PARTNER[v] in self.DD:
                out = out * (self.DD[v] - self.DD[PARTNER[v]] + 1)
            else:
                out = out * self.DD[v]
        return out
