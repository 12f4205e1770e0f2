"""``mapper schedule``: map many DNN layers onto a multi-core accelerator (MAGMA's problem)."""

from __future__ import annotations

import time
from pathlib import Path

from costmodel.errors import MaestroInputError
from mapper.cli._options import float_above
from mapper.cli._output import Progress, prepare_out_dir

from .cores import resolve_setting
from .job_table import build_job_table
from .output import (
    plot_gantt,
    schedule_rows,
    write_job_table_csv,
    write_schedule_csv,
    write_summary,
)
from .problem import Problem, check_bandwidth, run_search
from .registry import DEFAULT_STRATEGY, STRATEGIES, make_strategy
from .workload import load_workload


def add_parser(sub) -> None:
    p = sub.add_parser(
        "schedule", help="schedule many layers on a multi-core accelerator (makespan)",
        description="Assign every job (layer) of WORKLOAD to a core and order each core's "
        "queue to minimise the makespan, the cores sharing the off-chip bandwidth. Writes "
        "OUT/schedule.csv (job, core, order = position in the core's queue, start, end), "
        "OUT/summary.json (makespan_cycles, energy_nj, ...), OUT/gantt.png and "
        "OUT/job_table.csv (each job's latency and required bandwidth on each core). "
        "See docs/scheduling.md.")
    p.add_argument("workload", help="MAGMA instance CSV (network, layer, 6 dimensions, type "
                   "0 FC / 1 CONV / 2 DSCONV / 3 GEMM per row), or models with counts, e.g. "
                   "resnet50:2,mobilenetv2 (names: mapper models; an entry may be a .m/.yaml "
                   "model file)")
    p.add_argument("--cores", required=True,
                   help="magma0 .. magma12 (MAGMA's GA settings; 9-12 choose each job's "
                   "cluster size), magmaN-eye (its row-stationary variants) or a YAML/JSON "
                   "core file: cores: [{num_pes, style: dla/shi/eye, cluster, "
                   "hw: FILE_OR_PRESET, count}], flexible: true/false")
    p.add_argument("--dram-bw", type=float, required=True,
                   help="off-chip bandwidth shared by the cores, elements per cycle (> 0)")
    p.add_argument("--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY,
                   help=f"schedule search (default {DEFAULT_STRATEGY}; magma-ga: MAGMA-style "
                   "GA; tpe/cmaes/qmc: optuna samplers, for small budgets)")
    p.add_argument("--budget", type=int, default=10000,
                   help="schedule evaluations (default 10000; MAGMA's GA uses 6300 on 100 jobs)")
    p.add_argument("--time-limit", type=float_above(0), default=None, metavar="SECONDS",
                   help="stop the search after this many seconds even if the budget is not "
                   "spent (checked between batches)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--cost-model", default="maestro", choices=("maestro", "physical"),
                   help="job table: maestro (default; MAGMA's formulas: MAESTRO's runtime, "
                   "demand = L2 footprint / 2 / (runtime - 1)) or physical (latency = the "
                   "physical model's runtime with the core's own off-chip port unbounded, "
                   "demand = its DRAM traffic with reuse / that latency, energy with DRAM "
                   "energy; DRAM stalls then come only from sharing --dram-bw)")
    p.add_argument("--out", required=True, help="output directory (created if missing)")
    p.add_argument("--no-plot", action="store_true", help="skip the Gantt chart")
    p.add_argument("--quiet", action="store_true", help="no progress line on stderr")
    p.set_defaults(run=run)


class _SearchProgress:
    """Evaluations and best makespan on stderr: one line rewritten on a terminal (at most
    every 0.2 s), a line every 10 s otherwise (logs)."""

    def __init__(self, budget: int, quiet: bool):
        self.bar = Progress(quiet=quiet)
        self.budget = budget
        self.last = 0.0  # the first line after 0.2 s (terminal) or 10 s (log)

    def __call__(self, used: int, best: float) -> None:
        bar = self.bar
        t = time.perf_counter() - bar.t0
        if bar.quiet or t - self.last < (0.2 if bar.tty else 10.0):
            return
        self.last = t
        text = f"[{used}/{self.budget} schedules] best makespan {best:.6g} cycles  {t:6.1f}s"
        if bar.tty:
            bar.stream.write(f"\r{text:<72}")
            bar.open = True
        else:
            bar.stream.write(text + "\n")
        bar.stream.flush()


def run(args) -> int:
    dram_bw = check_bandwidth(args.dram_bw, "--dram-bw (off-chip bandwidth)")
    if args.budget <= 0:
        raise MaestroInputError(f"--budget must be a positive number of schedule evaluations, "
                                f"got {args.budget}", rule="budget")
    out = prepare_out_dir(args.out)
    setting = resolve_setting(args.cores)
    jobs = load_workload(args.workload)
    progress = _SearchProgress(args.budget, args.quiet)
    table = build_job_table(jobs, setting, args.cost_model)
    progress.bar.message(f"{len(jobs)} jobs x {len(setting)} cores ({setting.name}): job table "
                         f"in {time.perf_counter() - progress.bar.t0:.1f} s; searching with "
                         f"{args.strategy}, seed {args.seed}")
    problem = Problem.from_table(table, dram_bw)
    res = run_search(problem, make_strategy(args.strategy, problem, args.seed), args.budget,
                     time_limit=args.time_limit, progress=progress)
    progress.bar.end_line()
    rows = schedule_rows(table, res, dram_bw)
    write_schedule_csv(rows, out / "schedule.csv")
    write_job_table_csv(table, out / "job_table.csv")
    write_summary(out / "summary.json", table, res, workload=args.workload, dram_bw=dram_bw,
                  strategy=args.strategy, seed=args.seed, budget=args.budget,
                  time_limit=args.time_limit)
    if not args.no_plot:
        plot_gantt(rows, table, out / "gantt.png",
                   f"{Path(args.workload).name} on {setting.name}, makespan {res.makespan:.4g}")
    print(f"makespan {res.makespan:.6g} cycles, energy {res.energy:.6g} nJ, "
          f"{res.evaluations} schedules in {res.seconds:.1f} s -> {out}")
    return 0
