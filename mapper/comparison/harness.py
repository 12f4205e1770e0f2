"""Compare search strategies on real layers: equal evaluation budgets and equal time limits.

Every strategy of :data:`mapper.search.strategies.STRATEGIES` searches the mapping of every
suite layer
(distinct layer shapes of the chosen zoo models) on every accelerator, for several seeds, once
with an evaluation budget (``mode="budget"``) and once with a wall-clock limit (``"time"``).
All strategies search the free two-level :class:`MappingSpace` except ``exhaustive``, which needs
an enumerable space: it enumerates a classic-dataflow template (``kcp_ws``, ``mnk`` for GEMMs)
with divisor tiles, in order, until its budget or time runs out.

Each run is scored against the *best-known* value of its (model, layer, accelerator): the
best objective any run of the comparison found. :func:`compare` writes ``runs.csv`` (one row
per run), ``summary.md``, convergence plots, and a multi-objective ``pareto.png`` (NSGA-II,
latency vs energy); finished runs are appended to ``records.jsonl`` so an interrupted
comparison resumes, and re-running a finished one only rewrites the outputs.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import platform
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costmodel import Hardware, Layer
from mapper.atomic import write_text
from mapper.search.evaluator import Evaluation, Evaluator
from mapper.search.loop import run_search
from mapper.search.strategies import STRATEGIES, make_strategy
from mapper.tuning.tuner import distinct_shapes, shape_seed
from mapper.workloads.presets import HARDWARE_PRESETS
from search_spaces import Genomes, MappingSpace
from search_spaces.enumeration import enumeration_size
from search_spaces.templates import make_space

SUITE_MODELS = ("resnet50", "mobilenetv2", "vgg16", "bert_base")
ACCELERATORS = ("edge168", "cloud1024")
MODES = ("budget", "time")
WITHIN = 0.01  # "reached" = within 1% of the best-known value
GAP_CAP = 10.0  # plots clip the gap to best-known (and "nothing feasible yet") at +1000%

CSV_COLUMNS = ("mode", "strategy", "model", "layer", "layer_type", "accelerator", "seed",
               "space", "space_size", "budget", "time_limit", "objective", "best", "best_known",
               "normalised", "evaluations", "evals_to_1pct", "seconds_to_1pct", "seconds")


# -- what to run ------------------------------------------------------------------------------
@dataclass
class CompareSettings:
    """What :func:`compare` runs. ``layers`` caps the suite (round robin over the models)."""

    models: tuple[str, ...] = SUITE_MODELS
    accelerators: tuple[str, ...] = ACCELERATORS
    strategies: tuple[str, ...] = STRATEGIES
    modes: tuple[str, ...] = MODES
    seeds: int = 3
    budget: int = 300             # evaluations per run (mode "budget")
    time_limit: float = 1.0       # seconds per run (mode "time")
    layers: int | None = None     # None: every distinct layer shape of every model
    objective: str = "latency"
    jobs: int = 1
    pareto_budget: int = 2000     # NSGA-II evaluations for pareto.png (0: no Pareto run)
    pareto_layer: str = "resnet50/CONV2_1_2"  # MODEL/LAYER of the Pareto run

    @classmethod
    def quick(cls, **overrides) -> CompareSettings:
        """A few minutes on two cores: 8 layers (2 per model), one seed, small budgets."""
        base = dict(layers=8, seeds=1, budget=300, time_limit=1.0, pareto_budget=300)
        base.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**base)


@dataclass(frozen=True)
class RunSpec:
    """One search: a strategy on one layer and accelerator, with one seed, in one mode."""

    mode: str
    strategy: str
    model: str
    layer: Layer
    accelerator: str
    hardware: Hardware
    seed: int
    budget: int | None
    time_limit: float | None
    objective: str = "latency"

    def key(self) -> str:
        """Identifies the run in ``records.jsonl`` (resume)."""
        return json.dumps([self.mode, self.strategy, self.model, self.layer.name,
                           self.accelerator, self.seed, self.budget, self.time_limit,
                           self.objective])


@dataclass
class RunRecord:
    """The outcome of one run; the last four fields are filled by :func:`annotate`."""

    mode: str
    strategy: str
    model: str
    layer: str
    layer_type: str
    accelerator: str
    seed: int
    space: str
    space_size: int | None
    budget: int | None
    time_limit: float | None
    objective: str
    best: float                   # inf: no feasible mapping found
    evaluations: int
    seconds: float
    history: list[tuple[int, float, float]] = field(default_factory=list)
    key: str = ""
    best_known: float = math.inf
    normalised: float = math.inf
    evals_to_1pct: int | None = None
    seconds_to_1pct: float | None = None

    def to_json(self) -> str:
        d = dataclasses.asdict(self)
        d["best"] = None if not math.isfinite(self.best) else self.best
        for k in ("best_known", "normalised", "evals_to_1pct", "seconds_to_1pct"):
            d.pop(k)
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> RunRecord:
        d = json.loads(text)
        d["best"] = math.inf if d["best"] is None else float(d["best"])
        d["history"] = [(int(e), float(s), math.inf if b is None else float(b))
                        for e, s, b in d["history"]]
        return cls(**d)


def _spread(n: int) -> list[int]:
    """``0..n-1`` coarse to fine (first, last, middle, quarters, ...): any prefix is spread."""
    out: list[int] = []
    seen: set[int] = set()
    k = 1
    while len(out) < n:
        for i in np.linspace(0, n - 1, k + 1).round().astype(int):
            if int(i) not in seen:
                seen.add(int(i))
                out.append(int(i))
        k *= 2
    return out


def suite_layers(models: Iterable[str] = SUITE_MODELS,
                 limit: int | None = None) -> list[tuple[str, Layer]]:
    """The distinct layer shapes of ``models`` as ``(model, layer)``.

    With ``limit``, at most that many, taken round robin over the models; within a model the
    first layer of each type comes first (rarest type first, so MobileNetV2 contributes a
    depthwise layer), then layers spread over the depth of the network.
    """
    from mapper.workloads.zoo import load_model

    per_model: list[list[tuple[str, Layer]]] = []
    for name in models:
        net = load_model(name)
        first, _ = distinct_shapes(net)
        layers = [net.layers[i] for i in first]
        counts: dict[str, int] = defaultdict(int)
        for lay in layers:
            counts[lay.type] += 1
        lead = sorted({lay.type: i for i, lay in reversed(list(enumerate(layers)))}.items(),
                      key=lambda kv: (counts[kv[0]], kv[1]))
        order = [i for _, i in lead] + [i for i in _spread(len(layers))
                                        if i not in {j for _, j in lead}]
        per_model.append([(name, _bare(layers[i])) for i in order])
    if limit is None:
        return [item for lst in per_model for item in lst]
    out = []
    for rank in range(max(map(len, per_model), default=0)):
        for lst in per_model:
            if rank < len(lst) and len(out) < limit:
                out.append(lst[rank])
    return out


def _bare(layer: Layer) -> Layer:
    return Layer(layer.name, layer.type, dict(layer.dims), dict(layer.strides), None)


def exhaustive_space(layer: Layer, hw: Hardware) -> MappingSpace:
    """The enumerable space of the exhaustive strategy: the ``kcp_ws`` template (``mnk`` for
    GEMMs) with divisor tiles, so that it stays small enough to enumerate."""
    template = "mnk" if layer.type == "GEMM" else "kcp_ws"
    space = dataclasses.replace(make_space(layer, hw, template), tile_divisors=True)
    space.name = f"{template}/divisors"
    return space


def make_runs(settings: CompareSettings,
              layers: Sequence[tuple[str, Layer]] | None = None,
              hardware: dict[str, Hardware] | None = None) -> list[RunSpec]:
    """Every run of the comparison: modes x strategies x layers x accelerators x seeds."""
    layers = suite_layers(settings.models, settings.layers) if layers is None else layers
    hardware = hardware or {a: HARDWARE_PRESETS[a] for a in settings.accelerators}
    for s in settings.strategies:
        if s not in STRATEGIES:
            raise ValueError(f"unknown strategy {s!r}; expected one of {', '.join(STRATEGIES)}")
    runs = []
    for mode in settings.modes:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        for strategy in settings.strategies:
            for model, layer in layers:
                for acc, hw in hardware.items():
                    for seed in range(settings.seeds):
                        runs.append(RunSpec(
                            mode, strategy, model, layer, acc, hw, seed,
                            settings.budget if mode == "budget" else None,
                            settings.time_limit if mode == "time" else None,
                            settings.objective))
    return runs


# -- running ----------------------------------------------------------------------------------
def run_one(spec: RunSpec) -> RunRecord:
    """Run one search (in a worker process) and return its record."""
    layer, hw = spec.layer, spec.hardware
    params: dict = {}
    if spec.strategy == "exhaustive":
        space = exhaustive_space(layer, hw)
        size: int | None = enumeration_size(space)
    else:
        space, size = MappingSpace(layer, hw, max_levels=2), None
    if spec.strategy in ("exhaustive", "ga"):
        params["objective"] = spec.objective
    strategy = make_strategy(spec.strategy, space, shape_seed(spec.seed, layer), **params)
    res = run_search(space, strategy, Evaluator(space, spec.objective), budget=spec.budget,
                     time_limit=spec.time_limit)
    return RunRecord(spec.mode, spec.strategy, spec.model, layer.name, layer.type,
                     spec.accelerator, spec.seed, space.name, size, spec.budget,
                     spec.time_limit, spec.objective, float(res.best_fitness), res.evaluations,
                     res.seconds, [(int(e), float(s), float(b)) for e, s, b in res.history],
                     key=spec.key())


def _indexed(i: int, spec: RunSpec) -> tuple[int, RunRecord]:
    return i, run_one(spec)


def load_records(path: Path) -> dict[str, RunRecord]:
    """The records of ``records.jsonl`` by run key (lines cut short are skipped)."""
    done: dict[str, RunRecord] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = RunRecord.from_json(line)
            except (ValueError, KeyError, TypeError):
                continue  # a line cut short by an interruption
            done[rec.key] = rec
    return done


def run_all(specs: Sequence[RunSpec], jobs: int = 1, records_file: Path | None = None,
            progress: Callable[[int, int, RunRecord], None] | None = None) -> list[RunRecord]:
    """Run ``specs`` on ``jobs`` processes; records already in ``records_file`` are reused
    and new ones appended to it as they finish. Returns the records in ``specs`` order."""
    from joblib import Parallel, delayed

    done = load_records(records_file) if records_file is not None else {}
    todo = [i for i, s in enumerate(specs) if s.key() not in done]
    # long runs first (budget-mode TPE is the slowest), so the workers finish together
    todo.sort(key=lambda i: (specs[i].mode != "budget", specs[i].strategy != "tpe"))
    out: dict[int, RunRecord] = {i: done[s.key()] for i, s in enumerate(specs)
                                 if s.key() in done}
    sink = None
    if records_file is not None:
        records_file.parent.mkdir(parents=True, exist_ok=True)
        sink = records_file.open("a")
        if sink.tell() and not records_file.read_bytes().endswith(b"\n"):
            sink.write("\n")  # end a line cut short by an interruption
    try:
        runner = Parallel(n_jobs=jobs, return_as="generator_unordered")
        for i, rec in runner(delayed(_indexed)(i, specs[i]) for i in todo):
            out[i] = rec
            if sink is not None:
                sink.write(rec.to_json() + "\n")
                sink.flush()
            if progress:
                progress(len(out), len(specs), rec)
    finally:
        if sink is not None:
            sink.close()
    return [out[i] for i in range(len(specs))]


# -- scoring ----------------------------------------------------------------------------------
def _group(r: RunRecord) -> tuple[str, str, str, str]:
    return (r.model, r.layer, r.accelerator, r.objective)


def annotate(records: Sequence[RunRecord]) -> dict[tuple[str, str, str, str], float]:
    """Fill ``best_known``, ``normalised`` and the evaluations/seconds to reach 1% of it.

    Best-known is per (model, layer, accelerator, objective) over all ``records``.
    """
    best: dict[tuple[str, str, str, str], float] = defaultdict(lambda: math.inf)
    for r in records:
        best[_group(r)] = min(best[_group(r)], r.best)
    for r in records:
        bk = best[_group(r)]
        r.best_known = bk
        r.normalised = r.best / bk if math.isfinite(bk) and bk > 0 else math.inf
        r.evals_to_1pct = r.seconds_to_1pct = None
        target = bk * (1 + WITHIN)
        for ev, sec, b in r.history:
            if b <= target:
                r.evals_to_1pct, r.seconds_to_1pct = int(ev), float(sec)
                break
    return dict(best)


def _median(values: Sequence[float]) -> float:
    """Median where ``inf`` counts as worse than anything (no interpolation with inf)."""
    if not values:
        return math.nan
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2


@dataclass
class StrategySummary:
    """One row of the summary table."""

    mode: str
    strategy: str
    runs: int
    median_normalised: float
    layers_within: float       # share of (layer, accelerator) whose median over seeds is <= 1%
    median_evals_to_1pct: float
    median_seconds_to_1pct: float
    evals_per_second: float    # median over runs
    feasible: float            # share of runs that found a feasible mapping


def summarise(records: Sequence[RunRecord]) -> list[StrategySummary]:
    """Per (mode, strategy) figures, best median first within each mode."""
    by: dict[tuple[str, str], list[RunRecord]] = defaultdict(list)
    for r in records:
        by[(r.mode, r.strategy)].append(r)
    rows = []
    for (mode, strategy), rs in by.items():
        per_layer: dict[tuple, list[float]] = defaultdict(list)
        for r in rs:
            per_layer[_group(r)].append(r.normalised)
        within = [_median(v) <= 1 + WITHIN for v in per_layer.values()]
        rows.append(StrategySummary(
            mode, strategy, len(rs), _median([r.normalised for r in rs]),
            sum(within) / len(within),
            _median([math.inf if r.evals_to_1pct is None else r.evals_to_1pct for r in rs]),
            _median([math.inf if r.seconds_to_1pct is None else r.seconds_to_1pct for r in rs]),
            _median([r.evaluations / r.seconds if r.seconds > 0 else 0.0 for r in rs]),
            sum(math.isfinite(r.best) for r in rs) / len(rs)))
    order = {m: k for k, m in enumerate(MODES)}
    rows.sort(key=lambda s: (order.get(s.mode, 9), s.median_normalised, -s.layers_within,
                             s.median_evals_to_1pct, s.strategy))
    return rows


# -- outputs ----------------------------------------------------------------------------------
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
    out = ["# Strategy comparison", "",
           f"{len(records)} runs: {len(layers)} layers "
           f"({', '.join(sorted({r.model for r in records}))}) x accelerators "
           f"{', '.join(accs)} x {len(seeds)} seed(s); objective {objective}; "
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


# -- plots ------------------------------------------------------------------------------------
def _curves(records: Sequence[RunRecord], grid: np.ndarray, axis: int) -> np.ndarray:
    """``[runs, len(grid)]`` gap to best-known of the best-so-far at each grid point
    (``axis`` 0: evaluations, 1: seconds), clipped to :data:`GAP_CAP`."""
    out = np.full((len(records), len(grid)), GAP_CAP)
    for k, r in enumerate(records):
        if not r.history or not math.isfinite(r.best_known):
            continue
        xs = np.array([h[axis] for h in r.history], dtype=float)
        bs = np.array([h[2] for h in r.history], dtype=float)
        idx = np.searchsorted(xs, grid, side="right") - 1
        vals = np.where(idx >= 0, bs[np.maximum(idx, 0)], np.inf)
        with np.errstate(invalid="ignore"):
            out[k] = np.minimum(vals / r.best_known - 1, GAP_CAP)
    return out


def plot_convergence(records: Sequence[RunRecord], out: Path) -> list[str]:
    """Best-so-far vs evaluations (mode ``budget``) and vs seconds (mode ``time``): median and
    inter-quartile range over seeds, layers and accelerators, as the gap to best-known."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    made = []
    strategies = [s for s in STRATEGIES if any(r.strategy == s for r in records)]
    colors = dict(zip(STRATEGIES, plt.get_cmap("tab10").colors))
    for mode, axis, fname, xlabel in (("budget", 0, "convergence_evals.png", "evaluations"),
                                      ("time", 1, "convergence_seconds.png", "seconds")):
        rs = [r for r in records if r.mode == mode]
        if not rs:
            continue
        hi = max(r.budget or 0 for r in rs) if mode == "budget" else max(
            r.time_limit or 0.0 for r in rs)
        grid = (np.unique(np.geomspace(1, hi, 80).round()) if mode == "budget"
                else np.geomspace(min(0.01, hi / 10), hi, 80))
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for st in strategies:
            sub = [r for r in rs if r.strategy == st]
            if not sub:
                continue
            c = _curves(sub, grid, axis)
            q1, med, q3 = np.percentile(c, [25, 50, 75], axis=0)
            ax.plot(grid, 100 * med, color=colors[st], lw=1.5, label=st)
            ax.fill_between(grid, 100 * q1, 100 * q3, color=colors[st], alpha=0.12, lw=0)
        ax.axhline(100 * WITHIN, color="k", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1.0)
        ax.set_ylim(0, 100 * GAP_CAP * 1.05)
        ax.set_xlabel(xlabel)
        ax.set_ylabel("best-so-far above best-known (%)")
        nl = len({(r.model, r.layer, r.accelerator) for r in rs})
        ax.set_title(f"equal {'budget' if mode == 'budget' else 'time'}: median and IQR over "
                     f"{nl} layer x accelerator pairs and seeds", fontsize=9)
        ax.legend(fontsize=7, ncol=3, loc="lower left")
        ax.grid(alpha=0.3, which="both", lw=0.4)
        fig.tight_layout()
        fig.savefig(out / fname, dpi=90)
        plt.close(fig)
        made.append(fname)
    return made


# -- multi-objective run ----------------------------------------------------------------------
class RecordingEvaluator(Evaluator):
    """An :class:`Evaluator` that keeps ``(runtime, energy_nj)`` of every feasible candidate."""

    def __init__(self, space: MappingSpace, objective: str = "latency", constraints=None):
        super().__init__(space, objective, constraints)
        self.points: list[np.ndarray] = []

    def __call__(self, g: Genomes, *args, **kwargs) -> Evaluation:
        ev = super().__call__(g, *args, **kwargs)
        f = ev.feasible
        self.points.append(np.column_stack([ev.metrics["runtime"][f].astype(float),
                                            ev.metrics["energy_nj"][f].astype(float)]))
        return ev

    def all_points(self) -> np.ndarray:
        return np.concatenate(self.points) if self.points else np.zeros((0, 2))


def pareto_mask(points: np.ndarray) -> np.ndarray:
    """Boolean mask of the non-dominated rows of ``points`` ``[n, 2]`` (both minimised);
    of identical points only one is kept."""
    n = len(points)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    order = np.lexsort((points[:, 1], points[:, 0]))
    best_y = math.inf
    for i in order:
        if points[i, 1] < best_y:
            mask[i] = True
            best_y = points[i, 1]
    return mask


@dataclass
class ParetoResult:
    model: str
    layer: str
    accelerator: str
    evaluations: int
    seconds: float
    points: np.ndarray  # [n, 2] runtime (cycles), energy (nJ) of every feasible evaluation
    front: np.ndarray   # [m, 2] the non-dominated ones, by runtime


def pareto_run(model: str, layer: Layer, accelerator: str, hw: Hardware, budget: int,
               seed: int = 0) -> ParetoResult:
    """NSGA-II on (latency, energy) for one layer, keeping every feasible point it evaluated."""
    space = MappingSpace(layer, hw, max_levels=2)
    ev = RecordingEvaluator(space, "latency")
    strategy = make_strategy("nsga2", space, shape_seed(seed, layer))
    res = run_search(space, strategy, ev, budget=budget)
    pts = ev.all_points()
    front = pts[pareto_mask(pts)]
    front = front[np.argsort(front[:, 0])]
    return ParetoResult(model, layer.name, accelerator, res.evaluations, res.seconds, pts, front)


def plot_pareto(p: ParetoResult, out: Path) -> list[str]:
    """``pareto.png`` (all feasible points and the front; and a zoom on the front) and
    ``pareto.csv`` (the front)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["runtime_cycles", "energy_nj"])
    w.writerows([[int(x), f"{y:.6g}"] for x, y in p.front])
    write_text(out / "pareto.csv", buf.getvalue())
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["pareto.csv"]
    fig, axes = plt.subplots(1, 2, figsize=(9.6, 4.0))
    for ax, zoom in zip(axes, (False, True)):
        pts = p.points
        if zoom and len(p.front):  # the neighbourhood of the front, on linear axes
            (x0, y0), (x1, y1) = p.front.min(axis=0), p.front.max(axis=0)
            xs, ys = max(x1 - x0, 0.02 * x0), max(y1 - y0, 0.02 * y0)
            box = [x0 - 0.1 * xs, x1 + 0.5 * xs, y0 - 0.1 * ys, y1 + 0.5 * ys]
            pts = pts[(pts[:, 0] <= box[1]) & (pts[:, 1] <= box[3])]
            ax.set_xlim(box[0], box[1])
            ax.set_ylim(box[2], box[3])
        ax.scatter(pts[:, 0], pts[:, 1], s=4 if zoom else 3, alpha=0.3, color="tab:gray",
                   lw=0, label=f"feasible evaluations ({len(pts)})", rasterized=True)
        ax.step(p.front[:, 0], p.front[:, 1], where="post", color="tab:red", lw=1.2)
        ax.scatter(p.front[:, 0], p.front[:, 1], s=14, color="tab:red", zorder=3,
                   label=f"non-dominated front ({len(p.front)})")
        if not zoom:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel("latency (cycles)")
        ax.set_ylabel("energy (nJ)")
        ax.set_title("near the front" if zoom else
                     f"NSGA-II, {p.evaluations} evaluations: {p.model} {p.layer} on "
                     f"{p.accelerator}", fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both", lw=0.4)
    fig.tight_layout()
    fig.savefig(out / "pareto.png", dpi=90)
    plt.close(fig)
    return ["pareto.csv", "pareto.png"]


def pareto_layer(spec: str = "resnet50/CONV2_1_2",
                 layers: Sequence[tuple[str, Layer]] = ()) -> tuple[str, Layer]:
    """``MODEL/LAYER`` as ``(model, layer)``: from ``layers`` if there, else from the zoo."""
    model, _, name = spec.partition("/")
    for m, lay in layers:
        if (m, lay.name) == (model, name):
            return m, lay
    from mapper.workloads.zoo import load_model

    for lay in load_model(model).layers:
        if lay.name == name:
            return model, _bare(lay)
    raise ValueError(f"no layer {name!r} in model {model!r}")


# -- the whole comparison ---------------------------------------------------------------------
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
