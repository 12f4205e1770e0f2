"""The busiest PE's MAC count: by hand, against the genome-level count, and as a floor that
MAESTRO's one-level analysis always respects."""

from __future__ import annotations

import dataclasses

import numpy as np

from costmodel import Hardware, Layer
from costmodel.analysis import evaluate
from costmodel.busiest_pe import busiest_pe_macs
from costmodel.dataflow import Dataflow, TemporalMap
from costmodel.hardware import INT_MAX
from costmodel.io import parse_dataflow
from costmodel.layer import tensor_table
from costmodel.levels import REF_DIMS, build_levels
from costmodel.validity import ERR_BUSIEST_PE
from search_spaces import MappingSpace

HW = Hardware(num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000, offchip_bw=81920000)
CONV = Layer("conv", "CONV", dict(K=128, C=128, R=3, S=3, Y=28, X=28))


def levels_of(layer, df, num_pes=168):
    sizes = np.array([[d.size for d in df.directives]], dtype=np.int64)
    offs = np.array([[d.size if d.kind == "C" else d.offset for d in df.directives]],
                    dtype=np.int64)
    return build_levels(layer, tensor_table(layer.type, False), df.structure, sizes, offs,
                        np.array([num_pes]))


def test_a_two_level_mapping_by_hand_and_maestro_below_it():
    """PE 0 gets 4 of 128 input channels (C over 33 units) and 27 of 128 output channels
    (19 of the first 92 over 5 units, 8 of the last 36), all 26 x 26 outputs and 9 filter
    taps: 657,072 MACs, while MAESTRO reports 606,737 cycles for the mapping."""
    df = parse_dataflow("TemporalMap(92,92) K; SpatialMap(1,1) C; TemporalMap(3,3) R; "
                        "TemporalMap(3,3) S; TemporalMap(24,22) Y; TemporalMap(4,2) X; "
                        "Cluster(5,P); SpatialMap(1,1) K; TemporalMap(1,1) C; "
                        "TemporalMap(3,3) R; TemporalMap(3,3) S; TemporalMap(22,20) Y; "
                        "TemporalMap(3,1) X")
    macs, exact = busiest_pe_macs(CONV, levels_of(CONV, df))
    assert exact[0] and macs[0] == 4 * 27 * 9 * 26 * 26 == 657_072
    rep = evaluate(CONV, HW, df)
    assert rep.runtime == 606_737  # MAESTRO's number stays, flagged
    assert not rep.valid and rep.flags & ERR_BUSIEST_PE and "busiest PE" in rep.reason
    phys = evaluate(CONV, HW, df, cost_model="physical")
    assert phys.runtime >= 657_072 and phys.valid  # the physical model's floor


def test_the_floor_leaves_countable_mappings_at_or_above_it():
    """On random two-level mappings: ``maestro`` flags exactly the runtimes below PE 0's
    count and keeps every number; ``physical`` (with an unbounded off-chip port) never
    reports less than that count and equals MAESTRO elsewhere."""
    hw = dataclasses.replace(HW, offchip_bw=INT_MAX)
    sp = MappingSpace(CONV, hw, max_levels=2, second_spatial=False)
    g = sp.sample(np.random.default_rng(4), 400)
    g = g.take(np.flatnonzero(g.levels == 2))
    flagged = 0
    for i in range(len(g)):
        df = sp.decode(g, i)
        macs, exact = busiest_pe_macs(CONV, levels_of(CONV, df))
        m = evaluate(CONV, hw, df)
        p = evaluate(CONV, hw, df, cost_model="physical")
        below = exact[0] and m.runtime < macs[0]
        assert bool(m.flags & ERR_BUSIEST_PE) == below
        flagged += below
        assert p.runtime == (max(m.runtime, macs[0]) if exact[0] else m.runtime)
    assert flagged  # the draw holds some undercounts


def test_it_equals_the_genome_count_and_bounds_one_level_runtimes():
    """Two independent counts agree (levels here, genomes in MappingSpace.compute_estimate)
    on random one- to three-level mappings, strided too, and with filters narrower than
    their stride (kept rows against output rows); MAESTRO's runtime of a valid one-level
    mapping is never below it."""
    strided = Layer("c1", "CONV", dict(K=16, C=3, R=7, S=7, Y=64, X=64), {"X": 2, "Y": 2})
    narrow = Layer("s2", "CONV", dict(K=24, C=16, R=1, S=1, Y=57, X=28), {"X": 2, "Y": 2})
    wide_stride = Layer("s3", "CONV", dict(K=8, C=6, R=2, S=1, Y=40, X=41), {"X": 3, "Y": 3})
    for layer in (CONV, strided, narrow, wide_stride):
        sp = MappingSpace(layer, HW, max_levels=3, second_spatial=False)
        g = sp.sample(np.random.default_rng(1), 150)
        est = sp.compute_estimate(g)
        for i in range(len(g)):
            df = sp.decode(g, i)
            macs, exact = busiest_pe_macs(layer, levels_of(layer, df))
            assert exact[0] and macs[0] == est[i], str(df)
            if g.levels[i] == 1:
                rep = evaluate(layer, HW, df)
                assert not rep.valid or rep.runtime >= macs[0]


def _one_spatial(df, keep=None):
    """``df`` with the SpatialMaps of each level but one made TemporalMaps of the same size
    and offset: the one on dim ``keep[level]``, else the level's first."""
    out, level, seen = [], 0, False
    for d in df.directives:
        if d.kind == "C":
            level, seen = level + 1, False
        elif d.kind == "S":
            mine = keep[level] == d.dim if keep and keep[level] else not seen
            if not mine:
                d = TemporalMap(d.size, d.offset, d.dim)
            seen = True
        out.append(d)
    return Dataflow(tuple(out))


def test_the_search_bound_counts_second_spatial_dims_of_one_tile_as_the_model_does():
    """``MappingSpace.pe0_bound`` counts a genome whose second spatial dims keep one tile,
    and then equals PE 0's count of its mapping; it leaves the others at 0."""
    strided = Layer("c1", "CONV", dict(K=16, C=3, R=7, S=7, Y=64, X=64), {"X": 2, "Y": 2})
    narrow = Layer("s2", "CONV", dict(K=24, C=16, R=1, S=1, Y=57, X=28), {"X": 2, "Y": 2})
    wide_stride = Layer("s3", "CONV", dict(K=8, C=6, R=2, S=1, Y=40, X=41), {"X": 3, "Y": 3})
    for layer in (CONV, strided, narrow, wide_stride):
        sp = MappingSpace(layer, HW, max_levels=3, second_spatial=True, second_spatial_rate=1.0)
        g = sp.sample(np.random.default_rng(5), 400)
        bound = sp.pe0_bound(g)
        counted = 0
        for i in range(len(g)):
            macs, exact = busiest_pe_macs(layer, levels_of(layer, sp.decode(g, i)))
            if bound[i]:
                assert exact[0] and macs[0] == bound[i], str(sp.decode(g, i))
                counted += (g.par2[i, : g.levels[i]] >= 0).any()
        assert counted >= 20  # second spatial dims among the counted genomes


def test_a_second_spatial_map_of_one_tile_is_counted():
    """ResNet-18 CONV4_1_2: the inner level's ``SpatialMap(1,1) C`` gets a parent tile of
    one channel, so it leaves C in one tile; PE 0 does the work of the same mapping with a
    TemporalMap there (19 channel folds x 256 x 9 x 12 x 12 / 12 = 525,312 MACs), which
    MAESTRO reports as 506,161 cycles for both."""
    layer = Layer("CONV4_1_2", "CONV", dict(K=256, C=256, R=3, S=3, Y=14, X=14))
    df = parse_dataflow("TemporalMap(49,49) K; TemporalMap(3,3) R; SpatialMap(1,1) C; "
                        "TemporalMap(3,3) S; TemporalMap(14,12) Y; TemporalMap(3,1) X; "
                        "Cluster(12,P); TemporalMap(3,3) S; TemporalMap(3,1) X; "
                        "TemporalMap(3,3) R; SpatialMap(3,1) Y; TemporalMap(12,12) K; "
                        "SpatialMap(1,1) C")
    macs, exact = busiest_pe_macs(layer, levels_of(layer, df))
    assert exact[0] and macs[0] == 19 * 256 * 9 * 12 == 525_312
    for d in (df, _one_spatial(df)):
        rep = evaluate(layer, HW, d)
        assert rep.runtime == 506_161 and rep.flags & ERR_BUSIEST_PE
        assert evaluate(layer, HW, d, cost_model="physical").runtime == 525_312


def test_second_spatial_maps_count_as_temporal_maps_where_they_leave_one_tile():
    """On random one- to three-level mappings with second SpatialMaps: where every level
    splits at most one dim into several tiles, or has one unit, PE 0's count is that of the
    mapping with the second SpatialMaps made TemporalMaps; where a level splits two over
    several units, it is not counted."""
    strided = Layer("c1", "CONV", dict(K=16, C=3, R=7, S=7, Y=64, X=64), {"X": 2, "Y": 2})
    counted = uncounted = 0
    for layer in (CONV, strided):
        sp = MappingSpace(layer, HW, max_levels=3, second_spatial=True, second_spatial_rate=1.0)
        g = sp.sample(np.random.default_rng(7), 300)
        for i in range(len(g)):
            df = sp.decode(g, i)
            levels = levels_of(layer, df)
            macs, exact = busiest_pe_macs(layer, levels)
            split_two, keep = False, []
            for lv in levels:
                split = []
                for j in lv.spatial:
                    d = lv.directives[j]
                    one = lv.SD[d.var][0] <= d.m[0] or (
                        d.var in ("Y", "X")
                        and (lv.SD[d.var][0] - layer.full_dims()[REF_DIMS[d.var]]) // d.o[0] == 0)
                    if not one:
                        split.append(d.var)
                split_two |= len(split) >= 2 and lv.N[0] >= 2  # one unit: all its tiles
                keep.append(split[0] if split else None)
            if split_two:
                assert not exact[0] and macs[0] == 0, str(df)
                uncounted += 1
                continue
            ref = _one_spatial(df, keep)
            m1, e1 = busiest_pe_macs(layer, levels_of(layer, ref))
            assert exact[0] == e1[0] and macs[0] == m1[0], str(df)
            counted += exact[0]
    assert counted >= 50 and uncounted >= 50  # the draw holds both kinds


def test_a_lone_unit_does_every_tile_of_two_spatial_maps():
    """ResNet-50 CONV3_1_3: each cluster of one PE splits Y and K with two SpatialMaps;
    that PE computes every Y and K tile of its cluster's tile, 401,408 MACs, where MAESTRO
    reports 305,873 cycles."""
    layer = Layer("CONV3_1_3", "CONV", dict(K=512, C=128, R=1, S=1, Y=28, X=28))
    df = parse_dataflow("SpatialMap(2,2) K; TemporalMap(24,24) C; TemporalMap(1,1) S; "
                        "TemporalMap(1,1) R; TemporalMap(21,21) X; TemporalMap(2,2) Y; "
                        "Cluster(1,P); SpatialMap(1,1) Y; TemporalMap(1,1) R; "
                        "TemporalMap(10,10) X; TemporalMap(1,1) S; SpatialMap(1,1) K; "
                        "TemporalMap(10,10) C")
    rep = evaluate(layer, HW, df)
    macs, exact = busiest_pe_macs(layer, levels_of(layer, df))
    assert exact[0] and macs[0] == 401_408 and rep.runtime == 305_873
    assert rep.flags & ERR_BUSIEST_PE
    assert evaluate(layer, HW, df, cost_model="physical").runtime == 401_408


def test_two_spatial_maps_or_a_split_filter_are_not_counted():
    two = parse_dataflow("SpatialMap(1,1) K; SpatialMap(3,1) Y; TemporalMap(3,3) R; "
                         "TemporalMap(3,3) S")
    split = parse_dataflow("SpatialMap(1,1) K; TemporalMap(1,1) R; TemporalMap(3,3) S")
    for df in (two, split):
        macs, exact = busiest_pe_macs(CONV, levels_of(CONV, df))
        assert not exact[0] and macs[0] == 0


def test_a_filter_narrower_than_its_stride_counts_output_rows():
    """A 1x1 filter at stride 2 on 224 x 224 (112 x 112 outputs): MAESTRO's rewrite makes
    ``T(155,156) X`` tiles of 78 kept columns every 156 input columns, so 78 outputs and an
    edge of 34, and ``T(55,56) Y`` four tiles of 28 output rows; PE 0 takes 20 of the 64
    output channels and all 3 input channels: 20 x 3 x 112 x 112 = 752,640 MACs, below
    MAESTRO's 981,121 cycles, which stay unflagged by the count."""
    layer = Layer("s2", "CONV", dict(K=64, C=3, R=1, S=1, Y=224, X=224), {"X": 2, "Y": 2})
    df = parse_dataflow("TemporalMap(1,1) C; TemporalMap(155,156) X; SpatialMap(20,20) K; "
                        "TemporalMap(1,1) R; TemporalMap(55,56) Y; TemporalMap(1,1) S")
    macs, exact = busiest_pe_macs(layer, levels_of(layer, df))
    assert exact[0] and macs[0] == 20 * 3 * 112 * 112 == 752_640
    rep = evaluate(layer, HW, df)
    assert rep.runtime == 981_121 and not rep.flags & ERR_BUSIEST_PE


def test_a_tile_narrower_than_a_filter_wider_than_one_is_not_counted():
    """A 2x2 filter at stride 3 with a 1-row Y tile: MAESTRO's stride rewrite skips a tile
    narrower than the filter, so its rows are not the kept ones and PE 0 is not counted."""
    layer = Layer("s3", "CONV", dict(K=8, C=4, R=2, S=2, Y=30, X=30), {"X": 3, "Y": 3})
    df = parse_dataflow("SpatialMap(1,1) K; TemporalMap(1,1) Y; TemporalMap(30,30) X; "
                        "TemporalMap(2,2) R; TemporalMap(2,2) S")
    macs, exact = busiest_pe_macs(layer, levels_of(layer, df))
    assert not exact[0] and macs[0] == 0


def test_a_paired_row_stationary_level_counts_its_filter_rows():
    """AlexNet CONV1 with 11 filter rows over 6 units, input rows paired (unit i: input row
    i, filter row i): PE 0 takes 2 of 55 output columns (X over 28 units), all 55 output
    rows, 64 output channels, 3 input channels, 11 filter columns and filter rows 0 and 6:
    2 x 55 x 64 x 3 x 11 x 2 = 464,640 MACs, below MAESTRO's 842,381 cycles. Input rows
    every 4 put rows that meet in no output on a unit: not counted (and flagged)."""
    layer = Layer("CONV1", "CONV", dict(K=64, C=3, R=11, S=11, Y=227, X=227), {"X": 4, "Y": 4})
    text = ("TemporalMap(56,56) K; TemporalMap(11,11) S; TemporalMap(11,4) Y; "
            "TemporalMap(11,11) R; TemporalMap(3,3) C; SpatialMap(11,4) X; Cluster(6,P); "
            "SpatialMap(1,1) R; TemporalMap(1,1) C; TemporalMap(11,4) X; "
            "TemporalMap(11,11) S; SpatialMap(1,{o}) Y; TemporalMap(9,9) K")
    paired = parse_dataflow(text.format(o=1))
    macs, exact = busiest_pe_macs(layer, levels_of(layer, paired))
    assert exact[0] and macs[0] == 2 * 55 * 64 * 3 * 11 * 2 == 464_640
    assert evaluate(layer, HW, paired).valid
    macs, exact = busiest_pe_macs(layer, levels_of(layer, parse_dataflow(text.format(o=4))))
    assert not exact[0] and macs[0] == 0


def test_row_stationary_levels_bound_one_level_runtimes():
    """Random one-level mappings of a widened space (R/S spatial, second spatial dims on
    most levels): no valid MAESTRO runtime is below PE 0's count, and paired window/filter
    levels are counted."""
    layer = Layer("c3", "CONV", dict(K=32, C=16, R=3, S=3, Y=20, X=20))
    sp = MappingSpace(layer, HW, max_levels=1, rs_spatial=True, second_spatial_rate=0.9)
    g = sp.sample(np.random.default_rng(2), 300)
    counted = 0
    for i in range(len(g)):
        df = sp.decode(g, i)
        macs, exact = busiest_pe_macs(layer, levels_of(layer, df))
        rep = evaluate(layer, HW, df)
        pair = any(d.kind == "S" and d.dim in ("R", "S") for d in df.directives)
        counted += bool(exact[0] and pair and rep.valid)
        assert not (exact[0] and rep.valid and rep.runtime < macs[0]), str(df)
    assert counted >= 10


def test_a_dim_of_no_tensor_multiplies_no_macs():
    """A depthwise layer's K belongs to no tensor (MAGMA's instance rows carry K = 32 on
    them): PE 0's count, the check and the physical floor are those of K = 1."""
    dims = dict(K=1, C=96, R=3, S=3, Y=30, X=30)
    one = Layer("dw", "DSCONV", dims)
    many = Layer("dw", "DSCONV", {**dims, "K": 32})
    df = parse_dataflow("SpatialMap(1,1) C; TemporalMap(3,3) R; TemporalMap(3,3) S; "
                        "TemporalMap(5,3) Y; TemporalMap(30,28) X")
    m1, e1 = busiest_pe_macs(one, levels_of(one, df))
    m32, e32 = busiest_pe_macs(many, levels_of(many, df))
    assert e1[0] and e32[0] and m1[0] == m32[0] == 9 * 28 * 28
    r1, r32 = evaluate(one, HW, df), evaluate(many, HW, df)
    assert r32.valid and not r32.flags & ERR_BUSIEST_PE and r32.runtime == r1.runtime
    p1, p32 = (evaluate(x, HW, df, cost_model="physical") for x in (one, many))
    assert p32.runtime == p1.runtime
