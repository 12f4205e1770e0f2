"""``mapper tune``: find the best mapping of every layer of a model (and optionally hardware)."""

from __future__ import annotations

import time
from pathlib import Path

from costmodel.analysis import COST_MODELS
from costmodel.errors import MaestroInputError
from mapper.cli._options import budget_spec, float_above, int_at_least, jobs, non_empty
from mapper.search.evaluator import OBJECTIVES
from mapper.search.strategies import DEFAULT_STRATEGY, STRATEGIES
from mapper.workloads.presets import DEFAULT_HARDWARE, HARDWARE_PRESETS
from search_spaces import Constraints
from search_spaces.hardware_space import OFFCHIP_BW_CHOICES, HardwareSpace, budget_preset


def add_parser(sub) -> None:
    p = sub.add_parser(
        "tune", help="find the best dataflow per layer of a model",
        description="Tune every layer of MODEL (a bundled model name, a MAESTRO .m or YAML "
        "file, whose stated dataflows are scored beside the tuned ones, a GAMMA model CSV "
        "such as resnet18.csv, an ONNX model, a Timeloop problem file or folder of them, or a "
        "ZigZag workload .yaml/.py). "
        "Writes DIR/mappings.m, report.csv, summary.json. "
        "With --area-budget/--power-budget the hardware is co-optimised too.")
    p.add_argument("model")
    p.add_argument("--layers", default=None, metavar="SPEC",
                   help="tune only these layers: names, 1-based positions or ranges, "
                   "comma-separated (e.g. 1,3-5,CONV2_1_2; GAMMA's --singlelayer N is "
                   "--layers N)")
    p.add_argument("--hw", default=None, type=non_empty,
                   help=f"hardware file or preset ({', '.join(HARDWARE_PRESETS)}); "
                   f"default {DEFAULT_HARDWARE}")
    p.add_argument("--hw-set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change one field of --hw, e.g. --hw-set num_pes=256 --hw-set "
                   "l1_size=1024 (fields: num_pes, l1_size, l2_size, noc_bw, offchip_bw, "
                   "noc_latency, simd_lanes, offchip_latency, clock_ghz, element_bytes)")
    p.add_argument("--cost-model", default="physical", choices=COST_MODELS,
                   help="physical (default): DRAM as a level with reuse, L2 residency, "
                   "bandwidth-bound runtime and DRAM energy; maestro: MAESTRO's numbers exactly "
                   "(its mappings.m runs in the MAESTRO binary)")
    p.add_argument("--sparsity", default=None, metavar="FILE",
                   help="the accelerator's sparsity features (physical model): a YAML file of "
                   "formats, compute (skip/gate/none) and on, or a hardware YAML with a "
                   "sparsity key (default: that key of a YAML --hw); the layers' densities "
                   "come from the model")
    p.add_argument("--strategy", default=DEFAULT_STRATEGY, choices=STRATEGIES)
    p.add_argument("--objective", default="latency", choices=OBJECTIVES)
    p.add_argument("--budget", type=int_at_least(1), default=None,
                   help="most cost-model evaluations per distinct layer (default 62400: two "
                   "islands of 24000 and a reserve for two extra islands of 7200; with "
                   "--time-limit only: unlimited; the GA neither scores nor counts candidates "
                   "whose latency bound cannot beat its best, and proposes at most 3x the "
                   "budget)")
    p.add_argument("--islands", type=int_at_least(1), default=None,
                   help="independent runs per layer sharing its budget, each of at least 16000 "
                   "evaluations, in parallel when cores are free; the best wins (GA and "
                   "random; default 2)")
    p.add_argument("--extra-islands", type=int_at_least(0), default=None,
                   help="islands of 0.3 x a first island's size each, held in reserve out of "
                   "the budget (when it allows two islands of 16000) for a layer whose best "
                   "latency is still between --extend-gap and --extend-max-gap above its "
                   "floor (the compute bound MACs / (PEs x SIMD lanes), or the least work of "
                   "the busiest PE over its mapping space if higher) or that has no feasible "
                   "mapping "
                   "(latency objective, GA and random; default 2; 0: none, the whole budget "
                   "goes to the first islands)")
    p.add_argument("--extend-gap", type=float_above(0, inclusive=True), default=None,
                   help="relative gap to the layer's floor above which it earns its extra "
                   "islands (default 0.005)")
    p.add_argument("--extend-max-gap", type=float_above(0, inclusive=True), default=None,
                   help="... and up to which (default 0.2: a layer further away is limited by "
                   "its shape, not by the search)")
    p.add_argument("--stop-gap", type=float_above(0, inclusive=True), default=None,
                   help="an island of a latency search ends once its best is within this "
                   "relative gap of the layer's floor (default 0.0001 with a --budget of "
                   "24,000 or more or a time limit alone, else 0: a small budget is spent in "
                   "full; 0: only at the floor)")
    p.add_argument("--time-limit", type=float_above(0), default=None,
                   help="seconds per distinct layer (per island, with --budget)")
    p.add_argument("--jobs", type=jobs, default=-1,
                   help="parallel worker processes (default -1: all cores)")
    p.add_argument("--backend", default="loky", choices=("loky", "threading", "dask"),
                   help="joblib backend that runs layers in parallel (dask: a Dask cluster)")
    p.add_argument("--scheduler", default=None,
                   help="Dask scheduler address for --backend dask, e.g. tcp://host:8786 "
                   "(checked before the run: it must answer within 3 s)")
    p.add_argument("--storage", default=None,
                   help="Optuna storage URL shared by workers (e.g. postgresql://user@host/db); "
                   "default: an SQLite file per layer in OUT/.checkpoint (Optuna samplers)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--levels", type=int, default=None, choices=(1, 2, 3),
                   help="maximum number of cluster levels (default 2; a template fixes its own)")
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
    p.add_argument("--area-budget", default=None, type=budget_spec,
                   help="co-optimise hardware within this area (um^2, MAESTRO's area unit; "
                   "or preset edge/cloud)")
    p.add_argument("--power-budget", default=None, type=budget_spec,
                   help="co-optimise hardware within this power (mW; or preset edge/cloud)")
    p.add_argument("--hw-candidates", type=int_at_least(1), default=None,
                   help="hardware configurations per co-optimisation round (default 8)")
    p.add_argument("--hw-rounds", type=int_at_least(1), default=None,
                   help="co-optimisation rounds (default 2)")
    p.add_argument("--per-layer-hw", action="store_true",
                   help="with a budget: choose hardware per distinct layer (ConfuciuX-style) "
                   "instead of one configuration shared by all layers")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(run=run)


#: a budget above this without --time-limit gets a warning: hours per layer
HUGE_BUDGET = 10_000_000
DEFAULT_HW_CANDIDATES = 8
DEFAULT_HW_ROUNDS = 2


def _budget(value: str | float | None, kind: str) -> float | None:
    """An area/power budget in the cost model's units (presets resolved)."""
    if value is None or not isinstance(value, str):
        return value
    return budget_preset(value)[kind]


def _option_warnings(args, budget: int | None) -> list[str]:
    """Options that are accepted but have no effect with the others given."""
    from mapper.cli._inputs import NATIVE_STRATEGIES
    from mapper.tuning import tuner

    w = []
    island_strategies = getattr(tuner, "ISLAND_STRATEGIES", ("ga", "random"))
    min_island = getattr(tuner, "MIN_ISLAND_BUDGET", 16_000)
    if args.levels is not None and args.template:
        w.append("--levels has no effect with --template (the template fixes the levels)")
    if args.storage and args.strategy in NATIVE_STRATEGIES:
        w.append(f"--storage has no effect with --strategy {args.strategy} (only Optuna "
                 "samplers use it)")
    if args.scheduler and args.backend != "dask":
        w.append("--scheduler has no effect without --backend dask")
    if args.islands is not None:
        if args.strategy not in island_strategies:
            w.append(f"--islands has no effect with --strategy {args.strategy}")
        elif budget is not None and args.islands > max(1, budget // min_island):
            w.append(f"--islands {args.islands}: the budget {budget} allows at most "
                     f"{max(1, budget // min_island)} (each island needs {min_island})")
    cooptimizing = args.area_budget is not None or args.power_budget is not None
    for opt in ("hw_candidates", "hw_rounds"):
        if getattr(args, opt) is not None and not cooptimizing:
            w.append(f"--{opt.replace('_', '-')} has no effect without --area-budget or "
                     "--power-budget")
    if args.per_layer_hw and args.hw_rounds is not None:
        w.append("--hw-rounds has no effect with --per-layer-hw (one round per layer)")
    if budget is not None and budget > HUGE_BUDGET and not args.time_limit:
        w.append(f"--budget {budget} is more than {HUGE_BUDGET:,} evaluations per layer and "
                 "may run for hours; add --time-limit SECONDS to bound it")
    return w


def _check(args, network, hw, budget: int | None) -> None:
    """Everything that can be checked before any search starts; warnings to stderr."""
    from mapper.cli._inputs import (
        NATIVE_STRATEGIES,
        check_scheduler,
        check_storage,
        check_template,
        network_warnings,
        warn,
    )

    if args.per_layer_hw and args.area_budget is None and args.power_budget is None:
        raise MaestroInputError("--per-layer-hw needs --area-budget or --power-budget",
                                rule="usage")
    check_template(network, hw, args.template, args.strategy, args.levels or 2)
    if args.storage and args.strategy not in NATIVE_STRATEGIES:
        check_storage(args.storage)
    if args.backend == "dask":
        check_scheduler(args.scheduler)
    for w in network_warnings(network) + _option_warnings(args, budget):
        warn("tune", w)


def _gaps_ordered(given: dict) -> bool:
    """--extend-gap <= --extend-max-gap, either side possibly TuneSettings' default."""
    from mapper.tuning.settings import EXTEND_GAP, EXTEND_MAX_GAP

    return given.get("extend_gap", EXTEND_GAP) <= given.get("extend_max_gap", EXTEND_MAX_GAP)


def run(args) -> int:
    from mapper.cli._inputs import (
        load_hardware,
        load_model,
        load_sparsity,
        select_layers,
        warn,
    )
    from mapper.cli._output import Progress, out_lock, prepare_out_dir
    from mapper.tuning.settings import DEFAULT_BUDGET, TuneSettings

    network = select_layers(load_model(args.model), args.layers)
    hw = load_hardware(args.hw, args.hw_set)
    # options left out take TuneSettings' defaults; a time limit alone means no budget
    given = {k: v for k, v in (("islands", args.islands), ("extra_islands", args.extra_islands),
                               ("extend_gap", args.extend_gap),
                               ("extend_max_gap", args.extend_max_gap),
                               ("stop_gap", args.stop_gap),
                               ("max_levels", args.levels), ("budget", args.budget))
             if v is not None}
    if args.time_limit and args.budget is None:
        given["budget"] = None
    if not _gaps_ordered(given):
        raise MaestroInputError("need --extend-gap <= --extend-max-gap", rule="usage")
    _check(args, network, hw, given.get("budget", DEFAULT_BUDGET))
    sparsity = load_sparsity(args.sparsity, args.hw, args.cost_model, network, "tune")
    settings = TuneSettings(cost_model=args.cost_model, sparsity=sparsity, strategy=args.strategy,
                            objective=args.objective, time_limit=args.time_limit,
                            seed=args.seed, jobs=args.jobs, template=args.template,
                            pareto=args.pareto, prune=not args.no_prune,
                            storage=args.storage, backend=args.backend,
                            scheduler=args.scheduler, constraints=Constraints(), **given)
    out = prepare_out_dir(args.out)
    progress = Progress(quiet=args.quiet)
    with out_lock(out):
        result, summary = _tune(args, network, hw, settings, out, progress)
    t = summary["totals"]
    counted = (f" ({t['instances']} instances with counts)"
               if t.get("instances", t["layers"]) != t["layers"] else "")
    pes = "per-layer hardware" if args.per_layer_hw else f"{result.hardware.num_pes} PEs"
    print(f"{network.name}: {t['layers_mapped']}/{t['layers']} layers mapped{counted} "
          f"({t['distinct_shapes']} distinct), total runtime {t['runtime_cycles']} cycles, "
          f"energy {t['energy_nj']:.6g} nJ, {t['evaluations']} evaluations in "
          f"{time.perf_counter() - progress.t0:.1f}s on {pes} -> {out}/")
    g = summary.get("given")
    if g and g["layers_compared"]:
        print(f"against the file's own mappings ({g['layers_compared']} of "
              f"{g['layers_stated']} layers feasible under both): {g['runtime_cycles']} -> "
              f"{g['tuned_runtime_cycles']} cycles ({g['speedup']:.2f}x faster), energy "
              f"{g['energy_nj']:.6g} -> {g['tuned_energy_nj']:.6g} nJ")
    for w in summary.get("warnings", []):
        warn("tune", w)
    if summary["unmapped_layers"]:
        warn("tune", "no feasible mapping found for: " + ", ".join(summary["unmapped_layers"]))
        return 1
    return 0


def _tune(args, network, hw, settings, out: Path, progress) -> tuple:
    """Run the search the options ask for and write its results: (ModelResult, summary)."""
    from mapper.tuning.results import write_results
    from mapper.tuning.tuner import tune_model

    ckpt = None if args.no_resume else out / ".checkpoint"
    area, power = _budget(args.area_budget, "area"), _budget(args.power_budget, "power")
    plots = not args.no_plots
    if area is None and power is None:
        result = tune_model(network, hw, settings, checkpoint_dir=ckpt, progress=progress.layer)
        return result, write_results(result, out, plots=plots)
    # the physical model prices DRAM, so its off-chip bandwidth is a choice too (its interface
    # counts toward the budget); MAESTRO's off-chip term is not physical: keep the given one
    offchip = OFFCHIP_BW_CHOICES if settings.cost_model == "physical" else (hw.offchip_bw,)
    space = HardwareSpace(area_budget=area, power_budget=power,
                          offchip_bw=offchip, noc_latency=(hw.noc_latency,),
                          simd_lanes=(hw.simd_lanes,), base=hw)
    candidates = args.hw_candidates or DEFAULT_HW_CANDIDATES
    if args.per_layer_hw:
        from mapper.tuning.cooptimize import per_layer_result

        result, per_layer = per_layer_result(network, space, settings, candidates=candidates,
                                             progress=progress.message)
        extra = {"per_layer_hardware": {"area_budget": area, "power_budget": power,
                                        "candidates": candidates}}
        return result, write_results(result, out, plots=plots, extra=extra,
                                     hardware_per_layer=per_layer)
    from mapper.tuning.cooptimize import co_optimize

    co = co_optimize(network, space, settings, candidates=candidates,
                     rounds=args.hw_rounds or DEFAULT_HW_ROUNDS, progress=progress.message,
                     checkpoint_dir=ckpt)
    extra = {"cooptimization": {"area_budget": area, "power_budget": power,
                                "seconds": round(co.seconds, 3),
                                "candidates": co.candidates},
             "timing": {"seconds": round(co.seconds, 3),
                        "winning_candidate_seconds": round(co.best.seconds, 3),
                        "resumed_layers": co.best.resumed_layers}}
    return co.best, write_results(co.best, out, plots=plots, extra=extra)
