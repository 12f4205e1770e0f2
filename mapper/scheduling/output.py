"""Results of a schedule: the per-job table (CSV), the summary (JSON) and a Gantt chart."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from .evaluator import positions, simulate
from .job_table import JobTable
from .problem import SearchResult


def schedule_rows(table: JobTable, res: SearchResult, dram_bw: float) -> list[dict]:
    """One row per job: core, position in that core's queue, start and end cycle."""
    core, key = res.core[None], res.key[None]
    t = simulate(table.latency, table.bw, core, key, dram_bw, record=True)
    pos = positions(core, key, len(table.setting))[0]
    return [{"job": j.name, "core": int(res.core[i]), "order": int(pos[i]),
             "start": float(t.start[0, i]), "end": float(t.end[0, i])}
            for i, j in enumerate(table.jobs)]


def write_schedule_csv(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["job", "core", "order", "start", "end"])
        w.writeheader()
        w.writerows(rows)


def write_job_table_csv(table: JobTable, path: Path) -> None:
    """The job table the search saw: one row per (job, core) with the job's latency, its
    required off-chip bandwidth, energy and cluster size there (``inf``: does not fit)."""
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["job", "core", "latency_cycles", "bw_elems_per_cycle", "energy_nj",
                    "cluster"])
        for i, j in enumerate(table.jobs):
            for c in range(len(table.setting)):
                w.writerow([j.name, c, float(table.latency[i, c]), float(table.bw[i, c]),
                            float(table.energy[i, c]), int(table.cluster[i, c])])


def write_summary(path: Path, table: JobTable, res: SearchResult, **extra) -> dict:
    summary = {"makespan_cycles": res.makespan, "energy_nj": res.energy,
               "setting": table.setting.name,
               "cores": [c.label() for c in table.setting.cores],
               "flexible_cluster": table.setting.flexible, "jobs": len(table.jobs),
               "cost_model": table.cost_model, "evaluations": res.evaluations,
               "seconds": round(res.seconds, 3), **extra}
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def plot_gantt(rows: list[dict], table: JobTable, path: Path, title: str = "") -> None:
    """One bar per job on its core's row, coloured by job type."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colours = {"CONV": "tab:blue", "DSCONV": "tab:cyan", "GEMM": "tab:orange", "FC": "tab:green"}
    C = len(table.setting)
    fig, ax = plt.subplots(figsize=(10, 0.45 * C + 1.5))
    for r, job in zip(rows, table.jobs, strict=True):
        ax.barh(r["core"], r["end"] - r["start"], left=r["start"], height=0.8,
                color=colours.get(job.kind, "grey"), edgecolor="black", linewidth=0.3)
    ax.set_yticks(np.arange(C), [f"{i}: {c.label()}" for i, c in enumerate(table.setting.cores)])
    ax.set_xlabel("cycles")
    ax.invert_yaxis()
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in colours.values()]
    ax.legend(handles, list(colours), loc="lower right", fontsize=8)
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
