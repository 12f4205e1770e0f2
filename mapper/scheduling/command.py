"""``mapper schedule``: map many DNN layers onto a multi-core accelerator (MAGMA's problem)."""

from __future__ import annotations

from pathlib import Path

from .cores import resolve_setting
from .job_table import build_job_table
from .output import plot_gantt, schedule_rows, write_schedule_csv, write_summary
from .problem import Problem, check_bandwidth, run_search
from .registry import DEFAULT_STRATEGY, STRATEGIES, make_strategy
from .workload import load_workload


def add_parser(sub) -> None:
    p = sub.add_parser(
        "schedule", help="schedule many layers on a multi-core accelerator (makespan)",
        description="Assign every job (layer) of WORKLOAD to a core and order each core's "
        "queue to minimise the makespan, the cores sharing the off-chip bandwidth.")
    p.add_argument("workload", help="MAGMA-style instance CSV, or bundled models with counts, "
                   "e.g. resnet50:2,mobilenetv2")
    p.add_argument("--cores", required=True,
                   help="magma0 .. magma12 (MAGMA's settings) or a YAML/JSON core file")
    p.add_argument("--dram-bw", type=float, required=True,
                   help="off-chip bandwidth shared by the cores, elements per cycle")
    p.add_argument("--strategy", choices=STRATEGIES, default=DEFAULT_STRATEGY)
    p.add_argument("--budget", type=int, default=10000, help="schedule evaluations")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cost-model", default="maestro", choices=("maestro", "physical"))
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--no-plot", action="store_true", help="skip the Gantt chart")
    p.set_defaults(run=run)


def run(args) -> int:
    dram_bw = check_bandwidth(args.dram_bw)
    setting = resolve_setting(args.cores)
    jobs = load_workload(args.workload)
    table = build_job_table(jobs, setting, args.cost_model)
    problem = Problem.from_table(table, dram_bw)
    res = run_search(problem, make_strategy(args.strategy, problem, args.seed), args.budget)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = schedule_rows(table, res, dram_bw)
    write_schedule_csv(rows, out / "schedule.csv")
    write_summary(out / "summary.json", table, res, workload=args.workload, dram_bw=dram_bw,
                  strategy=args.strategy, seed=args.seed, budget=args.budget)
    if not args.no_plot:
        plot_gantt(rows, table, out / "gantt.png",
                   f"{Path(args.workload).name} on {setting.name}, makespan {res.makespan:.4g}")
    print(f"makespan {res.makespan:.6g} cycles, energy {res.energy:.6g} nJ, "
          f"{res.evaluations} schedules in {res.seconds:.1f} s -> {out}")
    return 0
