"""The space of MAESTRO dataflows for one layer, as batches of numeric genomes.

A genome describes up to ``max_levels`` cluster levels. Level ``l`` has a loop order over the
layer's dims (outermost first), one spatially mapped dim, a tile size per dim and, below the top,
a cluster size (units per unit of the level above). Tiles of ``Y``/``X`` count *output* rows and
columns (sliding windows and strides are handled when decoding); ``R``/``S`` are always mapped
whole (MAESTRO requires it of temporal maps on them). Tiles need not divide their dimension.

The space samples, repairs (projects onto its rules), decodes and bounds genomes. A
dataflow's *structure* is its sequence of directive kinds and dims (level count, loop orders,
spatial dims); genomes that share one differ only in sizes, and the evaluator sends every such
group to the batch cost model in one call. How a search varies genomes is in
:mod:`~search_spaces.variation`, how a finite space is listed in
:mod:`~search_spaces.enumeration`, and how Optuna draws a genome in
:mod:`~search_spaces.optuna_encoding`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np

from costmodel import Cluster, Dataflow, Hardware, Layer, SpatialMap, TemporalMap

from .genomes import Genomes

SLIDING = {"Y": "R", "X": "S"}


@dataclass
class MappingSpace:
    """All dataflows of ``layer`` on ``hardware`` with 1..``max_levels`` cluster levels.

    Restrictions (for templates and limited-flexibility accelerators): ``fixed_levels`` pins the
    level count; ``fixed_order[l]`` pins level ``l``'s loop order (dim names, outermost first);
    ``fixed_par[l]`` pins its spatial dim; ``par_choices`` limits the spatial dims;
    ``fixed_par2[l]`` pins a second spatial dim (``None``: none); ``second_spatial`` lets the
    search add one, and ``second_spatial_rate`` is the share of sampled levels that get one
    (default: none unless ``rs_spatial``, then 0.9 for depthwise layers and 0.15 otherwise);
    ``rs_spatial`` allows R/S as spatial dims at the innermost level (Eyeriss row-stationary:
    one filter row per PE);
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
        # the share of sampled levels with a second spatial dim; the field stays as given, so
        # that ``dataclasses.replace(space, rs_spatial=True)`` (the widened space) gets the
        # rate of R/S spatial. With R/S whole, a valid second SpatialMap either leaves its dim
        # in one tile or sits on a level of one unit: PE 0 works as with a TemporalMap there,
        # so random ones mostly cost evaluations (docs/decisions.md, "Second spatial dims");
        # with R/S spatial (row stationary), Y with R and X with S are pairs that split, and
        # a depthwise layer, with only C, Y and X to spread, uses them most
        self.second_rate: float = (
            self.second_spatial_rate if self.second_spatial_rate is not None
            else 0.0 if not self.rs_spatial else 0.9 if lay.type == "DSCONV" else 0.15)
        if self.fixed_levels:
            self.min_levels = self.max_levels = self.fixed_levels
        self.P = int(self.hardware.num_pes)

    @cached_property
    def _par_table(self) -> np.ndarray:
        """``[D]`` True for the dims allowed as the spatial dim (a lookup for repair)."""
        t = np.zeros(self.D, dtype=bool)
        t[self.par_idx] = True
        return t

    @cached_property
    def _par2_table(self) -> np.ndarray:
        """``[D]`` True for the dims allowed as a second spatial dim."""
        t = np.zeros(self.D, dtype=bool)
        t[self.par2_idx] = True
        return t

    @cached_property
    def filter_mask(self) -> np.ndarray:
        """``[D]`` True for the filter dims ``R`` and ``S`` (mapped whole except as a spatial
        dim of the innermost level)."""
        return np.array([d in ("R", "S") for d in self.dims])

    # ------------------------------------------------------------------ sampling
    def sample(self, rng: np.random.Generator, n: int, tiles_per_structure: int = 1) -> Genomes:
        """``n`` random genomes (repaired, so they satisfy every structural rule).

        With ``tiles_per_structure`` = k, blocks of k genomes share one random structure (levels,
        loop orders, spatial dims) and differ in tiles and cluster sizes: still uniform over
        structures, and k times cheaper to evaluate (one cost-model call per block).
        """
        if n == 0:
            return self.empty()
        g = self._sample(rng, n)
        if tiles_per_structure > 1:
            lead = (np.arange(n) // tiles_per_structure) * tiles_per_structure
            g.levels, g.order, g.par = g.levels[lead], g.order[lead], g.par[lead]
            g.par2 = g.par2[lead]
            # the structures are repaired ones (of the lead genomes): the sizes are not
            g = self.repair_clusters(self.repair_tiles(g))
        return g

    def _sample(self, rng: np.random.Generator, n: int) -> Genomes:
        """``n`` independent random genomes, half of them fitted to keep the PEs busy."""
        L, D = self.L, self.D
        levels = rng.integers(self.min_levels, self.max_levels + 1, n)
        order = np.argsort(rng.random((n, L, D)), axis=2)
        par = self.par_idx[rng.integers(0, len(self.par_idx), (n, L))]
        tiles = np.empty((n, L, D), dtype=np.int64)
        hi = np.broadcast_to(self.extent, (n, D)).copy()
        for lv in range(L):
            tiles[:, lv] = self.random_tiles(rng, hi)
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
            two = rng.random((n, L)) < self.second_rate
            par2 = np.where(two, self.par2_idx[rng.integers(0, len(self.par2_idx), (n, L))], -1)
        g = self.repair(Genomes(levels, order, par, tiles, clusters, par2))
        # half of the samples get utilisation-aware spatial tiles and cluster sizes
        return self.fit_spatial(g, rng, rng.random(n) < 0.5)

    def units(self, g: Genomes) -> np.ndarray:
        """``[G, L]`` sub-units per unit at each level (level 0: PEs // product of clusters)."""
        in_use = np.arange(self.L)[None, :] < g.levels[:, None]
        prod = _row_product(np.where(in_use, g.clusters, 1)[:, 1:])
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

    def compute_estimate(self, g: Genomes) -> np.ndarray:
        """``[G]`` the compute cycles of the slowest PE summed over the dataflow's steps, from
        the genome alone: per dim, the extents a PE works on summed over that dim's steps at
        every level (edge tiles included; a spatial dim costs its full tile per fold of its
        tiles over the units, and a level's two spatial dims share their folds, as MAESTRO
        hands unit ``i`` tile ``i`` of each), multiplied over the dims. It ignores data
        movement, so it is an estimate, not a bound; on a bandwidth-rich array it ranks
        candidates by latency far better than :meth:`busy_bound`, at no cost-model call.
        Infinite where the cost model will flag the mapping for uncovered tile pairs.
        ``g`` must be repaired (each level's first spatial dim one of the space's dims)."""
        n, L = len(g), self.L
        units = self.units(g)
        # per level, what does not depend on the parent extents: where the spatial dims are
        # in a row-major [n, D] array (a genome's first spatial dim is one of the space's
        # dims; its second another one, or none), the unit count and whether the level is
        # in use
        row_start = np.arange(n) * self.D
        first_at = [row_start + g.par[:, lv] for lv in range(L)]
        has2 = [(g.par2[:, lv] >= 0) & (g.par2[:, lv] != g.par[:, lv]) for lv in range(L)]
        second_at = [row_start + np.maximum(g.par2[:, lv], 0) for lv in range(L)]
        only_second_at = [second_at[lv][has2[lv]] for lv in range(L)]
        u = [np.maximum(units[:, lv], 1) for lv in range(L)]
        active = [(lv < g.levels)[:, None] for lv in range(L)]
        # two spatial dims that are not sliding partners, both split over 2+ units: the cost
        # model flags the mapping (analysis: uncovered tile pairs)
        pairable = [(lv < g.levels) & (g.par2[:, lv] >= 0) & (units[:, lv] >= 2)
                    & (self._partner[np.maximum(g.par[:, lv], 0)] != g.par2[:, lv])
                    for lv in range(L)]
        bad = np.zeros(n, dtype=bool)

        def steps(lv: int, p: np.ndarray) -> np.ndarray:
            """``[n, D]`` per dim, the extents a PE works on summed over the steps of levels
            ``lv`` and below, given the parent extents ``p`` (integers, exact)."""
            if lv == L:
                return p
            t = np.minimum(g.tiles[:, lv], p)
            full, rem = np.divmod(p, t)
            inner_t = steps(lv + 1, t)
            inner_r = steps(lv + 1, np.maximum(rem, 1))
            edge = rem > 0
            n_t = full + (rem != 0)  # tiles per dim: ceil(p / t)
            at = first_at[lv]
            n_first = n_t.take(at)
            n_second = np.where(has2[lv], n_t.take(second_at[lv]), 0)
            n_max = np.maximum(n_first, n_second)
            folds = -(-n_max // u[lv])
            # the first spatial dim: its tiles folded over the units (a lone edge tile in
            # the last fold costs its own size); the second shares those folds
            it_p = inner_t.take(at)
            edge_alone = edge.take(at) & ((n_first - 1) % u[lv] == 0) & (n_first == n_max)
            spatial = np.where(edge_alone, (folds - 1) * it_p + inner_r.take(at), folds * it_p)
            out = full * inner_t + edge * inner_r  # temporal dims: every tile in turn
            np.put(out, only_second_at[lv], inner_t.take(only_second_at[lv]))
            np.put(out, at, spatial)
            bad[:] |= pairable[lv] & (n_first >= 2) & (n_second >= 2)
            return np.where(active[lv], out, p)

        per_dim = steps(0, np.broadcast_to(self.extent, (n, self.D))).astype(float)
        # the product over the dims, in their order as ``prod(axis=1)`` forms it, a column
        # at a time (a reduction along the short axis is several times slower)
        est = per_dim[:, 0].copy()
        for k in range(1, self.D):
            est *= per_dim[:, k]
        return np.where(bad, np.inf, est)

    def pe0_bound(self, g: Genomes) -> np.ndarray:
        """``[G]`` PE 0's MAC count (:meth:`compute_estimate`) where the cost model counts it
        exactly (:func:`costmodel.busiest_pe.busiest_pe_macs`: one spatial dim per level, or
        a second one whose tile covers its parent tile), 0 elsewhere; a filter narrower than
        its stride counts in output rows/columns, as the genome's tiles do. No valid
        ``maestro`` runtime and no dense ``physical`` runtime is below it over the SIMD lanes
        (the busiest-PE check and floor), so it bounds latency from below much closer than
        :meth:`busy_bound` where edge tiles or uneven folds leave some PEs with more work."""
        n = len(g)
        rows = np.arange(n)
        one = np.ones(n, dtype=bool)
        for lv in range(self.L):
            p2 = g.par2[:, lv]
            q = np.maximum(p2, 0)
            parent = self.extent[q] if lv == 0 else g.tiles[rows, lv - 1, q]
            whole = g.tiles[rows, lv, q] >= parent  # the second spatial dim: one tile
            one &= (lv >= g.levels) | (p2 < 0) | (p2 == g.par[:, lv]) | whole
        out = np.zeros(n, dtype=np.int64)
        rows = np.flatnonzero(one)
        if len(rows):  # the estimate of the genomes counted (it works genome by genome)
            est = self.compute_estimate(g if len(rows) == n else g.take(rows))
            out[rows] = np.where(np.isfinite(est), est, 0).astype(np.int64)
        return out

    @cached_property
    def pe0_floor(self) -> int:
        """The fewest MACs PE 0 does in any mapping of the space whose count is exact
        (:meth:`pe0_bound`), 0 where some valid mapping is not counted (R/S allowed as
        spatial dims, so split). Along each dim PE 0 does at least ``ceil(extent / U)``,
        ``U`` the product of the unit counts of the levels that spread that dim (in every
        fold it gets a full tile or the fold's lone edge tile, at least the fold's mean), and
        the dims multiply; the least such product over every level count, spatial dim per
        level and cluster sizes whose unit counts multiply to at most the PEs. No valid
        ``maestro`` runtime and no dense ``physical`` runtime of the space is below it over
        the SIMD lanes, so a search that reaches it can stop."""
        if self.rs_spatial or self.L > 3:
            return 0
        ext, P, best = self.extent, self.P, None
        par = sorted(set(self.par_idx.tolist()))
        for n in range(1, self.L + 1):
            # unit counts per level for every choice of cluster sizes: [T, n]
            units = np.array([[P]], dtype=np.int64)
            if n >= 2:
                c = np.arange(1, P + 1, dtype=np.int64)
                if n == 2:
                    inner = c[:, None]
                else:
                    c1, c2 = np.meshgrid(c, c, indexing="ij")
                    ok = c1 * c2 <= P
                    inner = np.stack([c1[ok], c2[ok]], axis=1)
                units = np.concatenate([P // inner.prod(axis=1, keepdims=True), inner], axis=1)
            for dims in _assignments(par, n):
                work = np.ones(len(units), dtype=np.int64)
                for d, e in enumerate(ext.tolist()):
                    spread = np.ones(len(units), dtype=np.int64)
                    for lv, dd in enumerate(dims):
                        if dd == d:
                            spread *= units[:, lv]
                    work *= -(-e // spread)
                low = int(work.min())
                best = low if best is None else min(best, low)
        return best or 0

    @cached_property
    def _partner(self) -> np.ndarray:
        """``[D]`` the index of each dim's sliding partner (Y-R, X-S), -2 for none."""
        pairs = {"Y": "R", "R": "Y", "X": "S", "S": "X"}
        return np.array([self.dims.index(pairs[d]) if d in pairs and pairs[d] in self.dims
                         else -2 for d in self.dims], dtype=np.int64)

    def fit_spatial(self, g: Genomes, rng: np.random.Generator, mask: np.ndarray) -> Genomes:
        """Domain-aware move: for the genomes in ``mask``, make each level's cluster size a
        divisor of its spatial dim's extent (when one fits) and size each level's spatial tile
        so that its units cover the parent extent in 1-4 folds, i.e. keep the PEs busy.

        ``g`` must be repaired (repair leaves a repaired genome as it is): only the genomes
        in ``mask`` are changed and repaired, the others are copied as they are."""
        g = g.copy()
        rows = np.nonzero(mask)[0]
        if len(rows) == 0:
            return g
        s = g.take(rows)
        n = len(rows)
        at = np.arange(n)
        for lv in range(1, self.L):
            p = s.par[:, lv]
            ext = s.tiles[at, lv - 1, p]
            # a random divisor of the spatial extent (at most P), else keep the cluster size
            cand = np.floor(np.exp(rng.random(n) * np.log(np.minimum(ext, self.P) + 1)))
            cand = self.snap_divisor(np.maximum(cand.astype(np.int64), 1), ext)
            use = rng.random(n) < 0.7
            s.clusters[:, lv] = np.where(use, cand, s.clusters[:, lv])
        s = self.repair_clusters(s)  # only the cluster sizes changed
        N = self.units(s)
        for lv in range(self.L):
            p = s.par[:, lv]
            parent = self.extent[p] if lv == 0 else s.tiles[at, lv - 1, p]
            folds = rng.integers(1, 5, n)
            t = -(-parent // np.maximum(N[:, lv] * folds, 1))
            s.tiles[at, lv, p] = _clip(t, 1, parent)
        g.put(rows, self.repair_tiles(s))  # only the tiles changed
        return g

    def random_tiles(self, rng: np.random.Generator, hi: np.ndarray,
                     wanted: np.ndarray | None = None) -> np.ndarray:
        """Log-uniform integers in [1, hi], half of them snapped to a divisor-friendly value.
        ``wanted`` (a mask like ``hi``): the entries the caller uses; the others are drawn
        alike (the same random numbers) but not snapped, which saves the work."""
        u = rng.random(hi.shape)
        t = np.floor(np.exp(u * np.log(hi + 1))).astype(np.int64)
        t = _clip(t, 1, hi)
        if self.tile_divisors:
            if wanted is None:
                return self.snap_divisor(t, hi)
            snap = wanted
        else:
            snap = rng.random(hi.shape) < 0.5
            if wanted is not None:
                snap &= wanted
        t[snap] = self.snap_divisor(t[snap], hi[snap])
        return t

    @staticmethod
    def snap_divisor(t: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """Largest divisor of ``hi`` that is <= ``t`` (elementwise; >= 1)."""
        t = np.maximum(np.asarray(t, dtype=np.int64), 1)
        hi = np.maximum(np.broadcast_to(np.asarray(hi, dtype=np.int64), t.shape), 1)
        # a divisor of hi is at most hi: capped, each value stays inside its own table
        want, hi = np.minimum(t, hi).ravel(), hi.ravel()
        large = hi > FLOOR_TABLE_MAX
        if not large.any():
            return _floor_by_table(want, hi).reshape(t.shape)
        out = np.empty_like(want)
        rows = np.flatnonzero(~large)
        out[rows] = _floor_by_table(want[rows], hi[rows])
        rows = np.flatnonzero(large)
        out[rows] = _floor_by_search(want[rows], hi[rows])
        return out.reshape(t.shape)

    def empty(self) -> Genomes:
        """A batch of zero genomes."""
        L, D = self.L, self.D
        z = np.zeros
        return Genomes(z(0, np.int64), z((0, L, D), np.int64), z((0, L), np.int64),
                       z((0, L, D), np.int64), z((0, L), np.int64), z((0, L), np.int64))

    # ------------------------------------------------------------------ repair
    @cached_property
    def _par_ok(self) -> np.ndarray:
        """``[D + 2]`` True for the allowed spatial dims, indexed by ``clip(par, -1, D) + 1``
        (so that codes outside ``0..D-1`` land on a False end)."""
        return np.concatenate([[False], self._par_table, [False]])

    @cached_property
    def _par2_codes(self) -> tuple[np.ndarray, np.ndarray | None]:
        """``([D + 3], [D + 3])`` lookups indexed by ``clip(par2, -2, D) + 2``: whether the
        code is no valid second spatial dim (neither -1 nor an allowed dim), and whether it
        is an allowed filter dim (allowed at the innermost level only; None when the space
        allows none)."""
        invalid = np.concatenate([[True, False], ~self._par2_table, [True]])
        rs = np.concatenate([[False, False], self.filter_mask & self._par2_table, [False]])
        return invalid, rs if rs.any() else None

    def repair(self, g: Genomes) -> Genomes:
        """Project genomes onto the space: bounds, nesting of tiles, PE budget, fixed axes.
        Repairs ``g`` in place (some fields get new arrays) and returns it.

        Three independent parts, each a projection that leaves a repaired genome as it is:
        the structure (level count, loop orders, spatial dims: these genes alone), the tiles
        (given the second spatial dims) and the cluster sizes (given the level count). A
        genome that is repaired but for its tiles or cluster sizes needs only
        :meth:`repair_tiles` or :meth:`repair_clusters` (the same genome, for less work)."""
        self._repair_structure(g)
        self.repair_tiles(g)
        self.repair_clusters(g)
        return g

    def _repair_structure(self, g: Genomes) -> None:
        """The structure part of :meth:`repair`: level count, fixed loop orders, spatial
        dims (fixed, allowed, a second one valid at its level), in place."""
        L, D = self.L, self.D
        g.levels = _clip(g.levels, self.min_levels, self.max_levels)
        for lv, names in self.fixed_order.items():
            if lv < L:
                g.order[:, lv] = [self.dims.index(d) for d in names]
        for lv, d in self.fixed_par.items():
            if lv < L:
                g.par[:, lv] = self.dims.index(d)
        bad_par = ~self._par_ok[_clip(g.par, -1, D) + 1]
        if bad_par.any():
            g.par = np.where(bad_par, self.par_idx[0], g.par)
        for lv, d in self.fixed_par2.items():
            if lv < L:
                g.par2[:, lv] = -1 if d is None else self.dims.index(d)
        if not self.second_spatial:
            fixed = np.array([lv in self.fixed_par2 for lv in range(L)])
            g.par2 = np.where(fixed[None, :], g.par2, -1)
        # no second spatial dim equal to the first, outside the allowed ones, or on a filter
        # dim above the innermost level
        invalid, rs = self._par2_codes
        code = _clip(g.par2, -2, D) + 2
        drop = invalid[code] | (g.par2 == g.par)
        if rs is not None:
            drop |= rs[code] & (np.arange(L)[None, :] != (g.levels[:, None] - 1))
        g.par2 = np.where(drop, -1, g.par2)

    def repair_tiles(self, g: Genomes) -> Genomes:
        """The tiles part of :meth:`repair` (fixed tiles, each tile nested in its parent),
        in place; ``g`` is returned. Enough for genomes whose other genes are repaired."""
        L = self.L
        for (lv, d), v in self.fixed_tiles.items():
            if lv < L:
                g.tiles[:, lv, self.dims.index(d)] = v
        if self.tile_divisors:
            self._nest_divisor_tiles(g)
        else:
            self._nest_tiles(g)
            if self.rs_spatial and self._pair_window_tiles(g):
                self._nest_tiles(g)  # the levels below a raised tile nest in it again
        return g

    def _pair_window_tiles(self, g: Genomes) -> bool:
        """Where the innermost level spreads Y with R (or X with S) and splits the filter,
        in place: the Y tile takes its parent's output rows and the filter tile ``rows x
        stride`` filter rows (at most all). Unit ``i`` then holds the input rows and filter
        rows that start at the same offset, the only split the cost model accepts
        (:func:`costmodel.levels.uncovered_pairs`): any other tiles put input and filter rows
        that meet in no output on one unit. At a stride above 1 MAESTRO's stride rewrite
        still moves the input rows of a tile that holds a whole filter window (two output
        rows or more here), and the cost model flags those. True where some tile changed."""
        rows = np.arange(len(g))
        changed = False
        inner = np.maximum(g.levels - 1, 0)
        par, par2 = g.par[rows, inner], g.par2[rows, inner]
        for ref, fil in SLIDING.items():
            if ref not in self.dims or fil not in self.dims:
                continue
            y, r = self.dims.index(ref), self.dims.index(fil)
            t = g.tiles
            pick = (par == y) & (par2 == r) & (t[rows, inner, r] < self.extent[r])
            if not pick.any():
                continue
            at, lv = rows[pick], inner[pick]
            parent = np.where(lv > 0, t[at, np.maximum(lv - 1, 0), y], self.extent[y])
            t[at, lv, y] = parent
            t[at, lv, r] = np.minimum(parent * self.layer.stride(ref), self.extent[r])
            changed = True
        return changed

    def repair_clusters(self, g: Genomes) -> Genomes:
        """The cluster-size part of :meth:`repair` (fixed sizes, at most the PE array in
        all), in place; ``g`` is returned. Enough for genomes whose other genes are
        repaired."""
        L = self.L
        g.clusters[:, 0] = 1
        for lv, c in self.fixed_clusters.items():
            if 0 < lv < L:
                g.clusters[:, lv] = c
        g.clusters = _clip(g.clusters, 1, self.P)
        # the clusters in use must fit in the PE array: shrink the innermost ones first
        in_use = np.arange(L)[None, :] < g.levels[:, None]
        for lv in range(L - 1, 0, -1):
            prod = _row_product(np.where(in_use, g.clusters, 1))
            over = prod > self.P
            if not over.any():
                break
            others = prod // g.clusters[:, lv]
            g.clusters[:, lv] = np.where(over & (lv < g.levels),
                                         np.maximum(1, self.P // np.maximum(others, 1)),
                                         g.clusters[:, lv])
        return g

    def _nest_tiles(self, g: Genomes) -> None:
        """Clip ``g.tiles`` in place to ``1..parent tile`` at every level (the top level's
        parent is the extent), with R/S mapped whole except as the level's second spatial
        dim. A tile clipped to its parent is the running minimum over the levels above of
        the tiles clipped to ``1..extent`` (a whole array at once: the extent bounds every
        level's tile anyway); a filter tile mapped whole is set to its extent first, which
        the running minimum turns into its parent's tile."""
        t = g.tiles
        np.maximum(t, 1, out=t)
        np.minimum(t, self._level_extents, out=t)
        for k in self._filter_dims:
            np.copyto(t[:, :, k], self.extent[k], where=g.par2 != k)
        for lv in range(1, self.L):
            np.minimum(t[:, lv], t[:, lv - 1], out=t[:, lv])

    @cached_property
    def _level_extents(self) -> np.ndarray:
        """``[L, D]`` the extents at every level (bounds of every tile, for repair)."""
        return np.broadcast_to(self.extent, (self.L, self.D)).copy()

    @cached_property
    def _filter_dims(self) -> list[int]:
        """The indices of the filter dims (:attr:`filter_mask`)."""
        return np.flatnonzero(self.filter_mask).tolist()

    def _nest_divisor_tiles(self, g: Genomes) -> None:
        """:meth:`_nest_tiles` for ``tile_divisors``: each tile also snapped to a divisor of
        its parent tile, level by level."""
        D = self.D
        hi = np.broadcast_to(self.extent, (len(g), D))
        for lv in range(self.L):
            t = self.snap_divisor(_clip(g.tiles[:, lv], 1, hi), hi)
            # R/S are mapped whole, except as a spatial dim of the innermost level
            spatial = (np.arange(D)[None, :] == g.par2[:, lv:lv + 1]) & self.filter_mask[None, :]
            t = np.where(self.filter_mask[None, :] & ~spatial, hi, t)
            g.tiles[:, lv] = t
            hi = t

    # ------------------------------------------------------------------ decoding
    def structure_keys(self, g: Genomes) -> np.ndarray:
        """A bytes key per genome: genomes with equal keys share a dataflow structure (the
        level count, then loop orders, spatial dims and second spatial dims of the levels
        in use as int8, 0 or -1 for the others)."""
        G, (L, D) = len(g), g.order.shape[1:]
        in_use = np.arange(L)[None, :] < g.levels[:, None]
        flat = np.zeros((G, 1 + L * D + 2 * L), dtype=np.int8)
        flat[:, 0] = g.levels
        np.copyto(flat[:, 1:1 + L * D].reshape(G, L, D), g.order, where=in_use[:, :, None],
                  casting="unsafe")
        np.copyto(flat[:, 1 + L * D:1 + L * D + L], g.par, where=in_use, casting="unsafe")
        par2 = flat[:, 1 + L * D + L:]
        par2.fill(-1)
        np.copyto(par2, g.par2, where=in_use, casting="unsafe")
        return flat.view(np.dtype((np.void, flat.shape[1]))).ravel()

    def class_keys(self, g: Genomes) -> np.ndarray:
        """A coarse key per genome: level count and spatial dims (loop orders ignored; -1
        for the levels not in use)."""
        G, L = g.par.shape
        in_use = np.arange(L)[None, :] < g.levels[:, None]
        flat = np.full((G, 1 + 2 * L), -1, dtype=np.int8)
        flat[:, 0] = g.levels
        np.copyto(flat[:, 1:1 + L], g.par, where=in_use, casting="unsafe")
        np.copyto(flat[:, 1 + L:], g.par2, where=in_use, casting="unsafe")
        return flat.view(np.dtype((np.void, flat.shape[1]))).ravel()

    def structure_of(self, g: Genomes, i: int) -> tuple[tuple[str, str], ...]:
        """The dataflow structure of genome ``i`` (same for every genome with the same key)."""
        out = []
        for lv in range(int(g.levels[i])):
            if lv > 0:
                out.append(("C", ""))
            for di in g.order[i, lv]:
                spatial = di in (g.par[i, lv], g.par2[i, lv])
                out.append(("S" if spatial else "T", self.dims[di]))
        return tuple(out)

    def sizes_offsets(self, g: Genomes, idx: np.ndarray,
                      structure) -> tuple[np.ndarray, np.ndarray]:
        """``[n, len(structure)]`` sizes and offsets of genomes ``idx`` that share ``structure``."""
        lay = self.layer
        n = len(idx)
        sizes = np.empty((n, len(structure)), dtype=np.int64)
        offs = np.empty_like(sizes)
        lv = 0
        full = lay.full_dims()
        for col, (kind, dim) in enumerate(structure):
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
        structure = self.structure_of(g, i)
        sizes, offs = self.sizes_offsets(g, np.array([i]), structure)
        out = []
        for (kind, dim), m, o in zip(structure, sizes[0], offs[0]):
            if kind == "C":
                out.append(Cluster(int(m), "P"))
            elif kind == "S":
                out.append(SpatialMap(int(m), int(o), dim))
            else:
                out.append(TemporalMap(int(m), int(o), dim))
        return Dataflow(out)

    def encode(self, dataflow: Dataflow) -> Genomes | None:
        """The genome of a MAESTRO ``dataflow`` (one genome), or None where the genome cannot
        express it: more levels than the space, a filter dim split by a TemporalMap, a Y/X
        map whose offset is not its output rows times the stride, or more than two
        SpatialMaps in a level. Dims a level does not name take their parent's tile, as
        MAESTRO unrolls them. Lets a search start from, or score bounds of, a user's or
        another tool's mapping."""
        levels: list[list] = [[]]
        clusters = [1]
        for d in dataflow.directives:
            if d.kind == "C":
                levels.append([])
                clusters.append(int(d.size))
            else:
                levels[-1].append(d)
        L, D, lay = self.L, self.D, self.layer
        if len(levels) > L:
            return None
        full = lay.full_dims()
        tiles = np.zeros((1, L, D), dtype=np.int64)
        order = np.tile(np.arange(D), (1, L, 1))
        par = np.zeros((1, L), dtype=np.int64)
        par2 = np.full((1, L), -1, dtype=np.int64)
        parent = self.extent.copy()
        for lv, dl in enumerate(levels):
            t = parent.copy()
            named, spatial = [], []
            for d in dl:
                out = d.dim.endswith("'")
                dim = d.dim.rstrip("'")
                if dim not in self.dims or dim in named:
                    return None
                k = self.dims.index(dim)
                if dim in SLIDING:
                    s, r = lay.stride(dim), full[SLIDING[dim]]
                    q = d.size if out else (d.size - r) // s + 1
                    if not out and (q < 1 or d.offset != q * s or d.size != (q - 1) * s + r):
                        return None
                    t[k] = min(q, parent[k])
                elif dim in ("R", "S") and (d.kind == "T" or lv < len(levels) - 1):
                    if d.size != full[dim]:
                        return None
                else:
                    t[k] = min(d.size, parent[k])
                named.append(dim)
                if d.kind == "S":
                    spatial.append(k)
            if not 1 <= len(spatial) <= 2:
                return None
            idx = [self.dims.index(x) for x in named]
            order[0, lv] = idx + [k for k in range(D) if k not in idx]
            par[0, lv] = spatial[0]
            par2[0, lv] = spatial[1] if len(spatial) == 2 else -1
            tiles[0, lv] = t
            parent = t
        for lv in range(len(levels), L):
            tiles[0, lv] = parent
            par[0, lv] = par[0, len(levels) - 1]
        cl = np.ones((1, L), dtype=np.int64)
        cl[0, :len(clusters)] = clusters
        return Genomes(np.array([len(levels)]), order, par, tiles, cl, par2)

    # ------------------------------------------------------------------ bounds
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
        return self._double_buffered(g.tiles[np.arange(len(g)), g.levels - 1])

    def fits_buffers(self, g: Genomes) -> np.ndarray:
        """``[G]`` whether the innermost tiles fit the L1 (:meth:`l1_requirement`, exact)
        and the top level's first step the L2 (:meth:`l2_requirement`, an estimate that
        agrees with the cost model's verdict on nearly every mapping): what a search ranks
        by before it spends a cost-model call."""
        hw = self.hardware
        return (self.l1_requirement(g) <= hw.l1_size) & (self.l2_requirement(g) <= hw.l2_size)

    def l2_requirement(self, g: Genomes) -> np.ndarray:
        """``[G]`` an estimate of the L2 size the cost model reports: twice the data the top
        level's first step loads, as MAESTRO counts it (spec §5.2: its first case, a full
        load of every unit's mapped tile). A tensor spread over the top level's units is
        counted once per active unit, so the input rows of a sliding window split over units
        count in every unit's window, overlaps included; a tensor the units share is counted
        once. Exact for most mappings; off where MAESTRO's edge rules give a unit a
        different tile."""
        rows = np.arange(len(g))
        t = np.minimum(g.tiles[:, 0], self.extent)  # [n, D], a new array
        u0 = self.units(g)[:, 0]
        active = np.ones_like(t)  # units with a tile of the dim in the first fold
        for par in (g.par[:, 0], g.par2[:, 0]):
            p = np.maximum(par, 0)
            tp = t[rows, p]
            n = np.minimum(-(-self.extent[p] // tp), u0)
            active[rows, p] = np.where(par >= 0, np.maximum(n, 1), active[rows, p])
        return self._double_buffered(t, active)

    def _double_buffered(self, t: np.ndarray, units: np.ndarray | None = None) -> np.ndarray:
        """``[n]`` twice the summed volumes of the layer's tensors for ``[n, D]`` tile
        extents ``t`` (output rows for a sliding dim: its input rows follow from the stride
        and the filter tile), as MAESTRO sizes its buffers. Without ``units``, one unit's
        tiles (the L1; MAESTRO sizes the output tile in input rows there too); with them,
        each dim's tile taken ``units`` times (the last one cut at the dim's extent) in the
        tensors that dim indexes, and the output in output rows, which MAESTRO counts
        without the stride (the L2)."""
        lay = self.layer
        inputs, outputs = {}, {}  # per dim: the extent in input and output tensors
        for k, d in enumerate(self.dims):
            q = t[:, k]
            if units is None:
                u, last = 1, q
            else:
                u = units[:, k]
                last = np.minimum(q, self.extent[k] - (u - 1) * q)  # the last unit's tile
            if d in SLIDING:
                s, r = lay.stride(d), t[:, self.dims.index(SLIDING[d])]
                if lay.dims.get(SLIDING[d], 1) < s:
                    # MAESTRO's stride rewrite keeps only the rows a filter narrower than
                    # its stride reads: r per output
                    s = r
                inputs[d] = (u - 1) * ((q - 1) * s + r) + (last - 1) * s + r
                # output rows without the stride: from the first input row of the first
                # window to the first of the last, plus one
                outputs[d] = inputs[d] if units is None else ((u - 1) * q + last - 1) * s + 1
            else:
                inputs[d] = outputs[d] = (u - 1) * q + last
        from costmodel.layer import tensor_table

        table = tensor_table(lay.type, "N" in lay.dims)
        total = np.zeros(len(t), dtype=np.int64)
        for tv, size in ((table.input, inputs), (table.filter, inputs), (table.output, outputs)):
            vol = np.ones(len(t), dtype=np.int64)
            for d in tv:
                if d in size:
                    vol = vol * size[d]
            total += 2 * vol
        return total


@lru_cache(maxsize=65536)
def divisors(n: int) -> np.ndarray:
    """The divisors of ``n`` in increasing order (cached: extents repeat)."""
    r = np.arange(1, n + 1)
    divs = r[n % r == 0]
    divs.setflags(write=False)  # shared by every caller through the cache
    return divs


# the largest extent whose divisor_floor table is kept (32 KiB); larger ones are searched
FLOOR_TABLE_MAX = 4096


@lru_cache(maxsize=1024)
def divisor_floor(n: int) -> np.ndarray:
    """``[n + 1]`` the largest divisor of ``n`` that is <= ``v``, at each ``v`` in ``1..n``
    (0 at ``v`` = 0; cached: extents repeat)."""
    divs = divisors(n)
    table = np.zeros(n + 1, dtype=np.int64)
    table[divs] = divs
    np.maximum.accumulate(table, out=table)
    table.setflags(write=False)  # shared by every caller through the cache
    return table


# the largest extent below which every divisor_floor table is kept laid end to end (4 MiB)
ALL_FLOORS_MAX = 1024


_floors_top = 0  # the largest top _all_floors was asked for (a power of two)


def _floors_covering(top: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_all_floors` of at least ``1..top``: of the largest power of two asked for so
    far, so that the tables are built again at most once per doubling (and kept once)."""
    global _floors_top
    _floors_top = max(_floors_top, 1 << (top - 1).bit_length())
    return _all_floors(_floors_top)


@lru_cache(maxsize=1)
def _all_floors(top: int) -> tuple[np.ndarray, np.ndarray]:
    """``(start, tables)``: the :func:`divisor_floor` tables of every extent ``1..top`` laid
    end to end, that of ``h`` from ``start[h]``."""
    h = np.arange(top + 1, dtype=np.int64)
    start = (h - 1) * (h + 2) // 2  # entries of the tables of 1..h-1 (h + 1 each)
    start[0] = 0
    tables = np.zeros(int(start[-1]) + top + 1, dtype=np.int64)
    for k in range(1, top + 1):
        divs = divisors(k)
        tables[start[k] + divs] = divs
    # a running maximum within each table: tables are increasing from 0, so one running
    # maximum would carry a table's last value into the next; offset each table above the
    # previous one's values first
    shift = np.repeat(np.arange(top, dtype=np.int64) * (top + 1), np.arange(2, top + 2))
    np.maximum.accumulate(tables + shift, out=tables)
    tables -= shift
    start.setflags(write=False)
    tables.setflags(write=False)
    return start, tables


def _floor_by_table(want: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``[n]`` the largest divisor of ``hi`` that is <= ``want`` (``1 <= want <= hi <=``
    :data:`FLOOR_TABLE_MAX`): a gather from :func:`divisor_floor` tables laid end to end,
    those of every extent up to :data:`ALL_FLOORS_MAX` (:func:`_all_floors`) for the ``hi``
    up to it, those of the distinct larger ``hi`` for the others."""
    if not len(hi):
        return np.zeros(0, dtype=np.int64)
    if int(hi.max()) <= ALL_FLOORS_MAX:
        start, tables = _floors_covering(int(hi.max()))
        return tables[start[hi] + want]
    small = np.flatnonzero(hi <= ALL_FLOORS_MAX)
    if not len(small):
        return _floor_by_distinct(want, hi)
    out = np.empty_like(want)
    start, tables = _floors_covering(int(hi[small].max()))
    out[small] = tables[start[hi[small]] + want[small]]
    large = np.flatnonzero(hi > ALL_FLOORS_MAX)
    out[large] = _floor_by_distinct(want[large], hi[large])
    return out


def _floor_by_distinct(want: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """:func:`_floor_by_table` by one gather from the tables of the distinct ``hi`` alone,
    laid end to end."""
    present = np.flatnonzero(np.bincount(hi))  # the distinct hi, increasing
    start = np.zeros(present[-1] + 1, dtype=np.int64)
    start[present[1:]] = np.cumsum(present[:-1] + 1)
    tables = np.concatenate([divisor_floor(h) for h in present.tolist()])
    return tables[start[hi] + want]


def _floor_by_search(want: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """:func:`_floor_by_table` for any ``hi``: a search in the divisors of each distinct
    ``hi`` (no table of ``hi`` entries)."""
    out = np.empty_like(want)
    uniq, inv = np.unique(hi, return_inverse=True)
    order = np.argsort(inv, kind="stable")
    bounds = np.searchsorted(inv[order], np.arange(len(uniq) + 1))
    for j, h in enumerate(uniq.tolist()):  # one lookup per distinct extent
        rows = order[bounds[j]:bounds[j + 1]]
        divs = divisors(h)
        out[rows] = divs[np.searchsorted(divs, want[rows], side="right") - 1]
    return out


def _clip(a: np.ndarray, lo, hi) -> np.ndarray:
    """``np.clip(a, lo, hi)`` (the same values and dtype: ``minimum(maximum(a, lo), hi)``)
    without the argument handling of ``np.clip``, which costs several microseconds a call:
    repair clips small arrays thousands of times per search."""
    return np.minimum(np.maximum(a, lo), hi)


def _row_product(a: np.ndarray) -> np.ndarray:
    """``a.prod(axis=1)`` of a ``[n, k]`` array of integer genes with few columns, as int64,
    one column at a time (a reduction along a short axis is several times slower)."""
    out = np.ones(len(a), dtype=np.int64)
    for j in range(a.shape[1]):
        out *= a[:, j]
    return out


def _assignments(dims: list[int], n: int) -> list[tuple[int, ...]]:
    """Every choice of one of ``dims`` per level for ``n`` levels."""
    out: list[tuple[int, ...]] = [()]
    for _ in range(n):
        out = [a + (d,) for a in out for d in dims]
    return out
