"""The space of MAESTRO dataflows for one layer, as batches of numeric genomes.

A genome describes up to ``max_levels`` cluster levels. Level ``l`` has a loop order over the
layer's dims (outermost first), one spatially mapped dim, a tile size per dim and, below the top,
a cluster size (units per unit of the level above). Tiles of ``Y``/``X`` count *output* rows and
columns (sliding windows and strides are handled when decoding); ``R``/``S`` are always mapped
whole (MAESTRO requires it of temporal maps on them). Tiles need not divide their dimension.

Everything is an array over a batch of genomes, so strategies can sample, mutate and cross
whole populations, and the evaluator can send every group of genomes that share a dataflow
*shape* to the batch cost model in one call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache, lru_cache

import numpy as np

from costmodel import Cluster, Dataflow, Hardware, Layer, SpatialMap, TemporalMap

SLIDING = {"Y": "R", "X": "S"}
# a line search also tries the tiles holding 1..FOLD_MULTIPLES whole folds of the level below
FOLD_MULTIPLES = 8


@dataclass
class Genomes:
    """A batch of ``G`` mapping genomes (see module docstring). Arrays are owned, not views."""

    levels: np.ndarray    # [G] number of cluster levels in use (1..max_levels)
    order: np.ndarray     # [G, L, D] permutation of dim indices, outermost loop first
    par: np.ndarray       # [G, L] index of the spatially mapped dim
    tiles: np.ndarray     # [G, L, D] tile sizes (Y/X in output rows/columns)
    clusters: np.ndarray  # [G, L] units per unit of the level above (column 0 unused, = 1)
    par2: np.ndarray | None = None  # [G, L] optional second spatial dim (-1: none)

    def __post_init__(self) -> None:
        if self.par2 is None:
            self.par2 = np.full(self.par.shape, -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.levels)

    def take(self, idx) -> Genomes:
        return Genomes(**{f.name: getattr(self, f.name)[idx].copy() for f in fields(self)})

    @staticmethod
    def concat(parts: list[Genomes]) -> Genomes:
        return Genomes(**{f.name: np.concatenate([getattr(p, f.name) for p in parts])
                          for f in fields(Genomes)})

    def _canonical(self) -> np.ndarray:
        """``[G, W]`` int64 rows that equal exactly when two genomes decode to the same
        dataflow: the genes of levels beyond ``levels`` (dormant material) are masked."""
        G, L = self.par.shape
        used = np.arange(L)[None, :] < self.levels[:, None]
        u3 = used[:, :, None]
        flat = np.concatenate([self.levels[:, None], np.where(u3, self.order, 0).reshape(G, -1),
                               np.where(used, self.par, 0), np.where(used, self.par2, -1),
                               np.where(u3, self.tiles, 0).reshape(G, -1),
                               np.where(used, self.clusters, 0)], axis=1)
        return np.ascontiguousarray(flat.astype(np.int64))

    def keys(self) -> np.ndarray:
        """A bytes key per genome that identifies the dataflow it decodes to (for
        de-duplication; genes of unused levels do not count)."""
        flat = self._canonical()
        return flat.view(np.dtype((np.void, flat.shape[1] * 8))).ravel()

    def hashes(self) -> np.ndarray:
        """A 64-bit hash of :meth:`keys` per genome (cheap to keep for millions of genomes;
        a collision only makes a search skip one candidate)."""
        flat = self._canonical().astype(np.uint64)
        mult = _hash_multipliers(flat.shape[1])
        with np.errstate(over="ignore"):
            h = (flat * mult[None, :]).sum(axis=1, dtype=np.uint64)
            h ^= h >> np.uint64(31)
            h *= np.uint64(0x9E3779B97F4A7C15)
            h ^= h >> np.uint64(29)
        return h


@cache
def _hash_multipliers(width: int) -> np.ndarray:
    """Fixed odd 64-bit multipliers, one per key column (the same in every process)."""
    rng = np.random.default_rng(0x5EED)
    out = rng.integers(0, 2**63, width, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    out.flags.writeable = False
    return out


@dataclass
class MappingSpace:
    """All dataflows of ``layer`` on ``hardware`` with 1..``max_levels`` cluster levels.

    Restrictions (for templates and limited-flexibility accelerators): ``fixed_levels`` pins the
    level count; ``fixed_order[l]`` pins level ``l``'s loop order (dim names, outermost first);
    ``fixed_par[l]`` pins its spatial dim; ``par_choices`` limits the spatial dims;
    ``fixed_par2[l]`` pins a second spatial dim (``None``: none); ``second_spatial`` lets the
    search add one, and ``second_spatial_rate`` is the share of sampled levels that get one
    (default: 0.9 for depthwise layers, 0.15 otherwise); ``rs_spatial`` allows R/S as spatial
    dims at the innermost level (Eyeriss row-stationary: one filter row per PE);
    ``fixed_tiles[(l, dim)]`` pins a tile; ``fixed_clusters[l]`` pins a cluster size;
    ``tile_divisors`` restricts tiles to divisors of the parent tile.
    """

    layer: Layer
    hardware: Hardware
    max_levels: int = 2
    min_levels: int = 1
    fixed_levels: int | None = None
    fixed_order: dict[int, tuple[str, ...]] = field(default_factory=dict)
    fixed_par: dict[int, str] = field(default_factory=dict)
    par_choices: tuple[str, ...] | None = None
    fixed_par2: dict[int, str | None] = field(default_factory=dict)
    second_spatial: bool = True
    second_spatial_rate: float | None = None
    rs_spatial: bool = False
    fixed_tiles: dict[tuple[int, str], int] = field(default_factory=dict)
    fixed_clusters: dict[int, int] = field(default_factory=dict)
    tile_divisors: bool = False
    name: str = "free"

    def __post_init__(self) -> None:
        lay = self.layer
        if lay.type == "GEMM":
            dims = ["M", "N", "K"]
        else:
            dims = (["N"] if "N" in lay.dims else []) + (
                ["C"] if lay.type == "DSCONV" else ["K", "C"]) + (
                ["G"] if lay.type == "NGCONV" else []) + ["R", "S", "Y", "X"]
        self.dims: list[str] = dims
        self.D = len(dims)
        full = lay.full_dims()
        ext = []
        for d in dims:
            if d in SLIDING:
                ext.append(lay.output_size(d))
            else:
                ext.append(full[d])
        self.extent = np.array(ext, dtype=np.int64)  # tile upper bounds at the top level
        if (self.extent <= 0).any():
            raise ValueError(f"layer {lay.name}: non-positive output size")
        allowed = self.par_choices or tuple(d for d in dims if d not in ("R", "S"))
        self.par_idx = np.array([dims.index(d) for d in allowed], dtype=np.int64)
        extra = tuple(d for d in ("R", "S") if self.rs_spatial and d in dims)
        self.par2_idx = np.array([dims.index(d) for d in allowed + extra], dtype=np.int64)
        self.L = self.fixed_levels or self.max_levels
        if self.second_spatial_rate is None:
            # a depthwise layer has only C, Y and X to spread over the array, each often
            # too small or not a multiple of the PE count, so its best mappings often put two
            # dims on one level. (10 MobileNetV2 depthwise shapes x 6 seeds, 40,000
            # evaluations, with the busy-PE consistency check: mean / best-known 1.0173,
            # 1.0189, 1.0167 at rates 0.15, 0.5, 0.9; within 1% 38, 33, 32 of 60: no clear
            # winner. Before that check 0.9 won, partly on mappings it now rejects.)
            self.second_spatial_rate = 0.9 if lay.type == "DSCONV" else 0.15
        if self.fixed_levels:
            self.min_levels = self.max_levels = self.fixed_levels
        self.P = int(self.hardware.num_pes)
        self._rs = np.array([d in ("R", "S") for d in dims])

    # ------------------------------------------------------------------ sampling
    def sample(self, rng: np.random.Generator, n: int, tiles_per_shape: int = 1) -> Genomes:
        """``n`` random genomes (repaired, so they satisfy every structural rule).

        With ``tiles_per_shape`` = k, blocks of k genomes share one random structure (levels,
        loop orders, spatial dims) and differ in tiles and cluster sizes: still uniform over
        structures, and k times cheaper to evaluate (one cost-model call per block).
        """
        if n == 0:
            return self.empty()
        g = self._sample(rng, n)
        if tiles_per_shape > 1:
            lead = (np.arange(n) // tiles_per_shape) * tiles_per_shape
            g.levels, g.order, g.par = g.levels[lead], g.order[lead], g.par[lead]
            g.par2 = g.par2[lead]
            g = self.repair(g)
        return g

    def with_structure_of(self, g: Genomes, src: Genomes) -> Genomes:
        """Copies of ``g`` that take levels, loop orders and spatial dims from ``src``."""
        out = g.take(np.arange(len(g)))
        out.levels, out.order, out.par = src.levels.copy(), src.order.copy(), src.par.copy()
        out.par2 = src.par2.copy()
        return self.repair(out)

    def _sample(self, rng: np.random.Generator, n: int) -> Genomes:
        L, D = self.L, self.D
        levels = rng.integers(self.min_levels, self.max_levels + 1, n)
        order = np.argsort(rng.random((n, L, D)), axis=2)
        par = self.par_idx[rng.integers(0, len(self.par_idx), (n, L))]
        tiles = np.empty((n, L, D), dtype=np.int64)
        hi = np.broadcast_to(self.extent, (n, D)).copy()
        for lv in range(L):
            tiles[:, lv] = self._rand_tile(rng, hi)
            hi = tiles[:, lv]
        clusters = np.ones((n, L), dtype=np.int64)
        if L > 1:
            # split log2(P) randomly between levels
            logp = np.log2(max(self.P, 1))
            w = rng.random((n, L))
            share = w / w.sum(axis=1, keepdims=True) * logp
            clusters[:, 1:] = np.maximum(1, np.round(2.0 ** share[:, 1:])).astype(np.int64)
        par2 = np.full((n, L), -1, dtype=np.int64)
        if self.second_spatial:
            two = rng.random((n, L)) < self.second_spatial_rate
            par2 = np.where(two, self.par2_idx[rng.integers(0, len(self.par2_idx), (n, L))], -1)
        g = self.repair(Genomes(levels, order, par, tiles, clusters, par2))
        # half of the samples get utilisation-aware spatial tiles and cluster sizes
        return self.fit_spatial(g, rng, rng.random(n) < 0.5)

    def units(self, g: Genomes) -> np.ndarray:
        """``[G, L]`` sub-units per unit at each level (level 0: PEs // product of clusters)."""
        in_use = np.arange(self.L)[None, :] < g.levels[:, None]
        prod = np.where(in_use, g.clusters, 1)[:, 1:].prod(axis=1)
        out = g.clusters.copy()
        out[:, 0] = self.P // np.maximum(prod, 1)
        return out

    def busy_bound(self, g: Genomes) -> np.ndarray:
        """``[G]`` an upper bound on the PEs a genome's dataflow keeps busy at once: at each
        level, at most its units and at most the number of tiles its spatial dims split the
        parent tile into (a Y/X unit past the last output tile holds no whole filter window,
        so the cost model's check does not count it busy); the product over levels.
        ``ceil(MACs / (bound x SIMD lanes))`` then bounds the latency of a valid mapping from
        below (the cost model's busy-PE check enforces it), which lets a search skip
        candidates that cannot beat its best without scoring them."""
        n, L = len(g), self.L
        rows = np.arange(n)
        units = self.units(g)
        out = np.ones(n, dtype=np.int64)
        for lv in range(L):
            tiles = []
            for par in (g.par[:, lv], g.par2[:, lv]):
                p = np.maximum(par, 0)
                parent = self.extent[p] if lv == 0 else g.tiles[rows, lv - 1, p]
                t = -(-parent // np.maximum(g.tiles[rows, lv, p], 1))
                tiles.append(np.where(par >= 0, t, 0))
            busy = np.minimum(units[:, lv], np.maximum(tiles[0], tiles[1]))
            out *= np.where(lv < g.levels, busy, 1)
        return out

    def fit_spatial(self, g: Genomes, rng: np.random.Generator, mask: np.ndarray) -> Genomes:
        """Domain-aware move: for the genomes in ``mask``, make each level's cluster size a
        divisor of its spatial dim's extent (when one fits) and size each level's spatial tile
        so that its units cover the parent extent in 1-4 folds, i.e. keep the PEs busy."""
        g = g.take(np.arange(len(g)))
        rows = np.nonzero(mask)[0]
        if len(rows) == 0:
            return g
        n = len(rows)
        for lv in range(1, self.L):
            p = g.par[rows, lv]
            ext = g.tiles[rows, lv - 1, p]
            # a random divisor of the spatial extent (at most P), else keep the cluster size
            cand = np.floor(np.exp(rng.random(n) * np.log(np.minimum(ext, self.P) + 1)))
            cand = self._snap_divisor(np.maximum(cand.astype(np.int64), 1), ext)
            use = rng.random(n) < 0.7
            g.clusters[rows, lv] = np.where(use, cand, g.clusters[rows, lv])
        g = self.repair(g)
        N = self.units(g)[rows]
        for lv in range(self.L):
            p = g.par[rows, lv]
            parent = self.extent[p] if lv == 0 else g.tiles[rows, lv - 1, p]
            folds = rng.integers(1, 5, n)
            t = -(-parent // np.maximum(N[:, lv] * folds, 1))
            g.tiles[rows, lv, p] = np.clip(t, 1, parent)
        return self.repair(g)

    def _rand_tile(self, rng, hi: np.ndarray) -> np.ndarray:
        """Log-uniform integers in [1, hi], half of them snapped to a divisor-friendly value."""
        u = rng.random(hi.shape)
        t = np.floor(np.exp(u * np.log(hi + 1))).astype(np.int64)
        t = np.clip(t, 1, hi)
        if self.tile_divisors:
            return self._snap_divisor(t, hi)
        snap = rng.random(hi.shape) < 0.5
        return np.where(snap, self._snap_divisor(t, hi), t)

    @staticmethod
    def _snap_divisor(t: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Largest divisor of ``hi`` that is <= ``t`` (elementwise; >= 1)."""
        t = np.maximum(np.asarray(t, dtype=np.int64), 1)
        hi = np.broadcast_to(np.asarray(hi, dtype=np.int64), t.shape).ravel()
        flat = t.ravel()
        out = np.empty_like(flat)
        uniq, inv = np.unique(hi, return_inverse=True)
        order = np.argsort(inv, kind="stable")
        bounds = np.searchsorted(inv[order], np.arange(len(uniq) + 1))
        for j, h in enumerate(uniq.tolist()):  # one lookup per distinct extent
            rows = order[bounds[j]:bounds[j + 1]]
            divs = _divisors(max(h, 1))
            out[rows] = divs[np.maximum(np.searchsorted(divs, flat[rows], side="right") - 1, 0)]
        return out.reshape(t.shape)

    def empty(self) -> Genomes:
        """A batch of zero genomes."""
        L, D = self.L, self.D
        z = np.zeros
        return Genomes(z(0, np.int64), z((0, L, D), np.int64), z((0, L), np.int64),
                       z((0, L, D), np.int64), z((0, L), np.int64), z((0, L), np.int64))

    # ------------------------------------------------------------------ repair
    def repair(self, g: Genomes) -> Genomes:
        """Project genomes onto the space: bounds, nesting of tiles, PE budget, fixed axes."""
        L, D = self.L, self.D
        g.levels = np.clip(g.levels, self.min_levels, self.max_levels)
        for lv, names in self.fixed_order.items():
            if lv < L:
                g.order[:, lv] = [self.dims.index(d) for d in names]
        for lv, d in self.fixed_par.items():
            if lv < L:
                g.par[:, lv] = self.dims.index(d)
        bad_par = ~np.isin(g.par, self.par_idx)
        if bad_par.any():
            g.par = np.where(bad_par, self.par_idx[0], g.par)
        for lv, d in self.fixed_par2.items():
            if lv < L:
                g.par2[:, lv] = -1 if d is None else self.dims.index(d)
        if not self.second_spatial:
            fixed = np.array([lv in self.fixed_par2 for lv in range(L)])
            g.par2 = np.where(fixed[None, :], g.par2, -1)
        innermost = np.arange(L)[None, :] == (g.levels[:, None] - 1)
        rs2 = np.isin(g.par2, np.nonzero(self._rs)[0])
        g.par2 = np.where((g.par2 == g.par) | ~np.isin(g.par2, np.append(self.par2_idx, -1))
                          | (rs2 & ~innermost), -1, g.par2)
        for (lv, d), v in self.fixed_tiles.items():
            if lv < L:
                g.tiles[:, lv, self.dims.index(d)] = v
        hi = np.broadcast_to(self.extent, (len(g), D))
        for lv in range(L):
            t = np.clip(g.tiles[:, lv], 1, hi)
            if self.tile_divisors:
                t = self._snap_divisor(t, hi)
            # R/S are mapped whole, except as a spatial dim of the innermost level
            spatial = (np.arange(D)[None, :] == g.par2[:, lv:lv + 1]) & self._rs[None, :]
            t = np.where(self._rs[None, :] & ~spatial, hi, t)
            g.tiles[:, lv] = t
            hi = t
        g.clusters[:, 0] = 1
        for lv, c in self.fixed_clusters.items():
            if 0 < lv < L:
                g.clusters[:, lv] = c
        g.clusters = np.clip(g.clusters, 1, self.P)
        # the clusters in use must fit in the PE array: shrink the innermost ones first
        for lv in range(L - 1, 0, -1):
            in_use = np.arange(L)[None, :] < g.levels[:, None]
            prod = np.where(in_use, g.clusters, 1).prod(axis=1)
            over = prod > self.P
            if not over.any():
                break
            others = prod // g.clusters[:, lv]
            g.clusters[:, lv] = np.where(over & (lv < g.levels),
                                         np.maximum(1, self.P // np.maximum(others, 1)),
                                         g.clusters[:, lv])
        return g

    # ------------------------------------------------------------------ decoding
    def shape_keys(self, g: Genomes) -> np.ndarray:
        """A bytes key per genome: genomes with equal keys share a dataflow shape."""
        G = len(g)
        in_use = np.arange(self.L)[None, :] < g.levels[:, None]
        order = np.where(in_use[:, :, None], g.order, 0).reshape(G, -1)
        par = np.where(in_use, g.par, 0)
        par2 = np.where(in_use, g.par2, -1)
        flat = np.ascontiguousarray(
            np.concatenate([g.levels[:, None], order, par, par2], axis=1).astype(np.int8))
        return flat.view(np.dtype((np.void, flat.shape[1]))).ravel()

    def class_keys(self, g: Genomes) -> np.ndarray:
        """A coarse key per genome: level count and spatial dims (loop orders ignored)."""
        in_use = np.arange(self.L)[None, :] < g.levels[:, None]
        flat = np.ascontiguousarray(np.concatenate(
            [g.levels[:, None], np.where(in_use, g.par, -1), np.where(in_use, g.par2, -1)],
            axis=1).astype(np.int8))
        return flat.view(np.dtype((np.void, flat.shape[1]))).ravel()

    def shape_of(self, g: Genomes, i: int) -> tuple[tuple[str, str], ...]:
        """The dataflow shape of genome ``i`` (same for every genome with the same key)."""
        out = []
        for lv in range(int(g.levels[i])):
            if lv > 0:
                out.append(("C", ""))
            for di in g.order[i, lv]:
                spatial = di in (g.par[i, lv], g.par2[i, lv])
                out.append(("S" if spatial else "T", self.dims[di]))
        return tuple(out)

    def sizes_offsets(self, g: Genomes, idx: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
        """``[n, len(shape)]`` sizes and offsets of genomes ``idx`` that share ``shape``."""
        lay = self.layer
        n = len(idx)
        sizes = np.empty((n, len(shape)), dtype=np.int64)
        offs = np.empty_like(sizes)
        lv = 0
        full = lay.full_dims()
        for col, (kind, dim) in enumerate(shape):
            if kind == "C":
                lv += 1
                sizes[:, col] = offs[:, col] = g.clusters[idx, lv]
                continue
            di = self.dims.index(dim)
            q = g.tiles[idx, lv, di]
            if dim in SLIDING:
                # q output rows need (q-1)*stride + (filter rows mapped at this level) inputs
                r = g.tiles[idx, lv, self.dims.index(SLIDING[dim])]
                s = lay.stride(dim)
                sizes[:, col] = (q - 1) * s + r
                offs[:, col] = q * s
            elif dim in ("R", "S") and kind == "T":
                sizes[:, col] = offs[:, col] = full[dim]
            else:
                sizes[:, col] = offs[:, col] = q
        return sizes, offs

    def decode(self, g: Genomes, i: int) -> Dataflow:
        """Genome ``i`` as a MAESTRO dataflow."""
        shape = self.shape_of(g, i)
        sizes, offs = self.sizes_offsets(g, np.array([i]), shape)
        out = []
        for (kind, dim), m, o in zip(shape, sizes[0], offs[0]):
            if kind == "C":
                out.append(Cluster(int(m), "P"))
            elif kind == "S":
                out.append(SpatialMap(int(m), int(o), dim))
            else:
                out.append(TemporalMap(int(m), int(o), dim))
        return Dataflow(out)

    # ------------------------------------------------------------------ variation
    def mutate(self, rng: np.random.Generator, g: Genomes, rate: float = 0.3,
               structural: bool = True) -> Genomes:
        """Domain-aware mutation: tile steps, re-drawn tiles, spatial-dim change, loop swaps,
        cluster resizing and adding/removing a level (the last three only if ``structural``)."""
        g = g.take(np.arange(len(g)))
        n, L, D = len(g), self.L, self.D
        # tile: multiply/divide by 2 or re-draw, at one random (level, dim) per genome
        lv = rng.integers(0, L, n)
        di = rng.integers(0, D, n)
        hit = rng.random(n) < max(rate, 0.5)
        cur = g.tiles[np.arange(n), lv, di]
        parent = np.where(lv == 0, self.extent[di],
                          g.tiles[np.arange(n), np.maximum(lv - 1, 0), di])
        kind = rng.integers(0, 3, n)
        redraw = self._rand_tile(rng, parent)
        new = np.where(kind == 0, cur * 2, np.where(kind == 1, np.maximum(cur // 2, 1), redraw))
        new = np.where(rng.random(n) < 0.2, cur + rng.choice([-1, 1], n), new)
        g.tiles[np.arange(n), lv, di] = np.where(hit, new, cur)
        if structural:
            # spatial dim
            m = rng.random((n, L)) < rate / 2
            g.par = np.where(m, self.par_idx[rng.integers(0, len(self.par_idx), (n, L))], g.par)
            if self.second_spatial:
                m = rng.random((n, L)) < rate / 4
                new2 = np.where(rng.random((n, L)) < 0.5, -1,
                                self.par2_idx[rng.integers(0, len(self.par2_idx), (n, L))])
                g.par2 = np.where(m, new2, g.par2)
            # swap two loops at a level
            m = rng.random(n) < rate
            lv = rng.integers(0, L, n)
            a, b = rng.integers(0, D, n), rng.integers(0, D, n)
            rows = np.nonzero(m)[0]
            oa = g.order[rows, lv[rows], a[rows]].copy()
            g.order[rows, lv[rows], a[rows]] = g.order[rows, lv[rows], b[rows]]
            g.order[rows, lv[rows], b[rows]] = oa
            # cluster sizes x2 / /2
            if L > 1:
                m = rng.random((n, L)) < rate / 2
                f = np.where(rng.random((n, L)) < 0.5, 2.0, 0.5)
                g.clusters = np.where(m, np.maximum(1, (g.clusters * f).astype(np.int64)),
                                      g.clusters)
            # add or remove a level
            if self.max_levels > self.min_levels:
                m = rng.random(n) < rate / 3
                g.levels = np.where(m, g.levels + rng.choice([-1, 1], n), g.levels)
        return self.repair(g)

    def split_level(self, rng: np.random.Generator, g: Genomes, above: np.ndarray | None = None,
                    dim: np.ndarray | None = None, own_share: float = 0.5) -> Genomes:
        """Domain-aware structural move: the genomes of ``g`` that have room for one more
        cluster level, each with a new level that spreads a spatial dim ``dim`` (random if
        not given) over clusters: a new top level (``above``; the old levels move down
        unchanged) or a new innermost level inside each unit of the old innermost one (whose
        tile of ``dim`` then grows, so there is something to spread). Cluster sizes and
        spatial tiles are then fitted to keep the PEs busy (:meth:`fit_spatial`; for half of
        the new top levels (``own_share``), from the new level's own dim instead,
        :meth:`_fit_new_top`); the other
        tiles and the loop orders are the parent's, so a child starts near its parent's
        quality. This is how a one-level mapping whose spatial dim is too small for the array
        becomes a two-level one without passing through random genes."""
        c = g.take(np.nonzero(g.levels < self.max_levels)[0])
        n = len(c)
        if n == 0:
            return self.empty()
        above = rng.random(n) < 0.5 if above is None else np.broadcast_to(above, n)[: n]
        dim = (self.par_idx[rng.integers(0, len(self.par_idx), n)] if dim is None
               else np.broadcast_to(dim, n)[: n])
        a = np.nonzero(above)[0]
        for name in ("order", "par", "par2", "tiles", "clusters"):
            arr = getattr(c, name)
            arr[a, 1:] = arr[a, :-1].copy()
        c.par[a, 0], c.par2[a, 0] = dim[a], -1
        c.tiles[a, 0] = self.extent
        b = np.nonzero(~above)[0]
        lv = c.levels[b]
        c.order[b, lv], c.par[b, lv], c.par2[b, lv] = c.order[b, lv - 1], dim[b], -1
        hi = np.where(lv - 1 == 0, self.extent[dim[b]],
                      c.tiles[b, np.maximum(lv - 2, 0), dim[b]])
        cur = c.tiles[b, lv - 1, dim[b]]
        whole = rng.random(len(b)) < 0.5
        grow = np.where(whole, hi, cur + (rng.random(len(b)) * (hi - cur)))
        c.tiles[b, lv - 1, dim[b]] = np.maximum(cur, grow.astype(np.int64))
        # mapped whole at the parent level, the dim is half the time a second spatial map
        # there rather than a temporal one: the same data, but MAESTRO's analysis of the
        # parent's edge tiles differs between the two, and either may be the valid one
        two = whole & (rng.random(len(b)) < 0.5) & self.second_spatial
        c.par2[b[two], lv[two] - 1] = dim[b][two]
        c.tiles[b, lv] = c.tiles[b, lv - 1]
        c.levels = c.levels + 1
        # a cluster of one would not split anything; fit_spatial mostly re-draws it
        start = np.maximum(2, np.exp(rng.random(n) * np.log(max(self.P // 2, 2)))).astype(np.int64)
        new_lv = np.where(above, 1, c.levels - 1)
        c.clusters[np.arange(n), new_lv] = start
        # half of the new top levels are sized from their own dim: as many clusters as cover
        # its extent in 1-4 folds, and the moved-down level's spatial dim only as large at the
        # top as the clusters cover in 1-4 folds (kept whole, a large dim can overflow the L2)
        own = np.zeros(n, dtype=bool)
        own[a] = rng.random(len(a)) < own_share
        own &= self.extent[dim] > 1
        c = self.fit_spatial(self.repair(c), rng, ~own)
        rows = np.arange(n)
        if own.any():
            c = self._fit_new_top(rng, c, np.nonzero(own)[0], dim)
        # where fitting drew a cluster of one (a divisor of the extent), keep the start size
        one = (c.clusters[rows, new_lv] == 1) & ~own
        c.clusters[rows[one], new_lv[one]] = start[one]
        return self.repair(c)

    def _fit_new_top(self, rng: np.random.Generator, c: Genomes, r: np.ndarray,
                     dim: np.ndarray) -> Genomes:
        """Size the new top level of rows ``r`` (spreading ``dim``) from that dim: about
        ``extent / folds`` clusters, each unit's tile covering its share in one fold, and the
        level below's spatial dim cut at the top to 1-4 folds of what the clusters cover."""
        d = dim[r]
        ext = self.extent[d]
        levels = c.levels[r]
        deeper = np.where(np.arange(self.L)[None, :] < levels[:, None], c.clusters[r], 1)
        room = self.P // np.maximum(deeper[:, 2:].prod(axis=1), 1)  # PEs per top unit x units
        # clusters of at least two PEs, or the new level would split nothing
        units = np.clip(-(-ext // rng.integers(1, 5, len(r))), 1, np.maximum(room // 2, 1))
        c.clusters[r, 1] = np.maximum(1, room // units)
        c = self.repair(c)
        n0 = self.units(c)[r, 0]
        c.tiles[r, 0, d] = np.clip(-(-ext // np.maximum(n0, 1)), 1, ext)
        k = c.par[r, 1]
        cover = c.clusters[r, 1] * c.tiles[r, 1, k] * rng.integers(1, 5, len(r))
        cut = k != d
        c.tiles[r[cut], 0, k[cut]] = np.minimum(self.extent[k[cut]], cover[cut])
        return self.repair(c)

    def crossover(self, rng: np.random.Generator, a: Genomes, b: Genomes) -> Genomes:
        """GAMMA-style crossover: each dim's tiles (all levels) come from one parent; the loop
        orders, spatial dims, cluster sizes and level count from a randomly chosen parent."""
        n, D = len(a), self.D
        child = a.take(np.arange(n))
        pick = rng.random((n, 1, D)) < 0.5
        child.tiles = np.where(pick, a.tiles, b.tiles)
        sw = rng.random(n) < 0.5
        for name in ("levels", "order", "par", "par2", "clusters"):
            av, bv = getattr(a, name), getattr(b, name)
            m = sw.reshape((n,) + (1,) * (av.ndim - 1))
            setattr(child, name, np.where(m, bv, av).copy())
        return self.repair(child)

    def crossover_tiles(self, rng: np.random.Generator, a: Genomes, b: Genomes) -> Genomes:
        """Children with ``a``'s structure; each dim's tiles (all levels) and each cluster size
        come from ``a`` or ``b`` at random."""
        n, D = len(a), self.D
        child = a.take(np.arange(n))
        pick = rng.random((n, 1, D)) < 0.5
        child.tiles = np.where(pick, a.tiles, b.tiles)
        pc = rng.random(a.clusters.shape) < 0.5
        child.clusters = np.where(pc, a.clusters, b.clusters)
        return self.repair(child)

    def neighbours(self, g: Genomes, i: int) -> Genomes:
        """The neighbourhood of genome ``i`` that keeps its shape, for hill climbing.

        A line search along every free tile (each value up to 16, a x1.15 grid above, every
        divisor of the parent tile, and x2, /2, +1, -1), along the top tile of each dim with
        the lower levels' tiles rescaled in proportion, and along every cluster size, once as
        is and once with every level's spatial tile refitted to cover its parent in one fold,
        the spatial tiles that cover their parent in 1-4 folds, and the tiles holding 1-8
        whole folds (and one more) of the level below's spatial dim.
        Edge tiles make latency jump between neighbouring tile values, so single steps alone
        get stuck; all of these share one dataflow shape, so one batched cost-model call
        scores them (a few hundred candidates). Single steps (x2, /2, +1, -1, the nearest
        divisors, the fold fits, and cluster x2, /2, +1, -1, all PEs) come first, so a batch
        cut short by a small budget still tries those."""
        L, D = int(g.levels[i]), self.D
        base = g.take([i])
        tiles: set[tuple[int, int, int]] = set()   # (level, dim, value)
        scaled: set[tuple[int, int]] = set()       # (dim, top value), lower levels in ratio
        clusters: set[tuple[int, int]] = set()     # (level, value)
        # single steps go first in the batch (a small budget may cut it short)
        core_t: set[tuple[int, int, int]] = set()
        core_c: set[tuple[int, int]] = set()
        for lv in range(L):
            parent = self.extent if lv == 0 else base.tiles[0, lv - 1]
            for k in range(D):
                if self._rs[k] and base.par2[0, lv] != k:
                    continue
                t, hi = int(base.tiles[0, lv, k]), int(parent[k])
                divs = _divisors(hi)
                below, above = divs[divs < t], divs[divs > t]  # the nearest divisors
                steps = {t * 2, t // 2, t + 1, t - 1, hi,
                         int(below[-1]) if len(below) else t, int(above[0]) if len(above) else t}
                core_t.update((lv, k, v) for v in steps)
                for v in steps | set(_line_values(hi)):
                    if 1 <= v <= hi and v != t:
                        tiles.add((lv, k, v))
                        if lv == 0 and L > 1:
                            scaled.add((k, v))
            if lv > 0:
                c = int(base.clusters[0, lv])
                others = int(np.prod(base.clusters[0, 1:L])) // c
                clusters.update((lv, v) for v in range(1, self.P // max(others, 1) + 1)
                                if v != c)
                core_c.update((lv, v) for v in (c * 2, c // 2, c + 1, c - 1,
                                                self.P // max(others, 1)))
        N = self.units(base)[0]
        for lv in range(L):  # spatial tiles that cover the parent extent in 1-4 folds
            k = int(base.par[0, lv])
            hi = int(self.extent[k] if lv == 0 else base.tiles[0, lv - 1, k])
            for folds in (1, 2, 3, 4):
                v = max(1, -(-hi // max(int(N[lv]) * folds, 1)))
                if v != base.tiles[0, lv, k]:
                    tiles.add((lv, k, v))
                    core_t.add((lv, k, v))
        for lv in range(L - 1):  # whole folds of the level below's spatial dim (and one more)
            k = int(base.par[0, lv + 1])
            hi = int(self.extent[k] if lv == 0 else base.tiles[0, lv - 1, k])
            fold = int(N[lv + 1]) * int(base.tiles[0, lv + 1, k])
            for m in range(1, min(hi // max(fold, 1), FOLD_MULTIPLES) + 1):
                for v in (m * fold, m * fold + 1):
                    if v <= hi and v != base.tiles[0, lv, k]:
                        tiles.add((lv, k, v))
        tiles_l, scaled_l, clusters_l = sorted(tiles), sorted(scaled), sorted(clusters)
        n = len(tiles_l) + len(scaled_l) + 2 * len(clusters_l)
        if n == 0:
            return self.empty()
        out = base.take(np.zeros(n, dtype=np.int64))
        r = 0
        for lv, k, v in tiles_l:
            out.tiles[r, lv, k] = v
            r += 1
        for k, v in scaled_l:
            ratio = v / max(int(base.tiles[0, 0, k]), 1)
            out.tiles[r, :, k] = np.maximum(1, np.rint(base.tiles[0, :, k] * ratio))
            out.tiles[r, 0, k] = v
            r += 1
        for _ in range(2):
            for lv, v in clusters_l:
                out.clusters[r, lv] = v
                r += 1
        out = self.repair(out)
        # the second copy of the cluster moves: spatial tiles refitted to the new unit counts
        rows = np.arange(n - len(clusters_l), n)
        N = self.units(out.take(rows))
        for lv in range(L):
            k = out.par[rows, lv]
            hi = self.extent[k] if lv == 0 else out.tiles[rows, lv - 1, k]
            out.tiles[rows, lv, k] = np.maximum(1, -(-hi // np.maximum(N[:, lv], 1)))
        first = np.array([m in core_t for m in tiles_l] + [False] * len(scaled_l)
                         + [m in core_c for m in clusters_l] + [False] * len(clusters_l))
        return self.repair(out.take(np.argsort(~first, kind="stable")))

    # ------------------------------------------------------------------ Optuna encoding
    def suggest(self, trial) -> Genomes:
        """Draw one genome through an Optuna trial (numeric parameters only, so every
        sampler, CMA-ES included, can handle them; loop orders use random keys)."""
        L, D = self.L, self.D
        levels = trial.suggest_int("levels", self.min_levels, self.max_levels)
        order = np.zeros((1, L, D), dtype=np.int64)
        par = np.zeros((1, L), dtype=np.int64)
        par2 = np.full((1, L), -1, dtype=np.int64)
        tiles = np.ones((1, L, D), dtype=np.int64)
        clusters = np.ones((1, L), dtype=np.int64)
        for lv in range(L):
            keys = [trial.suggest_float(f"l{lv}_key_{d}", 0.0, 1.0) for d in self.dims]
            order[0, lv] = np.argsort(keys)
            par[0, lv] = self.par_idx[trial.suggest_int(f"l{lv}_par", 0, len(self.par_idx) - 1)]
            if self.second_spatial:
                j = trial.suggest_int(f"l{lv}_par2", -1, len(self.par2_idx) - 1)
                par2[0, lv] = -1 if j < 0 else self.par2_idx[j]
            for k, d in enumerate(self.dims):
                if self._rs[k] and not self.rs_spatial:
                    continue
                tiles[0, lv, k] = trial.suggest_int(f"l{lv}_tile_{d}", 1, int(self.extent[k]),
                                                    log=True)
            if lv > 0:
                clusters[0, lv] = trial.suggest_int(f"l{lv}_cluster", 1, self.P, log=True)
        g = Genomes(np.array([levels]), order, par, tiles, clusters, par2)
        return self.repair(g)

    # ------------------------------------------------------------------ enumeration
    def is_enumerable(self) -> bool:
        """True when the structure (levels, orders, spatial dims) is fixed."""
        return bool(self.fixed_levels) and all(
            lv in self.fixed_order and lv in self.fixed_par for lv in range(self.L))

    def _chains(self, k: int) -> np.ndarray:
        """All nested tile chains ``t0 >= t1 >= ...`` of dim ``k`` (``[n, L]``)."""
        def options(hi):
            vals = np.arange(1, hi + 1)
            return vals[hi % vals == 0] if self.tile_divisors else vals

        fixed = {lv: v for (lv, d), v in self.fixed_tiles.items() if d == self.dims[k]}
        chains = [[]]
        for lv in range(self.L):
            nxt = []
            for ch in chains:
                hi = int(self.extent[k]) if lv == 0 else ch[-1]
                spatial_rs = self._rs[k] and self.fixed_par2.get(lv) == self.dims[k]
                full = self._rs[k] and not spatial_rs
                opts = [fixed[lv]] if lv in fixed else ([hi] if full else options(hi))
                nxt += [ch + [int(t)] for t in opts if t <= hi]
            chains = nxt
        return np.array(chains, dtype=np.int64).reshape(len(chains), self.L)

    def _cluster_options(self) -> np.ndarray:
        """Cluster-size tuples for levels 1..L-1: fixed ones, else powers of two, product <= P."""
        opts = []
        for lv in range(1, self.L):
            if lv in self.fixed_clusters:
                opts.append([self.fixed_clusters[lv]])
            else:
                opts.append([2 ** e for e in range(int(np.log2(self.P)) + 1)])
        if not opts:
            return np.ones((1, 1), dtype=np.int64)
        grid = np.array(np.meshgrid(*opts, indexing="ij")).reshape(len(opts), -1).T
        grid = grid[grid.prod(axis=1) <= self.P]
        return np.concatenate([np.ones((len(grid), 1), dtype=np.int64), grid], axis=1)

    def enumeration_size(self) -> int:
        if not self.is_enumerable():
            raise ValueError("space is not enumerable: fix levels, loop orders and spatial dims")
        n = len(self._cluster_options())
        for k in range(self.D):
            n *= len(self._chains(k))
        return n

    def enumerate(self, chunk: int = 100_000, start: int = 0):
        """Yield every genome of an enumerable space from index ``start``, ``chunk`` at a time."""
        size = self.enumeration_size()
        chains = [self._chains(k) for k in range(self.D)]
        clusters = self._cluster_options()
        dims_shape = [len(c) for c in chains] + [len(clusters)]
        L, D = self.L, self.D
        order = np.array([[self.dims.index(d) for d in self.fixed_order[lv]] for lv in range(L)])
        par = np.array([self.dims.index(self.fixed_par[lv]) for lv in range(L)])
        for first in range(start, size, chunk):
            flat = np.arange(first, min(size, first + chunk))
            idx = np.unravel_index(flat, dims_shape)
            n = len(flat)
            tiles = np.stack([chains[k][idx[k]] for k in range(D)], axis=2)  # [n, L, D]
            par2 = np.array([-1 if self.fixed_par2.get(lv) is None
                             else self.dims.index(self.fixed_par2[lv]) for lv in range(L)])
            g = Genomes(np.full(n, L), np.broadcast_to(order, (n, L, D)).copy(),
                        np.broadcast_to(par, (n, L)).copy(), tiles, clusters[idx[D]].copy(),
                        np.broadcast_to(par2, (n, L)).copy())
            yield g

    def smallest_tiles(self) -> Genomes:
        """Genomes with every tile 1 (R/S whole unless the space lets one of them be a
        spatial dim at the innermost level), one per spatial dim x optional second spatial
        dim x level count, one PE per unit: the smallest L1 footprints of the space. Slow,
        but where nearly every mapping overflows the L1 they give a search a feasible start."""
        L, D = self.L, self.D
        opts = np.append(self.par2_idx, -1)
        par, par2 = np.meshgrid(self.par_idx, opts, indexing="ij")
        levels = np.arange(self.min_levels, self.max_levels + 1)
        n = par.size
        lv = np.repeat(levels, n)
        m = len(lv)
        g = Genomes(lv, np.broadcast_to(np.arange(D), (m, L, D)).copy(),
                    np.repeat(np.tile(par.ravel(), len(levels))[:, None], L, axis=1),
                    np.ones((m, L, D), dtype=np.int64), np.ones((m, L), dtype=np.int64),
                    np.repeat(np.tile(par2.ravel(), len(levels))[:, None], L, axis=1))
        return self.repair(g)

    def min_l1(self) -> int:
        """The smallest L1 that any mapping of this space needs: that of
        :meth:`smallest_tiles`, by :meth:`l1_requirement`, which larger tiles only increase.
        Above the hardware's L1, no mapping of the space fits."""
        return int(self.l1_requirement(self.smallest_tiles()).min())

    def l1_requirement(self, g: Genomes) -> np.ndarray:
        """The L1 size MAESTRO will report for the innermost level (2x the mapped tiles), from
        the genome alone; exact unless leading iteration cases are invalid (then larger)."""
        lay = self.layer
        inner = g.levels - 1
        t = g.tiles[np.arange(len(g)), inner]  # [n, D]
        size = {}
        for k, d in enumerate(self.dims):
            if d in SLIDING:
                size[d] = (t[:, k] - 1) * lay.stride(d) + t[:, self.dims.index(SLIDING[d])]
            else:
                size[d] = t[:, k]
        from costmodel.layer import tensor_table

        total = np.zeros(len(g), dtype=np.int64)
        for tv in tensor_table(lay.type, "N" in lay.dims).tensors():
            vol = np.ones(len(g), dtype=np.int64)
            for d in tv:
                if d in size:
                    vol = vol * size[d]
            total += 2 * vol
        return total


def _line_values(hi: int) -> list[int]:
    """Tile values a line search tries in ``1..hi``: all up to 16, a x1.15 geometric grid
    above, and every divisor of ``hi``."""
    vals = set(range(1, min(hi, 16) + 1))
    x = 16.0
    while x < hi:
        x *= 1.15
        vals.add(min(hi, int(round(x))))
    vals.update(_divisors(hi).tolist())
    return sorted(vals)


@lru_cache(maxsize=65536)
def _divisors(n: int) -> np.ndarray:
    """The divisors of ``n`` in increasing order (cached: extents repeat)."""
    r = np.arange(1, n + 1)
    divs = r[n % r == 0]
    divs.setflags(write=False)  # shared by every caller through the cache
    return divs
