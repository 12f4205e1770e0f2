"""Quality target of the default strategy against long runs of every strategy.

For each distinct layer of the chosen models on the reference 168-PE accelerator, run the
default search (GA, default budget, or ``--budget``/``--islands``; one layer at a time, with
its islands in parallel, so its time is that of a machine doing nothing else) and
reference searches with ``--factor`` times the budget (GA and random by default, other seeds),
optionally also counting the best mappings of earlier result files (``--known``: each stored
dataflow is re-evaluated with today's cost model, and dropped if no longer valid); report how
often the default is within 1% of the best latency any run found, and its time per layer.
A default within 1% of the layer's floor (its compute bound, or the busiest PE's least work
over the mapping space, ``MappingSpace.pe0_floor``, if higher) is within 1% of every valid
mapping, so it meets the target whatever budget a reference gets; the summary counts those
layers too.

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

from costmodel.analysis import compute_bound, evaluate  # noqa: E402
from costmodel.errors import MaestroInputError  # noqa: E402
from costmodel.io import parse_dataflow  # noqa: E402
from mapper.tuning.plan import shape_seed  # noqa: E402
from mapper.tuning.settings import DEFAULT_EXTRA_ISLANDS, DEFAULT_ISLANDS, TuneSettings  # noqa: E402
from mapper.tuning.tuner import distinct_shapes, space_for, tune_layer  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402


def run_default(model, layer, hw, budget, islands=DEFAULT_ISLANDS, seed=0,
                extra_islands=DEFAULT_EXTRA_ISLANDS):
    t0 = time.perf_counter()
    d = tune_layer(layer, hw, TuneSettings(budget=budget, islands=islands, seed=seed,
                                           extra_islands=extra_islands, cost_model="maestro"))
    return {"model": model, "layer": layer.name, "default_latency": d.best_fitness,
            "default_dataflow": _text(d.dataflow),
            "default_seconds": time.perf_counter() - t0, "default_evals": d.evaluations,
            # no mapping can beat every PE doing one MAC per cycle: how far the best-known
            # is from this bound says how much a reference may still be missing
            "compute_bound": compute_bound(layer, hw),
            # nor its busiest PE's least work over the space (the search stops there)
            "floor": max(compute_bound(layer, hw),
                         space_for(layer, hw, TuneSettings()).pe0_floor)}


def _text(df) -> str:
    return str(df) if df is not None else ""  # directives separated by "; "


def run_reference(layer, hw, budget, factor, name, k):
    s = TuneSettings(strategy=name, budget=budget * factor, cost_model="maestro")
    r = tune_layer(layer, hw, s, seed=shape_seed(1000 + k, layer))
    return r.best_fitness, _text(r.dataflow)


def read_known(paths: list[str], layers: dict, hw) -> dict[tuple[str, str], tuple[float, str]]:
    """Best valid mapping per (model, layer) in earlier result files of this benchmark: every
    stored dataflow is re-evaluated, so a cost-model change cannot leave a stale reference."""
    known: dict[tuple[str, str], tuple[float, str]] = {}
    for p in paths:
        with open(p, newline="") as f:
            for r in csv.DictReader(f):
                key = (r["model"], r["layer"])
                text = r.get("best_dataflow", "")
                if key not in layers:
                    continue
                if not text:
                    print(f"{p}: {key} has no stored dataflow; ignored", file=sys.stderr)
                    continue
                try:
                    df = parse_dataflow(text)
                    rep = evaluate(layers[key], hw, df)
                except MaestroInputError as exc:
                    print(f"{p}: {key} best_dataflow {text!r}: {exc}; ignored", file=sys.stderr)
                    continue
                if not rep.valid:
                    print(f"{p}: {key} {text} is no longer valid ({rep.reason}); ignored",
                          file=sys.stderr)
                    continue
                if rep.runtime < known.get(key, (float("inf"),))[0]:
                    known[key] = (float(rep.runtime), text)
    return known


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="resnet50,vgg16,mobilenetv2")
    ap.add_argument("--hw", default="edge168")
    ap.add_argument("--budget", type=int, default=TuneSettings().budget)
    ap.add_argument("--islands", type=int, default=DEFAULT_ISLANDS,
                    help="independent runs sharing the default search's budget (in parallel)")
    ap.add_argument("--extra-islands", type=int, default=DEFAULT_EXTRA_ISLANDS,
                    help="islands added to layers still far from their compute bound")
    ap.add_argument("--seed", type=int, default=0, help="seed of the default search")
    ap.add_argument("--factor", type=int, default=100)
    ap.add_argument("--ref-strategies", default="ga,random",
                    help="reference searches (a name twice: two seeds)")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the reference searches")
    ap.add_argument("--known", nargs="*", default=[],
                    help="earlier result CSVs whose best latencies also count as references")
    ap.add_argument("--limit", type=int, default=0, help="at most this many layers per model")
    ap.add_argument("--layers", default="", help="only these layers (comma-separated names)")
    ap.add_argument("--out", default="benchmarks/results/tune_quality.csv")
    a = ap.parse_args(argv)
    hw = HARDWARE_PRESETS[a.hw]
    only = set(filter(None, a.layers.split(",")))
    tasks = []
    for m in a.models.split(","):
        net = load_model(m)
        first, _ = distinct_shapes(net)
        if a.limit:
            first = first[: a.limit]
        tasks += [(m, net.layers[i]) for i in first if not only or net.layers[i].name in only]
    known = read_known(a.known, {(m, lay.name): lay for m, lay in tasks}, hw)
    t0 = time.perf_counter()
    # the default searches run one layer at a time (their islands in parallel), so their
    # times are those of a machine doing nothing else; the worker processes are started
    # first (once per run, as in `mapper tune`), so no layer's time includes their start-up
    if tasks and a.islands > 1:
        ts = time.perf_counter()
        tiny = TuneSettings(budget=50, islands=1, extra_islands=0, cost_model="maestro")
        Parallel(n_jobs=a.islands)(delayed(tune_layer)(tasks[0][1], hw, tiny)
                                   for _ in range(a.islands))
        print(f"worker start-up: {time.perf_counter() - ts:.2f}s (not in the per-layer times)",
              flush=True)
    rows = []
    for j, (m, lay) in enumerate(tasks, 1):
        rows.append(run_default(m, lay, hw, a.budget, a.islands, a.seed, a.extra_islands))
        print(f"default {j}/{len(tasks)}: {m} {lay.name} {rows[-1]['default_latency']:.0f} "
              f"cycles in {rows[-1]['default_seconds']:.2f}s", flush=True)
    refs = [r for r in a.ref_strategies.split(",") if r]
    jobs = [(lay, name, k) for _, lay in tasks for k, name in enumerate(refs)]
    found = Parallel(n_jobs=a.jobs, verbose=5)(
        delayed(run_reference)(lay, hw, a.budget, a.factor, name, k) for lay, name, k in jobs)
    for j, row in enumerate(rows):
        best = {"default": (row["default_latency"], row["default_dataflow"])}
        for k, name in enumerate(refs):
            best[f"{name}_x{a.factor}_{k}"] = found[j * len(refs) + k]
        prev = known.get((row["model"], row["layer"]))
        if prev is not None:
            best["known"] = prev
        top, text = min(best.values(), key=lambda v: v[0])
        row.update(best_latency=top, gap=row["default_latency"] / top - 1,
                   best_over_bound=top / row["compute_bound"],
                   **{f"ref_{k}": v[0] for k, v in best.items()}, best_dataflow=text)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
        w.writeheader()
        w.writerows(rows)
    within = sum(r["gap"] <= 0.01 for r in rows)
    # within 1% of the floor is within 1% of every mapping, whatever a reference finds
    proven = sum(r["default_latency"] <= 1.01 * r["floor"] for r in rows)
    worst = max(rows, key=lambda r: r["gap"])
    print(f"layers: {len(rows)}, default within 1% of best-known: {within}/{len(rows)}, "
          f"within 1% of the floor (so of any mapping): {proven}/{len(rows)}, "
          f"worst gap {worst['gap']:.2%} ({worst['model']} {worst['layer']}), "
          f"default time per layer: max {max(r['default_seconds'] for r in rows):.2f}s, "
          f"mean {sum(r['default_seconds'] for r in rows) / len(rows):.2f}s; "
          f"best-known over 2% above the compute bound on "
          f"{sum(r['best_over_bound'] > 1.02 for r in rows)} layers; "
          f"total {time.perf_counter() - t0:.0f}s -> {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
