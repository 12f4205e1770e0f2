"""The recursive cost engine (spec §3-§5), vectorised over candidates and iteration cases.

A level is analysed for a batch of *rows*; a row is a candidate index plus a dynamic
dimension table ``DD``. Rows whose directives have the same set of iteration states share a
*signature*, hence the same list of cases in MAESTRO's enumeration order; each signature group
is evaluated as ``[rows, cases]`` arrays. Child levels are evaluated once for all distinct
``(candidate, DD)`` pairs that the parent's cases hand down (memoisation, spec §5.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .intmath import ceil_div, nz, tdiv
from .layer import TensorTable
from .levels import OUT_OF, PARTNER, REF_DIMS, Level

INIT, STEADY, EDGE = 0, 1, 2

# error bits carried per candidate
ERR_PES = 1          # cluster sizes need more PEs than exist
ERR_UNIQUE_ZERO = 2  # a changing temporal dim with no new data (MAESTRO aborts)
ERR_ZERO_COMPUTE = 4  # a child level with no valid case: MAESTRO dies with SIGFPE
ERR_NO_VALID = 8     # no valid iteration case at the top level
ERROR_REASONS = {
    ERR_PES: "cluster sizes need more PEs than the accelerator has",
    ERR_UNIQUE_ZERO: "a changing temporal loop brings no new data (MAESTRO aborts)",
    ERR_ZERO_COMPUTE: "a sub-cluster level has no valid iteration case (MAESTRO crashes, SIGFPE)",
    ERR_NO_VALID: "no valid iteration case at the top level",
}


@dataclass
class HardwareBatch:
    """Per-candidate hardware parameters (int64 arrays of equal length)."""

    num_pes: np.ndarray
    noc_bw: np.ndarray
    noc_latency: np.ndarray
    offchip_bw: np.ndarray
    simd_lanes: np.ndarray


@lru_cache(maxsize=4096)
def case_table(sig: tuple[int, ...]) -> np.ndarray:
    """Positions ``[cases, directives]`` for a signature, in MAESTRO's case order (§3.2).

    ``sig[j]`` has bit 0 set when directive j has a Steady state and bit 1 when it has an Edge.
    """
    states = [[INIT] + ([STEADY] if s & 1 else []) + ([EDGE] if s & 2 else []) for s in sig]
    counts = [len(s) for s in states]
    n = len(sig)
    f = [int(np.prod(counts[j + 1:], dtype=np.int64)) for j in range(n)]
    total = int(np.prod(counts, dtype=np.int64))
    q = np.arange(total, dtype=np.int64)
    pos = np.empty((total, n), dtype=np.int8)
    for j in range(n):
        idx = ((q + f[j] - 1) // f[j]) % counts[j]
        pos[:, j] = np.asarray(states[j], dtype=np.int8)[idx]
    return pos


class Engine:
    """Analyses one layer's levels for a batch of candidates."""

    def __init__(self, levels: list[Level], table: TensorTable, hw: HardwareBatch):
        self.levels = levels
        self.table = table
        self.hw = hw
        self.tensors = table.tensors()

    # ------------------------------------------------------------------ iteration states
    def _states(self, lv: Level, cand: np.ndarray, DD: dict[str, np.ndarray]):
        """Per-directive state descriptors for each row (spec §3.1)."""
        N = np.maximum(lv.N[cand], 1)
        out = []
        code = np.zeros(len(cand), dtype=np.int64)
        for j, d in enumerate(lv.directives):
            D = DD[d.var]
            m, o = d.m[cand], d.o[cand]
            if d.kind == "T":
                unrolled = D <= m
                init_edge = D < m
                ns = tdiv(D - m, o)
                has_st = (m < D) & (ns > 0)
                has_ed = ~init_edge & (ns * o + m < D)
                ee_i = np.zeros_like(init_edge)
                ee_e = ee_i
            else:
                cov = m + o * (N - 1)
                unrolled = D <= cov
                init_edge = D < cov
                ee_i = init_edge
                ns = tdiv(tdiv(D - m, o) + 1, N) - 1
                has_st = (cov < D) & (ns > 0)
                edge = ~unrolled & ((ns + 1) * o * N + cov > D) & (ns * o * N + cov != D)
                rem = D - (ns + 1) * o * N
                a = np.where(rem < m, 1, tdiv(rem - m, o) + 1)
                ee_e = (a - 1) * o + m < rem
                has_ed = ~init_edge & edge
            out.append((ns, unrolled, init_edge, ee_i, ee_e))
            code += (has_st.astype(np.int64) + 2 * has_ed.astype(np.int64)) << (2 * j)
        return out, code

    # ------------------------------------------------------------------ level analysis
    def analyze(self, i: int, cand: np.ndarray, DD: dict[str, np.ndarray]) -> dict:
        """Analyse level ``i`` for rows ``(cand, DD)``; returns per-row result arrays."""
        lv = self.levels[i]
        M = len(cand)
        top = i == 0
        st, code = self._states(lv, cand, DD)
        res = {k: np.zeros(M, dtype=np.int64) for k in ("runtime", "err")}
        res["avg_active"] = np.zeros(M)
        res["first_l1"] = np.zeros((M, 3), dtype=np.int64)
        if top:
            _init_top_fields(res, M)
        ucodes, inverse = np.unique(code, return_inverse=True)
        groups = []
        for g, c in enumerate(ucodes):
            rows = np.nonzero(inverse == g)[0]
            sig = tuple(int((c >> (2 * j)) & 3) for j in range(len(lv.directives)))
            groups.append(_Group(self, lv, i, cand[rows], rows, {k: v[rows] for k, v in DD.items()},
                                 [tuple(a[rows] for a in s) for s in st], case_table(sig)))
        if i < len(self.levels) - 1:
            self._recurse(i, groups)
        for grp in groups:
            grp.finish(res, top)
        res["err"] |= np.where(lv.N[cand] == 0, ERR_PES, 0)
        return res

    def _recurse(self, i: int, groups: list[_Group]) -> None:
        """Evaluate the child level once for every distinct (candidate, dims) the cases need."""
        child = self.levels[i + 1]
        cvars = list(child.SD.keys())
        keys, owners = [], []
        for gi, grp in enumerate(groups):
            for variant in (True, False):
                need = grp.child_need[variant]
                r, c = np.nonzero(need)
                if len(r) == 0:
                    continue
                sub = grp.subdims(variant)
                cols = [grp.cand[r]] + [np.broadcast_to(sub[v], need.shape)[r, c] for v in cvars]
                keys.append(np.stack(cols, axis=1))
                owners.append((gi, variant, r, c))
        if not keys:
            return
        allk = np.concatenate(keys, axis=0)
        uniq, inv = np.unique(allk, axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        cres = self.analyze(i + 1, uniq[:, 0], {v: uniq[:, k + 1] for k, v in enumerate(cvars)})
        start = 0
        for gi, variant, r, c in owners:
            sel = inv[start:start + len(r)]
            start += len(r)
            groups[gi].take_child(variant, r, c, {k: v[sel] for k, v in cres.items()})


def _init_top_fields(res: dict, M: int) -> None:
    ints = ["num_macs", "offchip_req", "peak_bw", "l2_size_in", "l2_size_w", "l2_size_out"]
    for k in ints:
        res[k] = np.zeros(M, dtype=np.int64)
    res["counters"] = np.zeros((M, 3, 4), dtype=np.int64)  # tensor x (l2r, l2w, l1r, l1w)
    res["delays"] = np.zeros((M, 3, 3), dtype=np.int64)   # (in, out, comp) x (min, max, avg)
    for k in ("avg_bw", "ai"):
        res[k] = np.zeros(M)


class _Group:
    """Rows of one level sharing a case list; every quantity is a ``[rows, cases]`` array."""

    def __init__(self, eng: Engine, lv: Level, i: int, cand, rows, DD, st, pos):
        self.eng, self.lv, self.i = eng, lv, i
        self.cand, self.rows, self.DD = cand, rows, DD
        self.innermost = i == len(eng.levels) - 1
        dirs = lv.directives
        n = len(dirs)
        C = pos.shape[0]
        self.C = C
        col = lambda a: a[:, None]  # noqa: E731
        self.N = col(lv.N[cand])
        self.nec = col(lv.nec[cand])
        self.nec1 = self.nec == 1
        occ = np.ones((len(cand), C), dtype=np.int64)
        for j in range(n):
            ns = st[j][0]
            occ = occ * np.where(pos[:, j] == STEADY, col(ns), 1)
        self.occ = occ
        vars_ = []
        for d in dirs:
            if d.var not in vars_:
                vars_.append(d.var)
        self.last = {v: max(j for j in range(n) if dirs[j].var == v) for v in vars_}
        self.first = {v: min(j for j in range(n) if dirs[j].var == v) for v in vars_}
        self.posv = {v: pos[:, self.last[v]] for v in vars_}
        self.E, self.unr, self.spee = {}, {}, {}
        for v in vars_:
            L = self.last[v]
            ns, unrolled, init_edge, ee_i, ee_e = st[L]
            p = self.posv[v]
            self.E[v] = (p == EDGE) | ((p == INIT) & col(init_edge))
            self.unr[v] = (p == INIT) & col(unrolled)
            self.spee[v] = np.where(p == INIT, col(ee_i), (p == EDGE) & col(ee_e))
        nonin = np.stack([self.posv[d.var] != INIT for d in dirs], axis=1)  # [C, n]
        self.c = np.where(nonin.any(axis=1), n - 1 - np.argmax(nonin[:, ::-1], axis=1), -1)
        self.all_init = ~np.stack([self.posv[v] != INIT for v in vars_], axis=1).any(axis=1)
        g = lambda t: {k: col(v[cand]) for k, v in t.items()}  # noqa: E731
        self.mp, self.un, self.mpe, self.une = g(lv.mp), g(lv.un), g(lv.mpe), g(lv.une)
        self._compute()

    # -- per-unit volumes (spec §4.1-§4.4) ---------------------------------------------
    def pe_mapped(self, tv, first, ee):
        out = 1
        for d in self.lv.directives:
            v = d.var
            if v not in tv:
                continue
            if d.kind == "T":
                f = np.where(self.E[v], self.mpe[v], self.mp[v])
            else:
                f = np.where(self.E[v],
                             np.where(self.nec1, np.where(first | np.asarray(ee), self.mpe[v], 1),
                                      np.where(ee, self.mpe[v], self.mp[v])),
                             self.mp[v])
            out = out * f
        return out

    def pe_ingress(self, tv, first, ee, inited):
        c = self.c
        full = self.pe_mapped(tv, first, ee)
        out = 1
        for j, d in enumerate(self.lv.directives):
            v = d.var
            if v not in tv:
                continue
            p = self.posv[v]
            is_c = (c == j)
            if d.kind == "T":
                f_init = np.where(self.E[v], self.mpe[v], self.mp[v])
                f_non = np.where(is_c & ~inited, self.un[v], self.mp[v])
            else:
                Mx = np.where(ee, self.mpe[v], self.mp[v])
                Ux = np.where(ee, self.une[v], self.un[v])
                f_init = np.where(first | (j <= c), Mx, Ux)
                f_non = np.where(first, Mx, np.where(is_c & ~inited, Ux, Mx))
            out = out * np.where(p == INIT, f_init, f_non)
        coupled = np.array([cj >= 0 and self.lv.directives[cj].var in tv for cj in c])
        return np.where(c < 0, full, np.where(coupled, out, 0))

    def pe_egress(self, tv, psum, first, ee, reuse_edge=True):
        mp, un, mpe, une, E = self.mp, self.un, self.mpe, self.une, self.E
        nec1 = self.nec1
        out = 1
        if psum:
            for d in self.lv.directives:
                v = d.var
                if v in tv:
                    continue
                p = self.posv[v]
                if d.kind == "T":
                    f = np.where(E[v], mpe[v], mp[v])
                else:
                    base = np.where(first, mp[v], nz(un[v]))
                    f_i = np.where(E[v] & ee, mpe[v], base)
                    f_e = np.where(nec1, np.where(first | np.asarray(ee), mpe[v], 1),
                                   np.where(ee, une[v], base))
                    f = np.where(p == INIT, f_i, np.where(p == STEADY, base, f_e))
                out = out * f
        for v in tv:
            d = self.lv.directives[self.first[v]]
            a = OUT_OF.get(v, v)
            p = self.posv[v]
            if d.kind == "T":
                f = np.where(p == INIT, np.where(E[v], mpe[a], mp[a]),
                             np.where(p == STEADY, mp[a], mpe[a]))
            else:
                base = np.where(first, mp[a], nz(un[a]))
                f_i = np.where(E[v] & ee,
                               np.where(nec1, mpe[a], une[a] if reuse_edge else mpe[a]), base)
                f_e = np.where(nec1, np.where(first | np.asarray(ee), mpe[v], 1),
                               np.where(ee, une[a], base))
                f = np.where(p == INIT, f_i, np.where(p == STEADY, base, f_e))
            out = out * f
        return out

    def _sp_info(self, tv, all_spatial=False):
        """(sp, sps var, spE) of a tensor (spec §4.3), optionally over all SpatialMaps too."""
        dirs = self.lv.directives
        sp_vars = [v for v in tv if dirs[self.first[v]].kind == "S"]
        sp = bool(sp_vars)
        sps = sp_vars[-1] if sp_vars else None
        spE = np.zeros((1, 1), dtype=bool)
        for v in sp_vars:
            spE = spE | self.E[v]
        if all_spatial:
            for d in dirs:
                if d.kind == "S":
                    sp, sps = True, d.var
                    spE = spE | self.E[d.var]
        return sp, sps, spE

    def _agg(self, F, tv):
        sp, sps, spE = self._sp_info(tv)
        if not sp:
            return F(True, False)
        ee_star = self.spee[sps]
        n_ee = ee_star.astype(np.int64)
        n_full = np.maximum(self.nec - n_ee - 1, 0)
        f_ff = F(False, False)
        a = F(True, False) + (self.N - 1) * f_ff
        b = F(True, self.nec1 & ee_star) + (self.nec > 1) * (n_full * f_ff + n_ee * F(False, True))
        return np.where(spE, b, a)

    # -- one level's per-case quantities (spec §5.1) ------------------------------------
    def _compute(self):
        t_in, t_w, t_out = self.eng.tensors
        self.eg = self._agg(lambda f, e: self.pe_egress(t_out, False, f, e), t_out)
        sp, sps, spE = self._sp_info(t_out)
        if sp:
            ee_star = self.spee[sps]
            self.npsum = np.where(spE, self.pe_egress(t_out, True, True, self.nec1 & ee_star),
                                  self.pe_egress(t_out, True, True, False))
        else:
            self.npsum = self.pe_egress(t_out, True, True, False)
        self.npsum = np.broadcast_to(self.npsum, self.occ.shape)
        _, sps2, spE2 = self._sp_info(t_out, all_spatial=True)
        ee2 = self.spee[sps2]
        n_ee = ee2.astype(np.int64)
        n_full = np.maximum(self.nec - n_ee - 1, 0)
        base = self.pe_egress(t_out, True, True, False)
        self.macs = np.where(
            spE2,
            self.pe_egress(t_out, True, True, self.nec1 & ee2)
            + (self.nec > 1) * (n_full * base
                                + n_ee * self.pe_egress(t_out, True, False, True, reuse_edge=False)),
            self.N * base)
        self.macs = np.broadcast_to(self.macs, self.occ.shape)
        self.eg = np.broadcast_to(self.eg, self.occ.shape)
        self.valid = self.npsum > 0
        self.ig = []
        self.err = np.zeros(len(self.cand), dtype=np.int64)
        dirs = self.lv.directives
        for tv in (t_in, t_w):
            inited = np.zeros((1, 1), dtype=bool)
            for j, d in enumerate(dirs):
                if d.var in tv:
                    inited = inited | ((j > self.c) & (self.posv[d.var] == INIT) & ~self.unr[d.var])
            ig = self._agg(lambda f, e, tv=tv, inited=inited: self.pe_ingress(tv, f, e, inited), tv)
            self.ig.append(np.broadcast_to(ig, self.occ.shape))
            # MAESTRO aborts when the changing temporal loop has no new data (un == 0)
            for j, d in enumerate(dirs):
                if d.var in tv and d.kind == "T":
                    hit = ((self.c == j) & ~inited & (self.posv[d.var] != INIT)
                           & (self.un[d.var] == 0) & self.valid)
                    self.err |= np.where(hit.any(axis=1), ERR_UNIQUE_ZERO, 0)
        self.ing = self.ig[0] + self.ig[1]
        # the first SpatialMap's state decides active units and child calls
        v0 = dirs[self.lv.spatial[0]].var
        self.is_e = np.broadcast_to(self.E[v0], self.occ.shape)
        self.spee0 = np.broadcast_to(self.spee[v0], self.occ.shape)
        self.active = np.where(self.is_e, self.nec, self.N)
        if not self.innermost:
            both = self.is_e & self.spee0
            self.child_need = {True: self.valid & both,
                               False: self.valid & ~(both & (self.nec - 1 <= 0))}
            self.child = {True: None, False: None}

    def subdims(self, ee):
        """Dynamic dims handed to the child level for each case (spec §4.5)."""
        out = {}
        for d in self.lv.directives:
            v = d.var
            if v in out:
                continue
            if d.kind == "T":
                out[v] = np.where(self.E[v], self.mpe[v], self.mp[v])
            else:
                p = self.posv[v]
                pick = self.nec1 | ee
                f_i = np.where(self.E[v], np.where(pick, self.mpe[v], self.mp[v]), self.mp[v])
                f_e = np.where(pick, self.mpe[v], self.mp[v])
                out[v] = np.where(p == INIT, f_i, np.where(p == STEADY, self.mp[v], f_e))
        return out

    def take_child(self, variant, r, c, cres):
        if self.child[variant] is None:
            shape = self.occ.shape
            self.child[variant] = {
                "runtime": np.zeros(shape, dtype=np.int64), "avg_active": np.zeros(shape),
                "err": np.zeros(shape, dtype=np.int64),
                "first_l1": np.zeros(shape + (3,), dtype=np.int64)}
        ch = self.child[variant]
        for k in ch:
            ch[k][r, c] = cres[k]

    # -- reduce cases to the level's record --------------------------------------------
    def finish(self, res, top):
        eng, lv = self.eng, self.lv
        hw = eng.hw
        cand = self.cand
        occ, valid = self.occ, self.valid
        ov = np.where(valid, occ, 0)
        t_in, t_w, t_out = eng.tensors
        lat = hw.noc_latency[cand][:, None]
        bw = hw.noc_bw[cand][:, None]
        err = self.err.copy()
        # compute delay
        if self.innermost:
            simd = hw.simd_lanes[cand][:, None]
            comp = ceil_div(self.npsum, simd)
            act = self.active.astype(float)
        else:
            both = self.is_e & self.spee0
            z = np.zeros(occ.shape, dtype=np.int64)
            chT = self.child[True] or {"runtime": z, "avg_active": z * 0.0, "err": z,
                                       "first_l1": np.zeros(occ.shape + (3,), dtype=np.int64)}
            chF = self.child[False] or chT
            multi = self.nec > 1
            comp = np.where(both, np.where(multi, np.maximum(chT["runtime"], chF["runtime"]),
                                           chT["runtime"]), chF["runtime"])
            act = np.where(both, chT["avg_active"] + multi * chF["avg_active"] * (self.nec - 1),
                           np.where(self.is_e, chF["avg_active"] * self.nec,
                                    chF["avg_active"] * self.N))
            act = np.where(act == 0, self.active, act)
            cerr = np.where(both, chT["err"] | np.where(multi, chF["err"], 0), chF["err"])
            err |= np.bitwise_or.reduce(np.where(valid, cerr, 0), axis=1)
        d_in = lat + ceil_div(self.ing, bw) - 1
        d_out = lat + ceil_div(self.eg, bw) - 1
        delay = np.where(self.all_init, comp + d_in, np.maximum(np.maximum(d_out, comp), d_in))
        # InitBuffers: runs on every case up to and including the first valid one
        any_valid = valid.any(axis=1)
        first_valid = np.where(any_valid, np.argmax(valid, axis=1), self.C - 1)
        lead = np.arange(self.C)[None, :] <= first_valid[:, None]
        n_init = first_valid + 1
        rows = self.rows
        mvol = [self._mapped_vol(tv) for tv in (t_in, t_w, t_out)]
        own_l1 = np.stack([2 * n_init * mvol[0], 2 * n_init * mvol[1],
                           np.broadcast_to(2 * mvol[2], n_init.shape)], axis=1)
        if self.innermost:
            res["first_l1"][rows] = own_l1
        else:
            fv = first_valid
            ridx = np.arange(len(cand))
            first_is_t = both[ridx, fv]
            fl = np.where(first_is_t[:, None], chT["first_l1"][ridx, fv], chF["first_l1"][ridx, fv])
            res["first_l1"][rows] = np.where(any_valid[:, None], fl, own_l1)
        if top:
            l2_in = 2 * np.where(lead, self.ig[0], 0).sum(axis=1)
            l2_w = 2 * np.where(lead, self.ig[1], 0).sum(axis=1)
            l2_out = 2 * self.eg[np.arange(len(cand)), first_valid]
            off = hw.offchip_bw[cand]
            in_off = tdiv(tdiv(l2_in + l2_w, off), 2)[:, None]
            out_off = tdiv(tdiv(l2_out, off), 2)[:, None]
            delay = np.maximum(np.maximum(in_off, delay), out_off)
            zero_comp = (valid & (comp == 0)).any(axis=1)
            err |= np.where(zero_comp, ERR_ZERO_COMPUTE, 0)
            err |= np.where(any_valid, 0, ERR_NO_VALID)
            comp_s = np.maximum(comp, 1)
            v_c = np.maximum(tdiv(l2_out[:, None], comp_s), tdiv((l2_in + l2_w)[:, None], comp_s))
            after = np.cumsum(valid[:, ::-1], axis=1)[:, ::-1]  # valid cases at or after this one
            shifted = np.right_shift(v_c, np.minimum(after, 62))
            res["offchip_req"][rows] = np.where(valid, shifted, 0).max(axis=1)
            res["l2_size_in"][rows], res["l2_size_w"][rows], res["l2_size_out"][rows] = (
                l2_in, l2_w, l2_out)
            res["num_macs"][rows] = (ov * self.macs).sum(axis=1)
            cnt = res["counters"]
            for t, (tv, ig) in enumerate(zip((t_in, t_w), self.ig)):
                l2r = (ov * ig).sum(axis=1)
                cnt[rows, t, 0] = l2r
                cnt[rows, t, 1] = np.prod([self.DD[v] for v in tv if v in self.DD], axis=0)
                cnt[rows, t, 2] = (ov * self.macs).sum(axis=1)
                cnt[rows, t, 3] = l2r
            all_macs = (occ * self.macs).sum(axis=1)
            cnt[rows, 2, 0] = self._out_size(t_out)
            cnt[rows, 2, 1] = (occ * self.eg).sum(axis=1)
            cnt[rows, 2, 2] = all_macs
            cnt[rows, 2, 3] = all_macs
            comp1 = np.maximum(comp, 1)
            traffic = np.maximum(self.ing, self.eg)
            res["peak_bw"][rows] = np.where(valid, tdiv(traffic, comp1), 0).max(axis=1)
            tot = ov.sum(axis=1)
            tot_s = np.maximum(tot, 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                res["avg_bw"][rows] = (np.where(valid, tdiv(occ * traffic, comp1), 0).sum(axis=1)
                                       / tot)
            # with no valid case MAESTRO reports min = avg = INT64_MIN and max = 0
            big = np.iinfo(np.int64).max
            lo = np.iinfo(np.int64).min
            for k, dly in enumerate((d_in, d_out, comp1)):
                res["delays"][rows, k, 0] = np.where(any_valid, np.where(valid, dly, big).min(axis=1),
                                                     lo)
                res["delays"][rows, k, 1] = np.where(valid, dly, 0).max(axis=1, initial=0)
                res["delays"][rows, k, 2] = np.where(any_valid, tdiv((ov * dly).sum(axis=1), tot_s),
                                                     lo)
            last_valid = self.C - 1 - np.argmax(valid[:, ::-1], axis=1)
            ridx = np.arange(len(cand))
            with np.errstate(divide="ignore", invalid="ignore"):
                res["ai"][rows] = (self.macs[ridx, last_valid].astype(float)
                                   / self.ing[ridx, last_valid])
        tot = ov.sum(axis=1)
        # MAESTRO reports 0 active units when no case is valid
        res["avg_active"][rows] = (ov * act).sum(axis=1) / np.maximum(tot, 1)
        res["runtime"][rows] = (ov * delay).sum(axis=1)
        res["err"][rows] |= err

    def _mapped_vol(self, tv):
        out = np.ones(len(self.cand), dtype=np.int64)
        for v in tv:
            if v in self.mp:
                out = out * self.mp[v][:, 0]
        return out

    def _out_size(self, tv):
        out = np.ones(len(self.cand), dtype=np.int64)
        for v in tv:
            if v not in self.DD:
                continue
            if v in REF_DIMS and PARTNER[v] in self.DD:
                out = out * (self.DD[v] - self.DD[PARTNER[v]] + 1)
            else:
                out = out * self.DD[v]
        return out
