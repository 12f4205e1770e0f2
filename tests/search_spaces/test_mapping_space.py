"""Mapping space: sampling, repair, decoding, variation operators, enumeration, templates."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import Hardware, Layer
from costmodel.analysis import evaluate
from search_spaces import MappingSpace
from search_spaces.templates import TEMPLATES, make_space

LAYER = Layer("c", "CONV", dict(K=32, C=16, R=3, S=3, Y=18, X=18), {"X": 1, "Y": 1})
HW = Hardware(num_pes=64, l1_size=512, l2_size=100000, noc_bw=64, offchip_bw=64)


def _check_rules(space, g):
    assert ((g.levels >= space.min_levels) & (g.levels <= space.max_levels)).all()
    assert (g.tiles >= 1).all()
    assert (g.tiles[:, 0] <= space.extent).all()
    assert (g.tiles[:, 1:] <= g.tiles[:, :-1]).all()
    in_use = np.arange(space.L)[None, :] < g.levels[:, None]
    assert (np.where(in_use, g.clusters, 1).prod(axis=1) <= space.P).all()
    for row in g.order.reshape(-1, space.D):
        assert sorted(row) == list(range(space.D))


def test_sample_mutate_crossover_keep_the_rules():
    rng = np.random.default_rng(0)
    sp = MappingSpace(LAYER, HW, max_levels=3)
    g = sp.sample(rng, 200)
    _check_rules(sp, g)
    _check_rules(sp, sp.mutate(rng, g))
    _check_rules(sp, sp.crossover(rng, g, g.take(rng.permutation(len(g)))))
    _check_rules(sp, sp.crossover_tiles(rng, g, g.take(rng.permutation(len(g)))))


def test_same_seed_same_samples():
    a = MappingSpace(LAYER, HW).sample(np.random.default_rng(7), 50)
    b = MappingSpace(LAYER, HW).sample(np.random.default_rng(7), 50)
    assert (a.keys() == b.keys()).all()


def test_decode_gives_valid_maestro_dataflows():
    rng = np.random.default_rng(1)
    sp = MappingSpace(LAYER, HW, max_levels=2)
    g = sp.sample(rng, 100)
    valid = 0
    for i in range(len(g)):
        df = sp.decode(g, i)
        assert df.num_levels == g.levels[i]
        valid += evaluate(LAYER, HW, df).valid
    assert valid > 30  # most random mappings are physically consistent


def test_optuna_encoding_round_trip():
    optuna = pytest.importorskip("optuna")
    sp = MappingSpace(LAYER, HW, max_levels=2)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        t = study.ask()
        g = sp.suggest(t)
        _check_rules(sp, g)
        # the same parameters decode to the same genome
        fixed = optuna.trial.FixedTrial(t.params)
        assert (sp.suggest(fixed).keys() == g.keys()).all()
        study.tell(t, 0.0)


def test_enumeration_is_complete_and_unique():
    sp = MappingSpace(Layer("s", "CONV", dict(K=8, C=4, R=3, S=3, Y=6, X=6)), HW,
                      fixed_levels=1, fixed_order={0: ("K", "C", "R", "S", "Y", "X")},
                      fixed_par={0: "K"}, tile_divisors=True)
    n = sp.enumeration_size()
    assert n == 4 * 3 * 3 * 3  # divisors of K=8, C=4, and of the 4 output rows/cols
    g = np.concatenate([x.keys() for x in sp.enumerate(chunk=7)])
    assert len(g) == n == len(np.unique(g))


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_templates_decode_to_their_dataflow_style(name):
    sp = make_space(LAYER, HW, name)
    g = sp.sample(np.random.default_rng(0), 10)
    t = TEMPLATES[name]
    for i in range(len(g)):
        df = sp.decode(g, i)
        levels = df.levels()
        assert len(levels) == len(t.orders)
        for lv, dirs in enumerate(levels):
            second = t.pars2[lv] if lv < len(t.pars2) else None
            want = [d for d in t.orders[lv] if d in (t.pars[lv], second)]
            assert [d.dim for d in dirs if d.kind == "S"] == want
            assert tuple(d.dim for d in dirs) == t.orders[lv]


def test_row_stationary_template_is_eyeriss_like():
    from costmodel.analysis import evaluate

    sp = make_space(LAYER, HW, "rs:T0O0P0S0")
    g = sp.sample(np.random.default_rng(0), 4)
    df = sp.decode(g, 0)
    inner = df.levels()[1]
    assert df.cluster_sizes == (3,)  # one PE per filter row
    assert [str(d) for d in inner if d.kind == "S"] == ["SpatialMap(1,1) Y", "SpatialMap(1,1) R"]
    rep = evaluate(LAYER, HW, df)
    assert rep.num_macs == LAYER.macs


def test_second_spatial_map_in_the_free_space():
    sp = MappingSpace(LAYER, HW, max_levels=2)
    g = sp.sample(np.random.default_rng(3), 400)
    two = [sp.decode(g, i) for i in range(len(g)) if (g.par2[i, : g.levels[i]] >= 0).any()]
    assert two and all(1 <= sum(d.kind == "S" for d in lv) <= 2
                       for df in two for lv in df.levels())


def test_flexibility_class_fixes_axes():
    sp = make_space(LAYER, HW, "kcp_ws:T0O0P0S0")
    g = sp.sample(np.random.default_rng(0), 20)
    assert len(np.unique(g.keys())) == 1  # a fixed-function accelerator has one mapping
    sp = make_space(LAYER, HW, "kcp_ws:T1O1P0S0")
    g = sp.sample(np.random.default_rng(0), 50)
    assert (g.clusters[:, 1] == 64).all() and (g.par[:, 0] == sp.dims.index("K")).all()
    assert len(np.unique(g.order[:, 0], axis=0)) > 1


def test_neighbourhood_keeps_the_shape_and_covers_every_cluster_size():
    rng = np.random.default_rng(3)
    sp = MappingSpace(LAYER, HW, max_levels=2)
    g = sp.sample(rng, 20)
    i = int(np.nonzero(g.levels == 2)[0][0])
    nb = sp.neighbours(g, i)
    _check_rules(sp, nb)
    assert (sp.shape_keys(nb) == sp.shape_keys(g.take([i]))[0]).all()
    assert set(range(1, HW.num_pes + 1)) - {int(g.clusters[i, 1])} <= set(nb.clusters[:, 1])
    # every value of a small dim is tried at the top level (K = 32: all values 1..16)
    k = sp.dims.index("K")
    assert set(range(1, 17)) - {int(g.tiles[i, 0, k])} <= set(nb.tiles[:, 0, k])
    assert len(np.unique(nb.keys())) > 0.8 * len(nb)


def test_line_values_cover_small_values_divisors_and_a_grid():
    from search_spaces.mapping_space import _line_values

    v = _line_values(224)
    assert set(range(1, 17)) <= set(v) and {28, 56, 112, 224} <= set(v)
    assert len(v) < 60 and v == sorted(set(v)) and max(v) == 224
    assert _line_values(1) == [1]


def test_keys_and_hashes_ignore_the_genes_of_unused_levels():
    space = MappingSpace(LAYER, HW, max_levels=2)
    g = space.sample(np.random.default_rng(4), 200)
    g.levels[:] = 1
    twin = g.take(np.arange(len(g)))
    twin.tiles[:, 1] += 1            # dormant genes differ ...
    twin.clusters[:, 1] += 1
    twin.order[:, 1] = twin.order[:, 1, ::-1]
    assert (g.keys() == twin.keys()).all()           # ... yet they are the same dataflow
    assert (g.hashes() == twin.hashes()).all()
    assert all(str(space.decode(g, i)) == str(space.decode(twin, i)) for i in range(20))
    other = g.take(np.arange(len(g)))
    other.tiles[:, 0, 0] += 1        # a gene in use changes key and hash
    assert (g.keys() != other.keys()).all() and (g.hashes() != other.hashes()).all()
    assert len(np.unique(g.hashes())) == len(np.unique(g.keys()))


def test_depthwise_layers_sample_two_spatial_dims_per_level_more_often():
    dw = Layer("dw", "DSCONV", dict(K=1, C=96, R=3, S=3, Y=16, X=16))
    share = {}
    for name, lay in (("conv", LAYER), ("dw", dw)):
        space = MappingSpace(lay, HW, max_levels=2)
        g = space.sample(np.random.default_rng(0), 4000)
        share[name] = (g.par2[:, 0] >= 0).mean()
    assert 0.05 < share["conv"] < 0.25 and share["dw"] > 0.45, share
    assert (MappingSpace(dw, HW, second_spatial_rate=0.0).sample(
        np.random.default_rng(0), 500).par2 < 0).all()


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
    kids = sp.split_level(rng, g.take(np.repeat(one, 200)), above=np.array(True),
                          dim=np.array(x))
    _check_rules(sp, kids)
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
    nb = sp.neighbours(kid, 0)
    tops = set(nb.tiles[(nb.tiles[:, 1, c] == 3) & (nb.clusters[:, 1] == 33), 0, c].tolist())
    assert {99, 100, 495, 496, 792, 793} <= tops  # m x 99 and one more, m = 1..8


def test_split_level_adds_a_level_that_spreads_a_dim_over_clusters():
    rng = np.random.default_rng(5)
    sp = MappingSpace(LAYER, HW, max_levels=3)
    g = sp.sample(rng, 300)
    kids = sp.split_level(rng, g)
    room = g.take(np.nonzero(g.levels < 3)[0])
    assert len(kids) == len(room) > 0
    _check_rules(sp, kids)
    assert (kids.levels == room.levels + 1).all()
    k = sp.dims.index("K")
    # a new top level: the old levels move down with their orders and spatial dims
    top = sp.split_level(rng, room, above=np.array(True), dim=np.array(k))
    # (a cluster of one only where the parent's clusters already fill the array)
    assert (top.par[:, 0] == k).all() and (top.clusters[:, 1] > 1).mean() > 0.9
    for lv in range(2):
        used = room.levels > lv
        assert (top.order[used, lv + 1] == room.order[used, lv]).all()
        assert (top.par[used, lv + 1] == room.par[used, lv]).all()
    # a new innermost level spreading K inside the old innermost level's units
    room = g.take(np.nonzero(g.levels == 1)[0])
    low = sp.split_level(rng, room, above=np.array(False), dim=np.array(k))
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
    assert len(sp.split_level(rng, g.take(np.nonzero(g.levels == 3)[0]))) == 0
