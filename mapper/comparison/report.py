"""A comparison's tables: ``runs.csv``, ``summary.md`` and the machine it ran on."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import platform
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mapper.atomic import write_text
from mapper.comparison.runs import MODES, CompareSettings, RunRecord
from mapper.comparison.scoring import _median, summarise

CSV_COLUMNS = ("mode", "strategy", "model", "layer", "layer_type", "accelerator", "seed",
               "space", "space_size", "budget", "time_limit", "objective", "best", "best_known",
               "normalised", "evaluations", "evals_to_1pct", "seconds_to_1pct", "seconds",
               "cost_model")


def write_runs_csv(records: Sequence[RunRecord], path: Path) -> None:
    """``runs.csv``: one row per run (see :data:`CSV_COLUMNS`)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)

    def fmt(v):
        if v is None:
            return ""
        if isinstance(v, float):
            return "inf" if math.isinf(v) else f"{v:.10g}"
        return v

    for r in records:
        d = dataclasses.asdict(r)
        d["seconds"] = round(r.seconds, 4)
        w.writerow([fmt(d[c]) for c in CSV_COLUMNS])
    write_text(path, buf.getvalue())


def machine_info() -> str:
    """CPU model, core count and Python version of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}")


def _num(x: float, digits: int = 3, inf: str = "inf") -> str:
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return inf
    return f"{x:,.0f}" if digits == 0 else f"{x:.{digits}f}"


def summary_markdown(records: Sequence[RunRecord], notes: Sequence[str] = ()) -> str:
    """``summary.md``: settings, ``notes``, one table per mode, a strategy x model breakdown."""
    rows = summarise(records)
    layers = {(r.model, r.layer) for r in records}
    accs = sorted({r.accelerator for r in records})
    seeds = sorted({r.seed for r in records})
    budget = next((r.budget for r in records if r.mode == "budget"), None)
    tlim = next((r.time_limit for r in records if r.mode == "time"), None)
    objective = records[0].objective if records else "latency"
    cost_model = records[0].cost_model if records else "physical"
    out = ["# Strategy comparison", "",
           f"{len(records)} runs: {len(layers)} layers "
           f"({', '.join(sorted({r.model for r in records}))}) x accelerators "
           f"{', '.join(accs)} x {len(seeds)} seed(s); objective {objective}; "
           f"cost model {cost_model}; "
           f"budget {budget} evaluations (mode `budget`), time limit {tlim} s (mode `time`). "
           f"Sum of run times: {sum(r.seconds for r in records):.0f} s.", *notes]
    out += ["", "`normalised` = best / best-known, where best-known is the best value any run "
            "found for that layer and accelerator. `layers within 1%`: share of (layer, "
            "accelerator) pairs whose median over seeds is within 1% of best-known. Medians of "
            "evaluations/seconds to 1% count runs that never got there as infinite. "
            "`exhaustive` enumerates the kcp_ws/mnk template with divisor tiles, in order, so "
            "it can only reach the best-known value when that template holds it; nsga2/nsga3 "
            "optimise latency and energy together."]
    for mode in MODES:
        mrows = [s for s in rows if s.mode == mode]
        if not mrows:
            continue
        what = (f"equal budget: {budget} evaluations" if mode == "budget"
                else f"equal time: {tlim} s")
        out += ["", f"## Mode `{mode}` ({what})", "",
                "| strategy | runs | median normalised best | layers within 1% | "
                "median evals to 1% | median s to 1% | evals/s | feasible |",
                "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for s in mrows:
            out.append(f"| {s.strategy} | {s.runs} | {_num(s.median_normalised)} | "
                       f"{100 * s.layers_within:.0f}% | "
                       f"{_num(s.median_evals_to_1pct, 0, 'not reached')} | "
                       f"{_num(s.median_seconds_to_1pct, 2, 'not reached')} | "
                       f"{_num(s.evals_per_second, 0)} | {100 * s.feasible:.0f}% |")
    models = sorted({r.model for r in records})
    for mode in MODES:
        cells: dict[tuple[str, str], list[float]] = defaultdict(list)
        for r in records:
            if r.mode == mode:
                cells[(r.strategy, r.model)].append(r.normalised)
        if not cells:
            continue
        strategies = [s.strategy for s in rows if s.mode == mode]
        out += ["", f"Median normalised best per model, mode `{mode}`:", "",
                "| strategy | " + " | ".join(models) + " |",
                "|---|" + "---:|" * len(models)]
        for st in strategies:
            out.append(f"| {st} | " + " | ".join(_num(_median(cells.get((st, m), [])))
                                                   for m in models) + " |")
    return "\n".join(out) + "\n"


def estimate_full_seconds(records: Sequence[RunRecord], settings: CompareSettings,
                          full_layers: int) -> float:
    """Wall time of ``settings`` on ``full_layers`` layers, from the mean run time measured
    per (mode, strategy) in ``records``."""
    secs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in records:
        secs[(r.mode, r.strategy)].append(r.seconds)
    per_layer = sum(np.mean(v) for v in secs.values()) * len(settings.accelerators) * \
        settings.seeds
    return float(per_layer * full_layers / max(1, min(settings.jobs, os.cpu_count() or 1)))
