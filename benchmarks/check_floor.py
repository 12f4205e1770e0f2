"""The latency floor a search stops at, checked against random mappings of random layers.

``Evaluator.floor`` (the compute bound, or the least work PE 0 does in any counted mapping
of the space, ``MappingSpace.pe0_floor``) must be at or below every valid runtime of the
space, in both cost models, or a search that stops at it would stop too early. This draws
random layers (CONV, strided CONV with filters wider and narrower than the stride,
depthwise, GEMM), accelerators (PE counts, SIMD lanes) and mappings of 1-3 levels (second
SpatialMaps on half the levels), and counts the valid runtimes below the floor.

    python benchmarks/check_floor.py --layers 40 --samples 300 --seed 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel import Hardware, Layer  # noqa: E402
from mapper.search.evaluator import Evaluator  # noqa: E402
from search_spaces import MappingSpace  # noqa: E402

KINDS = ("conv", "strided", "narrow", "depthwise", "gemm")


def random_layer(rng: np.random.Generator, i: int) -> Layer:
    """One layer of a random kind; dims up to 300 (channels), 60 (rows)."""
    kind = KINDS[i % len(KINDS)]
    ch = lambda hi: int(np.exp(rng.uniform(0, np.log(hi))))  # noqa: E731
    if kind == "gemm":
        return Layer(f"gemm{i}", "GEMM", dict(M=ch(300), N=ch(300), K=ch(300)))
    r = int(rng.choice([1, 3, 5, 7]))
    s = 1
    if kind in ("strided", "narrow"):
        s = int(rng.choice([2, 3]))
        r = int(rng.integers(1, s)) if kind == "narrow" else int(rng.integers(s, 8))
    y = int(rng.integers(r + 1, 61))
    x = int(rng.integers(r + 1, 61))
    strides = {"Y": s, "X": s} if s > 1 else {}
    if kind == "depthwise":
        return Layer(f"dw{i}", "DSCONV", dict(C=ch(300), R=r, S=r, Y=y, X=x), strides)
    return Layer(f"{kind}{i}", "CONV", dict(K=ch(300), C=ch(300), R=r, S=r, Y=y, X=x), strides)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layers", type=int, default=40)
    ap.add_argument("--samples", type=int, default=300, help="mappings per layer")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    valid = below = above_compute = 0
    for i in range(args.layers):
        layer = random_layer(rng, i)
        hw = Hardware(num_pes=int(rng.choice([7, 16, 60, 97, 168, 256])), l1_size=1 << 20,
                      l2_size=1 << 30, noc_bw=1 << 20, offchip_bw=1 << 20,
                      simd_lanes=int(rng.choice([1, 2])))
        sp = MappingSpace(layer, hw, max_levels=int(rng.integers(1, 4)),
                          second_spatial_rate=0.5)
        g = sp.sample(rng, args.samples)
        worst = np.inf
        for model in ("maestro", "physical"):
            ev = Evaluator(sp, cost_model=model)
            m = ev.metrics(g)
            rt = m["runtime"][m["valid"]]
            valid += len(rt)
            below += int((rt < ev.floor).sum())
            above_compute += ev.floor > ev.compute_bound
            if len(rt):
                worst = min(worst, rt.min() / ev.floor)
        print(f"{layer.name:12s} {layer.type:6s} {dict(layer.dims)} strides {dict(layer.strides)}"
              f" on {hw.num_pes} PEs x {hw.simd_lanes}: floor {Evaluator(sp).floor},"
              f" best/floor {worst:.4f}", flush=True)
    print(f"valid runtimes: {valid}, below the floor: {below}, spaces whose floor is above "
          f"the compute bound: {above_compute} of {2 * args.layers} "
          f"({time.perf_counter() - t0:.0f} s)")
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
