"""What a strategy comparison runs, and running it: suite layers, run specs, records.

Every strategy searches the free two-level :class:`MappingSpace` except those that need an
enumerable space (:attr:`Strategy.enumerates`): they enumerate a classic-dataflow template
(``kcp_ws``, ``mnk`` for GEMMs) with divisor tiles, in order, until their budget or time runs
out. Finished runs are appended to ``records.jsonl`` so an interrupted comparison resumes.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costmodel import Hardware, Layer
from mapper.search.evaluator import Evaluator
from mapper.search.loop import run_search
from mapper.search.strategies import STRATEGIES, RunContext, build_strategy, strategy_class
from mapper.tuning.plan import shape_seed
from mapper.tuning.tuner import distinct_shapes
from mapper.workloads.presets import HARDWARE_PRESETS
from search_spaces import MappingSpace
from search_spaces.enumeration import enumeration_size
from search_spaces.templates import make_space

SUITE_MODELS = ("resnet50", "mobilenetv2", "vgg16", "bert_base")
ACCELERATORS = ("edge168", "cloud1024")
MODES = ("budget", "time")


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
    cost_model: str = "physical"  # costmodel.analysis.COST_MODELS
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
    cost_model: str = "physical"

    def key(self) -> str:
        """Identifies the run in ``records.jsonl`` (resume)."""
        return json.dumps([self.mode, self.strategy, self.model, self.layer.name,
                           self.accelerator, self.seed, self.budget, self.time_limit,
                           self.objective, self.cost_model])


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
    cost_model: str = "physical"

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
                            settings.objective, settings.cost_model))
    return runs


# -- running ----------------------------------------------------------------------------------
def run_one(spec: RunSpec) -> RunRecord:
    """Run one search (in a worker process) and return its record."""
    layer, hw = spec.layer, spec.hardware
    if strategy_class(spec.strategy).enumerates:
        space = exhaustive_space(layer, hw)
        size: int | None = enumeration_size(space)
    else:
        space, size = MappingSpace(layer, hw, max_levels=2), None
    strategy = build_strategy(spec.strategy, space, shape_seed(spec.seed, layer),
                              RunContext(objective=spec.objective))
    res = run_search(space, strategy, Evaluator(space, spec.objective,
                                                cost_model=spec.cost_model), budget=spec.budget,
                     time_limit=spec.time_limit)
    return RunRecord(spec.mode, spec.strategy, spec.model, layer.name, layer.type,
                     spec.accelerator, spec.seed, space.name, size, spec.budget,
                     spec.time_limit, spec.objective, float(res.best_fitness), res.evaluations,
                     res.seconds, [(int(e), float(s), float(b)) for e, s, b in res.history],
                     key=spec.key(), cost_model=spec.cost_model)


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
