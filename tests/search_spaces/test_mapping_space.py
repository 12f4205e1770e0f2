"""Mapping space: sampling, repair, decoding and bounds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costmodel import Layer
from costmodel.analysis import evaluate
from search_spaces import MappingSpace

from .common import HW, LAYER, check_rules


def test_samples_keep_the_rules():
    sp = MappingSpace(LAYER, HW, max_levels=3)
    check_rules(sp, sp.sample(np.random.default_rng(0), 200))


def test_same_seed_same_samples():
    a = MappingSpace(LAYER, HW).sample(np.random.default_rng(7), 50)
    b = MappingSpace(LAYER, HW).sample(np.random.default_rng(7), 50)
    assert (a.keys() == b.keys()).all()


def test_blocks_of_samples_share_a_structure():
    sp = MappingSpace(LAYER, HW, max_levels=2)
    g = sp.sample(np.random.default_rng(8), 60, tiles_per_structure=20)
    keys = sp.structure_keys(g).reshape(3, 20)
    assert (keys == keys[:, :1]).all()
    assert len(np.unique(g.keys())) > 30


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


def test_second_spatial_map_in_the_free_space():
    sp = MappingSpace(LAYER, HW, max_levels=2, second_spatial_rate=0.15)
    g = sp.sample(np.random.default_rng(3), 400)
    two = [sp.decode(g, i) for i in range(len(g)) if (g.par2[i, : g.levels[i]] >= 0).any()]
    assert two and all(1 <= sum(d.kind == "S" for d in lv) <= 2
                       for df in two for lv in df.levels())


def test_second_spatial_dims_are_sampled_where_r_and_s_can_split():
    """Sampled second spatial dims: none with R/S whole (a valid one works as a TemporalMap),
    some with R/S spatial, and most often for depthwise layers."""
    dw = Layer("dw", "DSCONV", dict(K=1, C=96, R=3, S=3, Y=16, X=16))
    share = {}
    for name, lay in (("conv", LAYER), ("dw", dw)):
        assert (MappingSpace(lay, HW, max_levels=2).sample(
            np.random.default_rng(0), 500).par2 < 0).all()
        space = MappingSpace(lay, HW, max_levels=2, rs_spatial=True)
        g = space.sample(np.random.default_rng(0), 4000)
        share[name] = (g.par2[:, 0] >= 0).mean()
    assert 0.05 < share["conv"] < 0.25 and share["dw"] > 0.45, share
    assert (MappingSpace(dw, HW, second_spatial_rate=0.0).sample(
        np.random.default_rng(0), 500).par2 < 0).all()
    # the widened space is made from the base space by ``dataclasses.replace``: it gets
    # the rate of R/S spatial, not the base space's none
    wide = dataclasses.replace(MappingSpace(LAYER, HW, max_levels=2), rs_spatial=True)
    g = wide.sample(np.random.default_rng(0), 4000)
    assert 0.05 < (g.par2[:, 0] >= 0).mean() < 0.25


def test_l1_requirement_and_busy_bound_match_the_cost_model():
    sp = MappingSpace(LAYER, HW, max_levels=2)
    g = sp.sample(np.random.default_rng(9), 60)
    need, busy = sp.l1_requirement(g), sp.busy_bound(g)
    for i in range(len(g)):
        rep = evaluate(LAYER, HW, sp.decode(g, i))
        assert need[i] <= rep.l1_size  # exhaustive search prunes on it: never above
        if rep.valid:
            assert rep.runtime >= LAYER.macs / busy[i] - 1e-9
    assert sp.min_l1() <= need.min()


def test_compute_estimate_tracks_the_cost_model_on_a_bandwidth_rich_array():
    """The estimate is the slowest PE's compute summed over the steps: on an array whose NoC
    is never the bottleneck most valid mappings run within 1% of it, it ranks them by
    latency, and a mapping flagged for uncovered tile pairs gets no estimate (inf)."""
    from costmodel import Hardware
    from mapper.search.evaluator import Evaluator

    lay = Layer("conv", "CONV", dict(K=64, C=64, R=3, S=3, Y=30, X=30))
    hw = Hardware(num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000,
                  offchip_bw=81920000)
    sp = MappingSpace(lay, hw, max_levels=2, second_spatial_rate=0.15)
    g = sp.sample(np.random.default_rng(3), 1500, tiles_per_structure=25)
    m = Evaluator(sp).metrics(g)
    est = sp.compute_estimate(g)
    ok = m["valid"] & np.isfinite(est)
    ratio = m["runtime"][ok] / est[ok]
    assert ok.sum() > 300
    assert np.mean(np.abs(ratio - 1) < 0.01) > 0.5, np.median(ratio)
    # ranks: the best tenth by estimate holds a near-best mapping
    top = np.argsort(est[ok])[: ok.sum() // 10]
    assert m["runtime"][ok][top].min() <= 1.01 * m["runtime"][ok].min()
    # two spatial dims that are not sliding partners, both split: flagged, estimate inf
    pairs = np.isinf(est)
    assert pairs.any() and not m["valid"][pairs].any()


def test_encode_round_trips_dataflows_and_rejects_what_a_genome_cannot_hold():
    """A decoded genome encodes back to a genome that decodes to the same dataflow; GAMMA-
    style output-centric (Y'/X') mappings encode to the same runtime; a TemporalMap that
    splits a filter dim has no genome."""
    from costmodel.io import parse_dataflow

    sp = MappingSpace(LAYER, HW, max_levels=2)
    g = sp.sample(np.random.default_rng(4), 40)
    for i in range(len(g)):
        df = sp.decode(g, i)
        back = sp.encode(df)
        assert back is not None and str(sp.decode(back, 0)) == str(df)
    gamma = parse_dataflow("TemporalMap(3,3) S; SpatialMap(1,1) C; TemporalMap(12,12) K; "
                           "TemporalMap(5,5) X'; TemporalMap(3,3) R; TemporalMap(7,7) Y'; "
                           "Cluster(4,P); SpatialMap(1,1) K; TemporalMap(3,3) R; "
                           "TemporalMap(3,3) S; TemporalMap(2,2) Y'")
    enc = sp.encode(gamma)
    assert enc is not None
    assert evaluate(LAYER, HW, sp.decode(enc, 0)).runtime == evaluate(LAYER, HW, gamma).runtime
    assert sp.encode(parse_dataflow("TemporalMap(1,1) R; SpatialMap(1,1) K")) is None


def test_pe0_floor_by_hand_and_where_it_does_not_apply():
    """ResNet-50 CONV4_1_2 on 168 PEs: two levels at best spread the 12 output rows over 12
    units and the 256 input channels over 14 (19 folds): 19 x 256 x 9 x 12 = 525,312 MACs
    on PE 0; three levels spread C over 7 units (37 channels), K over 2 and the output rows
    over 12: 37 x 128 x 9 x 12 = 511,488. R/S allowed to split leaves no floor. A 1x1
    filter at stride 2 counts output rows: 64 output channels over 5 units and 32 input
    channels over 32 (160 PEs) leave PE 0 13 x 1 x 14 x 14 = 2,548 MACs."""
    hw = HW.__class__(num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000)
    conv = Layer("CONV4_1_2", "CONV", dict(K=256, C=256, R=3, S=3, Y=14, X=14))
    assert MappingSpace(conv, hw, max_levels=2).pe0_floor == 19 * 256 * 9 * 12 == 525_312
    assert MappingSpace(conv, hw, max_levels=3).pe0_floor == 37 * 128 * 9 * 12 == 511_488
    assert MappingSpace(conv, hw, max_levels=2, rs_spatial=True).pe0_floor == 0
    narrow = Layer("s2", "CONV", dict(K=64, C=32, R=1, S=1, Y=28, X=28), dict(Y=2, X=2))
    assert MappingSpace(narrow, hw, max_levels=2).pe0_floor == 13 * 14 * 14 == 2_548


def test_pe0_floor_is_below_every_counted_genome():
    """The floor is a lower bound of :meth:`MappingSpace.pe0_bound` over random genomes of
    several layer kinds and level counts."""
    layers = [LAYER, Layer("dw", "DSCONV", dict(C=40, R=3, S=3, Y=17, X=17)),
              Layer("fc", "GEMM", dict(M=7, N=100, K=60)),
              Layer("s", "CONV", dict(K=24, C=5, R=5, S=5, Y=33, X=33), dict(Y=2, X=2)),
              Layer("s2", "CONV", dict(K=48, C=24, R=1, S=1, Y=29, X=28), dict(Y=2, X=2))]
    for layer in layers:
        for levels in (1, 2, 3):
            sp = MappingSpace(layer, HW, max_levels=levels)
            g = sp.sample(np.random.default_rng(levels), 500)
            b = sp.pe0_bound(g)
            assert sp.pe0_floor > 0 and (b[b > 0] >= sp.pe0_floor).all()


def test_widened_space_pairs_a_window_with_its_split_filter():
    """Repair gives an innermost level that spreads X with a split S the parent's output
    columns and ``columns x stride`` filter columns, so that each unit's input and filter
    columns start together; at stride 1 the cost model accepts every such level (no
    ERR_PAIRS; at a larger stride MAESTRO's stride rewrite moves the input columns of a
    tile of two outputs or more), and repair leaves repaired genomes as they are."""
    from costmodel.validity import ERR_PAIRS
    from mapper.search.evaluator import Evaluator

    hw = HW.__class__(num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000)
    lay = Layer("wide", "CONV", dict(K=64, C=3, R=11, S=11, Y=40, X=40))
    sp = MappingSpace(lay, hw, max_levels=2, rs_spatial=True, second_spatial_rate=0.5)
    rng = np.random.default_rng(3)
    g = sp.sample(rng, 600)
    rows = np.arange(len(g))
    inner = g.levels - 1
    x, s = sp.dims.index("X"), sp.dims.index("S")
    # X with S at the innermost level (no second spatial dim above), random tiles of both
    g.par2[:] = -1
    g.par[rows, inner], g.par2[rows, inner] = x, s
    g.tiles[rows, inner, s] = rng.integers(1, 12, len(g))
    g.tiles[rows, inner, x] = rng.integers(1, 31, len(g))
    sp.repair(g)
    pair = (g.par[rows, inner] == x) & (g.par2[rows, inner] == s)
    split = pair & (g.tiles[rows, inner, s] < 11)
    assert split.sum() > 50
    at = np.flatnonzero(split)
    parent = np.where(inner[at] > 0, g.tiles[at, 0, x], sp.extent[x])
    assert (g.tiles[at, inner[at], x] == parent).all()
    assert (g.tiles[at, inner[at], s] == np.minimum(parent, 11)).all()
    flags = Evaluator(sp).metrics(g.take(np.flatnonzero(pair)))["flags"]
    assert not (flags & ERR_PAIRS).any()
    again = g.copy()
    sp.repair(again)
    assert (again.tiles == g.tiles).all()


@pytest.mark.parametrize("dims, strides, l2", [
    (dict(K=160, C=960, R=1, S=1, Y=7, X=7), {}, 108000),      # 1x1
    (dict(K=256, C=256, R=3, S=3, Y=30, X=30), {}, 108000),    # windows split over units
    (dict(K=64, C=3, R=7, S=7, Y=224, X=224), dict(Y=2, X=2), 20000),  # stride 2
    (dict(K=128, C=128, R=3, S=3, Y=58, X=58), {}, 3000),      # MAESTRO's tiny buffers
])
def test_l2_requirement_is_the_cost_models_l2_size(dims, strides, l2):
    """The estimate equals the cost model's L2 size for most genomes (MAESTRO counts every
    unit's window, overlaps included, and output rows without the stride), and its verdict
    on the L2 agrees with the model's on nearly all: what ``fits_buffers`` ranks by."""
    from costmodel import Hardware

    hw = (Hardware(num_pes=256, l1_size=100, l2_size=l2, noc_bw=1000, offchip_bw=50) if l2 < 5000
          else Hardware(num_pes=168, l1_size=512, l2_size=l2, noc_bw=64, offchip_bw=64))
    lay = Layer("l", "CONV", dims, strides=strides)
    sp = MappingSpace(lay, hw, max_levels=3)
    g = sp.sample(np.random.default_rng(0), 800 if strides else 300)
    reps = [evaluate(lay, hw, sp.decode(g, i)) for i in range(len(g))]
    ok = np.array([r.valid for r in reps])
    est = sp.l2_requirement(g)[ok]
    act = np.array([r.l2_size for r in reps])[ok]
    assert ok.sum() > 100
    assert (est == act).mean() > (0.25 if strides else 0.75)
    assert (np.abs(est / act - 1) <= 0.05).mean() > 0.95
    too_big = act > hw.l2_size
    l1_over = sp.l1_requirement(g)[ok] > hw.l1_size
    assert too_big.any() and (too_big != (est > hw.l2_size)).mean() < 0.01
    assert (sp.fits_buffers(g)[ok] == ((est <= hw.l2_size) & ~l1_over)).all()


