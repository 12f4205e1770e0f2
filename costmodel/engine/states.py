"""Iteration states of a level's directives and the case grid they span (spec §3).

Every directive of a level runs through at most three *positions*: Init (the first
iteration), Steady (the repeated middle, ``ns`` times) and Edge (a partial last iteration).
A *case* picks one position per directive; the cases of a row are the cross product of its
directives' positions. Rows whose directives have the same state counts share their cases
and MAESTRO's case order, so the engine analyses them together as one *group*; rows with
fewer states can join a group with more as padding (:func:`merge_groups`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import prod

import numpy as np

from ..intmath import tdiv_pos
from ..levels import Level

INIT, STEADY, EDGE = 0, 1, 2

# groups of rows with different state counts are analysed as one padded group while its
# cases x rows stay within MERGE_FACTOR x theirs + MERGE_SLACK (see merge_groups): padding
# pays for small groups (a search's batches) and costs for large ones, so only the slack
# (about one group's fixed cost) is allowed; a factor of 2 makes benchmarks/
# costmodel_throughput.py (large one-structure batches) about 32% slower for no gain in tuning time
MERGE_FACTOR = 1
MERGE_SLACK = 4096


@dataclass
class DirStates:
    """Iteration-state descriptors of one directive for a batch of rows (spec §3.1)."""

    ns: np.ndarray         # Steady occurrence count
    unrolled: np.ndarray   # at Init
    init_edge: np.ndarray  # at Init
    ee_i: np.ndarray       # sp_edge_edge at Init
    ee_e: np.ndarray       # sp_edge_edge at Edge
    has_st: np.ndarray     # a Steady state exists
    has_ed: np.ndarray     # an Edge state exists


def directive_states(lv: Level, cand: np.ndarray, DD: dict[str, np.ndarray]):
    """Per-directive state descriptors for each row (spec §3.1): the Steady count
    ``ns [n, M]`` and ``flags [n, 6, M]`` = (unrolled, init_edge, sp_edge_edge at Init,
    sp_edge_edge at Edge, has Steady, has Edge), stacked so a group takes its rows at once.
    """
    n, M = len(lv.directives), len(cand)
    m_all, o_all = lv.M[:, cand], lv.O[:, cand]
    D_all = np.array([DD[d.var] for d in lv.directives])
    flags = np.zeros((n, 6, M), dtype=bool)
    # TemporalMap formulas on every directive at once; SpatialMap rows are replaced below
    np.less_equal(D_all, m_all, out=flags[:, 0])                  # unrolled
    np.less(D_all, m_all, out=flags[:, 1])                        # init_edge
    ns_all = np.maximum(D_all - m_all, 0) // o_all  # only matters when D > m (a Steady state)
    flags[:, 4] = (m_all < D_all) & (ns_all > 0)                  # has Steady
    flags[:, 5] = ~flags[:, 1] & (ns_all * o_all + m_all < D_all)  # has Edge
    spatial = lv.spatial
    if spatial:
        N = np.maximum(lv.N[cand], 1)
    for j in spatial:
        D, m, o, f = D_all[j], m_all[j], o_all[j], flags[j]
        cov = m + o * (N - 1)
        f[0] = D <= cov
        f[1] = D < cov
        f[2] = f[1]
        ns = tdiv_pos(tdiv_pos(D - m, o) + 1, N) - 1
        f[4] = (cov < D) & (ns > 0)
        step = (ns + 1) * o * N  # the extent of the Init and Steady folds
        edge = ~f[0] & (step + cov > D) & (ns * o * N + cov != D)
        rem = D - step
        a = np.where(rem < m, 1, tdiv_pos(rem - m, o) + 1)
        f[3] = (a - 1) * o + m < rem
        f[5] = ~f[1] & edge
        ns_all[j] = ns
    return ns_all, flags


def split_states(ns: np.ndarray, flags: np.ndarray) -> list[DirStates]:
    """Per-directive views of ``ns [n, R]`` and ``flags [n, 6, R]`` (see
    :func:`directive_states`)."""
    return [DirStates(ns[j], *flags[j]) for j in range(len(ns))]


_INIT_ONLY = np.full((1, 1), INIT, dtype=np.int8)
_ALL_THREE = np.array([[INIT], [STEADY], [EDGE]], dtype=np.int8)
_INIT_ONLY.setflags(write=False)
_ALL_THREE.setflags(write=False)


def positions(count: int, s: DirStates) -> np.ndarray:
    """State positions of one directive per row: ``[count, 1 or R]`` (Init first, §3.1)."""
    if count == 1:
        return _INIT_ONLY
    if count == 3:
        return _ALL_THREE
    second = np.where(s.has_st, STEADY, EDGE).astype(np.int8)
    return np.array([np.zeros_like(second), second])


@dataclass(frozen=True)
class CaseGrid:
    """Row-independent case structure of one count vector (cases in lexicographic order)."""

    c: np.ndarray     # [*counts, 1]: innermost changing directive, -1 for the all-Init cases
    perm: np.ndarray  # [C]: MAESTRO's q-th case (§3.2) -> lexicographic flat index
    first_fill: np.ndarray  # flat indices of the all-Init cases (c == -1)
    #: [C, 1]: 2 ** (number of cases at or after the case in MAESTRO's order), capped at
    #: 2 ** 64 (the off-chip requirement's weights when every case is valid)
    pow2_after: np.ndarray


@lru_cache(maxsize=4096)
def case_grid(counts: tuple[int, ...], last_axes: tuple[bool, ...]) -> CaseGrid:
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
    perm = np.asarray(np.ravel_multi_index(state, counts), dtype=np.int64)
    w = np.empty(total)
    w[perm] = 2.0 ** np.minimum(np.arange(total, 0, -1), 64)
    grid = CaseGrid(c.reshape(counts + (1,)), perm, np.flatnonzero(c.reshape(-1) == -1),
                    w[:, None])
    for a in (grid.c, grid.perm, grid.first_fill, grid.pow2_after):
        a.setflags(write=False)
    return grid


def group_codes(flags: np.ndarray) -> np.ndarray:
    """``[M]`` code of each row's state counts: 2 bits per directive (has Steady + has Edge),
    so rows with equal codes have the same cases."""
    n = flags.shape[0]
    return ((flags[:, 4].astype(np.int64) + flags[:, 5]) << (2 * np.arange(n))[:, None]).sum(0)


@lru_cache(maxsize=4096)
def code_counts(c: int, n: int) -> tuple[int, ...]:
    """State counts of the ``n`` directives of a group code (2 bits each: has Steady + has
    Edge)."""
    return tuple(1 + ((c >> (2 * j)) & 3) for j in range(n))


def merge_groups(ucodes: np.ndarray, bounds: list[int], n: int):
    """Runs ``(first, end, counts)`` of consecutive state-count groups analysed as one.

    A group costs a fixed numpy overhead (about 0.5 ms) plus work in proportion to its cases
    x rows. Rows with fewer states than ``counts`` fit a merged group as padding: their
    missing states become cases that do not exist (``CaseGroup.exists``), which changes no
    result because MAESTRO's case order restricted to the existing cases is the order of the
    row's own counts (see :func:`case_grid`). Groups are merged while the padded cells stay
    within :data:`MERGE_FACTOR` x the exact ones plus :data:`MERGE_SLACK`.
    """
    counts = [code_counts(int(c), n) for c in ucodes]
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
