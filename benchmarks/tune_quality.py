"""Quality target of the default strategy against long runs of every strategy.

For each distinct layer of the chosen models on the reference 168-PE accelerator, run the
default search (GA, default budget) and reference searches with ``--factor`` times the budget
(GA and random by default, different seeds); report how often the default is within 1% of the
best latency any run found, and how long the default took per layer.

    python benchmarks/tune_quality.py --models resnet50,vgg16,mobilenetv2 --factor 100 --jobs 2

Writes ``--out`` (CSV, one row per layer) and prints a summary table.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from joblib import Parallel, delayed  # noqa: E402

from mapper.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.tuner import TuneSettings, distinct_shapes, shape_seed, tune_layer  # noqa: E402
from mapper.zoo import load_model  # noqa: E402


def run_layer(model, layer, hw, budget, factor, ref_strategies):
    default = TuneSettings(budget=budget)
    t0 = time.perf_counter()
    d = tune_layer(layer, hw, default)
    t_default = time.perf_counter() - t0
    best = {"default": d.best_fitness}
    for k, name in enumerate(ref_strategies):
        s = TuneSettings(strategy=name, budget=budget * factor)
        r = tune_layer(layer, hw, s, seed=shape_seed(1000 + k, layer))
        best[name] = r.best_fitness
    top = min(best.values())
    return {"model": model, "layer": layer.name, "default_latency": d.best_fitness,
            "best_latency": top, "gap": d.best_fitness / top - 1, "default_seconds": t_default,
            "default_evals": d.evaluations, **{f"ref_{k}": v for k, v in best.items()}}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet50,vgg16,mobilenetv2")
    ap.add_argument("--hw", default="edge168")
    ap.add_argument("--budget", type=int, default=TuneSettings().budget)
    ap.add_argument("--factor", type=int, default=100)
    ap.add_argument("--ref-strategies", default="ga,random")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="at most this many layers per model")
    ap.add_argument("--out", default="benchmarks/results/tune_quality.csv")
    a = ap.parse_args(argv)
    hw = HARDWARE_PRESETS[a.hw]
    tasks = []
    for m in a.models.split(","):
        net = load_model(m)
        first, _ = distinct_shapes(net)
        if a.limit:
            first = first[: a.limit]
        tasks += [(m, net.layers[i]) for i in first]
    t0 = time.perf_counter()
    rows = Parallel(n_jobs=a.jobs, verbose=5)(
        delayed(run_layer)(m, lay, hw, a.budget, a.factor, a.ref_strategies.split(","))
        for m, lay in tasks)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    within = sum(r["gap"] <= 0.01 for r in rows)
    worst = max(rows, key=lambda r: r["gap"])
    print(f"layers: {len(rows)}, default within 1% of best-known: {within}/{len(rows)}, "
          f"worst gap {worst['gap']:.2%} ({worst['model']} {worst['layer']}), "
          f"default time per layer: max {max(r['default_seconds'] for r in rows):.2f}s, "
          f"mean {sum(r['default_seconds'] for r in rows) / len(rows):.2f}s; "
          f"total {time.perf_counter() - t0:.0f}s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
