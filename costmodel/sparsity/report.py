"""The report hook: turn a dense on-chip report into a sparse one, before the DRAM level.

Given the layer's densities and the accelerator's :class:`SparsityConfig`, it sets
``effectual_macs``, scales each tensor's buffer sizes and L1/L2 counters by its format's
stored bits (data plus metadata) per dense element, charges gated and skipped MACs and metadata
accesses from the energy table, and replaces the on-chip runtime under skipping (the expected
maximum over the active units of their effectual work; exact under N:M; from the mask's own
tile counts when the density is a mask). It returns the DRAM
scale per tensor for :func:`costmodel.physical.dram_model`. Everything is array code over the
batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..energy import EnergyModel
from ..layer import Layer, TensorTable
from ..levels import REF_DIMS, Level, whole_windows
from .config import SparsityConfig
from .density import DENSE, Density, layer_density, reduction_dim
from .formats import ratio
from .nm import nm_compute_ratio
from .stats import (
    buffer_occupancy,
    expected_max_chain,
    expected_max_cycles,
    expected_max_mixed,
    mask_expected_max_cycles,
    mask_floor_density,
    mask_max_count,
    mean_cycles,
    nm_cycles,
    step_cycles,
    tile_count,
)

REPORT_TENSORS = ("input", "filter", "output")   # report column prefixes
SPARSE_TENSORS = ("input", "weight", "output")   # density / format names, same order
OUT_SPACE = {"Y": "Y'", "X": "X'"}


@dataclass
class SparseResult:
    """What the DRAM level needs: the on-chip runtime and, per tensor, the stored DRAM words
    per dense element (``[3, B]``), and the compute part of the runtime."""

    dram_scale: np.ndarray
    compute_cycles: np.ndarray


def is_active(layer: Layer, sparsity: SparsityConfig | None) -> bool:
    """False when the layer is dense and no format or action is set (the dense model runs)."""
    return bool(layer.density) or (sparsity is not None and not sparsity.is_trivial)


def skip_fraction(layer: Layer, sparsity: SparsityConfig | None) -> float:
    """Lower bound on the sparse over dense compute time (for latency bounds): the product of
    the conditioning operands' densities under ``skip``, else 1. A step's expected maximum
    over units is at least its mean work, so a skipping layer's compute is at least this
    fraction of the dense one. A mask's statistics come from its whole tiles only, whose mean
    can lie below the mask's density: a mask counts with the sparsest region whole tiles can
    cover (:func:`~costmodel.sparsity.stats.mask_floor_density`)."""
    if sparsity is None or sparsity.compute != "skip" or not layer.density:
        return 1.0
    dens = layer_density(layer)
    out = 1.0
    for t in sparsity.on:
        d = dens.get(t, DENSE)
        out *= mask_floor_density(d.mask, d.key) if d.mask is not None else d.value
    return float(out)


def pe_tiles(table: TensorTable, inner: Level):
    """Per-PE tile sizes of input, weight and output, and the MACs of one PE step."""
    mp = inner.mp

    def prod(dims, out=False):
        v = 1.0
        for d in dims:
            key = OUT_SPACE.get(d, d) if out and OUT_SPACE.get(d, d) in mp else d
            if key in mp:
                v = v * mp[key].astype(np.float64)
        return v

    n_w = prod(table.filter)
    reuse_w = prod([d for d in table.output if d not in table.filter], out=True)
    return prod(table.input), n_w, prod(table.output, out=True), n_w * reuse_w


def mask_tiles(layer: Layer, table: TensorTable, inner: Level, tensor: str):
    """``(tile, stride, axis, units)`` of ``tensor``'s mask for the batch: the extent of the
    tile one unit handles per step and the step between tile starts, ``[B, ndim]`` over the
    mask's axes (the innermost level's directive sizes and offsets), the mask axis of that
    level's spatial directive (-1 when it is not one of the tensor's dims) and its units."""
    sd = layer.full_dims()
    dims = [d for d in (table.filter if tensor == "weight" else table.input) if d in sd]
    by_var = {d.var: d for d in inner.directives}
    units = np.atleast_1d(inner.N).astype(np.int64)
    B = len(units)
    tile, stride = [], []
    for v in dims:
        d = by_var.get(v)
        m = np.full(B, sd[v]) if d is None else np.broadcast_to(d.m, (B,))
        o = m if d is None else np.broadcast_to(d.o, (B,))
        tile.append(np.minimum(m, sd[v]))
        stride.append(o)
    spatial = [d.var for d in inner.directives if d.kind == "S"]
    axis = dims.index(spatial[0]) if spatial and spatial[0] in dims else -1
    return np.stack(tile, axis=1), np.stack(stride, axis=1), axis, units


def step_classes(layer: Layer, table: TensorTable, levels, tensor: str, P,
                 skip_axis: int | None = None, pick=None, overlap: bool = False):
    """The kinds of steps the innermost level's tiles of ``tensor`` make, ``[B, C, 5]``:
    every mix of whole and edge tiles of its temporal axes, times, where the spatial dim is
    one of its axes, the full folds and the last fold (whose last unit may hold an edge
    tile), in the parent level's whole tiles and in its temporal edge tiles (shorter
    extents) and spatial folds (:func:`_parent_folds`); each ``(rows, units, edge rows,
    edge units, weight)``: per step, ``units`` tiles of ``rows`` elements (over the axes but
    ``skip_axis``) and ``edge units`` of ``edge rows``, in ``weight`` steps per parent tile
    traversal. The clusters that draw independently come from the mapping's geometry;
    where the spatial dim is not one of the tensor's, a cluster's units share one tile.
    ``P`` (the average active units) is not needed for them and kept for the callers'
    signature. ``pick``: the candidates to describe. ``overlap``: four more columns per kind,
    ``(window, step, elements per position, units per chain)`` along the spatial axis, whose
    windows overlap where the step is below the window (sliding Y/X windows: neighbouring
    units share positions; the step is the window along other dims, zeros where the units
    share one tile)."""
    inner = levels[-1]
    tile, stride, axis, units = mask_tiles(layer, table, inner, tensor)
    sd = layer.full_dims()
    dims = [d for d in (table.filter if tensor == "weight" else table.input) if d in sd]
    if pick is None:
        pick = np.ones(len(units), dtype=bool)
    tile, stride, units = tile[pick], stride[pick], units[pick]
    B = len(units)
    U = np.maximum(units, 1).astype(np.float64)
    col = lambda v: np.broadcast_to(v, pick.shape)[pick].astype(np.float64)  # noqa: E731
    base = {d: col(inner.SD.get(d, sd[d])) for d in dims}
    # clusters that draw independently: one per active unit of each level above whose
    # spatial dim is one of the tensor's (the parent's per fold, the others on average);
    # the clusters of a level spread over another dim share one tile
    above = np.ones(B)
    for lv in levels[:-2]:
        d = lv.directives[lv.spatial[0]]
        if d.var in dims:
            tiles = col(_working_tiles(lv, d))
            above = above * tiles / np.ceil(tiles / np.maximum(col(np.atleast_1d(lv.N)), 1.0))
    # the parent's tiles: whole, or its temporal edge tile along some axis (shorter extent);
    # (weight, extents, independent clusters in the step)
    variants = [(np.ones(B), base, above)]
    parent = levels[-2] if len(levels) > 1 else None
    for a, d in enumerate(dims if parent is not None else ()):
        pd = next((x for x in parent.directives if x.var == d), None)
        if a == skip_axis or pd is None or pd.kind != "T":
            continue
        Dp, mp, op = col(parent.SD[d]), col(pd.m), col(pd.o)
        n_p = tile_count(Dp, np.minimum(mp, Dp), op)
        e_p = Dp - (n_p - 1.0) * op
        edge_p = (e_p < np.minimum(mp, Dp)).astype(np.float64)
        if not edge_p.any():
            continue
        variants = [v for w, ext, g in variants for v in (
            (w * (n_p - edge_p), ext, g), (w * edge_p, {**ext, d: np.where(edge_p > 0, e_p,
                                                                            ext[d])}, g))]
    if parent is not None:
        variants = _parent_folds(levels, dims, skip_axis, col, variants)
    classes = []
    for weight, ext, groups in variants:
        # per temporal axis: (whole tiles, their extent, edge tiles 0/1, edge extent)
        parts = []
        spatial_other = None
        for a, d in enumerate(dims):
            if a == skip_axis:
                continue
            m, o, Da = tile[:, a].astype(np.float64), stride[:, a].astype(np.float64), ext[d]
            m = np.minimum(m, Da)
            n = tile_count(Da, m, o).astype(np.float64)
            e = Da - (n - 1.0) * o
            edge = (e < m).astype(np.float64)
            if a == axis:
                spatial_other = (n, m, e, edge)
            else:
                parts.append((n - edge, m, edge, np.where(edge > 0, e, m)))
        combos = [(weight, np.ones(B))]             # (weight, rows)
        for whole, m, edge, e in parts:
            combos = [(w * c, r * x) for w, r in combos for c, x in ((whole, m), (edge, e))]
        if spatial_other is None:     # the units share one tile, or split the skipped axis
            classes += [(r, groups, None, None, w) for w, r in combos]
            continue
        n, m, e, edge = spatial_other
        folds = np.ceil(n / U)
        last = n - (folds - 1.0) * U
        # overlap only along Y/X (sliding windows); overlapping tiles of another dim would
        # count MACs twice (an invalid mapping) and are taken as independent
        o_ax = stride[:, axis].astype(np.float64) if dims[axis] in ("Y", "X") else m
        for w, r in combos:
            classes.append((r * m, groups * U, None, None, w * (folds - 1.0))
                           + (m, o_ax, r, U) * overlap)
            classes.append((r * m, groups * (last - edge), r * e, groups * edge, w)
                           + (m, o_ax, r, last - edge) * overlap)
    # each column written once into a [kind, column, candidate] table (None: zeros)
    out = np.zeros((len(classes), 5 + 4 * overlap, B))
    for c, cols in enumerate(classes):
        for j, v in enumerate(cols):
            if v is not None:
                out[c, j] = v
    return tile, stride, axis, units, out.transpose(2, 0, 1)


def _parent_folds(levels, dims, skip_axis, col, variants):
    """Split ``variants`` by the parent level's spatial folds when its spatial dim is one of
    the tensor's (its clusters then hold different tiles): the full folds, with every
    cluster active, and the last fold, with the clusters left; where that fold is the edge
    cluster alone, its tiles are the parent's edge extent. Each variant's independent
    clusters are multiplied by its fold's active clusters."""
    parent = levels[-2]
    pd = parent.directives[parent.spatial[0]]
    if pd.var not in dims:
        return variants
    # along the skipped (N:M) axis the caller tells the outer tiles apart: counts only
    on_skip = dims.index(pd.var) == skip_axis
    Dp, op = col(parent.SD[pd.var]), col(pd.o)
    mp = np.minimum(col(pd.m), Dp)
    Up = np.maximum(col(np.atleast_1d(parent.N)), 1.0)
    n_p = col(_working_tiles(parent, pd))
    folds = np.ceil(n_p / Up)
    full = np.minimum(n_p, Up)
    last = n_p - (folds - 1.0) * Up
    e_p = Dp - (tile_count(Dp, mp, op) - 1.0) * op
    edge = e_p < mp
    alone = (last == 1) & edge  # the last fold is the edge cluster alone
    # beside full clusters, the edge cluster works in the share of their steps its shorter
    # extent gives it along the dim (then idles)
    inner = next((d for d in levels[-1].directives if d.var == pd.var), None)
    share = np.ones_like(n_p)
    if inner is not None:
        mi, oi = col(inner.m), col(inner.o)
        share = np.where(edge & ~alone, tile_count(np.maximum(e_p, 1.0), np.minimum(mi, e_p), oi)
                         / tile_count(mp, np.minimum(mi, mp), oi), 1.0)
    if not (folds > 1).any() and not alone.any() and (share == 1).all():
        return [(w, ext, g * full) for w, ext, g in variants]  # one fold, nothing to split
    part = (share < 1).any()
    out = []
    for w, ext, g in variants:
        out.append((w * (folds - 1.0), ext, g * full))
        short = ext if on_skip else {
            **ext, pd.var: np.where(alone, np.minimum(e_p, ext[pd.var]), ext[pd.var])}
        out.append((w * share, short, g * last))
        if part:
            out.append((w * (1.0 - share), ext, g * np.maximum(last - 1.0, 1.0)))
    return out


def outer_tiles(levels, var: str, M: int, B: int):
    """Where the innermost level's extent along ``var`` starts within an N:M group, and how
    long it is, over the tiles the levels above give it: ``(start, extent, count)``, each
    ``[B, K]`` over ``K`` kinds of tile (``count`` 0: unused). A level's whole tiles start at
    ``i o`` after their parent's start (the offsets repeat every ``M / gcd(o, M)`` tiles),
    its last tile may be shorter; levels that do not map ``var`` pass their parent's tile
    down."""
    start = np.zeros((B, 1), dtype=np.int64)
    ext = np.broadcast_to(np.asarray(levels[0].SD[var], dtype=np.int64), (B,))[:, None]
    count = np.ones((B, 1))
    for lv in levels[:-1]:
        d = next((d for d in lv.directives if d.var == var), None)
        if d is None:
            continue
        m = np.broadcast_to(d.m, (B,)).astype(np.int64)[:, None]
        o = np.broadcast_to(d.o, (B,)).astype(np.int64)[:, None]
        n = tile_count(ext, m, o)
        whole = n - 1
        period = M // np.gcd(o, M)
        new_s, new_e, new_c = [], [], []
        for j in range(M):                     # whole tiles i = j, j + period, ...
            on = j < np.minimum(period, whole)
            new_s.append((start + j * o) % M)
            new_e.append(np.minimum(m, ext))
            new_c.append(np.where(on, count * (whole // period + (j < whole % period)), 0.0))
        new_s.append((start + whole * o) % M)  # the last tile
        new_e.append(np.minimum(m, ext - whole * o))
        new_c.append(count)
        start, ext, count = (np.concatenate(x, axis=1) for x in (new_s, new_e, new_c))
        keep = np.flatnonzero(count.any(axis=0))
        start, ext, count = start[:, keep], ext[:, keep], count[:, keep]
    return start, ext, count


def nm_geometry(layer: Layer, table: TensorTable, levels, tensor: str, P, M: int):
    """``(split, row, t, o, D, start, weight, spatial, units, classes)`` of ``tensor`` along
    its N:M axis: which candidates' windows may split groups of ``M`` (a window or step that
    is no multiple of ``M``, or an extent whose start or length is not, over the tiles of
    the levels above: :func:`outer_tiles`) and, for those, one row per kind of outer tile:
    its candidate, the innermost level's window and step along the axis, the extent and its
    start within a group, the tiles of that kind, whether the spatial dim is the axis, the
    level's units, and the step classes the tiles of the other axes make (:func:`step_classes`
    over them; :func:`~costmodel.sparsity.nm.nm_compute_ratio`)."""
    inner = levels[-1]
    tile, stride, axis, units = mask_tiles(layer, table, inner, tensor)
    sd = layer.full_dims()
    dims = [d for d in (table.filter if tensor == "weight" else table.input) if d in sd]
    red = reduction_dim(layer.type)
    ax = dims.index(red) if red in dims else len(dims) - 1
    B = len(units)
    s0, ext, cnt = outer_tiles(levels, dims[ax], M, B)
    live = cnt > 0
    off = ((s0 != 0) | (ext % M != 0)) & live
    t_ax, o_ax = tile[:, ax][:, None], stride[:, ax][:, None]
    split = ((t_ax % M != 0) | ((o_ax % M != 0) & (t_ax < ext))) & live
    split = (split | off).any(axis=1)
    tile, stride, _, units, classes = step_classes(layer, table, levels, tensor, P, ax, split)
    row, k = np.nonzero(live[split])
    sel = np.flatnonzero(split)[row]
    return (split, row, tile[row, ax], stride[row, ax], ext[sel, k].astype(np.float64),
            s0[sel, k], cnt[sel, k], float(axis == ax), units[row], classes[row])


def tile_sharing(layer: Layer, table: TensorTable, levels) -> dict:
    """Per sparse tensor ``(outer, inner)``: how many of a step's PEs hold one tile of it
    because of the levels above the innermost (the product of the average active units of
    each level none of whose spatial dims is one of the tensor's: e.g. clusters spread over a
    GEMM's M all hold the same weight tile), and whether the innermost level's units share
    one tile likewise. Units that share a tile do the same work, so a step's maximum is over
    the distinct tiles only."""
    sd = layer.full_dims()
    out = {}
    for name, dims in (("weight", table.filter), ("input", table.input)):
        dims = {d for d in dims if d in sd}
        outer = 1.0
        for lv in levels[:-1]:
            if any(lv.directives[j].var in dims for j in lv.spatial):
                continue
            d = lv.directives[lv.spatial[0]]
            units = np.maximum(np.atleast_1d(lv.N).astype(np.float64), 1.0)
            tiles = _working_tiles(lv, d)
            outer = outer * tiles / np.ceil(tiles / units)
        inner = not any(levels[-1].directives[j].var in dims for j in levels[-1].spatial)
        out[name] = (outer, inner)
    return out


def _working_tiles(lv: Level, d) -> np.ndarray:
    """``[B]`` tiles of spatial directive ``d`` that compute: along an input row or column
    (Y, X) only those holding a whole filter window (a strided layer's last tile may start
    past every output), else every tile."""
    D = np.asarray(lv.SD[d.var], dtype=np.float64)
    if d.var in REF_DIMS:
        return np.maximum(whole_windows(lv, d.var, lv.SD[d.var], d.o).astype(np.float64), 1.0)
    return tile_count(D, d.m.astype(np.float64), d.o.astype(np.float64))


def _compute_ratio(dens, cfg, tiles, P, simd, totals, mode="max", geometry=None,
                   nm_geom=None, classes=None, sharing=None):
    """Sparse over dense compute time of a step (skipping only); ``geometry(tensor)`` gives
    a mask's tile geometry (:func:`mask_tiles`), ``nm_geom(tensor)`` the N:M axis windows
    (:func:`nm_geometry`), ``classes(tensor, P)`` the innermost level's kinds of steps
    (:func:`step_classes`): under random sparsity the expected maximum is taken per kind
    over its active units and their tiles (edge tiles included), weighted by its share of
    the steps, instead of over ``P`` full tiles; ``sharing`` (:func:`tile_sharing`) counts
    the PEs that hold one tile once."""
    n_in, n_w, _, macs = tiles
    sparse = [t for t in cfg.on if t in dens]
    if cfg.compute != "skip" or not sparse:
        return np.ones_like(np.asarray(macs, dtype=np.float64))
    prim = "weight" if "weight" in sparse else sparse[0]
    n = n_w if prim == "weight" else n_in
    r = macs / np.maximum(n, 1.0)
    for other in sparse:            # the other operand's zeros thin every kept element's work
        if other != prim:
            r = r * dens[other].value
    d = dens[prim]
    r_dense = macs / np.maximum(n, 1.0)
    dense = step_cycles(n, r_dense, simd)
    outer = 1.0 if sharing is None else sharing[prim][0]
    P = np.maximum(1.0, P / outer)
    if d.structured:
        sp = nm_cycles(n, (d.n, d.m), r, simd)
        if nm_geom is not None:
            split, row, t, o, D, start, w, spatial, units, cl = nm_geom(prim, P, d.m)
            if split.any():
                col = lambda a: np.broadcast_to(a, split.shape)[split][row]  # noqa: E731
                ratio, base = nm_compute_ratio(t, o, D, spatial, units, (d.n, d.m), cl, col(r),
                                               col(r_dense), col(simd), start, parts=True)
                k = int(split.sum())
                ratio = (np.bincount(row, w * base * ratio, minlength=k)
                         / np.maximum(np.bincount(row, w * base, minlength=k), 1e-300))
                sp = np.array(np.broadcast_to(sp, split.shape), dtype=np.float64)
                sp[split] = ratio * np.broadcast_to(dense, split.shape)[split]
    elif mode == "mean":
        sp = mean_cycles(n, d.value, r, simd)
    elif d.mask is not None and geometry is not None:
        sp = mask_expected_max_cycles(d.mask, d.key, *geometry(prim), P, r, simd)
    elif classes is None:
        sp = expected_max_cycles(n, d.value, P, r, simd, totals[prim])
    else:
        cl = classes(prim, P)
        B = len(cl)
        col = lambda a: np.broadcast_to(np.asarray(a, dtype=np.float64), (B,))  # noqa: E731
        b, c = np.nonzero(cl[:, :, 4] > 0)           # the kinds of step that occur
        rows, k, rows_e, k_e, w = cl[b, c, :5].T
        r, r_dense, simd_b = col(r)[b], col(r_dense)[b], col(simd)[b]
        e = expected_max_mixed(rows, k, rows_e, k_e, d.value, r, simd_b, totals[prim])
        if cl.shape[2] > 5:           # units whose windows overlap: correlated counts
            m_ax, o_ax, per, chain = cl[b, c, 5:9].T
            lap = (o_ax < m_ax) & (o_ax > 0) & (chain >= 2)
            if lap.any():
                e[lap] = expected_max_chain(m_ax[lap], o_ax[lap], per[lap], chain[lap],
                                            k[lap] / chain[lap], rows_e[lap], k_e[lap],
                                            d.value, r[lap], simd_b[lap], totals[prim])
        widest = np.where(k > 0, rows, rows_e)
        num = np.bincount(b, w * e, minlength=B)
        den = np.bincount(b, w * step_cycles(widest, r_dense, simd_b), minlength=B)
        return num / np.maximum(den, 1e-300)
    return sp / dense


def _factors(dens, cfg, bits, n_tile, level):
    """Per tensor ``(data, metadata)`` stored-bit ratios at one level."""
    out = []
    for t, n in zip(SPARSE_TENSORS, n_tile):
        d = dens.get(t, DENSE)
        fmt = cfg.format(t, level)
        c, meta = ratio(fmt, n, d, bits, cfg.rle_bits, coord_bits=cfg.coord_bits)
        out.append((c - meta, meta))
    return out


def _sized(dens, cfg, bits, n_tile, level, fullest=None):
    """Buffer ratio per tensor: the stored size of the fullest tile (not the mean);
    ``fullest(tensor)``, where given, counts it in the tensor's mask."""
    out = []
    for t, n in zip(SPARSE_TENSORS, n_tile):
        d = dens.get(t, DENSE)
        if fullest is not None and d.mask is not None:
            kept = np.minimum(fullest(t), np.maximum(np.asarray(n, dtype=np.float64), 1.0))
        else:
            kept = buffer_occupancy(n, d.value, d.structured)
        c, _ = ratio(cfg.format(t, level), n, d, bits, cfg.rle_bits, kept=kept,
                     coord_bits=cfg.coord_bits)
        out.append(np.where(cfg.format(t, level) == "dense", 1.0, c))
    return out


def apply_sparsity(r: dict, layer: Layer, table: TensorTable, levels: list[Level], res: dict,
                   simd, element_bytes, sparsity: SparsityConfig | None,
                   energy: EnergyModel, totals: dict[str, int]) -> SparseResult:
    """Rewrite the on-chip columns of report ``r`` for the layer's sparsity (module docstring).
    ``totals``: elements of each tensor (input, weight, output)."""
    cfg = sparsity or SparsityConfig()
    dens = layer_density(layer)
    check_formats(layer, dens, cfg)
    bits = 8.0 * np.asarray(element_bytes, dtype=np.float64)
    macs = np.asarray(r["num_macs"], dtype=np.float64)
    d_in = dens.get("input", DENSE).value
    d_w = dens.get("weight", DENSE).value
    r["effectual_macs"] = np.rint(macs * d_in * d_w).astype(np.int64)
    on = float(np.prod([dens.get(t, DENSE).value for t in cfg.on]))
    executed = macs * on if cfg.compute in ("skip", "gate") else macs
    gated = macs * (1 - on) if cfg.compute == "gate" else 0.0
    skipped = macs * (1 - on) if cfg.compute == "skip" else 0.0

    tiles = pe_tiles(table, levels[-1])
    l2_tiles = [np.maximum(np.asarray(r[f"{t}_l2_size"], dtype=np.float64) / 2, 1.0)
                for t in REPORT_TENSORS]
    f1 = _factors(dens, cfg, bits, tiles[:3], "L1")
    f2 = _factors(dens, cfg, bits, l2_tiles, "L2")
    f3 = _factors(dens, cfg, bits, l2_tiles, "DRAM")
    act = _action_factors(dens, cfg, on)
    meta_total = 0.0
    weighted = {}
    for i, name in enumerate(REPORT_TENSORS):
        weighted[name] = {}
        for lv, f, acc in (("l2", f2, ("read", "write")), ("l1", f1, ("read", "write"))):
            data, meta = f[i]
            for a in acc:
                base = np.asarray(r[f"{name}_{lv}_{a}"], dtype=np.float64)
                k = act[i] if lv == "l1" and (a == "read" or i == 2) else 1.0
                data_part, meta_part = base * data * k, base * meta * k
                if lv == "l1" and i < 2 and a == "read" and cfg.format(SPARSE_TENSORS[i],
                                                                         "L1") == "dense":
                    data_part, meta_part = base * k, 0.0 * base
                r[f"{name}_{lv}_{a}"] = np.rint(data_part + meta_part).astype(np.int64)
                weighted[name][f"{lv}_{a}"] = data_part + energy.metadata_access * meta_part
                meta_total = meta_total + meta_part
    geometry = lambda t: mask_tiles(layer, table, levels[-1], t)  # noqa: E731
    fullest = lambda t: mask_max_count(dens[t].mask, dens[t].key, *geometry(t))  # noqa: E731
    for lv, sized in (("l2", _sized(dens, cfg, bits, l2_tiles, "L2")),
                      ("l1", _sized(dens, cfg, bits, tiles[:3], "L1", fullest))):
        for i, name in enumerate(REPORT_TENSORS):
            r[f"{name}_{lv}_size"] = np.ceil(r[f"{name}_{lv}_size"] * sized[i]).astype(np.int64)
        r[f"{lv}_size"] = sum(r[f"{t}_{lv}_size"] for t in REPORT_TENSORS)
    _energies(r, weighted, energy, executed, gated, skipped)
    r["metadata_elements"] = np.rint(np.broadcast_to(meta_total, macs.shape)).astype(np.int64)
    nm_geom = lambda t, P, M: nm_geometry(layer, table, levels, t, P, M)  # noqa: E731
    step_kinds = lambda t, P: step_classes(layer, table, levels, t, P,  # noqa: E731
                                           overlap=True)[-1]
    compute = _runtime(r, res, dens, cfg, tiles, simd, totals, f1, geometry, nm_geom,
                       step_kinds, tile_sharing(layer, table, levels))
    dram = np.stack([np.broadcast_to(f3[i][0] + f3[i][1], macs.shape) for i in range(3)])
    return SparseResult(dram_scale=dram, compute_cycles=compute)


def check_formats(layer: Layer, dens, cfg: SparsityConfig) -> None:
    """An error naming the layer and tensor where an ``nm`` format meets an unstructured
    sparse tensor (a dense one is stored dense)."""
    from ..errors import MaestroInputError
    for t in SPARSE_TENSORS:
        for lv in ("L1", "L2", "DRAM"):
            if cfg.format(t, lv) == "nm" and t in dens and not dens[t].structured:
                raise MaestroInputError(
                    f"layer {layer.name!r}, tensor {t}: format 'nm' at {lv} needs an N:M "
                    f"density, got {dens.get(t, DENSE)}", rule="sparsity-format")


def _action_factors(dens, cfg, on):
    """Executed fraction of each tensor's L1 accesses at the compute (operands and output)."""
    if cfg.compute == "none":
        return [1.0, 1.0, 1.0]
    out = []
    for t in ("input", "weight"):
        # a tensor's reads drop with the other conditioning operands' zeros; its own zeros
        # are already absent from a compressed L1 (and read, to be checked, from a dense one)
        out.append(float(np.prod([dens.get(o, DENSE).value for o in cfg.on if o != t])))
    return out + [on]


def _energies(r, w, e: EnergyModel, executed, gated, skipped) -> None:
    """The report's two energies (same definitions as the dense report) from the counters,
    metadata weighted by ``metadata_access``, plus the compute's gated and skipped MACs."""
    l1_all = sum(w[t][f"l1_{a}"] for t in REPORT_TENSORS for a in ("read", "write"))
    l2_main = (w["input"]["l2_read"] + w["input"]["l2_write"] + w["filter"]["l2_read"]
               + w["filter"]["l2_write"] + w["output"]["l2_write"])
    r["energy_nj"] = e.unit_nj * (e.l2_read * l2_main + e.l1_read * l1_all)
    tot = lambda key: sum(w[t][key] for t in REPORT_TENSORS)  # noqa: E731
    r["energy_total_nj"] = e.unit_nj * (
        e.l2_read * tot("l2_read") + e.l2_write * tot("l2_write") + e.l1_read * tot("l1_read")
        + e.l1_write * tot("l1_write") + e.mac * executed + e.mac_gated * gated
        + e.mac_skipped * skipped)


def _runtime(r, res, dens, cfg, tiles, simd, totals, f1, geometry=None, nm_geom=None,
             classes=None, sharing=None):
    """On-chip runtime: compute scaled by the expected-max ratio, NoC time by the L1 formats."""
    t_on = np.asarray(r["runtime"], dtype=np.float64)
    compute = np.asarray(res.get("compute_cycles", t_on), dtype=np.float64)
    P = np.maximum(np.rint(np.asarray(r["avg_utilized_pes"], dtype=np.float64)), 1.0)
    ratio_c = _compute_ratio(dens, cfg, tiles, P, simd, totals, geometry=geometry,
                             nm_geom=nm_geom, classes=classes, sharing=sharing)
    sparse_compute = np.ceil(compute * ratio_c - 1e-9)
    c_in = [f1[i][0] + f1[i][1] for i in range(3)]
    l1w = [np.asarray(r[f"{t}_l1_write"], dtype=np.float64) for t in REPORT_TENSORS[:2]]
    dense_l1w = [lw / np.maximum(c, 1e-12) for lw, c in zip(l1w, c_in[:2])]
    c_noc = (l1w[0] + l1w[1]) / np.maximum(dense_l1w[0] + dense_l1w[1], 1.0)
    excess = np.maximum(t_on - compute, 0.0) * np.minimum(c_noc, 1.0)
    iters = np.asarray(res.get("top_iterations", 1), dtype=np.float64)
    noc_floor = iters * np.maximum(np.asarray(r["ingress_delay_avg"]) * c_noc,
                                   np.asarray(r["egress_delay_avg"]) * c_in[2])
    runtime = np.maximum(sparse_compute + excess, np.minimum(noc_floor, t_on))
    r["runtime"] = np.ceil(runtime - 1e-9).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        r["throughput"] = r["num_macs"] / r["runtime"]
    return sparse_compute.astype(np.int64)


def compute_ratio(layer: Layer, table: TensorTable, levels, sparsity: SparsityConfig, P, simd,
                  totals, mode: str = "max") -> np.ndarray:
    """Sparse over dense step time (``mode``: ``max`` the model, ``mean`` the mean-only
    model, ``random`` the model with a mask's statistics replaced by random ones), for
    validation."""
    dens = layer_density(layer)
    geometry = None if mode == "random" else (
        lambda t: mask_tiles(layer, table, levels[-1], t))
    return _compute_ratio(dens, sparsity, pe_tiles(table, levels[-1]), P, simd, totals,
                          "max" if mode == "random" else mode, geometry,
                          lambda t, P, M: nm_geometry(layer, table, levels, t, P, M),
                          lambda t, P: step_classes(layer, table, levels, t, P,
                                                    overlap=True)[-1],
                          tile_sharing(layer, table, levels))


__all__ = ["Density", "SparseResult", "apply_sparsity", "check_formats", "compute_ratio",
           "is_active", "skip_fraction", "sparse_hook"]


def sparse_hook(r: dict, layer: Layer, table: TensorTable, levels, res: dict, hwb, hardware,
                sparsity: SparsityConfig | None, energy: EnergyModel) -> SparseResult:
    """:func:`apply_sparsity` with the hardware batch's SIMD lanes and element width."""
    from ..physical import compulsory  # local: keeps this module importable on its own
    eb = (hardware.element_bytes if hasattr(hardware, "element_bytes")
          else hardware.get("element_bytes", 1))
    totals = dict(zip(SPARSE_TENSORS, compulsory(layer, table)))
    return apply_sparsity(r, layer, table, levels, res, np.asarray(hwb.simd_lanes), eb,
                          sparsity, energy, totals)
