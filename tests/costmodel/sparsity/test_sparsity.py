"""Sparse physical model: dense identity, N:M exactness, expected max against Monte Carlo,
formats, gating, I/O of densities and the errors on bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from costmodel import Hardware, Layer
from costmodel.analysis import evaluate_batch
from costmodel.errors import MaestroInputError
from costmodel.io import format_mapping, parse_mapping
from costmodel.io.yaml_io import network_from_dict, sparsity_from_dict
from costmodel.layer import tensor_table
from costmodel.levels import build_levels
from costmodel.physical import compulsory
from costmodel.sparsity import SparsityConfig, uniform
from costmodel.sparsity.montecarlo import monte_carlo
from costmodel.sparsity.report import compute_ratio
from costmodel.sparsity.stats import expected_max_cycles, step_cycles

SHAPE = [("T", "M"), ("S", "N"), ("T", "K")]
DIMS = {"M": 64, "N": 64, "K": 64}
HW = Hardware(num_pes=64, offchip_bw=64, l2_size=100000)


def _batch(rng, B=40):
    sizes = np.stack([rng.choice([1, 2, 4, 8, 16], B), rng.choice([1, 2, 4], B),
                      rng.choice([4, 8, 16, 32, 64], B)], axis=1)
    return sizes, sizes.copy()


def _eval(layer, sizes, offs, cfg):
    return evaluate_batch(layer, SHAPE, sizes, offs, HW, cost_model="physical", sparsity=cfg)


def test_dense_identity():
    rng = np.random.default_rng(0)
    sizes, offs = _batch(rng)
    dense = _eval(Layer("g", "GEMM", DIMS), sizes, offs, None)
    for layer, cfg in ((Layer("g", "GEMM", DIMS, density={"weight": 1.0}), None),
                       (Layer("g", "GEMM", DIMS), uniform({"weight": "dense"}, "none"))):
        r = _eval(layer, sizes, offs, cfg)
        for k in dense:
            assert np.array_equal(np.asarray(dense[k]), np.asarray(r[k])), k


def test_nm_exact_and_faster():
    rng = np.random.default_rng(1)
    sizes, offs = _batch(rng)
    dense = _eval(Layer("g", "GEMM", DIMS), sizes, offs, None)
    sp = _eval(Layer("g", "GEMM", DIMS, density={"weight": "2:4"}), sizes, offs,
               uniform({"weight": "nm"}, "skip"))
    assert (sp["runtime"] <= dense["runtime"]).all()
    assert (sp["effectual_macs"] * 2 == dense["num_macs"]).all()
    assert (sp["dram_read_weight"] < dense["dram_read_weight"]).all()
    # Monte Carlo with real 2:4 masks: K tiles are multiples of 4, so exact
    layer = Layer("g", "GEMM", DIMS, density={"weight": "2:4"})
    table = tensor_table("GEMM", False)
    for b in range(5):
        s, o = sizes[b:b + 1], offs[b:b + 1]
        lv = build_levels(layer, table, SHAPE, s, o, np.array([64]))
        tot = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
        model = compute_ratio(layer, table, lv, uniform({"weight": "nm"}, "skip"),
                              np.array([64.0]), np.array([1]), tot)
        mc, sd = monte_carlo(layer, SHAPE, s[0], o[0], 64, layer.density["weight"], trials=3)
        assert sd == 0 and model[0] == pytest.approx(mc, rel=1e-12)


@pytest.mark.parametrize("shape,sizes,units,kn,above_mean", [
    ([("T", "M"), ("S", "N"), ("T", "K")], [1, 1, 3], 2, (8, 2), True),  # K windows split groups
    ([("S", "N"), ("T", "K"), ("T", "M")], [1, 6, 2], 2, (8, 2), True),  # 1.5 groups, edge
    ([("T", "N"), ("S", "M"), ("T", "K")], [2, 1, 5], 2, (8, 2), False),  # units share a tile
    ([("S", "K"), ("T", "N"), ("T", "M")], [1, 1, 2], 4, (8, 2), True),   # units split a group
    ([("S", "K"), ("T", "N"), ("T", "M")], [3, 2, 2], 2, (8, 2), True),   # ... and straddle
    ([("S", "N"), ("T", "K"), ("T", "M")], [2, 3, 2], 2, (4, 3), True),   # edge unit on N
    ([("T", "N"), ("S", "K"), ("T", "M")], [2, 1, 2], 2, (4, 3), True),   # edge rows on N
    ([("S", "N"), ("T", "K"), ("T", "M")], [2, 3, 2], 1, (4, 3), True),  # a fold of one edge
])
def test_nm_split_groups_exact(shape, sizes, units, kn, above_mean):
    """Windows that split N:M groups: the model equals the average over every 2:4 mask of a
    K x N weight (all 6^(K N / 4) masks), walked through the mapping's steps and units."""
    from itertools import combinations, product

    from costmodel.sparsity.montecarlo import walk
    K, N = kn
    layer = Layer("g", "GEMM", {"M": 4, "N": N, "K": K}, density={"weight": "2:4"})
    table = tensor_table("GEMM", False)
    s = np.array([sizes])
    lv = build_levels(layer, table, shape, s, s, np.array([units]))
    tot = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
    cfg = uniform({"weight": "nm"}, "skip")
    P = np.maximum(np.rint(evaluate_batch(layer, shape, s, s, Hardware(num_pes=units),
                                          cost_model="physical")["avg_utilized_pes"]), 1)
    model = compute_ratio(layer, table, lv, cfg, P, np.array([1]), tot)[0]
    groups = [np.isin(np.arange(4), c) for c in combinations(range(4), 2)]
    dense = walk(layer, shape, s[0], s[0], units, np.ones((K, N), dtype=bool), "weight")
    g = K // 4
    total = [walk(layer, shape, s[0], s[0], units,
                  np.stack([np.concatenate(pick[c * g:(c + 1) * g]) for c in range(N)], axis=1),
                  "weight") for pick in product(groups, repeat=g * N)]
    assert model == pytest.approx(np.mean(total) / dense, rel=1e-12)
    # units whose tiles split groups: the slower one sets the step (and an empty one-element
    # window still takes its cycle); one shared tile: the mean
    assert (model > 0.5) == above_mean


@pytest.mark.parametrize("density", [0.2, 0.5, 0.8])
def test_expected_max_matches_monte_carlo(density):
    layer = Layer("g", "GEMM", DIMS, density={"weight": density})
    table = tensor_table("GEMM", False)
    s = np.array([[4, 1, 16]])
    lv = build_levels(layer, table, SHAPE, s, s, np.array([64]))
    tot = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
    cfg = uniform({"weight": "bitmask"}, "skip")
    model = compute_ratio(layer, table, lv, cfg, np.array([64.0]), np.array([1]), tot)[0]
    mean = compute_ratio(layer, table, lv, cfg, np.array([64.0]), np.array([1]), tot, "mean")[0]
    mc, _ = monte_carlo(layer, SHAPE, s[0], s[0], 64, layer.density["weight"], trials=20)
    assert model == pytest.approx(mc, rel=0.03)
    assert abs(mean / mc - 1) > abs(model / mc - 1)   # the mean understates the time


def test_expected_max_against_sampling():
    rng = np.random.default_rng(3)
    n, d, P, T = 50, 0.3, 32, 100000
    sims = [step_cycles(rng.hypergeometric(int(d * T), T - int(d * T), n, P).max(), 1, 1)
            for _ in range(4000)]
    assert expected_max_cycles(n, d, P, 1, 1, T) == pytest.approx(np.mean(sims), rel=0.01)


def test_gating_saves_energy_not_cycles_and_formats():
    rng = np.random.default_rng(4)
    sizes, offs = _batch(rng)
    layer = Layer("g", "GEMM", DIMS, density={"weight": 0.3})
    none = _eval(layer, sizes, offs, uniform({"weight": "bitmask"}, "none"))
    gate = _eval(layer, sizes, offs, uniform({"weight": "bitmask"}, "gate"))
    skip = _eval(layer, sizes, offs, uniform({"weight": "bitmask"}, "skip"))
    assert np.array_equal(none["runtime"], gate["runtime"])
    assert (gate["energy_total_nj"] < none["energy_total_nj"]).all()
    assert (skip["runtime"] <= gate["runtime"]).all()
    assert (none["metadata_elements"] > 0).all()
    low = Layer("g", "GEMM", DIMS, density={"weight": 0.02})
    bm = _eval(low, sizes, offs, uniform({"weight": "bitmask"}, "none"))
    co = _eval(low, sizes, offs, uniform({"weight": "coordinate"}, "none"))
    assert (co["dram_read_weight"] < bm["dram_read_weight"]).all()  # few coordinates win


def test_density_io_roundtrip_and_yaml():
    net = network_from_dict({"name": "n", "layers": [
        {"name": "L", "type": "GEMM", "dims": DIMS, "density": {"weight": "2:4", "input": 0.6}}]})
    assert str(net.layers[0].density["weight"]) == "2:4"
    text = ("Network n {\nLayer L {\nType: GEMM\nDimensions { M: 64, N: 64, K: 64 }\n"
            "Density { Weight: 2:4; Input: 0.6 }\n}\n}\n")
    m = parse_mapping(text)
    again = parse_mapping(format_mapping(m))
    assert again.layers[0].density == m.layers[0].density
    cfg = sparsity_from_dict({"num_pes": 4, "sparsity": {"formats": {"weight": "nm"},
                                                         "compute": "skip"}})
    assert cfg.format("weight", "L1") == "nm" and cfg.compute == "skip"


@pytest.mark.parametrize("density,match", [
    ({"weight": 1.5}, "outside"), ({"weight": 0.0}, "outside"), ({"weight": "5:4"}, "N <= M"),
    ({"weight": "2:3"}, "does not divide"), ({"bias": 0.5}, "unknown tensor"),
    ({"weight": np.ones((3, 3))}, "mask shape")])
def test_bad_density(density, match):
    with pytest.raises(MaestroInputError, match=match) as err:
        Layer("badlayer", "GEMM", DIMS, density=density)
    assert "badlayer" in str(err.value)


def test_bad_format_and_action():
    with pytest.raises(MaestroInputError, match="tensor weight.*unknown format 'csr'"):
        uniform({"weight": "csr"})
    with pytest.raises(MaestroInputError, match="compute action"):
        SparsityConfig(compute="fast")
    layer = Layer("g", "GEMM", DIMS, density={"weight": 0.5})
    with pytest.raises(MaestroInputError, match="layer 'g', tensor weight.*N:M"):
        _eval(layer, np.array([[4, 1, 16]]), np.array([[4, 1, 16]]), uniform({"weight": "nm"}))


def test_nm_format_on_a_dense_tensor_is_dense_and_yaml_on_key():
    rng = np.random.default_rng(5)
    sizes, offs = _batch(rng)
    dense = _eval(Layer("g", "GEMM", DIMS), sizes, offs, None)
    r = _eval(Layer("g", "GEMM", DIMS), sizes, offs, uniform({"weight": "nm"}, "skip"))
    for k in ("runtime", "energy_total_nj", "dram_read", "l2_size", "l1_size"):
        assert np.array_equal(np.asarray(dense[k]), np.asarray(r[k])), k
    # YAML 1.1 reads an unquoted `on:` key as True
    cfg = sparsity_from_dict({"sparsity": {"formats": {"weight": "nm"}, "compute": "skip",
                                           True: "both"}})
    assert cfg.on == ("weight", "input")


def test_coord_bits_fixes_the_coordinate_width():
    from costmodel.sparsity.density import Density
    from costmodel.sparsity.formats import tile_bits
    _, meta = tile_bits("coordinate", 1024.0, 10.0, Density(0.01), 8)
    _, wide = tile_bits("coordinate", 1024.0, 10.0, Density(0.01), 8, coord_bits=14)
    assert meta == 10 * 10 + 11 and wide == 10 * 14 + 11
    cfg = sparsity_from_dict({"sparsity": {"formats": {"weight": "coordinate"},
                                           "coord_bits": 14}})
    assert cfg.coord_bits == 14 and cfg.to_dict()["coord_bits"] == 14
    with pytest.raises(MaestroInputError, match="coord_bits"):
        SparsityConfig(coord_bits=-1)


def _block_mask(shape, block, density, seed=0):
    """Clustered zeros: whole ``block x block`` squares pruned, the kept ones 90% dense."""
    rng = np.random.default_rng(seed)
    keep = rng.random((shape[0] // block, shape[1] // block)) < density
    return np.kron(keep, np.ones((block, block), bool)) & (rng.random(shape) < 0.9)


def test_mask_statistics_match_the_walk_of_that_mask():
    from costmodel.sparsity.density import tensor_shapes
    from costmodel.sparsity.montecarlo import walk
    rng = np.random.default_rng(4)
    shp = tensor_shapes(Layer("g", "GEMM", DIMS))["weight"]
    mask = _block_mask(shp, 8, 0.5).astype(np.float32) * rng.standard_normal(shp)  # a tensor
    layer = Layer("g", "GEMM", DIMS, density={"weight": mask})
    assert layer.density["weight"].mask.dtype == bool
    table = tensor_table("GEMM", False)
    tot = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
    cfg = uniform({"weight": "bitmask"}, "skip")
    sizes = np.array([[4, 1, 16], [2, 4, 8], [8, 2, 32], [1, 8, 4]])
    lv = build_levels(layer, table, SHAPE, sizes, sizes, np.full(len(sizes), 64))
    P = np.minimum(64, 64 // sizes[:, 1]).astype(float)
    model = compute_ratio(layer, table, lv, cfg, P, np.ones(len(sizes)), tot)
    rand = compute_ratio(layer, table, lv, cfg, P, np.ones(len(sizes)), tot, "random")
    nz = mask != 0
    for b, s in enumerate(sizes):
        mc = (walk(layer, SHAPE, s, s, 64, nz, "weight")
              / walk(layer, SHAPE, s, s, 64, np.ones(shp, bool), "weight"))
        assert model[b] == pytest.approx(mc, rel=1e-9)
        assert abs(rand[b] / mc - 1) > 0.1     # the random law misses the clustered zeros
    # the batch path uses the mask's statistics too: slower than the random law says
    r_mask = _eval(layer, sizes, sizes, cfg)
    r_rand = _eval(Layer("g", "GEMM", DIMS, density={"weight": float(nz.mean())}), sizes, sizes,
                   cfg)
    assert (r_mask["runtime"] > r_rand["runtime"]).all()


def test_mask_shape_error_names_layer_and_tensor(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.ones((64, 63)))
    with pytest.raises(MaestroInputError, match=r"'badlayer', tensor weight: mask shape"):
        Layer("badlayer", "GEMM", DIMS, density={"filter": str(path)})


def test_mask_l1_buffer_holds_the_fullest_tile_of_the_mask():
    """With a mask, the L1 buffer of a compressed tensor holds the mask's fullest tile (its
    nonzero count over every whole tile of the mapping), not the random law's mean + 3 sd."""
    from costmodel.sparsity.density import Density, tensor_shapes
    from costmodel.sparsity.formats import ratio
    shp = tensor_shapes(Layer("g", "GEMM", DIMS))["weight"]
    nz = _block_mask(shp, 8, 0.5, seed=2)
    layer = Layer("g", "GEMM", DIMS, density={"weight": nz})
    cfg = uniform({"weight": "bitmask"}, "skip")
    sizes = np.array([[4, 1, 16], [2, 4, 8], [8, 2, 32], [1, 8, 4], [16, 4, 64]])
    dense = _eval(Layer("g", "GEMM", DIMS), sizes, sizes, None)
    sparse = _eval(layer, sizes, sizes, cfg)
    dims = dict(zip("MNK", range(3)))
    table = tensor_table("GEMM", False)
    order = [d for d in table.filter if d in DIMS]
    bits = 8.0 * HW.element_bytes
    for b, s in enumerate(sizes):
        t = [int(s[dims[d]]) for d in order]
        counts = nz.reshape(shp[0] // t[0], t[0], shp[1] // t[1], t[1]).sum(axis=(1, 3))
        n = t[0] * t[1]
        c, _ = ratio("bitmask", n, Density(float(nz.mean())), bits, kept=counts.max())
        assert sparse["filter_l1_size"][b] == np.ceil(dense["filter_l1_size"][b] * c)
    rand = _eval(Layer("g", "GEMM", DIMS, density={"weight": float(nz.mean())}), sizes, sizes,
                 cfg)
    assert (sparse["filter_l1_size"] != rand["filter_l1_size"]).any()


@pytest.mark.parametrize("nm", ["2:4", "1:4", "4:8"])
def test_nm_runtime_never_below_the_effectual_compute_bound(nm):
    """Random 1- to 3-level mappings (clusters, edge tiles, any spatial dim): an N:M layer
    with skipping never takes fewer cycles than its effectual MACs over the PEs."""
    from costmodel.analysis import evaluate
    from search_spaces.mapping_space import MappingSpace
    layer = Layer("g", "GEMM", {"M": 96, "N": 160, "K": 200}, density={"weight": nm})
    hw = Hardware(num_pes=64, offchip_bw=64, l2_size=10 ** 7, l1_size=10 ** 6)
    space = MappingSpace(layer, hw, max_levels=3)
    g = space.sample(np.random.default_rng(5), 120)
    cfg = uniform({"weight": "nm"}, "skip")
    for i in range(120):
        r = evaluate(layer, hw, space.decode(g, i), cost_model="physical", sparsity=cfg)
        if r.valid:
            assert r.runtime * hw.num_pes >= r.effectual_macs, space.decode(g, i)


def test_nm_fold_of_one_edge_unit_keeps_the_bound():
    """A tuned 2:4 BERT projection whose inner clusters of one PE step over N tiles of 2
    and 1 (the second fold holds only the edge tile): at least half of dense."""
    from costmodel.analysis import evaluate
    from costmodel.io import parse_mapping
    net = parse_mapping("""Network n { Layer Q { Type: GEMM
        Dimensions { M: 512, N: 768, K: 768 }
        Density { Weight: 2:4 }
        Dataflow { SpatialMap(1,1) M; TemporalMap(384,384) K; TemporalMap(3,3) N;
                   Cluster(1,P); TemporalMap(77,77) K; TemporalMap(1,1) M;
                   SpatialMap(2,2) N; } } }""")
    layer = net.layers[0]
    hw = Hardware(num_pes=256, offchip_bw=64, l2_size=10 ** 7)
    sp = evaluate(layer, hw, cost_model="physical", sparsity=uniform({"weight": "nm"}, "skip"))
    dense = evaluate(dataclasses.replace(layer, density={}), hw, cost_model="physical")
    assert 0.5 <= sp.runtime / dense.runtime < 0.52
