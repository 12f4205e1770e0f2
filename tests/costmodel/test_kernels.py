"""The compiled kernel (costmodel.kernels) gives the numpy engine's records bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel import Hardware, Layer, engine, kernels
from costmodel.analysis import hardware_batch
from costmodel.layer import tensor_table
from costmodel.levels import build_levels
from search_spaces import MappingSpace

LAYERS = [Layer("conv", "CONV", {"K": 24, "C": 10, "R": 3, "S": 3, "Y": 13, "X": 11},
                {"Y": 2}),
          Layer("pw", "CONV", {"K": 64, "C": 32, "R": 1, "S": 1, "Y": 14, "X": 14}),
          Layer("gemm", "GEMM", {"M": 40, "N": 24, "K": 36})]
HW = [Hardware(num_pes=60, noc_bw=7, offchip_bw=5),
      Hardware(num_pes=256, noc_bw=64, offchip_bw=32, simd_lanes=4, noc_latency=3)]


def _equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")


@pytest.mark.parametrize("layer", LAYERS, ids=lambda x: x.name)
@pytest.mark.parametrize("levels", (1, 2, 3))
@pytest.mark.parametrize("hw", HW, ids=("small", "simd"))
def test_kernel_matches_numpy_engine(layer, levels, hw):
    """Every record field of random batches of every sampled structure."""
    space = MappingSpace(layer, hw, max_levels=levels)
    g = space.sample(np.random.default_rng(levels), 200, tiles_per_structure=40)
    keys = space.structure_keys(g)
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    table = tensor_table(layer.type, "N" in layer.dims)
    for k, f in enumerate(first):
        idx = np.flatnonzero(inv == k)
        structure = space.structure_of(g, int(f))
        sizes, offs = space.sizes_offsets(g, idx, structure)
        hwb = hardware_batch(hw, len(idx))
        lv = build_levels(layer, table, structure, sizes, offs, hwb.num_pes)
        ref = engine.analyze(lv, table, hwb)
        got = kernels.analyze(lv, table, hwb)
        assert set(got) == set(ref)
        for name in ref:
            assert _equal(ref[name], got[name]), (name, structure)
