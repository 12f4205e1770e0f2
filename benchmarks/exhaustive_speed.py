"""Exhaustive search speed: enumerate and evaluate at least 10^6 mappings of one layer.

    python benchmarks/exhaustive_speed.py [--layer CONV2_1_2] [--template kcp_ws] [--count N]

Uses a template space with divisor tiles (``tile_divisors``) so the space is finite; prints the
space size, candidates evaluated, pruned, seconds and candidates/s, and the optimum found.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mapper.search.evaluator import Evaluator  # noqa: E402
from mapper.search.loop import run_search  # noqa: E402
from mapper.search.strategies import make_strategy  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402
from search_spaces.enumeration import enumeration_size  # noqa: E402
from search_spaces.templates import make_space  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--layer", default="CONV2_1_2")
    ap.add_argument("--template", default="kcp_ws")
    ap.add_argument("--hw", default="edge168")
    ap.add_argument("--count", type=int, default=1_000_000, help="candidates to evaluate")
    ap.add_argument("--chunk", type=int, default=65536)
    a = ap.parse_args(argv)
    layer = next(x for x in load_model(a.model).layers if x.name == a.layer)
    hw = HARDWARE_PRESETS[a.hw]
    space = replace(make_space(layer, hw, a.template), tile_divisors=True)
    size = enumeration_size(space)
    st = make_strategy("exhaustive", space, batch_size=a.chunk, prune=False)
    st.objective = "none"  # measure raw enumeration: no early stop at the compute bound
    t0 = time.perf_counter()
    r = run_search(space, st, Evaluator(space), budget=min(a.count, size))
    dt = time.perf_counter() - t0
    print(f"{a.model} {a.layer} on {a.hw}, template {a.template} with divisor tiles: "
          f"space {size:,} mappings")
    print(f"evaluated {r.evaluations:,} in {dt:.2f} s = {r.evaluations / dt:,.0f} candidates/s; "
          f"best latency {r.best_fitness:.0f} cycles")
    print(f"best: {r.dataflow}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
