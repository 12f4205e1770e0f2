"""Per-layer and whole-model tuning: the product's main job, readable top to bottom.

workload -> distinct layer shapes -> (per shape) search space -> strategy -> cost model ->
best mapping per layer -> model result. Identical layer shapes are tuned once. Each shape's
search is seeded from (seed, shape), so results do not depend on ``jobs`` or on layer order.
A shape's budget may be shared by independent runs ("islands", :func:`island_budgets`) that
run in parallel like separate layers; the best of them is the shape's result.
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
from joblib import Parallel, delayed, effective_n_jobs, parallel_config

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

# Evaluations per distinct layer, shared by DEFAULT_ISLANDS independent runs ("islands", other
# seeds) that run in parallel when cores are free; the best wins. A GA run below about 24,000
# evaluations starts from more random structures (its batches shrink with the budget), so two
# runs of 20,000 explore more dataflow shapes than one of 40,000, at about twice the time per
# evaluation: on the 64 layers of README "Search quality" they were within 1% of the
# best-known on 59/64 layers (seeds 0 and 1) against 55 and 56/64 for one run, in about the
# same wall time per layer on 2 cores (2.3 s). No island gets fewer than MIN_ISLAND_BUDGET.
DEFAULT_BUDGET = 40_000
DEFAULT_ISLANDS = 2
MIN_ISLAND_BUDGET = 20_000
ISLAND_STRATEGIES = ("ga", "random")  # strategies whose runs are independent and checkpointable


@dataclass
class TuneSettings:
    """How to tune: strategy, objective, budgets per layer, seed, parallelism, space."""

    strategy: str = DEFAULT_STRATEGY
    objective: str = "latency"
    budget: int | None = DEFAULT_BUDGET  # evaluations per distinct layer
    time_limit: float | None = None    # seconds per distinct layer (per island)
    seed: int = 0
    islands: int = DEFAULT_ISLANDS     # independent runs per layer sharing the budget (GA, random)
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


def island_budgets(settings: TuneSettings) -> list[int | None]:
    """The evaluation budget of each independent run ("island") of one layer's search: the
    layer's budget split evenly over ``settings.islands`` runs of at least
    :data:`MIN_ISLAND_BUDGET` evaluations; a single run for other strategies and for
    time-limit-only searches."""
    if int(settings.islands) < 1:
        raise ValueError(f"islands must be at least 1, got {settings.islands}")
    b = settings.budget
    if b is None or settings.strategy not in ISLAND_STRATEGIES:
        return [b]
    n = max(1, min(int(settings.islands), b // MIN_ISLAND_BUDGET))
    q, r = divmod(b, n)
    return [q + (j < r) for j in range(n)]


def island_seed(seed: int, island: int) -> int:
    """Seed of island ``island`` of a search seeded ``seed`` (island 0 uses ``seed`` itself)."""
    if island == 0:
        return seed
    h = hashlib.sha256(f"{seed}|island{island}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def _island_state(path: str | Path | None, island: int) -> Path | None:
    if path is None:
        return None
    path = Path(path)
    return path if island == 0 else path.with_suffix(f".i{island}{path.suffix}")


def tune_layer(layer: Layer, hw: Hardware, settings: TuneSettings,
               seed: int | None = None, state_file: str | Path | None = None) -> SearchResult:
    """Search the best mapping of one layer on fixed hardware (resumable via ``state_file``;
    Optuna strategies hold a live study and are not check-pointed this way).

    The budget is shared by :func:`island_budgets` independent runs, in parallel on up to
    ``settings.jobs`` processes; the best of them is returned, the same for any ``jobs``."""
    base = shape_seed(settings.seed, layer) if seed is None else seed
    budgets = island_budgets(settings)
    if len(budgets) == 1:
        return _search(layer, hw, settings, base, budgets[0], state_file)
    t0 = time.perf_counter()
    backend = "loky" if settings.backend == "dask" else settings.backend
    with parallel_config(backend=backend):
        runs = Parallel(n_jobs=min(len(budgets), effective_n_jobs(settings.jobs)))(
            delayed(_search)(layer, hw, settings, island_seed(base, j), b,
                             _island_state(state_file, j)) for j, b in enumerate(budgets))
    return merge_islands(runs, time.perf_counter() - t0)


def merge_islands(runs: list[SearchResult], seconds: float) -> SearchResult:
    """One result from independent runs of a layer: the best mapping (the first run on ties),
    every run's evaluations, their histories one after the other (as if run in turn, best so
    far over the evaluations spent) and the union of their Pareto fronts."""
    win = min(range(len(runs)), key=lambda j: (runs[j].best_fitness, j))
    history = _chain_histories([(r.history, r.evaluations) for r in runs])
    pareto = None
    fronts = [r.pareto for r in runs if r.pareto is not None]
    if fronts:
        pareto = fronts[0]
        for other in fronts[1:]:
            pareto.merge(other)
    w = runs[win]
    return SearchResult(w.best_fitness, w.best_genome, w.dataflow, w.report,
                        sum(r.evaluations for r in runs), seconds, history, w.strategy, pareto)


def _chain_histories(runs: list[tuple[list, int]]) -> list[tuple[int, float, float]]:
    """Histories ``(evaluations, seconds, best)`` of independent runs, one after the other:
    evaluations offset by the earlier runs', best so far over all of them."""
    out, done, best = [], 0, np.inf
    for history, evaluations in runs:
        for ev, t, b in history:
            best = min(best, b)
            out.append((done + ev, t, best))
        done += evaluations
    return out


def _search(layer: Layer, hw: Hardware, settings: TuneSettings, seed: int,
            budget: int | None, state_file: str | Path | None) -> SearchResult:
    """One run of the strategy on one layer with ``budget`` evaluations."""
    space = make_space(layer, hw, settings.template, max_levels=settings.max_levels)
    params = dict(settings.strategy_params)
    if settings.strategy == "exhaustive":
        params.setdefault("objective", settings.objective)
    strategy = make_strategy(settings.strategy, space, seed, **params)
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
                                     max_trials=budget if shared else None, **params)
        state_file = None
    return run_search(space, strategy, evaluator, budget=budget,
                      time_limit=settings.time_limit,
                      pareto=ParetoArchive() if settings.pareto else None,
                      state_file=state_file)


def _tune_task(layer: Layer, hw: Hardware, settings: TuneSettings, island: int,
               budget: int | None, state_file: Path | None = None) -> SearchResult:
    """One island of one distinct layer, in a worker."""
    seed = island_seed(shape_seed(settings.seed, layer), island)
    return _search(layer, hw, settings, seed, budget, _island_state(state_file, island))


def _record(res: SearchResult, layer: Layer, hw: Hardware, settings: TuneSettings) -> dict:
    """A layer's result as a JSON-able, checkpointable record."""
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

    budgets = island_budgets(settings)
    n_isl = len(budgets)
    tasks = (delayed(_tune_task)(_bare(network.layers[first[k]]), hw, settings, j, b, state(k))
             for k in todo for j, b in enumerate(budgets))
    with _backend(settings):
        runner = Parallel(n_jobs=settings.jobs, return_as="generator")
        results = list(_collect(todo, n_isl, runner(tasks), records, ckpt, network, first, fp,
                                state, progress, done, hw, settings))
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


def _collect(todo, n_isl, results, records, ckpt, network, first, fp, state, progress, done,
             hw, settings):
    """Store each finished layer (its ``n_isl`` islands merged; checkpointed at once) as
    results arrive. A layer's ``seconds`` is its islands' total search time."""
    results = iter(results)
    for k in todo:
        runs = [next(results) for _ in range(n_isl)]
        layer = network.layers[first[k]]
        res = runs[0] if n_isl == 1 else merge_islands(runs, sum(r.seconds for r in runs))
        rec = records[k] = _record(res, layer, hw, settings)
        if ckpt is not None:
            write_text(ckpt / f"{_ckpt_name(layer, fp)}.json", json.dumps(rec))
            for j in range(n_isl):
                _island_state(state(k), j).unlink(missing_ok=True)
        done += 1
        if progress:
            progress(done, len(first), layer.name)
        yield k
    for _ in results:  # run the generator to its end, so joblib closes it cleanly
        pass


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
