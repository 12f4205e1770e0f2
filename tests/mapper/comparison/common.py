"""Shared fixtures of the comparison tests: a tiny suite and hand-made run records."""

from __future__ import annotations

from costmodel import Hardware, Layer
from mapper.comparison.runs import RunRecord

LAYER = Layer("small", "CONV", dict(K=8, C=4, R=3, S=3, Y=6, X=6))
GEMM = Layer("mm", "GEMM", dict(M=8, N=16, K=8))
HW = Hardware(num_pes=16, l1_size=64, l2_size=4096, noc_bw=8, offchip_bw=16)
TINY = [("tiny", LAYER), ("tiny", GEMM)]


def make_record(strategy="ga", mode="budget", layer="a", seed=0, best=10.0, history=None,
                **kw) -> RunRecord:
    hist = history if history is not None else [(10, 0.1, best)]
    return RunRecord(mode, strategy, "m", layer, "CONV", "hw", seed, "free", None,
                     100 if mode == "budget" else None, 1.0 if mode == "time" else None,
                     "latency", best, hist[-1][0] if hist else 0, 1.0, hist, **kw)
