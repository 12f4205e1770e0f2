"""Our default search against GAMMA's runs on the same layers and accelerator.

GAMMA (Kao and Krishna, ICCAD 2020; github.com/maestro-project/gamma) is a published genetic
mapper that scores every candidate with the MAESTRO binary. This project never runs other
tools: GAMMA's results are data, a CSV (``--gamma``) with one row per GAMMA run: ``layer``,
``seed``, ``maestro_calls`` (its evaluations), ``best_runtime_maestro`` (the MAESTRO binary's
runtime of its best mapping), ``wall_seconds`` and ``best_dataflow`` (MAESTRO directives
joined by "; "). Each GAMMA mapping is re-evaluated with our cost model: its runtime must
equal MAESTRO's, and a mapping our consistency check flags counts as no result.

Our side, for every layer and ``--seeds`` seeds: the default strategy at equal evaluations
(``--budget``, by default the mean of GAMMA's MAESTRO calls on that layer), with
``--no-prune`` also scoring (and counting) the candidates whose latency bound cannot beat the
best; and the default settings (their wall time against GAMMA's; not with
``--skip-default``). The summary gives per layer GAMMA's and our min / median / max and A12,
the probability that a run of ours is faster than a run of GAMMA's (ties count half; 0.5: no
difference).

    python benchmarks/vs_gamma.py --seeds 24

Writes ``--out`` (our runs, CSV) and ``--summary`` (Markdown table), and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from costmodel.analysis import compute_bound, evaluate  # noqa: E402
from costmodel.errors import MaestroInputError  # noqa: E402
from costmodel.io import parse_dataflow  # noqa: E402
from mapper.tuning.settings import TuneSettings  # noqa: E402
from mapper.tuning.tuner import tune_layer  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "gamma"


def read_gamma(path: Path, layers: dict, hw) -> dict[str, list[dict]]:
    """GAMMA's runs per layer, each re-evaluated with our cost model (``ours``, ``valid``)."""
    runs: dict[str, list[dict]] = {}
    with open(path, newline="") as f:
        for line, r in enumerate(csv.DictReader(f), start=2):
            name = r["layer"]
            if name not in layers:
                raise SystemExit(f"{path}:{line}: unknown layer {name!r}; expected one of "
                                 f"{', '.join(layers)}")
            try:
                df = parse_dataflow(r["best_dataflow"])
                rep = evaluate(layers[name], hw, df)
            except MaestroInputError as exc:
                raise SystemExit(f"{path}:{line}: best_dataflow: {exc}") from None
            maestro = int(r["best_runtime_maestro"])
            if rep.runtime != maestro:
                print(f"{path}:{line}: our runtime {rep.runtime} differs from MAESTRO's "
                      f"{maestro}", file=sys.stderr)
            runs.setdefault(name, []).append(
                {"seed": int(r["seed"]), "evals": int(r["maestro_calls"]), "runtime": maestro,
                 "valid": rep.valid, "reason": rep.reason,
                 "seconds": float(r["wall_seconds"])})
    return runs


def a12(ours: list[float], theirs: list[float]) -> str:
    """Probability that a run of ours is faster than one of theirs; ties count half."""
    if not ours or not theirs:
        return "-"
    wins = sum((a < b) + 0.5 * (a == b) for a in ours for b in theirs)
    return f"{wins / (len(ours) * len(theirs)):.2f}"


def spread(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{min(xs):,.0f} / {statistics.median(xs):,.0f} / {max(xs):,.0f}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gamma", default=str(RESULTS / "gamma_runs.csv"),
                    help="GAMMA's runs (CSV, see the module docstring)")
    ap.add_argument("--model", default="resnet50")
    ap.add_argument("--hw", default="edge168", help="hardware preset GAMMA was run on")
    ap.add_argument("--seeds", type=int, default=24, help="our runs per layer and setting")
    ap.add_argument("--budget", type=int, default=0,
                    help="our evaluations per run for the equal-evaluation comparison "
                         "(0: the mean of GAMMA's MAESTRO calls on the layer)")
    ap.add_argument("--default-budget", type=int, default=TuneSettings().budget,
                    help="our default setting's evaluations per layer")
    ap.add_argument("--no-prune", action="store_true",
                    help="equal evaluations: score every proposed candidate, so the budget "
                         "counts proposals")
    ap.add_argument("--skip-default", action="store_true",
                    help="only the equal-evaluation runs")
    ap.add_argument("--out", default=str(RESULTS / "ours_runs.csv"))
    ap.add_argument("--summary", default=str(RESULTS / "summary.md"))
    args = ap.parse_args(argv)

    hw = HARDWARE_PRESETS[args.hw]
    layers = {layer.name: layer for layer in load_model(args.model).layers}
    gamma = read_gamma(Path(args.gamma), layers, hw)
    rows, lines = [], []
    for name, gruns in gamma.items():
        layer = layers[name]
        ours: dict[str, list[dict]] = {"equal": [], "default": []}
        equal = args.budget or int(statistics.mean(g["evals"] for g in gruns))
        settings = [("equal", TuneSettings(budget=equal, prune=not args.no_prune,
                                                   cost_model="maestro"))]
        if not args.skip_default:
            settings.append(("default", TuneSettings(budget=args.default_budget,
                                                              cost_model="maestro")))
        for s in range(args.seeds):
            for kind, base in settings:
                t0 = time.perf_counter()
                r = tune_layer(layer, hw, dataclasses.replace(base, seed=s))
                row = {"layer": name, "setting": kind, "seed": s, "budget": base.budget,
                       "evaluations": r.evaluations, "runtime": r.best_fitness,
                       "seconds": round(time.perf_counter() - t0, 3),
                       "dataflow": str(r.dataflow)}
                ours[kind].append(row)
                rows.append(row)
        theirs = [g["runtime"] for g in gruns if g["valid"]]
        eq = [r["runtime"] for r in ours["equal"]]
        de = [r["runtime"] for r in ours["default"]]
        flagged = len(gruns) - len(theirs)
        de_s = [r["seconds"] for r in ours["default"]]
        lines.append(
            f"| {name} | {compute_bound(layer, hw):,} | {spread(theirs)}"
            f"{f' ({flagged} flagged)' if flagged else ''} | "
            f"{statistics.mean(g['evals'] for g in gruns):,.0f} | "
            f"{statistics.mean(g['seconds'] for g in gruns):.0f} | {equal:,} | {spread(eq)} | "
            f"{a12(eq, theirs)} | {spread(de)} | {a12(de, theirs)} | "
            f"{f'{statistics.mean(de_s):.1f}' if de_s else '-'} |")
        print(lines[-1], flush=True)

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    equal = f"{args.budget:,}" if args.budget else "the mean of GAMMA's calls"
    default = "not run" if args.skip_default else f"{args.default_budget:,}"
    head = (f"{args.model} on `{args.hw}`; GAMMA: `{Path(args.gamma).name}`; ours: "
            f"{args.seeds} seeds, equal evaluations = {equal}"
            f"{' (no pruning: every proposal scored)' if args.no_prune else ''}, default = "
            f"{default}.\nRuntimes in cycles as min / median / max; "
            "A12 = P(our run faster than GAMMA's run), ties half.\n\n"
            "| layer | compute bound | GAMMA | GAMMA evals | GAMMA s | our evals | "
            "ours, equal evals | A12 | ours, default | A12 | ours default s |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    Path(args.summary).write_text(head + "\n".join(lines) + "\n")
    print(head + "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
