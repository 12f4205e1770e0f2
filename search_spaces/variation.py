"""The genetic algorithm's variation operators on a :class:`MappingSpace`'s genomes.

Mutation, crossover, a structural move that splits a level in two, and the neighbourhood a
hill climber searches. Each takes the space (for its bounds and rules) and returns repaired
genomes; those that draw random numbers take the generator explicitly, and the order of the
draws is part of their behaviour (a search at a seed must reproduce).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from .genomes import _FIELDS, Genomes
from .mapping_space import MappingSpace, divisors

# a line search also tries the tiles holding 1..FOLD_MULTIPLES whole folds of the level below
FOLD_MULTIPLES = 8


def mutate(space: MappingSpace, rng: np.random.Generator, g: Genomes, rate: float = 0.3,
           structural: bool = True, repaired: bool = False) -> Genomes:
    """Domain-aware mutation: tile steps, re-drawn tiles, spatial-dim change, loop swaps,
    cluster resizing and adding/removing a level (the last three only if ``structural``).
    ``repaired``: ``g`` is repaired, so that a mutation of tiles alone (not ``structural``)
    needs only the tiles repaired again (the same genomes, for less work)."""
    g = g.copy()
    n, L, D = len(g), space.L, space.D
    # tile: multiply/divide by 2 or re-draw, at one random (level, dim) per genome
    lv = rng.integers(0, L, n)
    di = rng.integers(0, D, n)
    hit = rng.random(n) < max(rate, 0.5)
    cur = g.tiles[np.arange(n), lv, di]
    parent = np.where(lv == 0, space.extent[di],
                      g.tiles[np.arange(n), np.maximum(lv - 1, 0), di])
    kind = rng.integers(0, 3, n)
    redraw = space.random_tiles(rng, parent, wanted=hit & (kind == 2))
    new = np.where(kind == 0, cur * 2, np.where(kind == 1, np.maximum(cur // 2, 1), redraw))
    new = np.where(rng.random(n) < 0.2, cur + rng.choice([-1, 1], n), new)
    g.tiles[np.arange(n), lv, di] = np.where(hit, new, cur)
    if structural:
        # spatial dim
        m = rng.random((n, L)) < rate / 2
        g.par = np.where(m, space.par_idx[rng.integers(0, len(space.par_idx), (n, L))], g.par)
        if space.second_spatial:
            m = rng.random((n, L)) < rate / 4
            new2 = np.where(rng.random((n, L)) < 0.5, -1,
                            space.par2_idx[rng.integers(0, len(space.par2_idx), (n, L))])
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
        if space.max_levels > space.min_levels:
            m = rng.random(n) < rate / 3
            g.levels = np.where(m, g.levels + rng.choice([-1, 1], n), g.levels)
    return space.repair(g) if structural or not repaired else space.repair_tiles(g)


def crossover(space: MappingSpace, rng: np.random.Generator, a: Genomes, b: Genomes) -> Genomes:
    """GAMMA-style crossover: each dim's tiles (all levels) come from one parent; the loop
    orders, spatial dims, cluster sizes and level count from a randomly chosen parent."""
    n, D = len(a), space.D
    pick = rng.random((n, 1, D)) < 0.5
    tiles = np.where(pick, a.tiles, b.tiles)
    sw = rng.random(n) < 0.5
    genes = {}
    for name in ("levels", "order", "par", "par2", "clusters"):
        av, bv = getattr(a, name), getattr(b, name)
        genes[name] = np.where(sw.reshape((n,) + (1,) * (av.ndim - 1)), bv, av)
    return space.repair(Genomes(tiles=tiles, **genes))


def crossover_tiles(space: MappingSpace, rng: np.random.Generator, a: Genomes,
                    b: Genomes, repaired: bool = False) -> Genomes:
    """Children with ``a``'s structure; each dim's tiles (all levels) and each cluster size
    come from ``a`` or ``b`` at random. ``repaired``: ``a`` is repaired, so that only the
    children's tiles and cluster sizes need repair (the same genomes, for less work)."""
    n, D = len(a), space.D
    pick = rng.random((n, 1, D)) < 0.5
    tiles = np.where(pick, a.tiles, b.tiles)
    pc = rng.random(a.clusters.shape) < 0.5
    clusters = np.where(pc, a.clusters, b.clusters)
    kids = Genomes(a.levels.copy(), a.order.copy(), a.par.copy(), tiles, clusters, a.par2.copy())
    return space.repair_clusters(space.repair_tiles(kids)) if repaired else space.repair(kids)


def with_structure_of(space: MappingSpace, g: Genomes, src: Genomes) -> Genomes:
    """Copies of ``g`` that take levels, loop orders and spatial dims from ``src``."""
    return space.repair(Genomes(src.levels.copy(), src.order.copy(), src.par.copy(),
                                g.tiles.copy(), g.clusters.copy(), src.par2.copy()))


def split_level(space: MappingSpace, rng: np.random.Generator, g: Genomes,
                above: np.ndarray | None = None, dim: np.ndarray | None = None,
                own_share: float = 0.5) -> Genomes:
    """Domain-aware structural move: the genomes of ``g`` that have room for one more
    cluster level, each with a new level that spreads a spatial dim ``dim`` (random if
    not given) over clusters: a new top level (``above``; the old levels move down
    unchanged) or a new innermost level inside each unit of the old innermost one (whose
    tile of ``dim`` then grows, so there is something to spread). Cluster sizes and
    spatial tiles are then fitted to keep the PEs busy (:meth:`MappingSpace.fit_spatial`; for
    half of the new top levels (``own_share``), from the new level's own dim instead,
    :func:`_fit_new_top`); the other tiles and the loop orders are the parent's, so a child
    starts near its parent's quality. This is how a one-level mapping whose spatial dim is
    too small for the array becomes a two-level one without passing through random genes."""
    c = g.take(np.nonzero(g.levels < space.max_levels)[0])
    n = len(c)
    if n == 0:
        return space.empty()
    above = rng.random(n) < 0.5 if above is None else np.broadcast_to(above, n)[: n]
    dim = (space.par_idx[rng.integers(0, len(space.par_idx), n)] if dim is None
           else np.broadcast_to(dim, n)[: n])
    a = np.nonzero(above)[0]
    for name in ("order", "par", "par2", "tiles", "clusters"):
        arr = getattr(c, name)
        arr[a, 1:] = arr[a, :-1].copy()
    c.par[a, 0], c.par2[a, 0] = dim[a], -1
    c.tiles[a, 0] = space.extent
    b = np.nonzero(~above)[0]
    lv = c.levels[b]
    c.order[b, lv], c.par[b, lv], c.par2[b, lv] = c.order[b, lv - 1], dim[b], -1
    hi = np.where(lv - 1 == 0, space.extent[dim[b]],
                  c.tiles[b, np.maximum(lv - 2, 0), dim[b]])
    cur = c.tiles[b, lv - 1, dim[b]]
    whole = rng.random(len(b)) < 0.5
    grow = np.where(whole, hi, cur + (rng.random(len(b)) * (hi - cur)))
    c.tiles[b, lv - 1, dim[b]] = np.maximum(cur, grow.astype(np.int64))
    # mapped whole at the parent level, the dim is half the time a second spatial map
    # there rather than a temporal one: the same data, but MAESTRO's analysis of the
    # parent's edge tiles differs between the two, and either may be the valid one
    two = whole & (rng.random(len(b)) < 0.5) & space.second_spatial
    c.par2[b[two], lv[two] - 1] = dim[b][two]
    c.tiles[b, lv] = c.tiles[b, lv - 1]
    c.levels = c.levels + 1
    # a cluster of one would not split anything; fit_spatial mostly re-draws it
    start = np.maximum(2, np.exp(rng.random(n) * np.log(max(space.P // 2, 2)))).astype(np.int64)
    new_lv = np.where(above, 1, c.levels - 1)
    c.clusters[np.arange(n), new_lv] = start
    # half of the new top levels are sized from their own dim: as many clusters as cover
    # its extent in 1-4 folds, and the moved-down level's spatial dim only as large at the
    # top as the clusters cover in 1-4 folds (kept whole, a large dim can overflow the L2)
    own = np.zeros(n, dtype=bool)
    own[a] = rng.random(len(a)) < own_share
    own &= space.extent[dim] > 1
    c = space.fit_spatial(space.repair(c), rng, ~own)
    rows = np.arange(n)
    if own.any():
        c = _fit_new_top(space, rng, c, np.nonzero(own)[0], dim)
    # where fitting drew a cluster of one (a divisor of the extent), keep the start size
    one = (c.clusters[rows, new_lv] == 1) & ~own
    c.clusters[rows[one], new_lv[one]] = start[one]
    return space.repair_clusters(c)  # c was repaired but for these cluster sizes


def _fit_new_top(space: MappingSpace, rng: np.random.Generator, c: Genomes, r: np.ndarray,
                 dim: np.ndarray) -> Genomes:
    """Size the new top level of rows ``r`` (spreading ``dim``) from that dim: about
    ``extent / folds`` clusters, each unit's tile covering its share in one fold, and the
    level below's spatial dim cut at the top to 1-4 folds of what the clusters cover.
    ``c`` is repaired."""
    d = dim[r]
    ext = space.extent[d]
    levels = c.levels[r]
    deeper = np.where(np.arange(space.L)[None, :] < levels[:, None], c.clusters[r], 1)
    room = space.P // np.maximum(deeper[:, 2:].prod(axis=1), 1)  # PEs per top unit x units
    # clusters of at least two PEs, or the new level would split nothing
    units = np.clip(-(-ext // rng.integers(1, 5, len(r))), 1, np.maximum(room // 2, 1))
    c.clusters[r, 1] = np.maximum(1, room // units)
    c = space.repair_clusters(c)  # c is repaired but for these cluster sizes
    n0 = space.units(c)[r, 0]
    c.tiles[r, 0, d] = np.clip(-(-ext // np.maximum(n0, 1)), 1, ext)
    k = c.par[r, 1]
    cover = c.clusters[r, 1] * c.tiles[r, 1, k] * rng.integers(1, 5, len(r))
    cut = k != d
    c.tiles[r[cut], 0, k[cut]] = np.minimum(space.extent[k[cut]], cover[cut])
    return space.repair_tiles(c)  # ... and now but for these tiles


def neighbours(space: MappingSpace, g: Genomes, i: int) -> Genomes:
    """The neighbourhood of genome ``i`` that keeps its structure, for hill climbing.

    A line search along every free tile (each value up to 16, a x1.15 grid above, every
    divisor of the parent tile, and x2, /2, +1, -1), along the top tile of each dim with
    the lower levels' tiles rescaled in proportion, and along every cluster size, once as
    is and once with every level's spatial tile refitted to cover its parent in one fold,
    the spatial tiles that cover their parent in 1-4 folds, and the tiles holding 1-8
    whole folds (and one more) of the level below's spatial dim.
    Edge tiles make latency jump between neighbouring tile values, so single steps alone
    get stuck; all of these share one dataflow structure, so one batched cost-model call
    scores them (a few hundred candidates). Single steps (x2, /2, +1, -1, the nearest
    divisors, the fold fits, and cluster x2, /2, +1, -1, all PEs) come first, so a batch
    cut short by a small budget still tries those."""
    return neighbourhoods(space, g, [i])


def neighbourhoods(space: MappingSpace, g: Genomes, idx: list[int]) -> Genomes:
    """The :func:`neighbours` of each genome ``idx`` of ``g``, one after another (built
    together: repair works genome by genome, so one call repairs them all)."""
    bases, moves = [], []
    for i in idx:
        base = g.take([i])
        mv = _line_moves(space, base)
        _fold_moves(space, base, mv)
        bases.append(base)
        moves.append(mv)
    return _apply_moves(space, bases, moves)


# A move is coded as one integer, ordered as its tuple: a tile move (level, dim, value) as
# ``_pair(level, dim) * _CODE + _OFFSET + value``, a scaled one (dim, value) as a tile move of
# level 0 and a cluster move (level, value) as ``level * _CODE + _OFFSET + value``. Values
# of magnitude below _OFFSET and dims of magnitude below _DIM_OFFSET keep their order (single
# steps may be 0, and off a repaired genome values and spatial dims may be negative).
_CODE = 1 << 40
_OFFSET = 1 << 39
_DIMS = 1 << 10
_DIM_OFFSET = 1 << 9


def _pair(lv: int, k: int) -> int:
    """The code of tile moves at level ``lv`` of dim ``k`` (see ``_CODE``), value 0."""
    return (lv * _DIMS + _DIM_OFFSET + k) * _CODE + _OFFSET


@dataclass
class _Moves:
    """The moves of one genome's neighbourhood, coded (see ``_CODE``), in any order and
    with repeats; ``core_*`` are the single steps."""

    tiles: list[np.ndarray] = field(default_factory=list)
    scaled: list[np.ndarray] = field(default_factory=list)
    clusters: list[np.ndarray] = field(default_factory=list)
    core_tiles: list[np.ndarray] = field(default_factory=list)
    core_clusters: list[np.ndarray] = field(default_factory=list)


def _line_moves(space: MappingSpace, base: Genomes) -> _Moves:
    """Line searches along every free tile (and the top tiles with the lower levels in
    ratio) and along every cluster size of the one genome ``base``."""
    L, D = int(base.levels[0]), space.D
    mv = _Moves()
    # per free (level, dim): its code, tile and parent tile; its single steps (coded, with
    # the pair they belong to)
    at, cur, his, core, core_pair = [], [], [], [], []
    for lv in range(L):
        parent = space.extent if lv == 0 else base.tiles[0, lv - 1]
        for k in range(D):
            if space.filter_mask[k] and base.par2[0, lv] != k:
                continue
            t, hi = int(base.tiles[0, lv, k]), int(parent[k])
            divs = divisors(hi)
            # where the nearest divisors below and above t are
            below, above = bisect_left(divs, t), bisect_right(divs, t)
            steps = (t * 2, t // 2, t + 1, t - 1, hi, int(divs[below - 1]) if below else t,
                     int(divs[above]) if above < len(divs) else t)
            code = _pair(lv, k)
            core += [code + v for v in steps]
            core_pair += [len(at)] * len(steps)
            at.append(code)
            cur.append(t)
            his.append(hi)
    at_a = np.array(at, dtype=np.int64)
    core_a = np.array(core, dtype=np.int64)
    mv.core_tiles.append(core_a)
    # each pair's values: its single steps in 1..parent and line values, but its own tile
    lines = [_line_value_array(hi) for hi in his]
    pair = np.concatenate([np.array(core_pair, dtype=np.int64),
                           np.repeat(np.arange(len(at)), [len(x) for x in lines])])
    codes = np.concatenate([core_a, *lines, np.zeros(0, dtype=np.int64)])
    codes[len(core_a):] += at_a[pair[len(core_a):]]
    v = codes - at_a[pair]
    codes = codes[(v >= 1) & (v <= np.array(his, dtype=np.int64)[pair])
                  & (v != np.array(cur, dtype=np.int64)[pair])]
    mv.tiles.append(codes)
    if L > 1:  # the top level's moves
        mv.scaled.append(codes[codes < _DIMS * _CODE])
    for lv in range(1, L):
        c = int(base.clusters[0, lv])
        others = int(np.prod(base.clusters[0, 1:L])) // c
        top = space.P // max(others, 1)
        sizes = np.arange(1, top + 1)
        code = lv * _CODE + _OFFSET
        mv.clusters.append(code + sizes[sizes != c])  # every size but the current one
        mv.core_clusters.append(code + np.array((c * 2, c // 2, c + 1, c - 1, top),
                                                dtype=np.int64))
    return mv


def _fold_moves(space: MappingSpace, base: Genomes, mv: _Moves) -> None:
    """Adds to ``mv`` the spatial tiles that cover their parent in 1-4 folds and the tiles
    holding whole folds (and one more) of the level below's spatial dim."""
    L = int(base.levels[0])
    N = space.units(base)[0]
    core, tiles = [], []
    for lv in range(L):  # spatial tiles that cover the parent extent in 1-4 folds
        k = int(base.par[0, lv])
        hi = int(space.extent[k] if lv == 0 else base.tiles[0, lv - 1, k])
        for folds in (1, 2, 3, 4):
            v = max(1, -(-hi // max(int(N[lv]) * folds, 1)))
            if v != base.tiles[0, lv, k]:
                core.append(_pair(lv, k) + v)
    for lv in range(L - 1):  # whole folds of the level below's spatial dim (and one more)
        k = int(base.par[0, lv + 1])
        hi = int(space.extent[k] if lv == 0 else base.tiles[0, lv - 1, k])
        fold = int(N[lv + 1]) * int(base.tiles[0, lv + 1, k])
        for m in range(1, min(hi // max(fold, 1), FOLD_MULTIPLES) + 1):
            for v in (m * fold, m * fold + 1):
                if v <= hi and v != base.tiles[0, lv, k]:
                    tiles.append(_pair(lv, k) + v)
    core_a = np.array(core, dtype=np.int64)
    mv.core_tiles.append(core_a)
    mv.tiles += [core_a, np.array(tiles, dtype=np.int64)]


def _apply_moves(space: MappingSpace, bases: list[Genomes], moves: list[_Moves]) -> Genomes:
    """For each base (one genome) and its moves, one repaired copy of the base per move
    (each cluster move twice: as is, and with the spatial tiles refitted to the new unit
    counts), single steps first; the bases one after another."""
    parts, refit, levels, order = [], [], [], []
    start = 0
    for base, mv in zip(bases, moves):
        out, first, n_refit = _move_copies(space, base, mv)
        if not len(out):
            continue
        parts.append(out)
        refit.append(np.arange(len(out) - n_refit, len(out)) + start)
        levels.append(np.full(n_refit, int(base.levels[0])))
        order.append(np.argsort(~first, kind="stable") + start)
        start += len(out)
    if not parts:
        return space.empty()
    out = Genomes.concat(parts)
    # the moves change tiles and cluster sizes only: copies of repaired bases need only those
    # repaired (there are few bases, so checking them is cheap)
    if _is_repaired(space, Genomes.concat(bases)):
        space.repair_clusters(space.repair_tiles(out))
    else:
        space.repair(out)
    # the second copy of the cluster moves: spatial tiles refitted to the new unit counts,
    # at the levels of its base
    rows, levels = np.concatenate(refit), np.concatenate(levels)
    N = space.units(out.take(rows))
    for lv in range(space.L):
        at = levels > lv
        r = rows[at]
        k = out.par[r, lv]
        hi = space.extent[k] if lv == 0 else out.tiles[r, lv - 1, k]
        out.tiles[r, lv, k] = np.maximum(1, -(-hi // np.maximum(N[at, lv], 1)))
    # repaired but for those tiles (repair works genome by genome: the order does not matter)
    return space.repair_tiles(out.take(np.concatenate(order)))


def _is_repaired(space: MappingSpace, g: Genomes) -> bool:
    """Whether :meth:`MappingSpace.repair` leaves ``g`` as it is."""
    r = space.repair(g.copy())
    return all(np.array_equal(getattr(r, f), getattr(g, f)) for f in _FIELDS)


def _move_copies(space: MappingSpace, base: Genomes,
                 mv: _Moves) -> tuple[Genomes, np.ndarray, int]:
    """``(copies, first, n_refit)``: one unrepaired copy of ``base`` per move (tiles, scaled
    tiles, clusters, and the cluster moves again, each kind in the order of its tuples),
    which of them are single steps, and how many copies at the end are to have their
    spatial tiles refitted."""
    tiles_c, scaled_c, clusters_c = (_distinct(x) for x in (mv.tiles, mv.scaled, mv.clusters))
    nt, ns, nc = len(tiles_c), len(scaled_c), len(clusters_c)
    n = nt + ns + 2 * nc
    out = base.take(np.zeros(n, dtype=np.int64))
    pair, v = np.divmod(tiles_c, _CODE)
    lv, k = np.divmod(pair, _DIMS)
    out.tiles[np.arange(nt), lv, k - _DIM_OFFSET] = v - _OFFSET
    # the top tile of a dim set, the lower levels' tiles scaled in proportion
    k, v = np.divmod(scaled_c, _CODE)
    k -= _DIM_OFFSET
    v -= _OFFSET
    r = np.arange(nt, nt + ns)
    ratio = v / np.maximum(base.tiles[0, 0, k], 1)
    out.tiles[r[:, None], np.arange(space.L)[None, :], k[:, None]] = np.maximum(
        1, np.rint(base.tiles[0][:, k].T * ratio[:, None]))
    out.tiles[r, 0, k] = v
    lv, v = np.divmod(clusters_c, _CODE)
    out.clusters[np.arange(nt + ns, n), np.tile(lv, 2)] = np.tile(v - _OFFSET, 2)
    first = np.zeros(n, dtype=bool)
    first[:nt] = _member(tiles_c, mv.core_tiles)
    first[nt + ns:nt + ns + nc] = _member(clusters_c, mv.core_clusters)
    return out, first, nc


def _distinct(codes: list[np.ndarray]) -> np.ndarray:
    """The distinct codes of the arrays ``codes``, increasing (int64; ``np.unique`` of
    their concatenation, without its overhead on small arrays)."""
    x = np.sort(np.concatenate([np.zeros(0, dtype=np.int64), *codes]))
    if len(x) < 2:
        return x
    keep = np.empty(len(x), dtype=bool)
    keep[0] = True
    np.not_equal(x[1:], x[:-1], out=keep[1:])
    return x[keep]


def _member(distinct: np.ndarray, codes: list[np.ndarray]) -> np.ndarray:
    """``[len(distinct)]`` whether each of the increasing ``distinct`` codes is one of
    ``codes`` (``np.isin``, by a search in ``distinct``)."""
    out = np.zeros(len(distinct), dtype=bool)
    c = np.concatenate([np.zeros(0, dtype=np.int64), *codes])
    if len(distinct) and len(c):
        pos = np.minimum(np.searchsorted(distinct, c), len(distinct) - 1)
        out[pos[distinct[pos] == c]] = True
    return out


@lru_cache(maxsize=4096)
def _line_value_array(hi: int) -> np.ndarray:
    """:func:`_line_values` as a read-only int64 array (cached: extents repeat)."""
    out = np.array(_line_values(hi), dtype=np.int64)
    out.setflags(write=False)
    return out


def _line_values(hi: int) -> list[int]:
    """Tile values a line search tries in ``1..hi``: all up to 16, a x1.15 geometric grid
    above, and every divisor of ``hi``."""
    vals = set(range(1, min(hi, 16) + 1))
    x = 16.0
    while x < hi:
        x *= 1.15
        vals.add(min(hi, int(round(x))))
    vals.update(divisors(hi).tolist())
    return sorted(vals)
