"""The MACs of a mapping's busiest PE, from its cluster levels: a floor on its runtime.

MAESTRO hands unit ``i`` of a level tile ``i`` of every fold of the level's SpatialMap, so with
one SpatialMap per level, unit 0 of every level takes a tile of every fold and PE 0 (unit 0 all
the way down) does the most MACs. No execution of the mapping takes fewer cycles than PE 0's
MACs over the SIMD lanes. MAESTRO's multi-level analysis sometimes reports fewer, on mappings
whose tiles leave edges (docs/fidelity.md, "Runtimes below the busiest PE's work"); this count
lets the consistency check flag them.
"""

from __future__ import annotations

import numpy as np

from .layer import Layer, tensor_table
from .levels import REF_DIMS, Level, paired_window, splits


def busiest_pe_macs(layer: Layer, levels: list[Level]) -> tuple[np.ndarray, np.ndarray]:
    """``(macs, exact)``: ``[B]`` PE 0's MAC count, and where it is exact (at every level
    one SpatialMap splits its dim into several tiles and any other SpatialMap of the level
    leaves its dim in one tile, so that unit 0 takes tile 0 of every fold and the whole
    extent of the others, as a TemporalMap of one step would give it, or the level has one
    unit, which does every tile of every dim of its parent's tile; the filter
    rows/columns are mapped whole at every level but a row-stationary innermost one, below,
    so the work along each dim is independent of the others; and a filter narrower than its
    stride is covered by every tile of its dim). Where not exact, ``macs`` is 0. One pass
    over the levels for all dims at once: ``[dims, B]`` arrays.

    A filter narrower than its stride (a 1x1 filter at stride 2) reads only some input
    rows/columns; MAESTRO's stride rewrite keeps just those below the top level, ``r`` per
    output, and steps the top level's tiles over the input in strides of ``q*s`` for ``q``
    outputs. Such a dim is counted in those kept rows: the top extent is ``r`` per output,
    and the top offset ``q*s`` becomes ``q*r``; the tiles then produce exactly the
    outputs their kept rows hold.

    A row-stationary innermost level spreads a window and its filter together (Y with R, X
    with S), paired as :func:`~costmodel.levels.uncovered_pairs` accepts: unit ``i`` holds
    the input and filter rows that start at the same offset and computes every output row
    of its parent tile with its filter rows. PE 0's work there is those outputs times the
    filter rows of its folds: the filter counts as a dim split over the units, the window
    as whole."""
    B = len(levels[0].N)
    names, top, window, stride, narrow = _dim_plan(layer)
    exact = np.ones(B, dtype=bool)
    rs_pair = None  # (window dim, candidates) of a paired innermost level
    last = len(levels) - 1
    for i, lv in enumerate(levels):
        spatial = lv.spatial
        split_filter: dict[str, np.ndarray] = {}
        if not spatial:
            exact[:] = False
        elif len(spatial) > 1:
            # two SpatialMaps that both split their dims over several units: unit i takes
            # tile i of each (a diagonal), which this count follows only for a paired window
            # and filter at the innermost level; a lone unit does every tile of its
            # parent's, as with TemporalMaps
            a, b = (lv.directives[j] for j in spatial[:2])
            both = ((_tiles(lv, a, names, window) >= 2) & (_tiles(lv, b, names, window) >= 2)
                    & (lv.N > 1))
            ref, fil = (a, b) if a.var in REF_DIMS else (b, a)
            if (i == last and REF_DIMS.get(ref.var) == fil.var
                    and not narrow[names.index(ref.var), 0]):
                # the pair as the cost model's pair check sees it (a window tile narrower
                # than the filter still computes with the filter rows mapped here)
                pair = splits(lv, a) & splits(lv, b) & (lv.N > 1)
                paired = pair & paired_window(lv, a, b)
                exact &= ~(both | pair) | paired
                if np.count_nonzero(paired):
                    rs_pair = (ref.var, paired)
                    split_filter[fil.var] = paired
            else:
                exact &= ~both
        for d in lv.directives:
            if d.var in ("R", "S") and d.var in lv.SD:
                whole = d.m >= lv.SD[d.var]
                if d.kind == "S" and d.var in split_filter:
                    whole = whole | split_filter[d.var]
                exact &= whole
        for k in np.flatnonzero(narrow[:, 0]):
            # a tile narrower than one filter window keeps whole input rows (MAESTRO's
            # rewrite skips it): not counted
            d = next((x for x in lv.directives if x.var == names[k]), None)
            if d is not None:
                exact &= d.m >= window[k, 0]
    if not np.count_nonzero(exact):
        return np.zeros(B, dtype=np.int64), exact
    sliding = window > 0
    plan = [_level_plan(lv, names, B) for lv in levels]
    if rs_pair is not None:
        # the window is whole at the paired level: every unit computes all its parent's
        # outputs, for the filter rows of its own tiles
        ref, paired = rs_pair
        m, o, sp, u = plan[last]
        k = names.index(ref)
        m, o = m.copy(), o.copy()
        m[k] = np.where(paired, 0, m[k])
        o[k] = np.where(paired, 0, o[k])
        plan[last] = (m, o, sp, u)
    if narrow.any():
        # the top level's offsets of q*s input rows become q*r kept rows
        m0, o0, sp0, u0 = plan[0]
        o0 = np.where(narrow & (o0 > 0), o0 // stride * window, o0)
        plan[0] = (m0, o0, sp0, u0)

    def work(i: int, p: np.ndarray) -> np.ndarray:
        """``[V, B]`` unit 0's summed extent per dim at level ``i`` and below for parent
        tiles ``p`` (input rows/columns for Y/X); output rows/columns below the last level."""
        if i == len(plan):
            return np.where(sliding, np.where(p >= window, (p - window) // step + 1, 0), p)
        m, o, spatial, units = plan[i]
        m = np.where(m > 0, m, p)  # a dim the level does not tile: whole
        o = np.where(o > 0, o, p)
        o = np.maximum(o, 1)
        n = _tile_count(p, m, o, window)
        edge = p - (n - 1) * o  # extent of the last tile (overlapping windows: at most m)
        tile = np.minimum(m, p)
        has_edge = edge < tile
        count = np.where(spatial, (n + units - 1) // units, n)
        mine_edge = has_edge & np.where(spatial, (n - 1) % units == 0, True)
        full_part = work(i + 1, tile)
        if not np.count_nonzero(mine_edge):
            return count * full_part
        edge_part = work(i + 1, np.maximum(edge, 1))
        return np.where(mine_edge, (count - 1) * full_part + edge_part, count * full_part)

    step = np.where(narrow, window, stride)  # kept rows: one window per output
    macs = work(0, np.broadcast_to(top, (len(names), B))).prod(axis=0)
    return np.where(exact, macs, 0), exact


def _tile_count(p: np.ndarray, m: np.ndarray, o: np.ndarray, window) -> np.ndarray:
    """Tiles of size ``m`` every ``o`` that split an extent ``p``: for a sliding dim
    (``window`` > 0, Y/X) those that hold a whole filter window, else those that start
    inside ``p``; one where ``m`` covers ``p``."""
    n_slide = np.maximum(p - window, 0) // o + 1
    n_plain = (np.maximum(p - m, 0) + o - 1) // o + 1
    return np.where(p <= m, 1, np.where(window > 0, n_slide, n_plain))


def _tiles(lv: Level, d, names: list[str], window: np.ndarray) -> np.ndarray:
    """``[B]`` the tiles a directive splits its dim's extent at level ``lv`` into
    (:func:`_tile_count`, as :func:`busiest_pe_macs` counts them)."""
    k = names.index(d.var) if d.var in names else -1
    w = int(window[k, 0]) if k >= 0 else 0
    return _tile_count(lv.SD[d.var], np.maximum(d.m, 1), np.maximum(d.o, 1), w)


_DIM_PLANS: dict[tuple, tuple] = {}


def _dim_plan(layer: Layer) -> tuple:
    """``(names, top, window, stride, narrow)`` of a layer shape: the dims counted one by one
    (those of some tensor; Y/X count through their input rows/columns), their full sizes
    ``top``, filter windows (0: not sliding), strides and whether the filter is narrower
    than the stride, as ``[V, 1]`` read-only arrays. A narrow dim's ``top`` counts the input
    rows/columns its outputs read (``window`` per output). Cached per shape (a search
    evaluates one layer many times)."""
    key = (layer.type, tuple(layer.dims.items()), tuple(layer.strides.items()))
    plan = _DIM_PLANS.get(key)
    if plan is not None:
        return plan
    full = layer.full_dims()
    # dims of no tensor (K of a depthwise layer) multiply no MACs: MAESTRO ignores them
    used = set().union(*tensor_table(layer.type, "N" in layer.dims).tensors())
    names = [v for v in full if not v.endswith("'") and v in used]
    col = lambda vals: np.array(vals, dtype=np.int64)[:, None]  # noqa: E731
    window = col([full[REF_DIMS[v]] if v in REF_DIMS else 0 for v in names])
    stride = col([layer.stride(v) if v in REF_DIMS else 1 for v in names])
    narrow = (window > 0) & (window < stride)
    top = col([layer.output_size(v) * full[REF_DIMS[v]] if narrow[k, 0] else full[v]
               for k, v in enumerate(names)])
    for a in (top, window, stride, narrow):
        a.setflags(write=False)
    plan = (names, top, window, stride, narrow)
    if len(_DIM_PLANS) >= 1024:
        _DIM_PLANS.clear()
    _DIM_PLANS[key] = plan
    return plan


def _level_plan(lv: Level, names: list[str], B: int):
    """``(m, o, spatial, units)`` of one level as ``[V, B]`` arrays (0: the level has no
    directive on that dim), ``[V, 1]`` and ``[1, B]``."""
    m = np.zeros((len(names), B), dtype=np.int64)
    o = np.zeros_like(m)
    spatial = np.zeros((len(names), 1), dtype=bool)
    for k, var in enumerate(names):
        d = next((x for x in lv.directives if x.var == var), None)
        if d is not None:
            m[k], o[k], spatial[k] = np.maximum(d.m, 1), d.o, d.kind == "S"
    return m, o, spatial, np.maximum(lv.N, 1)[None, :]
