"""How often MAESTRO's runtime is below the MAC count of a mapping's busiest PE.

With one SpatialMap per level, PE 0 does the most MACs and
``MappingSpace.compute_estimate`` counts them exactly, so a runtime below that count (over the
SIMD lanes) is one no execution of the mapping reaches. This draws random mappings of a layer
(one SpatialMap per level), scores them with the ``maestro`` model and reports, for the valid
ones, the share below PE 0's count and the smallest ratio, for one-level mappings, two-level
mappings whose tiles divide their parents, and two-level mappings with edge tiles
(docs/fidelity.md, "Runtimes below the busiest PE's work").

    python benchmarks/busiest_pe.py --layer resnet18/CONV3_1_2 --samples 4000
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from vs_gamma import resolve_layer  # noqa: E402

from mapper.search.evaluator import Evaluator  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from search_spaces import MappingSpace  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layer", default="resnet18/CONV3_1_2", help="model/LAYER")
    ap.add_argument("--hw", default="edge168")
    ap.add_argument("--samples", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args(argv)
    hw = HARDWARE_PRESETS[args.hw]
    layer = resolve_layer(args.layer, {})
    if layer is None:
        raise SystemExit(f"--layer: unknown layer {args.layer!r}; expected model/LAYER")
    sp = MappingSpace(layer, hw, second_spatial=False)
    g = sp.sample(np.random.default_rng(args.seed), args.samples, tiles_per_structure=20)
    m = Evaluator(sp).metrics(g)
    ratio = m["runtime"] * hw.simd_lanes / sp.compute_estimate(g)
    parent = np.concatenate([np.broadcast_to(sp.extent, (len(g), 1, sp.D)),
                             g.tiles[:, :-1]], axis=1)
    divides = ((parent % g.tiles) == 0).all(axis=(1, 2))
    groups = (("one level", g.levels == 1), ("two levels, tiles divide", (g.levels == 2) & divides),
              ("two levels, edge tiles", (g.levels == 2) & ~divides))
    print(f"{args.layer} on {args.hw}: {args.samples} random mappings, one SpatialMap per level")
    for name, sel in groups:
        sel = sel & m["valid"]
        if not sel.any():
            print(f"{name}: no valid mapping")
            continue
        r = ratio[sel]
        print(f"{name}: {sel.sum()} valid, {(r < 1).mean():.1%} below PE 0's MACs, "
              f"smallest runtime / PE-0 MACs {r.min():.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
