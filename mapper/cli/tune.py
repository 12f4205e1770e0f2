"""``mapper tune``: find the best mapping of every layer of a model (and optionally hardware)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from costmodel.errors import MaestroInputError
from mapper.search.evaluator import OBJECTIVES
from mapper.search.strategies import DEFAULT_STRATEGY, STRATEGIES
from mapper.workloads.presets import (
    DEFAULT_HARDWARE,
    HARDWARE_PRESETS,
    resolve_hardware,
    resolve_model,
)
from search_spaces import Constraints
from search_spaces.hardware_space import HardwareSpace, budget_preset


def add_parser(sub) -> None:
    p = sub.add_parser(
        "tune", help="find the best dataflow per layer of a model",
        description="Tune every layer of MODEL (a bundled model name, a MAESTRO .m file whose "
        "dataflows are ignored, or YAML). Writes DIR/mappings.m, report.csv, summary.json. "
        "With --area-budget/--power-budget the hardware is co-optimised too.")
    p.add_argument("model")
    p.add_argument("--hw", default=None,
                   help=f"hardware file or preset ({', '.join(HARDWARE_PRESETS)}); "
                   f"default {DEFAULT_HARDWARE}")
    p.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=STRATEGIES)
    p.add_argument("--objective", default="latency", choices=OBJECTIVES)
    p.add_argument("--budget", type=int, default=None,
                   help="most cost-model evaluations per distinct layer (default 62400: two "
                   "islands of 24000 and a reserve for two extra islands of 7200; with "
                   "--time-limit only: unlimited; the GA neither scores nor counts candidates "
                   "whose latency bound cannot beat its best, and proposes at most 3x the "
                   "budget)")
    p.add_argument("--islands", type=int, default=None,
                   help="independent runs per layer sharing its budget, each of at least 16000 "
                   "evaluations, in parallel when cores are free; the best wins (GA and "
                   "random; default 2)")
    p.add_argument("--extra-islands", type=int, default=None,
                   help="islands of 0.3 x a first island's size each, held in reserve out of "
                   "the budget (when it allows two islands of 16000) for a layer whose best "
                   "latency is still between --extend-gap and --extend-max-gap above its "
                   "compute bound MACs / (PEs x SIMD lanes) or that has no feasible mapping "
                   "(latency objective, GA and random; default 2; 0: none, the whole budget "
                   "goes to the first islands)")
    p.add_argument("--extend-gap", type=float, default=None,
                   help="relative gap to the compute bound above which a layer earns its extra "
                   "islands (default 0.005)")
    p.add_argument("--extend-max-gap", type=float, default=None,
                   help="... and up to which (default 0.2: a layer further away is limited by "
                   "its shape, not by the search)")
    p.add_argument("--time-limit", type=float, default=None,
                   help="seconds per distinct layer (per island, with --budget)")
    p.add_argument("--jobs", type=int, default=-1,
                   help="parallel worker processes (default -1: all cores)")
    p.add_argument("--backend", default="loky", choices=("loky", "threading", "dask"),
                   help="joblib backend that runs layers in parallel (dask: a Dask cluster)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address for --backend dask, e.g. tcp://host:8786")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL shared by workers (e.g. postgresql://user@host/db); "
                   "default: an SQLite file per layer in OUT/.checkpoint (Optuna samplers)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--levels", type=int, default=2, choices=(1, 2, 3),
                   help="maximum number of cluster levels")
    p.add_argument("--template", default=None,
                   help="restricted space, e.g. kcp_ws or kcp_ws:T1O0P0S1 (flexibility class)")
    p.add_argument("--pareto", action="store_true",
                   help="also write each layer's latency/energy/area Pareto front (pareto.csv)")
    p.add_argument("--no-prune", action="store_true",
                   help="score (and count in --budget) every candidate the GA proposes, also "
                   "those whose latency bound cannot beat its best (e.g. to compare "
                   "evaluation counts with another tool's)")
    p.add_argument("--out", default="out", help="output directory (default ./out)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--no-resume", action="store_true",
                   help="ignore finished layers checkpointed by an earlier run in --out")
    p.add_argument("--area-budget", default=None,
                   help="co-optimise hardware within this area (number, or preset edge/cloud)")
    p.add_argument("--power-budget", default=None,
                   help="co-optimise hardware within this power (number, or preset edge/cloud)")
    p.add_argument("--hw-candidates", type=int, default=8,
                   help="hardware configurations per co-optimisation round")
    p.add_argument("--hw-rounds", type=int, default=2)
    p.add_argument("--per-layer-hw", action="store_true",
                   help="with a budget: choose hardware per distinct layer (ConfuciuX-style) "
                   "instead of one configuration shared by all layers")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=run)


def _budget(value: str | None, kind: str) -> float | None:
    if value is None:
        return None
    if value in ("edge", "cloud"):
        return budget_preset(value)[kind]
    try:
        return float(value)
    except ValueError:
        raise MaestroInputError(f"--{kind}-budget must be a number or edge/cloud, got {value!r}",
                                rule="usage") from None


def run(args) -> int:
    from mapper.tuning.results import write_results
    from mapper.tuning.tuner import (
        DEFAULT_BUDGET,
        DEFAULT_EXTRA_ISLANDS,
        DEFAULT_ISLANDS,
        EXTEND_GAP,
        EXTEND_MAX_GAP,
        TuneSettings,
        tune_model,
    )

    network = resolve_model(args.model)
    hw = resolve_hardware(args.hw)
    budget = args.budget
    if args.islands is not None and args.islands < 1:
        raise MaestroInputError(f"--islands must be at least 1, got {args.islands}", rule="usage")
    if args.extra_islands is not None and args.extra_islands < 0:
        raise MaestroInputError(f"--extra-islands must be at least 0, got {args.extra_islands}",
                                rule="usage")
    gap = EXTEND_GAP if args.extend_gap is None else args.extend_gap
    max_gap = EXTEND_MAX_GAP if args.extend_max_gap is None else args.extend_max_gap
    if not 0 <= gap <= max_gap:
        raise MaestroInputError(f"need 0 <= --extend-gap <= --extend-max-gap, got {gap} and "
                                f"{max_gap}", rule="usage")
    if budget is None and not args.time_limit:
        budget = DEFAULT_BUDGET
    settings = TuneSettings(strategy=args.strategy, objective=args.objective, budget=budget,
                            time_limit=args.time_limit, seed=args.seed, jobs=args.jobs,
                            islands=DEFAULT_ISLANDS if args.islands is None else args.islands,
                            extra_islands=(DEFAULT_EXTRA_ISLANDS if args.extra_islands is None
                                           else args.extra_islands),
                            extend_gap=gap, extend_max_gap=max_gap,
                            max_levels=args.levels, template=args.template, pareto=args.pareto,
                            prune=not args.no_prune,
                            storage=args.storage, backend=args.backend,
                            scheduler=args.scheduler,
                            constraints=Constraints())
    out = Path(args.out)
    t0 = time.perf_counter()

    def progress(done, total, name):
        if not args.quiet:
            print(f"\r[{done}/{total} distinct layers] {name:<24} {time.perf_counter() - t0:6.1f}s",
                  end="" if done < total else "\n", file=sys.stderr, flush=True)

    area, power = _budget(args.area_budget, "area"), _budget(args.power_budget, "power")
    if (area is not None or power is not None) and args.per_layer_hw:
        return _per_layer(network, settings, area, power, hw, args, out)
    if args.per_layer_hw:
        raise MaestroInputError("--per-layer-hw needs --area-budget or --power-budget",
                                rule="usage")
    if area is not None or power is not None:
        from mapper.tuning.cooptimize import co_optimize

        space = HardwareSpace(area_budget=area, power_budget=power,
                              offchip_bw=(hw.offchip_bw,), noc_latency=(hw.noc_latency,),
                              simd_lanes=(hw.simd_lanes,))
        co = co_optimize(network, space, settings, candidates=args.hw_candidates,
                         rounds=args.hw_rounds,
                         progress=None if args.quiet else lambda m: print(m, file=sys.stderr))
        result = co.best
        summary = write_results(result, out, plots=not args.no_plots)
        import json

        from mapper.atomic import write_text
        summary["cooptimization"] = {"area_budget": area, "power_budget": power,
                                     "candidates": co.candidates}
        write_text(out / "summary.json", json.dumps(summary, indent=1, default=str) + "\n")
    else:
        ckpt = None if args.no_resume else out / ".checkpoint"
        result = tune_model(network, hw, settings, checkpoint_dir=ckpt, progress=progress)
        summary = write_results(result, out, plots=not args.no_plots)
    t = summary["totals"]
    print(f"{network.name}: {t['layers_mapped']}/{t['layers']} layers mapped "
          f"({t['distinct_shapes']} distinct), total runtime {t['runtime_cycles']} cycles, "
          f"energy {t['energy_nj']:.6g} nJ, {t['evaluations']} evaluations in "
          f"{result.seconds:.1f}s on {result.hardware.num_pes} PEs -> {out}/")
    if summary["unmapped_layers"]:
        print("warning: no feasible mapping found for: " + ", ".join(summary["unmapped_layers"]),
              file=sys.stderr)
        return 1
    return 0


def _per_layer(network, settings, area, power, hw, args, out: Path) -> int:
    """ConfuciuX-style assignment: the best in-budget hardware for each distinct layer."""
    import json

    from mapper.atomic import write_text
    from mapper.tuning.cooptimize import per_layer_hardware

    space = HardwareSpace(area_budget=area, power_budget=power, offchip_bw=(hw.offchip_bw,),
                          noc_latency=(hw.noc_latency,), simd_lanes=(hw.simd_lanes,))
    chosen = per_layer_hardware(network, space, settings, candidates=args.hw_candidates)
    rows = {name: {"hardware": h.to_dict() if h else None, "latency": lat}
            for name, (h, lat) in chosen.items()}
    write_text(out / "per_layer_hw.json", json.dumps(rows, indent=1, default=str) + "\n")
    for name, r in rows.items():
        h = r["hardware"] or {}
        print(f"{name:<24} {h.get('num_pes', '-'):>5} PEs  L1 {h.get('l1_size', '-'):>5}  "
              f"L2 {h.get('l2_size', '-'):>8}  NoC {h.get('noc_bw', '-'):>5}  "
              f"latency {r['latency']:.6g}")
    print(f"per-layer hardware for {len(rows)} distinct layers -> {out}/per_layer_hw.json")
    return 0
