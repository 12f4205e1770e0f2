"""Monte Carlo check of the sparse compute model: real masks, walked through a mapping.

It walks every step of a mapping of any number of levels and every PE's tile (the completed
directive lists of :func:`costmodel.levels.build_levels`, each level's tiles nested in their
parent's), counts the kept operands of the conditioning tensor in the tile (summed-area
tables of the mask), and gives the step time ``max over active PEs of max(1, ceil(work /
simd))`` (the PEs in lockstep), summed over steps; the same walk with a dense mask gives the
dense time. Validation only: not on the hot path.
"""

from __future__ import annotations

import numpy as np

from ..layer import Layer, tensor_table
from ..levels import build_levels
from .density import Density, reduction_dim, tensor_shapes
from .stats import box_sum, sat, tile_count

OUT_SPACE = {"Y": "R", "X": "S"}


def random_mask(shape, density: Density, axis: int, rng) -> np.ndarray:
    """A mask with ``round(d x size)`` nonzeros placed uniformly at random, or an N:M mask
    (``N`` random positions in each group of ``M`` along ``axis``)."""
    size = int(np.prod(shape))
    if density.structured:
        moved = list(shape)
        moved.append(moved.pop(axis))
        groups = rng.random((size // density.m, density.m)).argsort(axis=1) < density.n
        return np.moveaxis(groups.reshape(moved), -1, axis)
    flat = np.zeros(size, dtype=bool)
    flat[rng.choice(size, int(round(density.value * size)), replace=False)] = True
    return flat.reshape(shape)


def _level_starts(levels):
    """Per level, per directive: the tile starts relative to the parent tile over (steps[,
    units]) as arrays broadcastable over every level's axes (a directive's steps, then one
    units axis per level; -1 marks a spatial slot past the last tile), and the tile size;
    with the units axes (the PEs of a lockstep step). Unit ``i`` takes tile ``i`` of each
    SpatialMap's fold (one units axis per level, every SpatialMap its own folds axis); a
    SpatialMap of one tile gives it to every unit."""
    n_axes = sum(len(lv.directives) + 1 for lv in levels)
    out, pe_axes, ax0 = [], [], 0
    for lv in levels:
        dirs = lv.directives
        units = int(lv.N[0])
        starts = {}
        for j, d in enumerate(dirs):
            D, m, o = int(lv.SD[d.var][0]), int(d.m[0]), int(d.o[0])
            tiles = int(tile_count(D, m, o))
            shape = [1] * n_axes
            if d.kind == "S" and tiles > 1:
                steps = -(-tiles // units)
                t = np.arange(steps)[:, None] * units + np.arange(units)[None, :]
                shape[ax0 + j], shape[ax0 + len(dirs)] = steps, units
                starts[d.var] = (np.where(t < tiles, t * o, -1).reshape(shape), m)
            else:
                shape[ax0 + j] = tiles
                starts[d.var] = ((np.arange(tiles) * o).reshape(shape), m)
        out.append(starts)
        pe_axes.append(ax0 + len(dirs))
        ax0 += len(dirs) + 1
    return out, tuple(pe_axes)


def _tiles(level, d) -> int:
    return int(tile_count(int(level.SD[d.var][0]), int(d.m[0]), int(d.o[0])))


def walk(layer: Layer, structure, sizes, offsets, num_pes: int, mask: np.ndarray, tensor: str,
         simd: int = 1) -> float:
    """Compute cycles of one mapping with ``mask`` on ``tensor`` (``weight`` or ``input``)
    conditioning a skipping compute. Every level's tiles nest in their parent's (a tile
    starting past its parent's end is idle, one crossing it is cut, a Y/X window cut
    narrower than the filter computes no output and idles); the PEs run in lockstep: a
    step, one combination of every level's temporal tiles and spatial folds,
    lasts its busiest PE's ``max(1, ceil(work / simd))``."""
    table = tensor_table(layer.type, "N" in layer.dims)
    lv = build_levels(layer, table, structure, np.atleast_2d(sizes), np.atleast_2d(offsets),
                      np.array([num_pes]))
    for level in lv:
        split = [j for j in level.spatial if _tiles(level, level.directives[j]) > 1]
        if len(split) > 1 and int(level.N[0]) > 1:
            raise ValueError("the Monte Carlo walk takes one SpatialMap per level that splits "
                             "its dim over several units")
    full = layer.full_dims()
    starts, pe_axes = _level_starts(lv)
    valid = np.ones(1, dtype=bool)
    lo, hi = {}, {}
    for v in dict.fromkeys(table.input + table.filter + table.output):
        if v not in full:
            continue
        S, E = 0, int(full[v])
        for level in starts:
            if v not in level:
                continue
            s, m = level[v]
            valid = valid & (s >= 0) & (S + s < E)
            S = S + np.maximum(s, 0)
            E = np.minimum(S + m, E)
        lo[v], hi[v] = np.minimum(S, E), E
    dims = table.filter if tensor == "weight" else table.input
    kept = box_sum(sat(mask), [lo[v] if v in lo else 0 for v in dims if v in full],
                   [hi[v] if v in hi else int(full[v]) for v in dims if v in full])
    reuse = 1
    slide = {d.var: int(d.m[0]) for d in lv[-1].directives}
    for v in dict.fromkeys(table.input + table.filter + table.output):
        if v in dims or v not in lo:
            continue
        ext = hi[v] - lo[v]
        if v in OUT_SPACE and layer.is_conv_family:   # outputs of an input-row window
            r = slide.get(OUT_SPACE[v], int(full[OUT_SPACE[v]]))
            ext = np.maximum(ext - r + 1, 0)
        reuse = reuse * ext
    for v in OUT_SPACE if layer.is_conv_family else ():
        if v in dims and v in lo:    # an input window narrower than the filter: no output
            r = slide.get(OUT_SPACE[v], int(full[OUT_SPACE[v]]))
            reuse = reuse * (hi[v] - lo[v] >= r)
    work = np.where(valid, kept * reuse, 0)
    cycles = np.where(valid & (reuse > 0), np.maximum(1, -(-work // simd)), 0)
    cycles = np.broadcast_to(cycles, np.broadcast_shapes(*(np.shape(a) for a in
                                                           (cycles, valid))))
    return float(np.sum(cycles.max(axis=pe_axes) if cycles.ndim else cycles))


def monte_carlo(layer: Layer, structure, sizes, offsets, num_pes: int, density: Density,
                tensor: str = "weight", simd: int = 1, trials: int = 20, seed: int = 0):
    """``(mean, std)`` over ``trials`` random masks of sparse over dense compute time."""
    rng = np.random.default_rng(seed)
    shp = tensor_shapes(layer)[tensor]
    table = tensor_table(layer.type, "N" in layer.dims)
    dims = [d for d in (table.filter if tensor == "weight" else table.input)
            if d in layer.full_dims()]
    red = reduction_dim(layer.type)
    axis = dims.index(red) if red in dims else len(dims) - 1
    dense = walk(layer, structure, sizes, offsets, num_pes, np.ones(shp, dtype=bool), tensor,
                 simd)
    vals = [walk(layer, structure, sizes, offsets, num_pes,
                 random_mask(shp, density, axis, rng), tensor, simd) / dense for _ in range(trials)]
    return float(np.mean(vals)), float(np.std(vals))
