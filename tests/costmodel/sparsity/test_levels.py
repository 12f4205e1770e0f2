"""Sparse compute across levels (``costmodel.sparsity.report``): PEs that share a tile, edge
units and edge tiles under random sparsity, N:M windows that start inside a group because
of an outer level's tiles, all against the lockstep Monte Carlo walk of every level."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import hypergeom

from costmodel import Hardware, Layer
from costmodel.analysis import evaluate_batch
from costmodel.layer import tensor_table
from costmodel.levels import build_levels
from costmodel.physical import compulsory
from costmodel.sparsity import uniform
from costmodel.sparsity.montecarlo import monte_carlo, walk
from costmodel.sparsity.report import compute_ratio
from costmodel.sparsity.stats import expected_max_mixed, step_cycles

PES = 64


def _ratio_and_mc(dims, density, shape, sizes, trials=200):
    layer = Layer("G", "GEMM", dims, density={"weight": density})
    table = tensor_table("GEMM", False)
    cfg = uniform({"weight": "nm" if isinstance(density, str) else "bitmask"}, "skip")
    sizes = np.array([sizes])
    rep = evaluate_batch(layer, shape, sizes, sizes, Hardware(num_pes=PES),
                         cost_model="physical")
    assert rep["valid"][0]
    lv = build_levels(layer, table, shape, sizes, sizes, np.full(1, PES))
    tot = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
    P = np.maximum(np.rint(rep["avg_utilized_pes"]), 1)
    model = compute_ratio(layer, table, lv, cfg, P, np.ones(1), tot)[0]
    mc, sd = monte_carlo(layer, shape, sizes[0], sizes[0], PES, layer.density["weight"],
                         trials=trials, seed=1)
    return model, mc, sd / np.sqrt(trials)


CASES = [
    # units over M (not a weight dim) share one weight tile: one draw, not 64
    ({"M": 64, "N": 64, "K": 64}, 0.5, [("S", "M"), ("T", "K"), ("T", "N")], [1, 4, 8]),
    # clusters over M share their tile; inner units over N draw apart
    ({"M": 16, "N": 64, "K": 64}, 0.5,
     [("S", "M"), ("T", "N"), ("T", "K"), ("C", ""), ("S", "N"), ("T", "M"), ("T", "K")],
     [1, 8, 4, 4, 1, 1, 4]),
    # a spatial edge unit (N = 2 + 6 x 11 over 6-wide tiles) and a parent's edge tile on K
    ({"M": 16, "N": 68, "K": 64}, 0.3,
     [("T", "M"), ("T", "K"), ("S", "N"), ("C", ""), ("S", "N"), ("T", "K"), ("T", "M")],
     [4, 28, 12, 8, 3, 4, 1]),
    # outer K tiles of 6 put the inner 3-wide windows at offsets 0 and 2 of a 2:4 group
    ({"M": 32, "N": 64, "K": 96}, "2:4",
     [("T", "K"), ("T", "M"), ("S", "N"), ("C", ""), ("S", "N"), ("T", "M"), ("T", "K")],
     [6, 8, 8, 8, 1, 1, 3]),
    # outer K tiles of 19: inner windows start at every offset, the last outer tile is short
    ({"M": 16, "N": 48, "K": 64}, "2:4",
     [("T", "K"), ("T", "M"), ("S", "N"), ("C", ""), ("S", "K"), ("T", "M"), ("T", "N")],
     [19, 10, 1, 1, 19, 1, 1]),
    # 4 K tiles over 5 clusters, the last 4 wide: it works in one of its fold's 5 K steps
    ({"M": 32, "N": 48, "K": 64}, 0.3,
     [("S", "K"), ("T", "N"), ("T", "M"), ("C", ""), ("S", "M"), ("T", "N"), ("T", "K")],
     [20, 12, 1, 11, 1, 7, 4]),
    ({"M": 32, "N": 48, "K": 64}, "4:8",
     [("S", "K"), ("T", "N"), ("T", "M"), ("C", ""), ("S", "M"), ("T", "N"), ("T", "K")],
     [20, 12, 1, 11, 1, 7, 4]),
    # 13 N tiles over 12 clusters: a fold of 12 clusters, then the 4-wide edge cluster alone
    ({"M": 8, "N": 100, "K": 32}, 0.3,
     [("S", "N"), ("T", "K"), ("T", "M"), ("C", ""), ("S", "M"), ("T", "N"), ("T", "K")],
     [8, 8, 8, 5, 1, 2, 4]),
]


@pytest.mark.parametrize("dims, density, shape, sizes", CASES)
def test_model_matches_the_lockstep_walk_across_levels(dims, density, shape, sizes):
    model, mc, se = _ratio_and_mc(dims, density, shape, sizes)
    assert abs(model - mc) <= max(4 * se, 0.01 * mc), (model, mc, se)


def test_walk_of_one_level_is_the_level_walk():
    """Clusters of one PE that take their whole tile change no PE's tile or step."""
    layer = Layer("G", "GEMM", {"M": 16, "N": 32, "K": 32}, density={"weight": 0.4})
    mask = np.random.default_rng(3).random((32, 32)) < 0.4
    one = walk(layer, [("T", "M"), ("S", "N"), ("T", "K")], [4, 2, 8], [4, 2, 8], PES, mask,
               "weight")
    two = walk(layer, [("T", "M"), ("S", "N"), ("T", "K"), ("C", ""), ("T", "M"), ("S", "N"),
                       ("T", "K")], [4, 2, 8, 1, 4, 2, 8], [4, 2, 8, 1, 4, 2, 8], PES, mask,
               "weight")
    assert one == two


def test_walk_rejects_two_spatial_maps_in_a_level():
    layer = Layer("G", "GEMM", {"M": 16, "N": 32, "K": 32})
    with pytest.raises(ValueError, match="one SpatialMap per level"):
        walk(layer, [("S", "M"), ("S", "N"), ("T", "K")], [1, 1, 8], [1, 1, 8], PES,
             np.ones((32, 32), bool), "weight")


def test_expected_max_mixed_matches_the_exact_sum():
    """Units of two tile sizes: the exact maximum's law ``F_n^k F_e^k_e``, summed."""
    rng = np.random.default_rng(0)
    for _ in range(60):
        T, d = 4000, float(rng.choice([0.1, 0.5, 0.8]))
        n = int(rng.integers(1, 600))
        ne, k, ke = int(rng.integers(1, n + 1)), int(rng.integers(0, 40)), int(rng.integers(0, 3))
        if k + ke == 0:
            continue
        r, s = float(rng.integers(1, 5)), float(rng.choice([1, 2, 4]))
        K = int(round(d * T))
        x = np.arange(n + 1)
        F = hypergeom.cdf(x, T, K, n) ** k * hypergeom.cdf(x, T, K, ne) ** ke
        ref = (step_cycles(x, r, s) * np.diff(F, prepend=0.0)).sum()
        got = expected_max_mixed([n], [k], [ne], [ke], d, r, s, T)[0]
        assert got == pytest.approx(ref, rel=1e-9)


def _input_ratio_and_mc(dims, strides, shape, sizes, offs, pes, trials):
    """Model and lockstep walk with the input activations (random 0.3) conditioning a
    skipping compute."""
    import dataclasses
    layer = Layer("C", "CONV", dims, strides=strides, density={"input": 0.3})
    table = tensor_table("CONV", False)
    cfg = dataclasses.replace(uniform({"input": "bitmask"}, "skip"), on=("input",))
    sizes, offs = np.array([sizes]), np.array([offs])
    rep = evaluate_batch(layer, shape, sizes, offs, Hardware(num_pes=pes), cost_model="physical")
    assert rep["valid"][0]
    lv = build_levels(layer, table, shape, sizes, offs, np.full(1, pes))
    tot = dict(zip(("input", "weight", "output"), compulsory(layer, table)))
    P = np.maximum(np.rint(rep["avg_utilized_pes"]), 1)
    model = compute_ratio(layer, table, lv, cfg, P, np.ones(1), tot)[0]
    mc, sd = monte_carlo(layer, shape, sizes[0], offs[0], pes, layer.density["input"],
                         tensor="input", trials=trials, seed=1)
    return model, mc, sd / np.sqrt(trials)


def test_strided_tiles_with_gaps_count_no_tile_past_the_end():
    """ResNet-50 CONV5_1_1 (1x1, stride 2) as the mapper tunes it: after MAESTRO's stride
    adjustment its X tiles are 1 column every 2 and its Y tile 7 rows every 14, so no tile
    starts at the axis' end (counting one there added 1-cycle steps: +5%)."""
    shape = [("S", "K"), ("T", "S"), ("T", "C"), ("T", "Y"), ("T", "R"), ("T", "X"), ("C", ""),
             ("T", "K"), ("T", "S"), ("T", "C"), ("S", "Y"), ("T", "R"), ("T", "X")]
    model, mc, se = _input_ratio_and_mc(
        {"K": 512, "C": 1024, "R": 1, "S": 1, "Y": 14, "X": 14}, {"Y": 2, "X": 2}, shape,
        [1, 1, 16, 13, 1, 1, 2, 1, 1, 16, 3, 1, 1], [1, 1, 16, 14, 1, 2, 2, 1, 1, 16, 4, 1, 2],
        168, 40)
    assert abs(model - mc) <= max(4 * se, 0.01 * mc), (model, mc, se)


def test_walk_takes_a_second_spatial_map_of_one_tile():
    """A second SpatialMap whose dim is one tile at its level gives it to every unit: the
    walk equals the one with that directive temporal, and the model agrees with it."""
    layer = Layer("C", "CONV", {"K": 8, "C": 16, "R": 3, "S": 3, "Y": 12, "X": 30},
                  density={"input": 0.4})
    mask = np.random.default_rng(4).random((16, 12, 30)) < 0.4
    two = [("T", "Y"), ("T", "C"), ("S", "K"), ("C", ""), ("T", "X"), ("T", "Y"), ("S", "C"),
           ("S", "K"), ("T", "R"), ("T", "S")]
    one = two[:7] + [("T", "K")] + two[8:]
    sizes = [5, 16, 1, 3, 4, 3, 3, 1, 3, 3]
    offs = [3, 16, 1, 3, 2, 1, 3, 1, 3, 3]
    assert walk(layer, two, sizes, offs, 24, mask, "input") == walk(layer, one, sizes, offs, 24,
                                                                     mask, "input")
    model, mc, se = _input_ratio_and_mc(dict(layer.dims), {}, two, sizes, offs, 24, 200)
    assert abs(model - mc) <= max(4 * se, 0.01 * mc), (model, mc, se)


def test_overlapping_windows_of_neighbouring_units():
    """Units over X with one output column each (windows of 3 stepping by 1) share two of
    their three columns: their counts are correlated, and the step's maximum lies below that
    of independent windows (taken as independent the model was 4.6% above the walk)."""
    shape = [("T", "K"), ("T", "C"), ("T", "Y"), ("S", "X"), ("T", "R"), ("T", "S")]
    model, mc, se = _input_ratio_and_mc(
        {"K": 4, "C": 16, "R": 3, "S": 3, "Y": 10, "X": 34}, {}, shape, [1, 1, 3, 3, 3, 3],
        [1, 1, 1, 1, 3, 3], 32, 150)
    assert abs(model - mc) <= max(4 * se, 0.01 * mc), (model, mc, se)


@pytest.mark.parametrize("m, o, per, units, d", [
    (3, 1, 1, 4, 0.3), (5, 2, 1, 3, 0.4), (4, 3, 2, 3, 0.3), (3, 2, 2, 3, 0.5),
    (7, 3, 1, 3, 0.6), (2, 1, 3, 4, 0.3), (6, 2, 1, 4, 0.3)])
def test_chain_cdf_matches_enumeration(m, o, per, units, d):
    """The law of the maximum over overlapping windows against every mask, weighted."""
    from costmodel.sparsity.stats import chain_cdf
    L = (units - 1) * o + m
    bits = L * per
    x = ((np.arange(2 ** bits)[:, None] >> np.arange(bits)[None, :]) & 1).reshape(-1, L, per)
    kept = x.sum(axis=(1, 2))
    weight = d ** kept * (1 - d) ** (bits - kept)
    col = x.sum(axis=2)
    top = np.stack([col[:, i * o:i * o + m].sum(axis=1) for i in range(units)], 1).max(axis=1)
    ks = np.arange(m * per + 1)
    ref = np.array([weight[top <= k].sum() for k in ks])
    np.testing.assert_allclose(chain_cdf(m, o, per, units, d, ks), ref, atol=1e-12)


def test_walk_idles_input_windows_cut_narrower_than_the_filter():
    """A parent's edge tile of input rows 4-6 cuts the inner windows of 3 rows stepping by 1
    to rows 5-6 and 6: they hold no whole filter window and compute nothing (the second
    fold, the cut window alone, takes no step)."""
    layer = Layer("C", "CONV", {"K": 1, "C": 1, "R": 3, "S": 3, "Y": 7, "X": 3})
    shape = [("S", "K"), ("T", "C"), ("T", "Y"), ("T", "X"), ("T", "R"), ("T", "S"), ("C", ""),
             ("T", "K"), ("T", "C"), ("S", "Y"), ("T", "X"), ("T", "R"), ("T", "S")]
    sizes = [1, 1, 5, 3, 3, 3, 2, 1, 1, 3, 3, 3, 3]
    offs = [1, 1, 4, 3, 3, 3, 2, 1, 1, 1, 3, 3, 3]
    # rows 0-4: windows 0-2, 1-3 | 2-4; rows 4-6: window 4-6 | (6 alone: idle); 81 = 9 x 9
    assert walk(layer, shape, sizes, offs, 2, np.ones((1, 7, 3), bool), "input") == 3 * 81


def test_step_cycles_round_a_fractional_work():
    """A fractional number of uses per kept element (an input row at a window's edge takes
    fewer filter rows) is a mean: the whole MACs it stands for are rounded, so the cycles
    carry no half-cycle bias on average."""
    k = np.arange(50, 5000)
    for r in (432 / 168, 1.5):      # 1.5: every other work a half
        assert abs(np.mean(step_cycles(k, r, 1.0) - r * k)) < 0.01
        assert abs(np.mean(step_cycles(k, r, 4.0) - (r * k + 1.5) / 4)) < 0.03
