"""Per-layer and whole-model tuning: the product's main job, readable top to bottom.

workload -> distinct layer shapes -> (per shape) search space -> strategy -> cost model ->
best mapping per layer -> model result. Identical layer shapes are tuned once. Each shape's
search is seeded from (seed, shape), so results do not depend on ``jobs`` or on layer order.
A shape's budget may be shared by independent runs ("islands", :func:`island_budgets`) that
run in parallel like separate layers; the best of them is the shape's result.
Finished layers are check-pointed (atomically) so an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import dataclasses
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
from costmodel.analysis import CostReport, compute_bound, evaluate
from costmodel.errors import MaestroInputError
from mapper.atomic import write_text
from mapper.search.evaluator import Evaluator
from mapper.search.loop import SearchResult, run_search
from mapper.search.pareto import ParetoArchive
from mapper.search.strategies import DEFAULT_STRATEGY, make_strategy
from search_spaces import Constraints, MappingSpace
from search_spaces.templates import make_space

# Cost-model evaluations per distinct layer, shared by DEFAULT_ISLANDS independent runs
# ("islands", other seeds) that run in parallel when cores are free; the best wins. A GA run
# of a smaller budget starts from more random structures (its batches shrink with the budget),
# so two runs explore more dataflow shapes than one of twice the budget. The GA skips (prunes)
# candidates whose latency bound cannot beat its best, so its evaluations go to candidates that
# can; at the same wall time that let the budget drop from 40,000 to 32,000 evaluations per
# layer with more layers within 0.1% of the best-known (README "Search quality"). The budget
# caps a layer's evaluations: 62,400 is two islands of 24,000 plus the reserve for extra
# islands below (two of 7,200, spent only on layers that need them). It was 41,600 (16,000
# and 4,800) until the cost model analysed rows of different state counts as one group
# (costmodel.engine._merge_groups, 2.5x faster searches): the larger budget takes about the
# time the smaller one did before and reaches more layers (README "Search quality").
# No island gets fewer than MIN_ISLAND_BUDGET.
DEFAULT_BUDGET = 62_400
DEFAULT_ISLANDS = 2
MIN_ISLAND_BUDGET = 16_000
ISLAND_STRATEGIES = ("ga", "random")  # strategies whose runs are independent and checkpointable
PRUNING_STRATEGIES = ("ga",)  # searches that skip candidates whose latency bound cannot win
# A layer whose best latency after its islands is still more than EXTEND_GAP above its compute
# bound (costmodel.analysis.compute_bound), but not more than EXTEND_MAX_GAP, gets
# DEFAULT_EXTRA_ISLANDS more islands of EXTRA_ISLAND_SHARE of the first one's budget, held
# in reserve out of the layer's budget when it is large enough for two islands. Most
# layers end within 0.1% of that bound, and independent restarts pay where one does not (see
# README "Search quality"); a layer far above it (a first layer with 3 input channels cannot
# fill the array) is limited by its shape rather than by the search, and more islands there
# found nothing in the benchmarks.
DEFAULT_EXTRA_ISLANDS = 2
EXTEND_GAP = 0.005
EXTEND_MAX_GAP = 0.2
EXTRA_ISLAND_SHARE = 0.3


@dataclass
class TuneSettings:
    """How to tune: strategy, objective, budgets per layer, seed, parallelism, space."""

    strategy: str = DEFAULT_STRATEGY
    objective: str = "latency"
    budget: int | None = DEFAULT_BUDGET  # evaluations per distinct layer
    time_limit: float | None = None    # seconds per distinct layer (per island)
    seed: int = 0
    islands: int = DEFAULT_ISLANDS     # independent runs per layer sharing the budget (GA, random)
    extra_islands: int = DEFAULT_EXTRA_ISLANDS  # more islands for layers far above their bound
    extend_gap: float = EXTEND_GAP     # "far": best latency > compute bound x (1 + extend_gap)
    extend_max_gap: float = EXTEND_MAX_GAP  # ... and <= compute bound x (1 + extend_max_gap)
    jobs: int = -1                     # worker processes (-1: all cores); results independent
    max_levels: int = 2
    template: str | None = None        # restricted space (see search_spaces.templates)
    pareto: bool = False               # also keep each layer's latency/energy/area front
    prune: bool = True                 # skip (and do not count) candidates that cannot win
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


def _even(total: int, n: int) -> list[int]:
    """``total`` split into ``n`` parts that differ by at most one."""
    q, r = divmod(total, n)
    return [q + (j < r) for j in range(n)]


def _split_budget(settings: TuneSettings) -> tuple[list[int | None], list[int]]:
    """The layer's budget as (first islands, extra islands): see :func:`island_budgets`."""
    if int(settings.islands) < 1:
        raise ValueError(f"islands must be at least 1, got {settings.islands}")
    if int(settings.extra_islands) < 0:
        raise ValueError(f"extra_islands must be at least 0, got {settings.extra_islands}")
    if not 0 <= settings.extend_gap <= settings.extend_max_gap:
        raise ValueError("need 0 <= extend_gap <= extend_max_gap, got "
                         f"{settings.extend_gap} and {settings.extend_max_gap}")
    b = settings.budget
    if b is None or settings.strategy not in ISLAND_STRATEGIES:
        return [b], []
    e = int(settings.extra_islands) if settings.objective == "latency" else 0
    n = max(1, min(int(settings.islands), b // MIN_ISLAND_BUDGET))
    while n > 1 and e and b / (n + e * EXTRA_ISLAND_SHARE) < MIN_ISLAND_BUDGET:
        n -= 1
    extra = []
    if n > 1 and e:
        extra = [max(1, round(b / (n + e * EXTRA_ISLAND_SHARE) * EXTRA_ISLAND_SHARE))] * e
    return _even(b - sum(extra), n), extra


def island_budgets(settings: TuneSettings) -> list[int | None]:
    """The evaluation budget of each independent run ("island") of one layer's search.

    The layer's budget is a hard cap on its evaluations. With at least two islands of
    :data:`MIN_ISLAND_BUDGET` or more, a latency search holds ``settings.extra_islands``
    islands of :data:`EXTRA_ISLAND_SHARE` of a first island's size in reserve
    (:func:`extra_budgets`, spent only on a layer that needs them, see
    :func:`plan_extension`) and splits the rest evenly; the default 62,400 gives two islands
    of 24,000 and a reserve of two of 7,200. A smaller budget is one run of the whole
    budget; other strategies and time-limit-only searches are one run too."""
    return _split_budget(settings)[0]


def extra_budgets(settings: TuneSettings) -> list[int]:
    """Budgets of the islands held in reserve for a layer that needs them
    (:func:`plan_extension`); none for objectives other than latency, for strategies without
    islands, for time-limit-only searches and for budgets too small for two islands."""
    return _split_budget(settings)[1]


def needs_extension(best: float, layer: Layer, hw: Hardware, settings: TuneSettings) -> bool:
    """True when the best latency found is more than ``settings.extend_gap`` and at most
    ``settings.extend_max_gap`` above the layer's compute bound, or nothing feasible was."""
    if not np.isfinite(best):
        return True
    gap = best / compute_bound(layer, hw) - 1
    return settings.extend_gap < gap <= settings.extend_max_gap


def plan_extension(best: float, layer: Layer, hw: Hardware, settings: TuneSettings,
                   wide: bool = False) -> tuple[list[int], bool]:
    """Whether a layer whose first islands found ``best`` spends the reserve of
    :func:`extra_budgets`: the budgets of the islands to run, and whether they search a
    wider space. A layer with no feasible mapping at all gets them in the free space widened
    with R/S as spatial dims at the innermost level (Eyeriss-style filter rows per PE: the
    smallest L1 footprint); a feasible layer gets them when :func:`needs_extension`. A layer
    whose first islands were already ``wide`` (:func:`first_islands`) spent its reserve."""
    extra = extra_budgets(settings)
    if wide or not extra:
        return [], False
    if not np.isfinite(best):
        return extra, settings.template is None
    if needs_extension(best, layer, hw, settings):
        return extra, False
    return [], False


def starts_wide(layer: Layer, hw: Hardware, settings: TuneSettings) -> bool:
    """True when no mapping of the layer's free space fits the L1 (``MappingSpace.min_l1``:
    a filter row mapped whole is already too big, e.g. AlexNet CONV1 or a transformer layer
    with a 512-wide filter on a 512-element L1): its islands then search the widened space of
    :func:`plan_extension` from the start instead of spending their budget on nothing."""
    if settings.template is not None or not settings.constraints.l1_capacity:
        return False
    return make_space(layer, hw, None, max_levels=settings.max_levels).min_l1() > hw.l1_size


def first_islands(layer: Layer, hw: Hardware, settings: TuneSettings) -> tuple[list, bool]:
    """The budgets of a layer's first islands, and whether they search the widened space.
    A layer that :func:`starts_wide` spends its whole budget, reserve included, on equal
    islands there at once: results in that larger space vary much more between seeds, so
    more independent runs pay more than a reserve kept for later (bundled `transformer`,
    default budget: 298,377,768 cycles with four islands of 10,400, 1,504,875,650 with two
    of 16,000 and a reserve of two of 4,800)."""
    budgets = island_budgets(settings)
    if not starts_wide(layer, hw, settings):
        return budgets, False
    extra = extra_budgets(settings)
    if extra:
        budgets = _even(sum(budgets) + sum(extra), len(budgets) + len(extra))
    return budgets, True


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
    ``settings.jobs`` processes, followed by :func:`extra_budgets` more when the best is still
    far from the compute bound; the best of them is returned, the same for any ``jobs``."""
    base = shape_seed(settings.seed, layer) if seed is None else seed
    budgets, wide = first_islands(layer, hw, settings)
    t0 = time.perf_counter()
    runs = _run_islands(layer, hw, settings, base, budgets, state_file, first=0, widen=wide)
    extra, widen = plan_extension(min(r.best_fitness for r in runs), layer, hw, settings, wide)
    if extra:
        runs += _run_islands(layer, hw, settings, base, extra, state_file, first=len(budgets),
                             widen=widen)
    if len(runs) == 1:
        return runs[0]
    return merge_islands(runs, time.perf_counter() - t0)


def _run_islands(layer: Layer, hw: Hardware, settings: TuneSettings, base: int,
                 budgets: list[int | None], state_file: str | Path | None,
                 first: int, widen: bool = False) -> list[SearchResult]:
    """Islands ``first, first + 1, ...`` of one layer with ``budgets``, in parallel."""
    if len(budgets) == 1:
        return [_search(layer, hw, settings, island_seed(base, first), budgets[0],
                        _island_state(state_file, first), widen)]
    backend = "loky" if settings.backend == "dask" else settings.backend
    with parallel_config(backend=backend):
        return Parallel(n_jobs=min(len(budgets), effective_n_jobs(settings.jobs)))(
            delayed(_search)(layer, hw, settings, island_seed(base, j), b,
                             _island_state(state_file, j), widen)
            for j, b in enumerate(budgets, start=first))


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
            budget: int | None, state_file: str | Path | None,
            widen: bool = False) -> SearchResult:
    """One run of the strategy on one layer with ``budget`` evaluations (``widen``: in the
    free space with R/S also allowed as spatial dims, see :func:`plan_extension`)."""
    space = make_space(layer, hw, settings.template, max_levels=settings.max_levels)
    if widen:
        space = dataclasses.replace(space, rs_spatial=True)
    params = dict(settings.strategy_params)
    if widen and settings.strategy == "ga":
        # nearly every mapping of a widened layer overflows the L1: start from the smallest
        # tiles, which fit when anything does, so even a small budget ends with a mapping
        params.setdefault("seeds", space.smallest_tiles())
        # and draw as it comes: the busiest of such mappings are mostly infeasible too (the
        # transformer's BLK10_MH_FC_DimReduce_VK_0 at 4,011 evaluations, 8 seeds: 2 runs of
        # 21,767,681 cycles and more, against at most 2,058,304 without the selection)
        params.setdefault("bound_select", 1)
    # an island: one of the runs sharing the layer's budget (decided from the budgets, not
    # from island_budgets() again, which a worker process could answer differently)
    island = budget is not None and settings.budget is not None and budget < settings.budget
    if settings.strategy == "ga" and island:
        # the GA's small-budget settings (neighbourhood cap, selection by busy bound) are for
        # a layer's search of a small budget; islands share a large one, and the reserve
        # islands of 7,200 hill-climb like the first ones (capped, MobileNetV2
        # Bottleneck6_2_2 lost its best mapping on seed 0)
        params.setdefault("local_share", 1.0)
        params.setdefault("bound_select", 1)
    if settings.strategy == "exhaustive":
        params.setdefault("objective", settings.objective)
    if settings.strategy == "ga":
        # the GA's selection by busy bound is for latency alone, not for a Pareto front
        params.setdefault("objective", "pareto" if settings.pareto else settings.objective)
    strategy = make_strategy(settings.strategy, space, seed, **params)
    # the GA skips candidates that cannot beat its best latency (a Pareto front needs them)
    prune = (settings.prune and settings.strategy in PRUNING_STRATEGIES
             and not settings.pareto)
    evaluator = Evaluator(space, settings.objective, settings.constraints, prune=prune)
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
               budget: int | None, state_file: Path | None = None,
               widen: bool = False) -> SearchResult:
    """One island of one distinct layer, in a worker."""
    seed = island_seed(shape_seed(settings.seed, layer), island)
    return _search(layer, hw, settings, seed, budget, _island_state(state_file, island), widen)


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

    def task(k, j, b, widen=False):
        return delayed(_tune_task)(_bare(network.layers[first[k]]), hw, settings, j, b, state(k),
                                   widen)

    def finish(k, runs):  # merge, record, checkpoint; seconds: the islands' total search time
        nonlocal done
        layer = network.layers[first[k]]
        res = runs[0] if len(runs) == 1 else merge_islands(runs, sum(r.seconds for r in runs))
        rec = records[k] = _record(res, layer, hw, settings)
        if ckpt is not None:
            write_text(ckpt / f"{_ckpt_name(layer, fp)}.json", json.dumps(rec))
            for j in range(len(runs)):
                _island_state(state(k), j).unlink(missing_ok=True)
        done += 1
        if progress:
            progress(done, len(first), layer.name)

    # first every layer's islands; then more islands for the layers still far from their
    # compute bound (a layer is recorded as soon as it is known to need no more)
    pending: dict[int, tuple[list[SearchResult], list[int], bool]] = {}
    with _backend(settings):
        runner = Parallel(n_jobs=settings.jobs, return_as="generator")
        plan = {k: first_islands(network.layers[first[k]], hw, settings) for k in todo}
        first_round = (task(k, j, b, plan[k][1]) for k in todo
                       for j, b in enumerate(plan[k][0]))
        for k, runs in _grouped(todo, [len(plan[k][0]) for k in todo], runner(first_round)):
            best = min(r.best_fitness for r in runs)
            extra, widen = plan_extension(best, network.layers[first[k]], hw, settings,
                                          plan[k][1])
            if extra:
                pending[k] = (runs, extra, widen)
            else:
                finish(k, runs)
        if pending:
            second = [task(k, j, b, widen) for k, (runs, extra, widen) in pending.items()
                      for j, b in enumerate(extra, start=len(runs))]
            sizes = [len(extra) for _, extra, _ in pending.values()]
            for k, runs in _grouped(list(pending), sizes, runner(second)):
                finish(k, pending.pop(k)[0] + runs)
    out = []
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


def _grouped(keys, sizes, results):
    """``(key, [results])`` for each key in turn, from a stream of ``sizes[i]`` results for
    key ``i``; the stream is read to its end, so that joblib closes its generator cleanly."""
    results = iter(results)
    for k, n in zip(keys, sizes):
        yield k, [next(results) for _ in range(n)]
    for _ in results:
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
