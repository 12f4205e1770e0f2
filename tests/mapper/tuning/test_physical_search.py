"""The search under the physical model reaches the roofline: a decode GEMV ends within 10% of
its memory bound, a prefill GEMM within 15% of its compute bound (issue targets), on a
finite-bandwidth preset."""

from __future__ import annotations

import pytest

from costmodel import Layer
from costmodel.analysis import compute_bound, evaluate
from mapper.tuning.settings import TuneSettings
from mapper.tuning.tuner import tune_layer
from mapper.workloads.presets import HARDWARE_PRESETS

HW = HARDWARE_PRESETS["edge-npu"]


def _roofline(layer: Layer) -> float:
    d = layer.dims
    elements = d["M"] * d["K"] + d["K"] * d["N"] + d["M"] * d["N"]
    return max(compute_bound(layer, HW), elements / HW.offchip_bw + HW.offchip_latency)


@pytest.mark.parametrize("M,limit", [(1, 1.10), (4, 1.10), (1024, 1.15)])
def test_tuned_gemm_reaches_its_roofline(M, limit):
    layer = Layer(f"gemm_m{M}", "GEMM", {"M": M, "N": 3072, "K": 768})
    res = tune_layer(layer, HW, TuneSettings(budget=3000, jobs=1, cost_model="physical"))
    tuned = Layer(layer.name, "GEMM", dict(layer.dims), dataflow=res.dataflow)
    rep = evaluate(tuned, HW, cost_model="physical")
    assert rep.valid
    assert rep.runtime <= limit * _roofline(layer), (rep.runtime, _roofline(layer))
    assert rep.bound == ("compute" if M == 1024 else "dram")
