"""Our default search against GAMMA's runs on the same layers and accelerator.

GAMMA (Kao and Krishna, ICCAD 2020; github.com/maestro-project/gamma) is a published genetic
mapper that scores every candidate with the MAESTRO binary. This project never runs other
tools: GAMMA's results are data, a CSV (``--gamma``) with one row per GAMMA run: ``layer``,
``seed``, ``maestro_calls`` (its evaluations), ``best_runtime_maestro`` (the MAESTRO binary's
runtime of its best mapping), ``wall_seconds`` and ``best_dataflow`` (MAESTRO directives
joined by "; "). Each GAMMA mapping is re-evaluated with our cost model: a mapping whose
runtime differs from MAESTRO's, or that our consistency check flags, counts as no result.

A ``layer`` is a layer of ``--model`` or ``model/LAYER`` (any bundled model, so one CSV can
span several); ``model/LAYER@conv`` is a GEMM layer in the CONV form MAESTRO is given by GAMMA
(K = N, C = K, Y = M, X = R = S = 1), and both sides search that form.

Our side, for every layer and ``--seeds`` seeds: the default strategy at equal evaluations
(``--budget``, by default the mean of GAMMA's MAESTRO calls on that layer) with the
MAESTRO cost model (``--cost-model``; GAMMA scores with MAESTRO), with
``--no-prune`` also scoring (and counting) the candidates whose latency bound cannot beat the
best; and the default settings (their wall time against GAMMA's; not with
``--skip-default``). The summary gives per layer GAMMA's and our min / median / max and A12,
the probability that a run of ours is faster than a run of GAMMA's (ties count half; 0.5: no
difference).

    python benchmarks/vs_gamma.py --seeds 24
    python benchmarks/vs_gamma.py --gamma benchmarks/results/gamma_wide/gamma_1200.csv \
        --seeds 5 --skip-default --jobs 1 --out ... --summary ...

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
from costmodel.layer import Layer  # noqa: E402
from mapper.tuning.settings import TuneSettings  # noqa: E402
from mapper.tuning.tuner import tune_layer  # noqa: E402
from mapper.workloads.presets import HARDWARE_PRESETS  # noqa: E402
from mapper.workloads.zoo import load_model  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "gamma"


def gemm_as_conv(layer: Layer) -> Layer:
    """A GEMM layer in the CONV form GAMMA gives MAESTRO: K = N, C = K, Y = M, X = R = S = 1."""
    d = layer.dims
    return Layer(name=f"{layer.name}@conv", type="CONV",
                 dims={"K": d["N"], "C": d["K"], "R": 1, "S": 1, "Y": d["M"], "X": 1})


def resolve_layer(name: str, layers: dict):
    """``name`` in ``layers`` (``--model``) or as ``model/LAYER[@conv]``; None if unknown."""
    if name in layers:
        return layers[name]
    model, sep, rest = name.partition("/")
    if not sep:
        return None
    base, conv, form = rest.partition("@")
    found = {lay.name: lay for lay in load_model(model).layers}.get(base)
    if found is None or (conv and (form != "conv" or found.type != "GEMM")):
        return None
    return gemm_as_conv(found) if conv else found


def read_gamma(path: Path, layers: dict, hw) -> dict[str, list[dict]]:
    """GAMMA's runs per layer, each re-evaluated with our cost model (``ours``, ``valid``).

    Layers named ``model/LAYER`` are added to ``layers``."""
    runs: dict[str, list[dict]] = {}
    with open(path, newline="") as f:
        for line, r in enumerate(csv.DictReader(f), start=2):
            name = r["layer"]
            if name not in layers and (found := resolve_layer(name, layers)) is not None:
                layers[name] = found
            if name not in layers:
                raise SystemExit(f"{path}:{line}: unknown layer {name!r}; expected one of "
                                 f"{', '.join(layers)}")
            try:
                df = parse_dataflow(r["best_dataflow"])
                rep = evaluate(layers[name], hw, df)
            except MaestroInputError as exc:
                raise SystemExit(f"{path}:{line}: best_dataflow: {exc}") from None
            maestro = int(r["best_runtime_maestro"])
            valid, reason = rep.valid, rep.reason
            if rep.runtime != maestro:
                print(f"{path}:{line}: our runtime {rep.runtime} differs from MAESTRO's "
                      f"{maestro}: no result", file=sys.stderr)
                valid, reason = False, f"runtime {rep.runtime} != MAESTRO's {maestro}"
            runs.setdefault(name, []).append(
                {"seed": int(r["seed"]), "evals": int(r["maestro_calls"]), "runtime": maestro,
                 "valid": valid, "reason": reason,
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
    ap.add_argument("--seed-start", type=int, default=0,
                    help="first seed (seeds seed-start .. seed-start + seeds - 1; another range "
                         "is a held-out check of the same comparison)")
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
    ap.add_argument("--cost-model", default="maestro",
                    help="our side's cost model (GAMMA scores with MAESTRO: keep maestro)")
    ap.add_argument("--jobs", type=int, default=TuneSettings().jobs,
                    help="worker processes per run (-1: all cores)")
    ap.add_argument("--out", default=str(RESULTS / "ours_runs.csv"))
    ap.add_argument("--summary", default=str(RESULTS / "summary.md"))
    args = ap.parse_args(argv)

    hw = HARDWARE_PRESETS[args.hw]
    layers = {layer.name: layer for layer in load_model(args.model).layers}
    gamma = read_gamma(Path(args.gamma), layers, hw)
    rows, lines, medians = [], [], []
    for name, gruns in gamma.items():
        layer = layers[name]
        ours: dict[str, list[dict]] = {"equal": [], "default": []}
        equal = args.budget or int(statistics.mean(g["evals"] for g in gruns))
        settings = [("equal", TuneSettings(budget=equal, prune=not args.no_prune,
                                           cost_model=args.cost_model, jobs=args.jobs))]
        if not args.skip_default:
            settings.append(("default", TuneSettings(budget=args.default_budget,
                                                     cost_model=args.cost_model,
                                                     jobs=args.jobs)))
        for s in range(args.seed_start, args.seed_start + args.seeds):
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
        if theirs and eq:
            medians.append((name, statistics.median(eq) / statistics.median(theirs),
                            float(a12(eq, theirs))))

    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    equal = f"{args.budget:,}" if args.budget else "the mean of GAMMA's calls"
    default = "not run" if args.skip_default else f"{args.default_budget:,}"
    models = sorted({n.partition("/")[0] for n in gamma if "/" in n}
                    | ({args.model} if any("/" not in n for n in gamma) else set()))
    head = (f"{', '.join(models)} on `{args.hw}`; GAMMA: `{Path(args.gamma).name}`; ours: "
            f"{args.seeds} seeds, equal evaluations = {equal}"
            f"{' (no pruning: every proposal scored)' if args.no_prune else ''}, default = "
            f"{default}.\nRuntimes in cycles as min / median / max; "
            "A12 = P(our run faster than GAMMA's run), ties half.\n\n"
            "| layer | compute bound | GAMMA | GAMMA evals | GAMMA s | our evals | "
            "ours, equal evals | A12 | ours, default | A12 | ours default s |\n"
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    tail = ""
    if medians:
        at_or_below = sum(r <= 1 for _, r, _ in medians)
        worst = sorted(medians, key=lambda m: -m[1])[:3]
        tail = (f"\nEqual evaluations: our median at or below GAMMA's on {at_or_below} of "
                f"{len(medians)} layers; mean A12 {statistics.mean(a for *_, a in medians):.2f}; "
                "highest ratios of our median to GAMMA's: "
                + ", ".join(f"{n} {r:.3f}" for n, r, _ in worst) + ".\n")
    Path(args.summary).write_text(head + "\n".join(lines) + "\n" + tail)
    print(head + "\n".join(lines) + "\n" + tail)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
