"""Per-layer and whole-model tuning: the product's main job, readable top to bottom.

workload -> distinct layer shapes -> (per shape) search space -> strategy -> cost model ->
best mapping per layer -> model result. Identical layer shapes are tuned once. Each shape's
search is seeded from (seed, shape), so results do not depend on ``jobs`` or on layer order.
Finished layers are check-pointed (atomically) so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed, parallel_config

from costmodel import Dataflow, Hardware, Layer, Network
from costmodel.analysis import CostReport, evaluate
from costmodel.errors import MaestroInputError
from search_spaces import Constraints, MappingSpace
from search_spaces.templates import make_space

from .atomic import write_text
from .evaluator import Evaluator
from .pareto import ParetoArchive
from .search import SearchResult, run_search
from .strategies import DEFAULT_STRATEGY, make_strategy

# Evaluations per distinct layer. The GA scores ~160 tiles per dataflow shape in one batch
# cost-model call, so 40,000 evaluations take about 2-4 s per layer on one core.
DEFAULT_BUDGET = 40_000


@dataclass
class TuneSettings:
    """How to tune: strategy, objective, budgets per layer, seed, parallelism, space."""

    strategy: str = DEFAULT_STRATEGY
    objective: str = "latency"
    budget: int | None = DEFAULT_BUDGET  # evaluations per distinct layer
    time_limit: float | None = None    # seconds per distinct layer
    seed: int = 0
    jobs: int = -1                     # worker processes (-1: all cores); results independent
    max_levels: int = 2
    template: str | None = None        # restricted space (see search_spaces.templates)
    pareto: bool = False               # also keep each layer's latency/energy/area front
    storage: str | None = None         # Optuna storage URL for Optuna samplers (sqlite/postgres)
    backend: str = "loky"              # joblib backend: loky (processes), threading or dask
    scheduler: str | None = None       # Dask scheduler address for backend="dask"
    constraints: Constraints = field(default_factory=Constraints)
    strategy_params: dict = field(default_factory=dict)

    def fingerprint(self, hw: Hardware) -> str:
        """Identifies settings + hardware, so a checkpoint is only reused by the same run."""
        d = asdict(self)
        for k in ("jobs", "storage", "backend", "scheduler"):
            d.pop(k)
        d["hardware"] = hw.to_dict()
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class LayerResult:
    """The chosen mapping of one layer of the model."""

    layer: Layer
    report: CostReport | None
    shape_index: int
    reused: bool          # True when an identical earlier layer was tuned instead
    evaluations: int
    seconds: float
    history: list = field(default_factory=list)
    pareto: list = field(default_factory=list)  # [{runtime, energy_nj, area, dataflow}]

    @property
    def found(self) -> bool:
        return self.layer.dataflow is not None and self.report is not None


@dataclass
class ModelResult:
    network: Network
    hardware: Hardware
    settings: TuneSettings
    layers: list[LayerResult]
    seconds: float
    resumed_layers: int = 0

    def count(self, r: LayerResult) -> int:
        """Instances of a layer in the model (zoo models may repeat a layer, e.g. per head)."""
        return int(getattr(self.network, "counts", {}).get(r.layer.name, 1))

    def totals(self) -> dict:
        """Model totals; a layer with ``count`` instances contributes ``count`` times."""
        found = [r for r in self.layers if r.found]
        return {
            "layers": len(self.layers), "layers_mapped": len(found),
            "distinct_shapes": len({r.shape_index for r in self.layers}),
            "runtime_cycles": int(sum(r.report.runtime * self.count(r) for r in found)),
            "energy_nj": float(sum(r.report.energy_nj * self.count(r) for r in found)),
            "num_macs": int(sum(r.report.num_macs * self.count(r) for r in found)),
            "evaluations": int(sum(r.evaluations for r in self.layers if not r.reused)),
        }


def shape_seed(seed: int, layer: Layer) -> int:
    """A stable per-shape seed (independent of process, job count and layer order)."""
    h = hashlib.sha256(f"{seed}|{layer.shape_key()!r}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def tune_layer(layer: Layer, hw: Hardware, settings: TuneSettings,
               seed: int | None = None, state_file: str | Path | None = None) -> SearchResult:
    """Search the best mapping of one layer on fixed hardware (resumable via ``state_file``;
    Optuna strategies hold a live study and are not check-pointed this way)."""
    space = make_space(layer, hw, settings.template, max_levels=settings.max_levels)
    params = dict(settings.strategy_params)
    if settings.strategy == "exhaustive":
        params.setdefault("objective", settings.objective)
    strategy = make_strategy(settings.strategy, space,
                             shape_seed(settings.seed, layer) if seed is None else seed, **params)
    evaluator = Evaluator(space, settings.objective, settings.constraints)
    if settings.strategy not in ("ga", "random", "exhaustive"):
        # Optuna samplers persist trials in an Optuna storage instead: by default an SQLite
        # file beside the state file, or the shared database given as ``settings.storage``
        storage = settings.storage
        if storage is None and state_file is not None:
            Path(state_file).parent.mkdir(parents=True, exist_ok=True)
            storage = f"sqlite:///{Path(state_file).with_suffix('.optuna.db')}"
        if storage is not None:
            # a storage the user gave may be shared by workers on many machines: the budget
            # caps the whole study's trials, not each worker's
            shared = settings.storage is not None
            strategy = make_strategy(settings.strategy, space, strategy.seed, storage=storage,
                                     study_name=f"{layer.name}-{_shape_hash(layer)}-"
                                     f"{settings.fingerprint(hw)}", shared=shared,
                                     max_trials=settings.budget if shared else None, **params)
        state_file = None
    return run_search(space, strategy, evaluator, budget=settings.budget,
                      time_limit=settings.time_limit,
                      pareto=ParetoArchive() if settings.pareto else None,
                      state_file=state_file)


def _tune_task(layer: Layer, hw: Hardware, settings: TuneSettings,
               state_file: Path | None = None) -> dict:
    """One distinct layer, in a worker: returns a picklable, checkpointable record."""
    res = tune_layer(layer, hw, settings, state_file=state_file)
    front = []
    if res.pareto is not None and res.pareto.genomes is not None:
        space = space_for(layer, hw, settings)
        for k, pt in enumerate(res.pareto.points):
            front.append({**dict(zip(res.pareto.objectives, map(float, pt))),
                          "dataflow": str(space.decode(res.pareto.genomes, k))})
    return {"dataflow": None if res.dataflow is None else [str(d) for d in res.dataflow.directives],
            "evaluations": res.evaluations, "seconds": res.seconds,
            "best": None if not np.isfinite(res.best_fitness) else res.best_fitness,
            "history": res.history[-200:], "pareto": front}


def _dataflow_from_record(rec: dict) -> Dataflow | None:
    if not rec.get("dataflow"):
        return None
    from costmodel.io._dfsl import parse_directive

    return Dataflow([parse_directive(t) for t in rec["dataflow"]])


def distinct_shapes(network: Network) -> tuple[list[int], list[int]]:
    """Index of the first layer of each distinct shape, and each layer's shape index."""
    seen: dict = {}
    first, of_layer = [], []
    for i, layer in enumerate(network.layers):
        key = layer.shape_key()
        if key not in seen:
            seen[key] = len(first)
            first.append(i)
        of_layer.append(seen[key])
    return first, of_layer


def tune_model(network: Network, hw: Hardware, settings: TuneSettings | None = None, *,
               checkpoint_dir: str | Path | None = None,
               progress: Callable[[int, int, str], None] | None = None) -> ModelResult:
    """Tune every layer of ``network`` on ``hw`` (identical shapes once), in parallel."""
    settings = settings or TuneSettings()
    if not network.layers:
        raise MaestroInputError(f"model {network.name!r} has no layers", rule="empty-model")
    t0 = time.perf_counter()
    first, of_layer = distinct_shapes(network)
    fp = settings.fingerprint(hw)
    ckpt = Path(checkpoint_dir) if checkpoint_dir else None
    records: dict[int, dict] = {}
    if ckpt is not None:
        for k, li in enumerate(first):
            f = ckpt / f"{_ckpt_name(network.layers[li], fp)}.json"
            if f.exists():
                try:
                    records[k] = json.loads(f.read_text())
                except (OSError, json.JSONDecodeError):
                    pass  # a damaged checkpoint is recomputed
    resumed = len(records)
    todo = [k for k in range(len(first)) if k not in records]
    done = resumed
    if progress:
        progress(done, len(first), "resumed" if resumed else "start")
    def state(k):
        return None if ckpt is None else ckpt / f"{_ckpt_name(network.layers[first[k]], fp)}.state"

    tasks = (delayed(_tune_task)(_bare(network.layers[first[k]]), hw, settings, state(k))
             for k in todo)
    with _backend(settings):
        runner = Parallel(n_jobs=settings.jobs, return_as="generator")
        results = list(_collect(todo, runner(tasks), records, ckpt, network, first, fp, state,
                                progress, done))
    out = []
    del results
    for i, layer in enumerate(network.layers):
        k = of_layer[i]
        rec = records[k]
        df = _dataflow_from_record(rec)
        tuned = Layer(layer.name, layer.type, dict(layer.dims), dict(layer.strides), df)
        rep = evaluate(tuned, hw) if df is not None else None
        out.append(LayerResult(tuned, rep, k, first[k] != i, rec["evaluations"], rec["seconds"],
                               rec.get("history", []), rec.get("pareto", [])))
    return ModelResult(network, hw, settings, out, time.perf_counter() - t0, resumed)


def _bare(layer: Layer) -> Layer:
    return Layer(layer.name, layer.type, dict(layer.dims), dict(layer.strides), None)


def _shape_hash(layer: Layer) -> str:
    return hashlib.sha256(repr(layer.shape_key()).encode()).hexdigest()[:16]


def _ckpt_name(layer: Layer, fingerprint: str) -> str:
    return f"layer-{_shape_hash(layer)}-{fingerprint}"


def space_for(layer: Layer, hw: Hardware, settings: TuneSettings) -> MappingSpace:
    return make_space(layer, hw, settings.template, max_levels=settings.max_levels)


def _collect(todo, results, records, ckpt, network, first, fp, state, progress, done):
    """Store each finished layer (checkpoint it at once) as results arrive."""
    for k, rec in zip(todo, results):
        records[k] = rec
        if ckpt is not None:
            write_text(ckpt / f"{_ckpt_name(network.layers[first[k]], fp)}.json", json.dumps(rec))
            state(k).unlink(missing_ok=True)
        done += 1
        if progress:
            progress(done, len(first), network.layers[first[k]].name)
        yield k


@contextmanager
def _backend(settings: TuneSettings):
    """joblib backend for layer-level parallelism; ``dask`` connects to ``settings.scheduler``
    (or to the current Dask client when no address is given)."""
    if settings.backend != "dask":
        with parallel_config(backend=settings.backend):
            yield
        return
    try:
        from distributed import Client, get_client
    except ImportError:
        raise MaestroInputError("--backend dask needs the 'distributed' package "
                                "(pip install 'dnn-mapper[dask]')", rule="backend") from None
    client = Client(settings.scheduler) if settings.scheduler else get_client()
    try:
        with parallel_config(backend="dask"):
            yield
    finally:
        if settings.scheduler:
            client.close()
