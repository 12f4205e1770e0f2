"""The engine's top-level record: compute cycles and iteration count next to the report."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import Cluster, Dataflow, Hardware, Layer, SpatialMap, TemporalMap
from costmodel.analysis import evaluate_batch, hardware_batch
from costmodel.engine import ERR_NO_VALID, Engine
from costmodel.layer import tensor_table
from costmodel.levels import build_levels
from search_spaces import MappingSpace

T, S = TemporalMap, SpatialMap
KCP_WS = Dataflow([S(1, 1, "K"), T(64, 64, "C"), T(3, 3, "R"), T(3, 3, "S"), T(3, 1, "Y"),
                   T(3, 1, "X"), Cluster(64), S(1, 1, "C"), T(3, 1, "Y"), T(3, 1, "X"),
                   T(3, 3, "R"), T(3, 3, "S")])
CONV2 = Layer("CONV2_1_2", "CONV", dict(K=64, C=64, R=3, S=3, Y=56, X=56), dataflow=KCP_WS)
ACC1 = Hardware(num_pes=256, l1_size=100, l2_size=3000, noc_bw=1000, offchip_bw=50)


def _top(layer, structure, sizes, offsets, hw):
    """The engine's top-level record, set up as :func:`evaluate_batch` does."""
    table = tensor_table(layer.type, "N" in layer.dims)
    hwb = hardware_batch(hw, len(sizes))
    levels = build_levels(layer, table, structure, sizes, offsets, hwb.num_pes)
    return Engine(levels, table, hwb).analyze(0, np.arange(len(sizes)), dict(levels[0].SD))


def _one(layer):
    df = layer.dataflow
    sizes = np.array([[d.size for d in df.directives]])
    offsets = np.array([[d.size if d.kind == "C" else d.offset for d in df.directives]])
    return df.structure, sizes, offsets


def test_worked_example_compute_cycles():
    """CONV2_1_2 on accelerator 1: 16 x 54 x 54 top iterations of 11 compute cycles each."""
    res = _top(CONV2, *_one(CONV2), ACC1)
    assert res["top_iterations"][0] == 16 * 54 * 54
    assert res["compute_cycles"][0] == 11 * 16 * 54 * 54
    assert res["runtime"][0] == 2_659_392  # off-chip bound: 57 cycles per iteration


def _check_against_report(layer, structure, sizes, offs, hw) -> int:
    """Per candidate: the average compute delay is compute cycles / iterations (truncated),
    compute never exceeds the runtime, and a mapping with no valid case has neither.
    Returns the number of candidates with no valid case."""
    res = _top(layer, structure, sizes, offs, hw)
    rep = evaluate_batch(layer, structure, sizes, offs, hw)
    cyc, its = res["compute_cycles"], res["top_iterations"]
    assert cyc.dtype == its.dtype == np.int64
    none = (res["err"] & ERR_NO_VALID) != 0
    assert (cyc[none] == 0).all() and (its[none] == 0).all()
    ok = ~none
    assert (its[ok] > 0).all()
    assert np.array_equal(cyc[ok] // its[ok], rep["compute_delay_avg"][ok])
    assert (cyc[ok] <= rep["runtime"][ok]).all()
    return int(none.sum())


LAYERS = [
    Layer("conv", "CONV", dict(K=24, C=10, R=3, S=3, Y=13, X=11), strides=dict(Y=2, X=1)),
    Layer("gemm", "GEMM", dict(M=37, N=20, K=45)),
]


@pytest.mark.parametrize("layer", LAYERS, ids=lambda x: x.name)
@pytest.mark.parametrize("levels", [1, 2, 3])
def test_compute_cycles_agree_with_the_report(layer, levels):
    hw = Hardware(num_pes=60, l1_size=10**6, l2_size=10**8, noc_bw=7, offchip_bw=5)
    space = MappingSpace(layer, hw, max_levels=levels)
    g = space.sample(np.random.default_rng(levels), 150, tiles_per_structure=30)
    keys = space.structure_keys(g)
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    for k, f in enumerate(first):
        idx = np.flatnonzero(inv == k)
        structure = space.structure_of(g, int(f))
        sizes, offs = space.sizes_offsets(g, idx, structure)
        _check_against_report(layer, structure, sizes, offs, hw)


@pytest.mark.parametrize("layer,seed", [
    (Layer("c1s2", "CONV", dict(K=64, C=32, R=1, S=1, Y=28, X=28), {"X": 2, "Y": 2}), 896048),
    (Layer("c7s2", "CONV", dict(K=16, C=3, R=7, S=7, Y=40, X=40), {"X": 2, "Y": 2}), 2886),
], ids=["c1s2", "c7s2"])
def test_no_valid_case_has_no_compute_cycles(layer, seed):
    """Batches (from tests/costmodel/test_analysis.py) with mappings that have no valid case."""
    hw = Hardware(num_pes=16, noc_bw=64, offchip_bw=128)
    space = MappingSpace(layer, hw, max_levels=3, min_levels=3, second_spatial_rate=0.15)
    g = space.sample(np.random.default_rng(seed), 8, tiles_per_structure=8)
    structure = space.structure_of(g, 0)
    sizes, offs = space.sizes_offsets(g, np.arange(8), structure)
    assert _check_against_report(layer, structure, sizes, offs, hw) > 0
