"""One layer's search plan: its islands, then the reserve or done, then the merged result.

A layer's budget is shared by independent runs ("islands", each with its own seed) of a
strategy that allows them (:attr:`Strategy.islands`); the best of them is the layer's result.
A layer still far from its floor (:func:`latency_floor`) after its first islands gets the
reserve: more islands held back out of its budget (:func:`plan_extension`). :class:`LayerPlan`
holds these decisions for one layer; :func:`mapper.tuning.tuner.tune_layer` runs one plan
alone and :func:`mapper.tuning.tuner.tune_model` feeds every layer's plan into one pool of
workers.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costmodel import Dataflow, Hardware, Layer
from mapper.search.evaluator import Evaluator
from mapper.search.loop import History, SearchResult
from mapper.search.strategies import strategy_class
from mapper.tuning.settings import TuneSettings
from search_spaces.templates import make_space

# No island gets fewer evaluations than this: below it one run of the whole budget does
# better per evaluation than several (docs/decisions.md, "Default budget").
MIN_ISLAND_BUDGET = 16_000
# Size of a reserve island, as a share of a first island's budget.
EXTRA_ISLAND_SHARE = 0.3


def shape_seed(seed: int, layer: Layer) -> int:
    """A stable per-shape seed (independent of process, job count and layer order)."""
    h = hashlib.sha256(f"{seed}|{layer.shape_key()!r}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def island_seed(seed: int, island: int) -> int:
    """Seed of island ``island`` of a search seeded ``seed`` (island 0 uses ``seed`` itself)."""
    if island == 0:
        return seed
    h = hashlib.sha256(f"{seed}|island{island}".encode()).digest()
    return int.from_bytes(h[:4], "little")


def _even(total: int, n: int) -> list[int]:
    """``total`` split into ``n`` parts that differ by at most one."""
    q, r = divmod(total, n)
    return [q + (j < r) for j in range(n)]


def split_budget(settings: TuneSettings) -> tuple[list[int | None], list[int]]:
    """The layer's budget as (first islands, reserve islands): see :func:`island_budgets`."""
    b = settings.budget
    if b is None or not strategy_class(settings.strategy).islands:
        return [b], []
    e = settings.extra_islands if settings.objective == "latency" else 0
    n = max(1, min(settings.islands, b // MIN_ISLAND_BUDGET))
    while n > 1 and e and b / (n + e * EXTRA_ISLAND_SHARE) < MIN_ISLAND_BUDGET:
        n -= 1
    extra = []
    if n > 1 and e:
        extra = [max(1, round(b / (n + e * EXTRA_ISLAND_SHARE) * EXTRA_ISLAND_SHARE))] * e
    return _even(b - sum(extra), n), extra


def island_budgets(settings: TuneSettings) -> list[int | None]:
    """The evaluation budget of each first island of one layer's search.

    The layer's budget is a hard cap on its evaluations. With at least two islands of
    :data:`MIN_ISLAND_BUDGET` or more, a latency search holds ``settings.extra_islands``
    islands of :data:`EXTRA_ISLAND_SHARE` of a first island's size in reserve
    (:func:`extra_budgets`) and splits the rest evenly; the default 62,400 gives two islands
    of 24,000 and a reserve of two of 7,200. A smaller budget is one run of the whole
    budget; strategies without islands and time-limit-only searches are one run too."""
    return split_budget(settings)[0]


def extra_budgets(settings: TuneSettings) -> list[int]:
    """Budgets of the islands held in reserve for a layer that needs them
    (:func:`plan_extension`); none for objectives other than latency, for strategies without
    islands, for time-limit-only searches and for budgets too small for two islands."""
    return split_budget(settings)[1]


def latency_floor(layer: Layer, hw: Hardware, settings: TuneSettings) -> float:
    """No valid mapping of the layer's space is faster: the islands' ``Evaluator.floor``
    (its compute bound, or for a dense layer PE 0's least work over the space over the SIMD
    lanes if that is higher)."""
    space = make_space(layer, hw, settings.template, max_levels=settings.max_levels)
    return Evaluator(space, cost_model=settings.cost_model, sparsity=settings.sparsity).floor


def needs_extension(best: float, layer: Layer, hw: Hardware, settings: TuneSettings) -> bool:
    """True when the best latency found is more than ``settings.extend_gap`` and at most
    ``settings.extend_max_gap`` above the layer's :func:`latency_floor`, or nothing feasible
    was."""
    if not np.isfinite(best):
        return True
    gap = best / latency_floor(layer, hw, settings) - 1
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
    more independent runs pay more than a reserve kept for later (docs/decisions.md,
    "Wide layers")."""
    budgets = island_budgets(settings)
    if not starts_wide(layer, hw, settings):
        return budgets, False
    extra = extra_budgets(settings)
    if extra:
        budgets = _even(sum(budgets) + sum(extra), len(budgets) + len(extra))
    return budgets, True


def island_state(path: str | Path | None, island: int) -> Path | None:
    """The state file of island ``island`` of a layer whose state file is ``path``."""
    if path is None:
        return None
    path = Path(path)
    return path if island == 0 else path.with_suffix(f".i{island}{path.suffix}")


@dataclass(frozen=True)
class IslandTask:
    """One run of the strategy on one layer: everything a worker process needs."""

    layer: Layer
    hardware: Hardware
    settings: TuneSettings
    island: int
    seed: int
    budget: int | None
    widen: bool = False    # search the free space widened with R/S as spatial dims
    shared: bool = False   # one of several runs sharing the layer's budget
    state_file: Path | None = None
    starts: tuple[Dataflow, ...] = ()  # mappings the search starts from (the file's own)


@dataclass
class LayerPlan:
    """A layer's search as a sequence of rounds of islands: :meth:`pending` gives the tasks
    of the current round (none once done), :meth:`feed` takes their results in order, and
    :meth:`result` merges every island's result. Decisions are taken here, in the process
    that owns the plan, so they do not depend on where the islands run."""

    layer: Layer
    hardware: Hardware
    settings: TuneSettings
    seed: int
    state_file: Path | None = None
    starts: tuple[Dataflow, ...] = ()
    runs: list[SearchResult] = field(default_factory=list)
    wide: bool = False
    _pending: list[IslandTask] = field(default_factory=list)

    @classmethod
    def make(cls, layer: Layer, hw: Hardware, settings: TuneSettings, seed: int | None = None,
             state_file: str | Path | None = None,
             starts: tuple[Dataflow, ...] = ()) -> LayerPlan:
        """The plan of ``layer`` (seeded from its shape unless ``seed`` is given); its first
        round is the layer's first islands (:func:`first_islands`). Every island of a
        strategy that takes seed genomes starts from ``starts`` (those its space can
        express), so the result is at least as good as the best feasible one of them."""
        bare = Layer(layer.name, layer.type, dict(layer.dims), dict(layer.strides), None,
                     density=dict(layer.density))
        plan = cls(bare, hw, settings, shape_seed(settings.seed, layer) if seed is None else seed,
                   None if state_file is None else Path(state_file), tuple(starts))
        budgets, plan.wide = first_islands(bare, hw, settings)
        plan._pending = plan._tasks(budgets, plan.wide)
        return plan

    def _tasks(self, budgets: list[int | None], widen: bool) -> list[IslandTask]:
        first = len(self.runs)
        shared = first > 0 or len(budgets) > 1  # the layer's budget is split
        return [IslandTask(self.layer, self.hardware, self.settings, j,
                           island_seed(self.seed, j), b, widen, shared,
                           island_state(self.state_file, j), self.starts)
                for j, b in enumerate(budgets, start=first)]

    @property
    def done(self) -> bool:
        return not self._pending

    def pending(self) -> list[IslandTask]:
        """The islands of the current round (empty once the plan is done)."""
        return list(self._pending)

    def feed(self, results: list[SearchResult]) -> None:
        """The results of :meth:`pending`, in its order: plans the next round, if any."""
        if len(results) != len(self._pending):
            raise ValueError(f"expected {len(self._pending)} island results, "
                             f"got {len(results)}")
        first_round = not self.runs
        self.runs += results
        self._pending = []
        if first_round:
            best = min(r.best_fitness for r in self.runs)
            extra, widen = plan_extension(best, self.layer, self.hardware, self.settings,
                                          self.wide)
            self._pending = self._tasks(extra, widen)

    def result(self, seconds: float | None = None) -> SearchResult:
        """The layer's result: :func:`merge_islands` of every island (``seconds``: the
        layer's wall time; default, the islands' total search time)."""
        if not self.done or not self.runs:
            raise ValueError(f"layer {self.layer.name!r}: its plan is not done")
        if len(self.runs) == 1:
            return self.runs[0]
        return merge_islands(self.runs, sum(r.seconds for r in self.runs)
                             if seconds is None else seconds)

    def state_files(self) -> list[Path]:
        """The state files of every island run so far (removed once the layer is recorded)."""
        return [] if self.state_file is None else [
            island_state(self.state_file, j) for j in range(len(self.runs))]


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


def _chain_histories(runs: list[tuple[History, int]]) -> History:
    """Histories ``(evaluations, seconds, best)`` of independent runs, one after the other:
    evaluations offset by the earlier runs', best so far over all of them."""
    out, done, best = [], 0, np.inf
    for history, evaluations in runs:
        for ev, t, b in history:
            best = min(best, b)
            out.append((done + ev, t, best))
        done += evaluations
    return out
