"""How many evaluations an island stop near the compute bound saves, and at what cost.

Runs every island of a model's default tuning plan with ``--stop-gap 0`` (one process, the
islands one after another) and replays each island's history: the evaluations after which
its best first fell within each gap of the layer's compute bound. Up to that point a search
with that gap is the same search (``tests/mapper/search/test_pruning.py``), so the replay
gives the evaluations a run with the gap would make, and the best latency it would keep.

    python benchmarks/stop_gap.py --model resnet50 --gaps 0.0001,0.001
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.analysis import compute_bound  # noqa: E402
from mapper.tuning.island import run_island  # noqa: E402
from mapper.tuning.plan import LayerPlan  # noqa: E402
from mapper.tuning.settings import TuneSettings  # noqa: E402
from mapper.tuning.tuner import distinct_shapes  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402


def replay(history, evaluations: int, stop: float) -> tuple[int, float]:
    """(evaluations, best) of an island stopped once its best is at most ``stop``."""
    for ev, _, best in history:
        if best <= stop:
            return int(ev), float(best)
    return evaluations, float(history[-1][2]) if history else float("inf")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--hw", default="edge168")
    ap.add_argument("--gaps", default="0.0001,0.001")
    ap.add_argument("--layers", default="", help="only these layers (comma-separated names)")
    ap.add_argument("--budget", type=int, default=None,
                    help="evaluations per distinct layer (default: the tuner's)")
    a = ap.parse_args(argv)
    gaps = [float(x) for x in a.gaps.split(",")]
    net, hw = load_model(a.model), HARDWARE_PRESETS[a.hw]
    settings = TuneSettings(jobs=1, stop_gap=0.0,
                            **({} if a.budget is None else {"budget": a.budget}))
    first, _ = distinct_shapes(net)
    names = set(filter(None, a.layers.split(",")))
    total, cut, best_full, best_cut = 0, [0] * len(gaps), 0.0, [0.0] * len(gaps)
    t0 = time.process_time()
    print("| layer | compute bound | best | islands (found at / ran) | "
          + " | ".join(f"evaluations, gap {g:g}" for g in gaps) + " |")
    print("|---|---:|---:|---|" + "---:|" * len(gaps))
    for li in first:
        layer = net.layers[li]
        if names and layer.name not in names:
            continue
        plan = LayerPlan.make(layer, hw, settings)
        runs = []
        while not plan.done:
            res = [run_island(t) for t in plan.pending()]
            plan.feed(res)
            runs += res
        bound = compute_bound(layer, hw)
        best = min(r.best_fitness for r in runs)
        total += sum(r.evaluations for r in runs)
        best_full += best
        cells = []
        for k, g in enumerate(gaps):
            got = [replay(r.history, r.evaluations, int(bound * (1 + g))) for r in runs]
            cut[k] += sum(e for e, _ in got)
            best_cut[k] += min(b for _, b in got)
            cells.append(f"{sum(e for e, _ in got):,}")
        found = ", ".join(f"{replay(r.history, r.evaluations, r.best_fitness)[0]:,}/"
                          f"{r.evaluations:,}" for r in runs)
        print(f"| {layer.name} | {bound:,} | {best:,.0f} | {found} | " + " | ".join(cells) + " |",
              flush=True)
    print(f"\nno gap: {total:,} evaluations, layers' best latencies sum to {best_full:,.0f}")
    for k, g in enumerate(gaps):
        print(f"gap {g:g}: {cut[k]:,} evaluations ({100 * cut[k] / max(total, 1):.1f}%), "
              f"best latencies sum to {best_cut[k]:,.0f} ({best_cut[k] - best_full:+,.0f})")
    print(f"CPU {time.process_time() - t0:.1f} s")


if __name__ == "__main__":
    main()
