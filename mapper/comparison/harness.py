"""Compare search strategies on real layers: equal evaluation budgets and equal time limits.

Every registered strategy (:data:`mapper.search.strategies.STRATEGIES`) searches the mapping
of every suite layer (distinct layer shapes of the chosen zoo models) on every accelerator,
for several seeds, once with an evaluation budget (``mode="budget"``) and once with a
wall-clock limit (``"time"``): see :mod:`.runs`.

Each run is scored against the *best-known* value of its (model, layer, accelerator): the
best objective any run of the comparison found (:mod:`.scoring`). :func:`compare` writes
``runs.csv`` (one row per run), ``summary.md`` (:mod:`.report`), convergence plots and a
multi-objective ``pareto.png`` (:mod:`.plots`; NSGA-II, latency vs energy:
:mod:`.pareto_front`); finished runs are appended to ``records.jsonl`` so an interrupted
comparison resumes, and re-running a finished one only rewrites the outputs.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from costmodel import Hardware, Layer
from mapper.atomic import write_text
from mapper.comparison.pareto_front import (
    ParetoResult,
    RecordingEvaluator,
    pareto_layer,
    pareto_run,
)
from mapper.comparison.plots import GAP_CAP, plot_convergence, plot_pareto
from mapper.comparison.report import (
    CSV_COLUMNS,
    estimate_full_seconds,
    machine_info,
    summary_markdown,
    write_runs_csv,
)
from mapper.comparison.runs import (
    ACCELERATORS,
    MODES,
    SUITE_MODELS,
    CompareSettings,
    RunRecord,
    RunSpec,
    _spread,
    exhaustive_space,
    load_records,
    make_runs,
    run_all,
    run_one,
    suite_layers,
)
from mapper.comparison.scoring import WITHIN, StrategySummary, annotate, summarise
from mapper.workloads.presets import HARDWARE_PRESETS

__all__ = ["CompareSettings", "CompareResult", "RunSpec", "RunRecord", "StrategySummary",
           "ParetoResult", "RecordingEvaluator", "compare", "print_progress", "suite_layers",
           "make_runs", "run_one", "run_all", "load_records", "annotate", "summarise",
           "summary_markdown", "write_runs_csv", "machine_info", "estimate_full_seconds",
           "plot_convergence", "plot_pareto", "pareto_run", "pareto_layer",
           "exhaustive_space", "_spread", "HARDWARE_PRESETS", "SUITE_MODELS", "ACCELERATORS",
           "MODES", "WITHIN", "GAP_CAP", "CSV_COLUMNS"]


@dataclass
class CompareResult:
    records: list[RunRecord]
    summary: list[StrategySummary]
    pareto: ParetoResult | None
    seconds: float
    files: list[str]


def compare(settings: CompareSettings, out: str | Path, *, resume: bool = True,
            plots: bool = True, layers: Sequence[tuple[str, Layer]] | None = None,
            hardware: dict[str, Hardware] | None = None,
            progress: Callable[[int, int, RunRecord], None] | None = None) -> CompareResult:
    """Run the comparison of ``settings`` and write its outputs into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    layers = suite_layers(settings.models, settings.layers) if layers is None else list(layers)
    hardware = hardware or {a: HARDWARE_PRESETS[a] for a in settings.accelerators}
    specs = make_runs(settings, layers, hardware)
    records_file = out / "records.jsonl"
    if not resume and records_file.exists():
        records_file.unlink()
    keys = set(load_records(records_file))
    resumed = sum(s.key() in keys for s in specs)
    load0 = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    records = run_all(specs, settings.jobs, records_file, progress)
    annotate(records)
    files = ["records.jsonl", "runs.csv", "summary.md"]
    write_runs_csv(records, out / "runs.csv")
    pareto = None
    if settings.pareto_budget > 0:
        model, lay = pareto_layer(settings.pareto_layer, layers)
        acc = next(iter(hardware))
        pareto = pareto_run(model, lay, acc, hardware[acc], settings.pareto_budget)
        files += plot_pareto(pareto, out)
    if plots:
        files += plot_convergence(records, out)
    seconds = time.perf_counter() - t0
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    notes = [f"Jobs: {settings.jobs}. Wall time: {seconds:.0f} s ({seconds / 3600:.2f} h)"
             + (f", {resumed} of {len(specs)} runs resumed from records.jsonl" if resumed
                else "") + f", on {machine_info()}; 1-minute load average {load0:.1f} at the "
             f"start, {load1:.1f} at the end (other processes slow the time-limit runs)."]
    if settings.layers is not None and layers:
        full = len(suite_layers(settings.models))
        if full > len(layers):
            est = estimate_full_seconds(records, settings, full)
            notes.append(f"Extrapolated wall time of these settings on all {full} distinct "
                         f"layers: {est:.0f} s ({est / 3600:.1f} h) (mean run time per mode "
                         "and strategy measured here x number of runs / jobs).")
    if pareto is not None:
        notes.append(f"pareto.png: NSGA-II (latency, energy), {pareto.evaluations} "
                     f"evaluations on {pareto.model} {pareto.layer}, {pareto.accelerator}: "
                     f"{len(pareto.points)} feasible points, {len(pareto.front)} on the front.")
    write_text(out / "summary.md", summary_markdown(records, notes))
    return CompareResult(records, summarise(records), pareto, seconds, files)


def print_progress(done: int, total: int, r: RunRecord) -> None:
    """A one-line progress report per finished run (standard error)."""
    lim = f"{r.budget} evals" if r.mode == "budget" else f"{r.time_limit} s"
    print(f"[{done}/{total}] {r.mode:6s} {r.strategy:13s} {r.model}/{r.layer} "
          f"{r.accelerator} seed {r.seed} ({lim}): best {r.best:.6g}, {r.evaluations} evals, "
          f"{r.seconds:.1f} s", file=sys.stderr, flush=True)
