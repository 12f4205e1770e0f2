"""The engine's walk down the levels (spec §5): analyse a level for a batch of rows, hand each
case's child dims to the next level once per distinct key, reduce the cases to records.

A level is analysed for a batch of *rows*; a row is a candidate index plus a dynamic
dimension table ``DD``. Rows are sorted by their state counts and cut into groups
(:mod:`.states`); each group computes its per-case quantities (:class:`.cases.CaseGroup`),
then its children's records are looked up and the group is reduced to one record per row
(:mod:`.reduction`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layer import TensorTable
from ..levels import Level
from ..validity import ERR_PES
from . import states
from .arrays import row_param
from .cases import CaseGroup
from .reduction import init_level_fields, init_top_fields, reduce_group

# child keys: below this many (candidates << mask bits) a dense flag table dedupes them
_DENSE_KEYS = 1 << 24
# candidates analysed together (all levels): large enough to amortise numpy's per-call cost
# over many rows, small enough to bound the memory of the per-case arrays
CHUNK = 16384


@dataclass
class HardwareBatch:
    """Per-candidate hardware parameters (int64 arrays of equal length)."""

    num_pes: np.ndarray
    noc_bw: np.ndarray
    noc_latency: np.ndarray
    offchip_bw: np.ndarray
    simd_lanes: np.ndarray


class Engine:
    """Analyses one layer's levels for a batch of candidates."""

    def __init__(self, levels: list[Level], table: TensorTable, hw: HardwareBatch,
                 skip=frozenset()):
        self.levels = levels
        #: top-level record parts not to compute (left 0): "offchip_req", "avg_bw", "ai"
        #: and "delays" (the min/max/avg delay statistics)
        self.skip = frozenset(skip)
        self.table = table
        self.hw = hw
        self.tensors = table.tensors()
        self._mvol: dict[int, np.ndarray] = {}
        self._hw_scalar: dict[str, int | None] = {}

    def hw_param(self, name: str, cand: np.ndarray):
        """A hardware parameter for rows ``cand``: a Python int when it is the same for all
        of them (numpy divides by a scalar several times faster), else the ``[rows]`` array."""
        if name not in self._hw_scalar:
            a = getattr(self.hw, name)
            self._hw_scalar[name] = int(a[0]) if len(a) and (a == a[0]).all() else None
        v = self._hw_scalar[name]
        return v if v is not None else row_param(getattr(self.hw, name)[cand])

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
        top = i == 0
        if top:  # child keys are relative to this range of candidates
            self.cand_lo = int(cand.min()) if len(cand) else 0
            self.cand_span = int(cand.max()) - self.cand_lo + 1 if len(cand) else 1
        M = len(cand)
        res = init_level_fields(M)
        if top:
            init_top_fields(res, M)
        groups, order = self._groups(i, cand, DD)
        if i < len(self.levels) - 1:
            self._recurse(i, groups)
        for grp in groups:
            reduce_group(grp, res, top)
        if order is not None:  # back to the caller's row order
            inv = np.empty_like(order)
            inv[order] = np.arange(M)
            res = {k: v[inv] for k, v in res.items()}
        res["err"] |= np.where(lv.N[cand] == 0, ERR_PES, 0)
        return res

    def _groups(self, i: int, cand: np.ndarray, DD: dict[str, np.ndarray]):
        """The rows' case groups, and the order that sorts the rows by group (None when they
        are sorted already): every group is then a slice of rows (views, no scatter)."""
        lv = self.levels[i]
        top = i == 0
        ns, flags = states.directive_states(lv, cand, DD)
        n, M = len(lv.directives), len(cand)
        code = states.group_codes(flags)
        order = None
        if np.count_nonzero(code[1:] < code[:-1]):
            order = np.argsort(code, kind="stable")
            code, cand, ns, flags = code[order], cand[order], ns[:, order], flags[:, :, order]
            if top:
                DD = {k: v[order] for k, v in DD.items()}
        if M and code[0] == code[-1]:  # sorted: one state-count group (np.unique costs more)
            ucodes, starts = code[:1], np.zeros(1, dtype=np.int64)
        else:
            ucodes, starts = np.unique(code, return_index=True)
        bounds = [*starts.tolist(), M]
        groups = []
        # the rows are the level's candidates in order (one chunk, unsorted): no gathers
        whole = (top and order is None and M == len(lv.N)
                 and bool((cand == np.arange(M)).all()))
        for lo, hi, counts in states.merge_groups(ucodes, bounds, n):
            rows = slice(bounds[lo], bounds[hi])
            ident = whole and bounds[lo] == 0 and bounds[hi] == M
            sub_dd = (DD if ident else {k: v[rows] for k, v in DD.items()}) if top else None
            groups.append(CaseGroup(self, lv, i, rows, cand[rows], sub_dd,
                                    states.split_states(ns[:, rows], flags[:, :, rows]),
                                    counts, ident))
        return groups, order

    def _recurse(self, i: int, groups: list[CaseGroup]) -> None:
        """Evaluate the child level once for every distinct (candidate, child dims) needed.

        A child dim is the parent's ``mp[v]`` or ``mpe[v]`` (§4.5), static per candidate, so
        the key of a child row is ``candidate << nb | bitmask``, with one bit per variable whose
        two values differ for some candidate. Rows of one candidate share their children.
        """
        lv, child = self.levels[i], self.levels[i + 1]
        cvars = list(child.SD.keys())
        bit_vars = [v for v in cvars if np.count_nonzero(lv.mp[v] != lv.mpe[v])]
        nb = len(bit_vars)
        keys = [grp.child_keys(bit_vars, nb) for grp in groups]
        allk = np.concatenate(keys)
        if len(allk) == 0:
            return
        uniq, lookup = self._dedupe(allk, self.cand_span << nb)
        cc = (uniq >> nb) + self.cand_lo
        DD = {v: lv.mp[v][cc] for v in cvars}
        for b, v in enumerate(bit_vars):
            DD[v] = np.where(((uniq >> b) & 1).astype(bool), lv.mpe[v][cc], DD[v])
        cres = self._analyze(i + 1, cc, DD)
        for grp in groups:
            grp.take_child(cres, lookup)

    @staticmethod
    def _dedupe(allk: np.ndarray, n_keys: int):
        """The sorted distinct child keys, and a function from keys to their index there."""
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
        return uniq, lookup
