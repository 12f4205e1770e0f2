"""The search loop: ask a strategy, score with the evaluator, tell, until a budget runs out."""

from __future__ import annotations

import math
import pickle
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costmodel import Dataflow
from costmodel.analysis import CostReport, evaluate
from mapper.atomic import write_bytes
from mapper.search.evaluator import Evaluator
from mapper.search.pareto import ParetoArchive
from mapper.search.strategies import Strategy
from search_spaces import Genomes, MappingSpace

# with a pruning evaluator: candidates proposed per evaluation of the budget, at most (pruned
# candidates cost a bound, not a cost-model call, but proposing them is not free either)
MAX_PROPOSALS = 3
# ... and per scored candidate within one batch (a batch may be mostly pruned once the search
# has converged: larger batches then mean fewer, cheaper generations)
MAX_OVERSAMPLE = 8


@dataclass
class SearchResult:
    """Outcome of one search on one layer."""

    best_fitness: float
    best_genome: Genomes | None
    dataflow: Dataflow | None
    report: CostReport | None
    evaluations: int
    seconds: float
    history: list[tuple[int, float, float]] = field(default_factory=list)  # (evals, s, best)
    strategy: str = ""
    pareto: ParetoArchive | None = None  # set when the search kept a Pareto archive

    @property
    def found(self) -> bool:
        return self.dataflow is not None

    def evals_to_reach(self, target: float) -> int | None:
        """Evaluations after which the best-so-far was within ``target`` (None if never)."""
        for ev, _, best in self.history:
            if best <= target:
                return ev
        return None


def run_search(space: MappingSpace, strategy: Strategy, evaluator: Evaluator, *,
               budget: int | None = 10_000, time_limit: float | None = None,
               progress=None, pareto: ParetoArchive | None = None,
               state_file: str | Path | None = None, save_every: float = 1.0) -> SearchResult:
    """Run ``strategy`` until ``budget`` evaluations or ``time_limit`` seconds are used.

    With only an evaluation budget the result is reproducible for a given seed. An evaluator
    that prunes (:class:`Evaluator` ``prune``) is given the best latency so far: candidates
    that cannot beat it are not scored and do not count as evaluations, at most
    :data:`MAX_PROPOSALS` x ``budget`` candidates are proposed in all, and the search ends
    at once when the best reaches the compute bound (it is then optimal). With
    ``state_file``, the whole search state (strategy, RNG, best, history) is saved atomically
    at most every ``save_every`` seconds and after the last batch; a later call with the same
    file continues from it, so an interrupted search loses at most the batches since the last
    save and ends with the result of an uninterrupted run.
    """
    if budget is None and time_limit is None:
        raise ValueError("give an evaluation budget, a time limit, or both")
    t0 = time.perf_counter()
    evals = 0
    best, best_g = np.inf, None
    history: list[tuple[int, float, float]] = []
    if getattr(strategy, "initial_best", None) is not None:  # a persistent study's trials
        best, best_g = strategy.initial_best
        evals = strategy.completed
    state = _load_state(state_file)
    if state is not None:
        strategy, evals, best, best_g, history, pareto = state[:6]
        t0 -= history[-1][1] if history else 0.0
    else:
        strategy.plan(None if budget is None else budget - evals, time_limit)
    last_save = time.perf_counter()
    prune = getattr(evaluator, "prune", False)
    proposals = evals if state is None or len(state) < 7 else state[6]
    while True:
        if budget is not None and evals >= budget:
            break
        if time_limit is not None and time.perf_counter() - t0 >= time_limit:
            break
        if prune and (best <= evaluator.compute_bound
                      or (budget is not None and proposals >= MAX_PROPOSALS * budget)):
            break
        limit = None if budget is None else budget - evals
        if prune and limit is not None:
            limit = min(math.ceil(limit * strategy.oversample), MAX_PROPOSALS * budget - proposals)
        g = strategy.ask(limit)
        if len(g) == 0:
            break
        # (an evaluator that does not prune scores everything whatever the incumbent)
        ev = evaluator(g, incumbent=best, max_evals=None if budget is None else budget - evals)
        if prune and np.isfinite(best):  # propose more where fewer candidates survive the bound
            kept = max(ev.evaluated / len(g), 1 / MAX_OVERSAMPLE)
            strategy.oversample = min(MAX_OVERSAMPLE, (strategy.oversample + 1 / kept) / 2)
        if getattr(strategy, "multi", False):
            strategy.tell(g, ev.fitness, ev.violation, secondary=ev.metrics["energy_nj"])
        else:
            strategy.tell(g, ev.fitness, ev.violation)
        evals += ev.evaluated
        proposals += len(g)
        if pareto is not None:
            pareto.add(g, ev.metrics, ev.feasible)
        k = int(np.argmin(ev.fitness)) if len(g) else 0
        if len(g) and ev.fitness[k] < best:
            best, best_g = float(ev.fitness[k]), g.take([k])
        history.append((evals, time.perf_counter() - t0, best))
        if progress is not None:
            progress(evals, best)
        if state_file is not None and time.perf_counter() - last_save >= save_every:
            _save_state(state_file, (strategy, evals, best, best_g, history, pareto, proposals))
            last_save = time.perf_counter()
    if state_file is not None:
        _save_state(state_file, (strategy, evals, best, best_g, history, pareto, proposals))
    if getattr(strategy, "final_best", None) is not None:
        # the study's best, concurrent workers' trials included (on ties too: so that every
        # worker of a shared study reports the same mapping)
        found = strategy.final_best()
        if found is not None and found[0] <= best:
            best, best_g = found
    df = rep = None
    if best_g is not None:
        df = space.decode(best_g, 0)
        rep = evaluate(space.layer, space.hardware, df)
    return SearchResult(best, best_g, df, rep, evals, time.perf_counter() - t0, history,
                        strategy.name, pareto)


def _save_state(path: str | Path, state) -> None:
    """Pickle ``state`` to ``path`` atomically."""
    write_bytes(path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def _load_state(path: str | Path | None):
    """The saved search state, or None (no file, or a file from an incompatible version)."""
    if path is None or not Path(path).exists():
        return None
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
