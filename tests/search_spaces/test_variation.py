"""The GA's variation operators: mutation, crossover, level splits and neighbourhoods."""

from __future__ import annotations

import numpy as np

from costmodel import Hardware, Layer
from costmodel.analysis import evaluate
from search_spaces import MappingSpace
from search_spaces.variation import (
    _line_values,
    crossover,
    crossover_tiles,
    mutate,
    neighbours,
    split_level,
    with_structure_of,
)

from .common import HW, LAYER, check_rules


def test_mutate_and_crossover_keep_the_rules():
    rng = np.random.default_rng(0)
    sp = MappingSpace(LAYER, HW, max_levels=3)
    g = sp.sample(rng, 200)
    check_rules(sp, mutate(sp, rng, g))
    check_rules(sp, crossover(sp, rng, g, g.take(rng.permutation(len(g)))))
    check_rules(sp, crossover_tiles(sp, rng, g, g.take(rng.permutation(len(g)))))


def test_tile_only_moves_keep_the_structure():
    rng = np.random.default_rng(1)
    sp = MappingSpace(LAYER, HW, max_levels=2)
    g = sp.sample(rng, 100)
    kids = mutate(sp, rng, crossover_tiles(sp, rng, g, g.take(rng.permutation(len(g)))),
                  structural=False)
    assert (sp.structure_keys(kids) == sp.structure_keys(g)).all()
    assert (kids.keys() != g.keys()).any()


def test_with_structure_of_takes_levels_orders_and_spatial_dims():
    rng = np.random.default_rng(2)
    sp = MappingSpace(LAYER, HW, max_levels=2)
    g, src = sp.sample(rng, 50), sp.sample(rng, 50)
    out = with_structure_of(sp, g, src)
    check_rules(sp, out)
    assert (sp.structure_keys(out) == sp.structure_keys(src)).all()


def test_neighbourhood_keeps_the_structure_and_covers_every_cluster_size():
    rng = np.random.default_rng(3)
    sp = MappingSpace(LAYER, HW, max_levels=2)
    g = sp.sample(rng, 20)
    i = int(np.nonzero(g.levels == 2)[0][0])
    nb = neighbours(sp, g, i)
    check_rules(sp, nb)
    assert (sp.structure_keys(nb) == sp.structure_keys(g.take([i]))[0]).all()
    assert set(range(1, HW.num_pes + 1)) - {int(g.clusters[i, 1])} <= set(nb.clusters[:, 1])
    # every value of a small dim is tried at the top level (K = 32: all values 1..16)
    k = sp.dims.index("K")
    assert set(range(1, 17)) - {int(g.tiles[i, 0, k])} <= set(nb.tiles[:, 0, k])
    assert len(np.unique(nb.keys())) > 0.8 * len(nb)


def test_neighbourhood_puts_single_steps_first():
    sp = MappingSpace(LAYER, HW, max_levels=1)
    g = sp.sample(np.random.default_rng(5), 5)
    nb = neighbours(sp, g, 0)
    k = sp.dims.index("K")
    t = int(g.tiles[0, 0, k])
    steps = {v for v in (2 * t, t // 2, t + 1, t - 1) if 1 <= v <= 32}
    first = nb.take(np.arange(len(nb) // 2))
    changed = first.tiles[:, 0, k] != t
    assert steps <= set(first.tiles[changed, 0, k].tolist())


def test_line_values_cover_small_values_divisors_and_a_grid():
    v = _line_values(224)
    assert set(range(1, 17)) <= set(v) and {28, 56, 112, 224} <= set(v)
    assert len(v) < 60 and v == sorted(set(v)) and max(v) == 224
    assert _line_values(1) == [1]


def test_split_level_sizes_half_the_new_top_levels_from_their_own_dim():
    """MobileNetV2 Bottleneck6_2_2 (960 channels, 5x5 outputs): a one-level mapping spreading
    C over 168 PEs, split under a new top level spreading X. About half the children get as
    many clusters as cover the 5 output columns in 1-4 folds, and C at the top only as large
    as the clusters cover in 1-4 folds (C kept whole there overflows the L2); the line search
    around such a child tries whole folds of the level below, where the best mapping known
    (1,310 cycles) lies."""
    layer = Layer("dw", "DSCONV", dict(K=1, C=960, R=3, S=3, Y=7, X=7))
    hw = Hardware(num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000,
                  offchip_bw=81920000)
    sp = MappingSpace(layer, hw, max_levels=2)
    rng = np.random.default_rng(3)
    g = sp.sample(rng, 400)
    c, x = sp.dims.index("C"), sp.dims.index("X")
    one = np.flatnonzero((g.levels == 1) & (g.par[:, 0] == c))[:1]
    kids = split_level(sp, rng, g.take(np.repeat(one, 200)), above=np.array(True),
                       dim=np.array(x))
    check_rules(sp, kids)
    units = sp.units(kids)[:, 0]
    own = (kids.tiles[:, 0, c] < 960) & (kids.clusters[:, 1] >= 2)
    assert 0.3 < own.mean() < 0.7
    covered = units * kids.tiles[:, 0, x] >= sp.extent[x]
    assert covered[own].all() and (units[own] >= 2).all()
    folds = kids.tiles[own, 0, c] / (kids.clusters[own, 1] * kids.tiles[own, 1, c])
    assert (folds <= 4).all()
    assert 33 in kids.clusters[own, 1]  # 5 clusters of 33 PEs, one per output column
    i = int(np.flatnonzero(own & (kids.clusters[:, 1] == 33))[0])
    kid = kids.take([i])
    kid.tiles[0, 1, c] = 3  # 33 PEs x 3 channels: folds of 99 channels
    kid = sp.repair(kid)
    nb = neighbours(sp, kid, 0)
    tops = set(nb.tiles[(nb.tiles[:, 1, c] == 3) & (nb.clusters[:, 1] == 33), 0, c].tolist())
    assert {99, 100, 495, 496, 792, 793} <= tops  # m x 99 and one more, m = 1..8


def test_split_level_adds_a_level_that_spreads_a_dim_over_clusters():
    rng = np.random.default_rng(5)
    sp = MappingSpace(LAYER, HW, max_levels=3)
    g = sp.sample(rng, 300)
    kids = split_level(sp, rng, g)
    room = g.take(np.nonzero(g.levels < 3)[0])
    assert len(kids) == len(room) > 0
    check_rules(sp, kids)
    assert (kids.levels == room.levels + 1).all()
    k = sp.dims.index("K")
    # a new top level: the old levels move down with their orders and spatial dims
    top = split_level(sp, rng, room, above=np.array(True), dim=np.array(k))
    # (a cluster of one only where the parent's clusters already fill the array)
    assert (top.par[:, 0] == k).all() and (top.clusters[:, 1] > 1).mean() > 0.9
    for lv in range(2):
        used = room.levels > lv
        assert (top.order[used, lv + 1] == room.order[used, lv]).all()
        assert (top.par[used, lv + 1] == room.par[used, lv]).all()
    # a new innermost level spreading K inside the old innermost level's units
    room = g.take(np.nonzero(g.levels == 1)[0])
    low = split_level(sp, rng, room, above=np.array(False), dim=np.array(k))
    rows = np.arange(len(low))
    inner = low.levels - 1
    assert (low.par[rows, inner] == k).all() and (low.clusters[rows, inner] > 1).mean() > 0.9
    assert (low.order[rows, inner] == low.order[rows, inner - 1]).all()
    grown = room.par[:, 0] != k  # (else fitting resized it as a spatial tile)
    assert (low.tiles[:, 0, k] >= room.tiles[:, 0, k])[grown].all()
    # some keep K whole at the parent level as a second spatial map (MAESTRO's other edge
    # analysis), the rest keep it temporal
    two = (low.par2[:, 0] == k) & (room.par2[:, 0] != k)
    assert 0 < two.sum() < len(low)
    assert (low.tiles[two, 0, k] == sp.extent[k]).all()
    valid = sum(evaluate(LAYER, HW, sp.decode(low, i)).valid for i in range(40))
    assert valid > 10
    assert len(split_level(sp, rng, g.take(np.nonzero(g.levels == 3)[0]))) == 0
