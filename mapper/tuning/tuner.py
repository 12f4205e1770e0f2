"""Per-layer and whole-model tuning: the product's main job, readable top to bottom.

workload -> distinct layer shapes -> (per shape) a :class:`~mapper.tuning.plan.LayerPlan` of
islands -> strategy -> cost model -> best mapping per layer -> model result. Identical layer
shapes are tuned once. Each shape's search is seeded from (seed, shape), so results do not
depend on ``jobs`` or on layer order. Finished layers are check-pointed (atomically) so an
interrupted run resumes where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from joblib import Parallel, delayed, effective_n_jobs, parallel_config

from costmodel import Hardware, Layer, Network
from costmodel.analysis import CostReport, evaluate
from costmodel.errors import MaestroInputError
from mapper.search.loop import SearchResult
from mapper.search.strategies import STRATEGIES, strategy_class
from mapper.tuning.checkpoint import Checkpoint, layer_record, record_dataflow
from mapper.tuning.given import GivenMapping, score_given
from mapper.tuning.island import run_island
from mapper.tuning.plan import (
    EXTRA_ISLAND_SHARE,
    MIN_ISLAND_BUDGET,
    IslandTask,
    LayerPlan,
    extra_budgets,
    first_islands,
    island_budgets,
    island_seed,
    merge_islands,
    needs_extension,
    plan_extension,
    shape_seed,
    starts_wide,
)
from mapper.tuning.settings import (
    DEFAULT_BUDGET,
    DEFAULT_EXTRA_ISLANDS,
    DEFAULT_ISLANDS,
    EXTEND_GAP,
    EXTEND_MAX_GAP,
    TuneSettings,
)
from search_spaces import MappingSpace
from search_spaces.templates import make_space

__all__ = ["TuneSettings", "LayerResult", "ModelResult", "tune_layer", "tune_model",
           "distinct_shapes", "space_for", "shape_seed", "island_seed", "island_budgets",
           "extra_budgets", "first_islands", "plan_extension", "needs_extension", "starts_wide",
           "merge_islands", "DEFAULT_BUDGET", "DEFAULT_ISLANDS", "DEFAULT_EXTRA_ISLANDS",
           "EXTEND_GAP", "EXTEND_MAX_GAP", "MIN_ISLAND_BUDGET", "EXTRA_ISLAND_SHARE",
           "ISLAND_STRATEGIES"]

# strategies whose runs may share a layer's budget (read by the CLI's option warnings)
ISLAND_STRATEGIES = tuple(n for n in STRATEGIES if strategy_class(n).islands)


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
    # the mappings the model file stated, scored the same way (layers that stated one)
    given: list[GivenMapping | None] = field(default_factory=list)  # per layer

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


def space_for(layer: Layer, hw: Hardware, settings: TuneSettings) -> MappingSpace:
    """The mapping space ``settings`` search for ``layer`` (before any widening)."""
    return make_space(layer, hw, settings.template, max_levels=settings.max_levels)


def tune_layer(layer: Layer, hw: Hardware, settings: TuneSettings,
               seed: int | None = None, state_file: str | Path | None = None) -> SearchResult:
    """Search the best mapping of one layer on fixed hardware (resumable via ``state_file``;
    strategies that keep their trials in a storage resume from it instead).

    The layer's :class:`LayerPlan` runs its islands in parallel on up to ``settings.jobs``
    processes, round after round; the best of them is returned, the same for any ``jobs``.
    The search starts from ``layer.dataflow`` when it has one."""
    t0 = time.perf_counter()
    starts = () if layer.dataflow is None else (layer.dataflow,)
    plan = LayerPlan.make(layer, hw, settings, seed, state_file, starts)
    while not plan.done:
        plan.feed(_run_round(plan.pending(), settings))
    return plan.result(time.perf_counter() - t0)


def _run_round(tasks: list[IslandTask], settings: TuneSettings) -> list[SearchResult]:
    """The islands of one layer's round, in parallel (one of them: in this process)."""
    if len(tasks) == 1:
        return [run_island(tasks[0])]
    backend = "loky" if settings.backend == "dask" else settings.backend
    with parallel_config(backend=backend):
        return Parallel(n_jobs=min(len(tasks), effective_n_jobs(settings.jobs)))(
            delayed(run_island)(t) for t in tasks)


def tune_model(network: Network, hw: Hardware, settings: TuneSettings | None = None, *,
               checkpoint_dir: str | Path | None = None,
               progress: Callable[[int, int, str], None] | None = None) -> ModelResult:
    """Tune every layer of ``network`` on ``hw`` (identical shapes once), in parallel: every
    layer's plan feeds one pool of workers, round after round (first islands, then the
    reserve of the layers that need it); a layer is recorded as soon as its plan is done."""
    settings = settings or TuneSettings()
    if not network.layers:
        raise MaestroInputError(f"model {network.name!r} has no layers", rule="empty-model")
    t0 = time.perf_counter()
    first, of_layer = distinct_shapes(network)
    ckpt = Checkpoint(Path(checkpoint_dir), settings.fingerprint(hw)) if checkpoint_dir else None
    starts: list[tuple] = [() for _ in first]  # the dataflows the file states, per shape
    for layer, k in zip(network.layers, of_layer):
        if layer.dataflow is not None and layer.dataflow not in starts[k]:
            starts[k] += (layer.dataflow,)
    done: dict[int, LayerResult] = {}
    if ckpt is not None:
        for k, li in enumerate(first):
            rec = ckpt.load(network.layers[li], starts[k])
            if rec is not None:
                done[k] = _from_record(rec, network.layers[li], hw, settings, k)
    resumed = len(done)
    if progress:
        progress(resumed, len(first), "resumed" if resumed else "start")
    plans = {k: LayerPlan.make(network.layers[first[k]], hw, settings, state_file=None
                               if ckpt is None else ckpt.state_file(network.layers[first[k]],
                                                                    starts[k]),
                               starts=starts[k])
             for k in range(len(first)) if k not in done}
    with _backend(settings):
        runner = Parallel(n_jobs=settings.jobs, return_as="generator")
        while plans:
            todo = [(k, p.pending()) for k, p in plans.items()]
            stream = runner(delayed(run_island)(t) for _, tasks in todo for t in tasks)
            for k, results in _grouped([k for k, _ in todo], [len(t) for _, t in todo],
                                       stream):
                plan = plans[k]
                plan.feed(results)
                if not plan.done:
                    continue
                res = plans.pop(k).result()
                rec = layer_record(res, space_for(plan.layer, hw, settings))
                if ckpt is not None:
                    ckpt.save(plan.layer, rec, plan.state_files(), plan.starts)
                done[k] = _layer_result(res, rec, plan.layer, k)
                if progress:
                    progress(len(done), len(first), plan.layer.name)
    out = [_instance(done[of_layer[i]], layer, first[of_layer[i]] != i)
           for i, layer in enumerate(network.layers)]
    return ModelResult(network, hw, settings, out, time.perf_counter() - t0, resumed,
                       score_given(network, hw, settings))


def _layer_result(res: SearchResult, rec: dict, layer: Layer, k: int) -> LayerResult:
    """A freshly tuned shape's result, mapping and report kept from the search."""
    tuned = Layer(layer.name, layer.type, dict(layer.dims), dict(layer.strides), res.dataflow,
                  density=dict(layer.density))
    return LayerResult(tuned, res.report if res.dataflow is not None else None, k, False,
                       rec["evaluations"], rec["seconds"], rec["history"], rec["pareto"])


def _from_record(rec: dict, layer: Layer, hw: Hardware, settings: TuneSettings,
                 k: int) -> LayerResult:
    """A shape's result resumed from its checkpoint record (its mapping re-evaluated)."""
    df = record_dataflow(rec)
    tuned = Layer(layer.name, layer.type, dict(layer.dims), dict(layer.strides), df,
                  density=dict(layer.density))
    rep = (evaluate(tuned, hw, cost_model=settings.cost_model, sparsity=settings.sparsity)
           if df is not None else None)
    return LayerResult(tuned, rep, k, False, rec["evaluations"], rec["seconds"],
                       rec.get("history", []), rec.get("pareto", []))


def _instance(shape: LayerResult, layer: Layer, reused: bool) -> LayerResult:
    """``shape``'s result for one layer of the model with that shape."""
    tuned = Layer(layer.name, layer.type, dict(layer.dims), dict(layer.strides),
                  shape.layer.dataflow, density=dict(layer.density))
    return LayerResult(tuned, shape.report, shape.shape_index, reused, shape.evaluations,
                       shape.seconds, shape.history, shape.pareto)


def _grouped(keys: list, sizes: list[int], results: Iterable) -> Iterator[tuple]:
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
