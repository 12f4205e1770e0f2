"""``mapper compare``: benchmark every search strategy on real layers
(see :mod:`mapper.comparison.harness`).

Also run by ``benchmarks/compare_strategies.py``, which only changes the default output folder.
"""

from __future__ import annotations

import argparse
import time

from mapper.cli._options import float_above, int_at_least, jobs
from mapper.search.evaluator import OBJECTIVES
from mapper.search.strategies import STRATEGIES
from mapper.workloads.presets import HARDWARE_PRESETS


def configure(p: argparse.ArgumentParser, default_out: str = "out/compare") -> None:
    """Add the options of ``mapper compare`` to ``p``."""
    p.add_argument("--quick", action="store_true",
                   help="a few minutes on 2 cores: 8 layers (2 per model), 1 seed, budget 300, "
                   "time limit 1 s; other options override these")
    p.add_argument("--models", default=None,
                   help="comma-separated zoo models (default resnet50,mobilenetv2,vgg16,"
                   "bert_base)")
    p.add_argument("--hw", default=None,
                   help="comma-separated accelerator presets (default edge168,cloud1024; "
                   f"available: {', '.join(HARDWARE_PRESETS)})")
    p.add_argument("--strategies", default=None,
                   help=f"comma-separated strategies (default all: {','.join(STRATEGIES)})")
    p.add_argument("--modes", default=None,
                   help="comma-separated: budget (equal evaluations), time (equal seconds); "
                   "default both")
    p.add_argument("--layers", type=int_at_least(1), default=None,
                   help="at most this many layers in total, round robin over the models "
                   "(default: every distinct layer shape)")
    p.add_argument("--seeds", type=int_at_least(1), default=None,
                   help="seeds per layer (default 3)")
    p.add_argument("--budget", type=int_at_least(1), default=None,
                   help="evaluations per run in mode budget (default 300)")
    p.add_argument("--time-limit", type=float_above(0), default=None,
                   help="seconds per run in mode time (default 1)")
    p.add_argument("--pareto-budget", type=int_at_least(0), default=None,
                   help="NSGA-II evaluations of the latency/energy run (default 2000; 0: none)")
    p.add_argument("--objective", default=None, choices=OBJECTIVES)
    p.add_argument("--cost-model", default="physical", choices=("maestro", "physical"),
                   help="the model that scores every candidate (default physical; maestro: "
                   "MAESTRO's numbers exactly)")
    p.add_argument("--jobs", type=jobs, default=1,
                   help="parallel worker processes (keep <= cores: time limits are wall time)")
    p.add_argument("--out", default=default_out, help=f"output directory (default {default_out})")
    p.add_argument("--no-resume", action="store_true",
                   help="ignore the runs recorded in OUT/records.jsonl by an earlier invocation")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--quiet", action="store_true")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare", help="benchmark the search strategies on real layers",
        description="Run every search strategy on the distinct layers of ResNet-50, "
        "MobileNetV2, VGG16 and a BERT-base encoder on two accelerators, at equal evaluation "
        "budgets and at equal time limits. Writes OUT/runs.csv, summary.md, "
        "convergence_evals.png, convergence_seconds.png, pareto.png.")
    configure(p)
    p.set_defaults(run=run)


def _split(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(s.strip() for s in text.split(",") if s.strip())


def settings_from_args(args):
    """The :class:`~mapper.comparison.harness.CompareSettings` that the options describe."""
    from costmodel.errors import MaestroInputError
    from mapper.comparison.harness import CompareSettings

    given = dict(models=_split(args.models), accelerators=_split(args.hw),
                 strategies=_split(args.strategies), modes=_split(args.modes),
                 layers=args.layers, seeds=args.seeds, budget=args.budget,
                 time_limit=args.time_limit, pareto_budget=args.pareto_budget,
                 objective=args.objective, jobs=args.jobs, cost_model=args.cost_model)
    for a in given["accelerators"] or ():
        if a not in HARDWARE_PRESETS:
            raise MaestroInputError(f"unknown accelerator {a!r}; expected presets from "
                                    f"{', '.join(HARDWARE_PRESETS)}", rule="usage")
    for s in given["strategies"] or ():
        if s not in STRATEGIES:
            raise MaestroInputError(f"unknown strategy {s!r}; expected one of "
                                    f"{', '.join(STRATEGIES)}", rule="usage")
    for m in given["modes"] or ():
        if m not in ("budget", "time"):
            raise MaestroInputError(f"unknown mode {m!r}; expected budget and/or time",
                                    rule="usage")
    if args.quick:
        return CompareSettings.quick(**given)
    return CompareSettings(**{k: v for k, v in given.items() if v is not None})


def run(args) -> int:
    from mapper.cli._output import out_lock, prepare_out_dir
    from mapper.comparison.harness import compare, print_progress

    settings = settings_from_args(args)
    out = prepare_out_dir(args.out)
    t0 = time.perf_counter()
    with out_lock(out):
        res = compare(settings, args.out, resume=not args.no_resume, plots=not args.no_plots,
                      progress=None if args.quiet else print_progress)
    for mode in settings.modes:
        rows = [s for s in res.summary if s.mode == mode]
        if not rows:
            continue
        print(f"mode {mode}: " + ", ".join(
            f"{s.strategy} {s.median_normalised:.3f} ({100 * s.layers_within:.0f}%)"
            for s in rows))
    print(f"{len(res.records)} runs in {time.perf_counter() - t0:.0f}s -> {args.out}/ "
          f"({', '.join(res.files)})")
    return 0
