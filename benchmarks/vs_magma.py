"""Our default schedule search against MAGMA's GA at equal schedule evaluations.

Reads MAGMA's results (``benchmarks/results/magma/magma_ga*.csv``: one row per instance,
core setting, off-chip bandwidth and seed, produced by running MAGMA's own GA outside this
project on job tables equal to its MAESTRO-built ones), runs our strategy with the same
budget and seed on the same instance (MAGMA's instance CSVs, ``--insts``), and writes
``vs_magma.csv`` (per run) and ``vs_magma.md`` (per instance group: makespan ratio ours /
MAGMA and Vargha-Delaney A12 = P(ours < MAGMA)).

    python benchmarks/vs_magma.py --insts PATH/TO/magma/traffic_insts
"""

from __future__ import annotations

import argparse
import csv
import glob
from collections import defaultdict
from pathlib import Path

import numpy as np

from mapper.scheduling.cores import resolve_setting
from mapper.scheduling.job_table import build_job_table
from mapper.scheduling.problem import Problem, run_search
from mapper.scheduling.registry import DEFAULT_STRATEGY, make_strategy
from mapper.scheduling.workload import load_instance_csv

HERE = Path(__file__).parent / "results" / "magma"


def a12(ours: list[float], theirs: list[float]) -> float:
    """Probability that a run of ours is shorter than one of theirs (ties count half)."""
    o, t = np.asarray(ours)[:, None], np.asarray(theirs)[None, :]
    return float(((o < t) + 0.5 * (o == t)).mean())


def run(insts: str, strategy: str, files: list[str]) -> list[dict]:
    rows = [r for f in files for r in csv.DictReader(open(f))]
    tables: dict = {}
    out = []
    for r in rows:
        k = (r["instance"], r["setting"])
        if k not in tables:
            jobs = load_instance_csv(Path(insts) / f"{r['instance']}.csv")
            tables[k] = build_job_table(jobs, resolve_setting(r["setting"]))
        p = Problem.from_table(tables[k], float(r["dram_bw"]))
        res = run_search(p, make_strategy(strategy, p, int(r["seed"])), int(r["evaluations"]))
        out.append({"instance": r["instance"], "setting": r["setting"], "dram_bw": r["dram_bw"],
                    "seed": r["seed"], "evaluations": r["evaluations"],
                    "magma_makespan": float(r["makespan"]), "ours_makespan": res.makespan,
                    "ratio": res.makespan / float(r["makespan"]),
                    "magma_seconds": r["seconds"], "ours_seconds": round(res.seconds, 2)})
        print(f"{r['instance']} {r['setting']} bw={r['dram_bw']} seed={r['seed']}: "
              f"ratio {out[-1]['ratio']:.4f}", flush=True)
    return out


def summarise(out: list[dict]) -> str:
    groups = defaultdict(list)
    for r in out:
        groups[(r["instance"], r["setting"], r["dram_bw"])].append(r)
    lines = ["| instance | setting | dram_bw | runs | MAGMA mean | ours mean | ratio (mean) "
             "| worst ratio | A12 |", "|---|---|---|---|---|---|---|---|---|"]
    for (i, s, b), rs in sorted(groups.items()):
        m = [r["magma_makespan"] for r in rs]
        o = [r["ours_makespan"] for r in rs]
        lines.append(f"| {i} | {s} | {b} | {len(rs)} | {np.mean(m):.4g} | {np.mean(o):.4g} | "
                     f"{np.mean(o) / np.mean(m):.4f} | {max(r['ratio'] for r in rs):.4f} | "
                     f"{a12(o, m):.2f} |")
    ratios = [r["ratio"] for r in out]
    lines.append(f"\n{len(out)} runs; ratio ours/MAGMA: geometric mean "
                 f"{np.exp(np.mean(np.log(ratios))):.4f}, worst {max(ratios):.4f}, "
                 f"runs at or below MAGMA {sum(x <= 1 for x in ratios)}/{len(ratios)}")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--insts", required=True, help="MAGMA's traffic_insts directory")
    ap.add_argument("--strategy", default=DEFAULT_STRATEGY)
    ap.add_argument("--magma", nargs="*", default=None, help="MAGMA result CSVs")
    ap.add_argument("--tag", default="", help="suffix of the output files")
    a = ap.parse_args()
    files = a.magma or sorted(glob.glob(str(HERE / "magma_ga*.csv")))
    out = run(a.insts, a.strategy, files)
    name = f"vs_magma{a.tag}"
    with open(HERE / f"{name}.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    text = summarise(out)
    (HERE / f"{name}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
