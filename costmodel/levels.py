"""Static preprocessing of a layer's dataflow into cluster levels (spec §2), vectorised.

The *structure* of every level (which directives, in which order, on which dimension) depends
only on the dataflow's structure; the sizes, offsets, unit counts and tile tables are arrays over a
batch of candidates that share that structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import MappingError
from .intmath import tdiv, tdiv_pos
from .layer import Layer, TensorTable

REF_DIMS = {"Y": "R", "X": "S"}  # reference dim -> sliding partner
OUT_OF = {"Y": "Y'", "X": "X'"}  # reference dim -> output-centric name
PARTNER = {"Y": "R", "X": "S", "R": "Y", "S": "X"}


@dataclass
class LevelDirective:
    """One completed directive of a level: kind 'T' or 'S', its dim, and per-candidate m, o."""

    kind: str
    var: str
    m: np.ndarray
    o: np.ndarray


@dataclass
class Level:
    """A cluster level: completed directives, unit count and the static tile tables (§2.5)."""

    index: int
    directives: list[LevelDirective]
    N: np.ndarray                      # sub-units per unit of this level, per candidate
    SD: dict[str, np.ndarray]          # static dimension table of this level
    nec: np.ndarray = None             # active sub-units at a spatial edge
    busy_nec: np.ndarray = None        # of those, the ones that compute (consistency check)
    mp: dict[str, np.ndarray] = field(default_factory=dict)
    un: dict[str, np.ndarray] = field(default_factory=dict)
    mpe: dict[str, np.ndarray] = field(default_factory=dict)
    une: dict[str, np.ndarray] = field(default_factory=dict)
    # [n, B] stacks of the directives' sizes, offsets and static dims (level order)
    M: np.ndarray = None
    O: np.ndarray = None
    D: np.ndarray = None

    @property
    def vars(self) -> list[str]:
        return [d.var for d in self.directives]

    @property
    def spatial(self) -> list[int]:
        return [j for j, d in enumerate(self.directives) if d.kind == "S"]


_FACTS: dict[tuple, tuple] = {}


def layer_facts(layer: Layer) -> tuple[dict[str, int], int]:
    """``(layer.full_dims(), layer.macs)``, computed once per layer shape (a search
    evaluates one layer many times). Treat the dict as read-only."""
    key = (layer.type, tuple(layer.dims.items()), tuple(layer.strides.items()))
    facts = _FACTS.get(key)
    if facts is None:
        if len(_FACTS) >= 1024:
            _FACTS.clear()
        facts = _FACTS[key] = (layer.full_dims(), layer.macs)
    return facts


_SD0: dict[tuple, dict[str, np.ndarray]] = {}


def _top_dims(layer: Layer, B: int) -> dict[str, np.ndarray]:
    """The top level's static dims as read-only ``[B]`` arrays, cached per layer shape and
    batch size."""
    full = layer_facts(layer)[0]
    key = (tuple(full.items()), B)
    sd0 = _SD0.get(key)
    if sd0 is None:
        if len(_SD0) >= 256:
            _SD0.clear()
        sd0 = {v: np.full(B, s, dtype=np.int64) for v, s in full.items()}
        for a in sd0.values():
            a.setflags(write=False)
        _SD0[key] = sd0
    return dict(sd0)


def split_structure(structure) -> list[list[tuple[str, str, int]]]:
    """Cut a dataflow structure at its Cluster entries: ``[(kind, dim, column), ...]`` per level."""
    out: list[list[tuple[str, str, int]]] = [[]]
    for col, (kind, dim) in enumerate(structure):
        if kind == "C":
            out.append([])
        else:
            out[-1].append((kind, dim, col))
    return out


def build_levels(layer: Layer, table: TensorTable, structure, sizes: np.ndarray,
                 offsets: np.ndarray, num_pes: np.ndarray) -> list[Level]:
    """Complete every level's directive list and compute its static tables (spec §2.3-§2.5).

    ``sizes``/``offsets`` are ``[B, len(structure)]`` int64 arrays (cluster entries: size = cluster
    size). Raises :class:`MappingError` for structure-level errors (no spatial map, unknown dim).
    Per-candidate problems (more PEs requested than exist) give ``N == 0`` and are flagged by
    the engine.
    """
    B = sizes.shape[0]
    # one contiguous row per structure column (a column of sizes is strided)
    size_rows = np.array(sizes, dtype=np.int64).T.copy()
    offset_rows = np.array(offsets, dtype=np.int64).T.copy()
    sd0 = _top_dims(layer, B)
    cluster_cols = [c for c, (k, _) in enumerate(structure) if k == "C"]
    U = np.ones(B, dtype=np.int64)
    for c in cluster_cols:
        U = U * size_rows[c]
    levels: list[Level] = []
    SD = sd0
    parent: list[LevelDirective] | None = None
    input_vars = table.input_vars
    for i, items in enumerate(split_structure(structure)):
        if i == 0:
            N = np.where(num_pes >= U, num_pes // np.maximum(U, 1), 0)
        else:
            N = size_rows[cluster_cols[i - 1]]
        dl = [LevelDirective(k, v, size_rows[c], offset_rows[c]) for k, v, c in items]
        _to_input_centric(dl, i)
        if parent is not None:
            _inherit(dl, parent)
        _unroll_missing(dl, SD, input_vars)
        for d in dl:
            if d.var not in SD:
                raise MappingError(f"dimension {d.var} not found at cluster level {i} "
                                   f"(a {layer.type} layer has no {d.var} below the top level)",
                                   rule="dimension")
        _adjust_strides(dl, layer, i)
        # 5. level creation
        n_sp = sum(d.kind == "S" for d in dl)
        if n_sp == 0:
            raise MappingError(f"cluster level {i} has no SpatialMap", rule="spatial-count")
        if n_sp > 2:
            raise MappingError(f"cluster level {i} has {n_sp} SpatialMaps; at most 2 are allowed",
                               rule="spatial-count")
        lv = Level(i, dl, N, SD)
        _static_tables(lv)
        levels.append(lv)
        SD = _child_dims(dl, SD, input_vars)
        parent = dl
    return levels


def _to_input_centric(dl: list[LevelDirective], i: int) -> None:
    """Step 1: a level's output-centric Y'/X' directives become input-centric Y/X."""
    for ref, slide in (("X", "S"), ("Y", "R")):
        out = OUT_OF[ref]
        if any(d.var == out for d in dl) and not any(d.var == ref for d in dl):
            sdir = next((d for d in dl if d.var == slide), None)
            if sdir is None:
                raise MappingError(
                    f"level {i} maps {out} but has no explicit directive on {slide}; "
                    f"MAESTRO needs one to convert {out} to {ref} (it reads garbage otherwise)",
                    rule="output-centric")
            for d in dl:
                if d.var == out:
                    d.var = ref
                    d.m = d.m + sdir.m - 1


def _inherit(dl: list[LevelDirective], parent: list[LevelDirective]) -> None:
    """Step 2: the parent's directives on dims this level lacks, at the front, as
    TemporalMaps (so they end up in reverse parent order)."""
    for u in parent:
        if not any(d.var == u.var for d in dl):
            dl.insert(0, LevelDirective("T", u.var, u.m.copy(), u.o.copy()))


def _unroll_missing(dl: list[LevelDirective], SD: dict[str, np.ndarray], input_vars) -> None:
    """Step 3: a whole-dim TemporalMap, at the end, for every input variable still unmapped."""
    for v in input_vars:
        if v in SD and not any(d.var == v for d in dl):
            dl.append(LevelDirective("T", v, SD[v].copy(), SD[v].copy()))


def _adjust_strides(dl: list[LevelDirective], layer: Layer, i: int) -> None:
    """Step 4: a strided X/Y directive covering at least one filter window gets the size and
    offset of the input rows/columns its outputs need (on the first directive on the dim)."""
    full = layer_facts(layer)[0]
    for d in dl:
        s = layer.stride(d.var) if d.var in REF_DIMS else 1
        if s == 1:
            continue
        r = full[REF_DIMS[d.var]]
        tgt = next(x for x in dl if x.var == d.var)
        cond = tgt.m >= r
        q = tdiv(tgt.m + s - r, s)
        new_m = q * min(s, r) + max(r - s, 0)
        new_o = q * r if (i > 0 and r < s) else q * s
        tgt.m = np.where(cond, new_m, tgt.m)
        tgt.o = np.where(cond, new_o, tgt.o)


def _child_dims(dl: list[LevelDirective], SD: dict[str, np.ndarray],
                input_vars) -> dict[str, np.ndarray]:
    """Step 6: the child level's static dims, each input variable's first directive size
    capped at this level's dim."""
    nxt: dict[str, np.ndarray] = {}
    for v in input_vars:
        d = next((x for x in dl if x.var == v), None)
        if d is not None and v in SD:
            nxt[v] = np.minimum(d.m, SD[v])
    return nxt


def _static_tables(lv: Level) -> None:
    """nec and the mp/un/mpe/une tables of a level, from its static dims (spec §2.5).

    The per-directive tables are computed for all directives at once on ``[n, B]`` stacks
    (``lv.M``, ``lv.O``, ``lv.D``); a variable's entry is the row of its last directive. Every
    divisor is positive (offsets, stride-adjusted offsets and unit counts are), so floor
    division is C's truncating division wherever its result is used."""
    SD, N = lv.SD, np.maximum(lv.N, 1)
    dirs = lv.directives
    d0 = dirs[lv.spatial[0]]
    D, m, o = SD[d0.var], d0.m, d0.o
    full = o * (N - 1) + m
    nec_b = tdiv_pos(D - m, o) + 1
    ns = tdiv_pos(nec_b, N) - 1
    rem = D - (ns + 1) * o * N
    nec_a = np.where(rem < m, 1, tdiv_pos(rem - m, o) + 1)
    nec_b = np.where(o * (nec_b - 1) + m < D, nec_b + 1, nec_b)
    nec = np.where(D > full, nec_a, np.where(D > m, nec_b, 1))
    lv.nec = np.where(D <= m, 1, nec).astype(np.int64, copy=False)
    # MAESTRO counts an edge unit whose input window is narrower than the filter as active,
    # but it has no complete window to compute: for the busy-PE check, only units whose
    # window holds the filter's mapped extent at this level count
    lv.busy_nec = lv.nec
    if d0.var in REF_DIMS:
        span = np.where(D > full, rem, D)  # input extent left for the edge fold
        works = whole_windows(lv, d0.var, span, o)
        lv.busy_nec = np.where(D <= m, lv.nec, np.minimum(lv.nec, works)).astype(
            np.int64, copy=False)
    lv.M = M = np.array([d.m for d in dirs])  # np.array: np.stack costs more per call
    lv.O = O = np.array([d.o for d in dirs])
    lv.D = Dn = np.array([SD[d.var] for d in dirs])
    st = np.maximum((Dn - M) // O, 0)
    has_edge = (st * O + M < Dn) | (M > Dn)
    un_all = np.minimum(M, O)
    temporal = np.array([d.kind == "T" for d in dirs])[:, None]
    un = np.where(temporal & (Dn <= M), 0, un_all)
    em = Dn - (st + 1) * O
    em = np.where(em < 0, Dn, em)
    mpe = np.where(has_edge, em, M)
    une = np.maximum(O - (M - em), 0)
    last = {d.var: j for j, d in enumerate(dirs)}
    for v, j in last.items():
        lv.mp[v], lv.un[v], lv.mpe[v], lv.une[v] = M[j], un[j], mpe[j], une[j]
    zero = np.zeros_like(lv.N)
    for v, j in last.items():
        if v not in REF_DIMS:
            continue
        a, s = OUT_OF[v], REF_DIMS[v]
        lv.mp[a] = lv.mp[v] - lv.mp.get(s, zero) + 1
        lv.un[a] = un_all[j]
        lv.mpe[a] = lv.mpe[v] - lv.mpe.get(s, zero) + 1
        lv.une[a] = np.minimum(O[j], lv.mpe[a])


def whole_windows(lv: Level, var: str, span: np.ndarray, o: np.ndarray) -> np.ndarray:
    """Units, one every ``o`` input rows/columns of ``span``, whose window of Y/X ``var``
    holds the filter extent mapped at this level (so they compute at least one output)."""
    part = REF_DIMS[var]
    r = next((d.m for d in lv.directives if d.var == part), lv.SD[part])
    r = np.minimum(r, lv.SD[part])
    return np.where(span >= r, tdiv_pos(np.maximum(span - r, 0), o) + 1, 0)


def uncovered_pairs(levels: list[Level]) -> np.ndarray:
    """``[B]`` True where a level gives two SpatialMaps whose tiles do not pair into whole
    computations, both splitting the level's extent into several tiles over 2+ units.

    MAESTRO hands unit ``i`` tile ``i`` (mod the unit count) of *each* spatially mapped dim,
    so such a level only ever computes the tile pairs on that diagonal, while MAESTRO still
    counts every MAC. For independent dims (e.g. X and Y, C and K) the other pairs are never
    computed. For a sliding window and its filter (Y with R, X with S: row stationary) the
    diagonal is the whole computation when both advance by the same offset and travel the
    same distance (``extent - tile`` equal): unit ``i`` then holds input rows and filter rows
    from the same start and computes every output row of the parent tile for its filter
    rows. At other offsets or tile counts a unit's input rows are not the ones its filter
    rows meet (e.g. input row 4 with filter row 1), and MAESTRO's count of such a level can
    be half the busiest PE's work."""
    B = len(levels[0].N)
    out = np.zeros(B, dtype=bool)
    for lv in levels:
        sp = [lv.directives[j] for j in lv.spatial]
        if len(sp) < 2:
            continue
        a, b = sp[0], sp[1]
        bad = splits(lv, a) & splits(lv, b) & (lv.N >= 2)
        if PARTNER.get(a.var) == b.var:
            bad &= ~paired_window(lv, a, b)
        out |= bad
    return out


def splits(lv: Level, d: LevelDirective) -> np.ndarray:
    """``[B]`` True where directive ``d`` splits level ``lv``'s extent of its dim into
    several tiles that compute (for Y/X: tiles that hold the filter extent mapped here)."""
    D, m, o = lv.SD[d.var], d.m, d.o
    if d.var in REF_DIMS:
        n = whole_windows(lv, d.var, D, o)
    else:
        n = np.where(D <= m, 1, -(-(D - m) // o) + 1)
    return n >= 2


def paired_window(lv: Level, a: LevelDirective, b: LevelDirective) -> np.ndarray:
    """``[B]`` True where SpatialMaps ``a`` and ``b`` of a window and its filter (Y with R,
    X with S) advance by the same offset and travel the same distance, so that unit ``i``
    holds input and filter rows that start together (:func:`uncovered_pairs`)."""
    return (a.o == b.o) & (lv.SD[a.var] - a.m == lv.SD[b.var] - b.m)
