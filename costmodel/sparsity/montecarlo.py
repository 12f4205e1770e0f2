"""Monte Carlo check of the sparse compute model: real masks, walked through a mapping.

For a one-level mapping (no Cluster) it walks every top-level step and every unit's tile
(the completed directive list of :func:`costmodel.levels.build_levels`), counts the kept
operands of the conditioning tensor in the tile (summed-area tables of the mask), and gives
the step time ``max over active units of max(1, ceil(work / simd))``, summed over steps; the
same walk with a dense mask gives the dense time. Validation only: not on the hot path.
"""

from __future__ import annotations

import numpy as np

from ..layer import Layer, tensor_table
from ..levels import build_levels
from .density import Density, reduction_dim, tensor_shapes
from .stats import box_sum, sat

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


def _axes(level, sd):
    """Per directive: the tile starts over (steps[, units]), as broadcastable arrays."""
    dirs = level.directives
    n_dirs = len(dirs)
    units = int(level.N[0])
    starts = {}
    for j, d in enumerate(dirs):
        D, m, o = int(sd[d.var]), int(d.m[0]), int(d.o[0])
        tiles = 1 if D <= m else -(-(D - m) // o) + 1
        shape = [1] * (n_dirs + 1)
        if d.kind == "S":
            steps = -(-tiles // units)
            t = np.arange(steps)[:, None] * units + np.arange(units)[None, :]
            t = np.where(t < tiles, t, -1)
            shape[j], shape[-1] = steps, units
            starts[d.var] = (t * o).reshape(shape), m, D
        else:
            shape[j] = tiles
            starts[d.var] = (np.arange(tiles) * o).reshape(shape), m, D
    return starts


def walk(layer: Layer, structure, sizes, offsets, num_pes: int, mask: np.ndarray, tensor: str,
         simd: int = 1) -> float:
    """Compute cycles of one mapping with ``mask`` on ``tensor`` (``weight`` or ``input``)
    conditioning a skipping compute."""
    table = tensor_table(layer.type, "N" in layer.dims)
    lv = build_levels(layer, table, structure, np.atleast_2d(sizes), np.atleast_2d(offsets),
                      np.array([num_pes]))
    if len(lv) != 1:
        raise ValueError("the Monte Carlo walk handles one-level mappings only")
    sd = {v: int(a[0]) for v, a in lv[0].SD.items()}
    st = _axes(lv[0], sd)
    dims = table.filter if tensor == "weight" else table.input
    lo, hi, valid = [], [], True
    for v in dims:
        if v not in st:
            lo.append(0)
            hi.append(sd[v])
            continue
        s, m, D = st[v]
        valid = valid & (s >= 0)
        lo.append(np.clip(s, 0, D))
        hi.append(np.clip(s + m, 0, D))
    kept = box_sum(sat(mask), lo, hi)
    reuse = 1
    others = [v for v in table.input + table.filter + table.output if v not in dims]
    for v in dict.fromkeys(others):
        if v not in st:
            continue
        s, m, D = st[v]
        valid = valid & (s >= 0)
        ext = np.clip(s + m, 0, D) - np.clip(s, 0, D)
        if v in OUT_SPACE and layer.is_conv_family:   # outputs of an input-row window
            slide = st.get(OUT_SPACE[v])
            r = sd[OUT_SPACE[v]] if slide is None else slide[1]
            ext = np.maximum(ext - r + 1, 0)
        reuse = reuse * ext
    work = np.where(valid, kept * reuse, 0)
    cycles = np.where(valid & (reuse > 0), np.maximum(1, -(-work // simd)), 0)
    per_step = cycles.max(axis=-1) if cycles.ndim else cycles
    return float(np.sum(per_step))


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
