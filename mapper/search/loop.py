"""The search loop: ask a strategy, score with the evaluator, tell, until a budget runs out."""

from __future__ import annotations

import dataclasses
import math
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from costmodel import Dataflow
from costmodel.analysis import CostReport, evaluate
from mapper.atomic import write_bytes
from mapper.search.evaluator import Evaluation, Evaluator
from mapper.search.pareto import ParetoArchive
from mapper.search.strategies import Strategy
from search_spaces import Genomes, MappingSpace

# with a pruning evaluator: candidates proposed per evaluation of the budget, at most (pruned
# candidates cost a bound, not a cost-model call, but proposing them is not free either). The
# busiest-PE bound prunes more than the busy-PE bound alone: at 3, islands ended after about
# half their evaluations and 2 of 64 layers fell over 1% from the best-known (docs/search.md)
MAX_PROPOSALS = 6
# ... but a budget smaller than this may propose as many as this one, up to SMALL_BUDGET_GROWTH
# times its own cap: a search of a few thousand evaluations otherwise ends with half its
# budget unspent once most of its proposals are pruned, while one of a few hundred would
# spend seconds on proposals for nothing measurable (docs/search.md); the default plan's
# islands (24,000 and 7,200) are not affected
MIN_PROPOSAL_BUDGET = 7_200
SMALL_BUDGET_GROWTH = 3
# ... and per scored candidate within one batch (a batch may be mostly pruned once the search
# has converged: larger batches then mean fewer, cheaper generations)
MAX_OVERSAMPLE = 8


def max_proposals(budget: int) -> int:
    """Candidates a pruning search of ``budget`` evaluations may propose in all."""
    return MAX_PROPOSALS * max(budget, min(MIN_PROPOSAL_BUDGET, SMALL_BUDGET_GROWTH * budget))


History = list[tuple[int, float, float]]  # (evaluations, seconds, best so far) per batch


@dataclass
class SearchResult:
    """Outcome of one search on one layer."""

    best_fitness: float
    best_genome: Genomes | None
    dataflow: Dataflow | None
    report: CostReport | None
    evaluations: int
    seconds: float
    history: History = field(default_factory=list)
    strategy: str = ""
    pareto: ParetoArchive | None = None  # set when the search kept a Pareto archive

    @property
    def found(self) -> bool:
        return self.dataflow is not None


@dataclass
class SearchState:
    """Everything a search needs to continue where it stopped (pickled to a state file)."""

    strategy: Strategy
    evaluations: int = 0
    best: float = np.inf
    best_genome: Genomes | None = None
    history: History = field(default_factory=list)
    pareto: ParetoArchive | None = None
    proposals: int = 0  # candidates proposed, pruned ones included

    def record(self, g: Genomes, ev: Evaluation, seconds: float) -> None:
        """Count a scored batch: evaluations, proposals, Pareto archive, best, history."""
        self.evaluations += ev.evaluated
        self.proposals += len(g)
        if self.pareto is not None:
            self.pareto.add(g, ev.metrics, ev.feasible)
        k = int(np.argmin(ev.fitness)) if len(g) else 0
        if len(g) and ev.fitness[k] < self.best:
            self.best, self.best_genome = float(ev.fitness[k]), g.take([k])
        self.history.append((self.evaluations, seconds, self.best))


def reach(history: History, target: float) -> tuple[int, float] | None:
    """``(evaluations, seconds)`` after which the best so far of ``history`` was at most
    ``target``, or None if it never was."""
    for ev, sec, best in history:
        if best <= target:
            return int(ev), float(sec)
    return None


def run_search(space: MappingSpace, strategy: Strategy, evaluator: Evaluator, *,
               budget: int | None = 10_000, time_limit: float | None = None,
               progress: Callable[[int, float], None] | None = None,
               pareto: ParetoArchive | None = None,
               state_file: str | Path | None = None, save_every: float = 1.0) -> SearchResult:
    """Run ``strategy`` until ``budget`` evaluations or ``time_limit`` seconds are used.

    With only an evaluation budget the result is reproducible for a given seed. An evaluator
    that prunes (:class:`Evaluator` ``prune``) is given the best latency so far: candidates
    that cannot beat it are not scored and do not count as evaluations, at most
    :func:`max_proposals` candidates are proposed in all, and the search ends
    at once when the best reaches the evaluator's ``stop_latency`` (its floor, where
    it is optimal, or within the evaluator's ``stop_gap`` of it). With
    ``state_file``, the whole :class:`SearchState` is saved atomically at most every
    ``save_every`` seconds and after the last batch; a later call with the same file
    continues from it, so an interrupted search loses at most the batches since the last
    save and ends with the result of an uninterrupted run.
    """
    if budget is None and time_limit is None:
        raise ValueError("give an evaluation budget, a time limit, or both")
    t0 = time.perf_counter()
    st = _load_state(state_file)
    if st is not None:
        t0 -= st.history[-1][1] if st.history else 0.0
    else:
        st = SearchState(strategy, pareto=pareto)
        start = strategy.resume_point()  # a persistent study's trials
        if start is not None:
            st.evaluations, st.best, st.best_genome = start
            st.proposals = st.evaluations
        strategy.plan(None if budget is None else budget - st.evaluations, time_limit)
    last_save = time.perf_counter()
    while _batch(st, evaluator, budget, time_limit, t0):
        if progress is not None:
            progress(st.evaluations, st.best)
        if state_file is not None and time.perf_counter() - last_save >= save_every:
            _save_state(state_file, st)
            last_save = time.perf_counter()
    if state_file is not None:
        _save_state(state_file, st)
    found = st.strategy.final_best()
    # the study's best, concurrent workers' trials included (on ties too: so that every
    # worker of a shared study reports the same mapping)
    if found is not None and found[0] <= st.best:
        st.best, st.best_genome = found
    df = rep = None
    if st.best_genome is not None:
        df = space.decode(st.best_genome, 0)
        rep = evaluate(space.layer, space.hardware, df, cost_model=evaluator.cost_model,
                       sparsity=evaluator.sparsity)
        if evaluator.cost_model == "physical":  # the L2 residency the model chose, stated
            df = dataclasses.replace(df, l2_resident=rep.l2_resident)
    return SearchResult(st.best, st.best_genome, df, rep, st.evaluations,
                        time.perf_counter() - t0, st.history, st.strategy.name, st.pareto)


def _batch(st: SearchState, evaluator: Evaluator, budget: int | None,
           time_limit: float | None, t0: float) -> bool:
    """Ask, score and tell one batch; False (and nothing done) once the search is over."""
    strategy, prune = st.strategy, evaluator.prune
    if budget is not None and st.evaluations >= budget:
        return False
    if time_limit is not None and time.perf_counter() - t0 >= time_limit:
        return False
    if prune and (st.best <= evaluator.stop_latency
                  or (budget is not None and st.proposals >= max_proposals(budget))):
        return False
    limit = None if budget is None else budget - st.evaluations
    if prune and limit is not None:
        limit = min(math.ceil(limit * strategy.oversample), max_proposals(budget) - st.proposals)
    g = strategy.ask(limit)
    if len(g) == 0:
        return False
    # (an evaluator that does not prune scores everything whatever the incumbent)
    ev = evaluator(g, incumbent=st.best,
                   max_evals=None if budget is None else budget - st.evaluations)
    if prune and np.isfinite(st.best):  # propose more where fewer candidates survive the bound
        kept = max(ev.evaluated / len(g), 1 / MAX_OVERSAMPLE)
        strategy.oversample = min(MAX_OVERSAMPLE, (strategy.oversample + 1 / kept) / 2)
    if strategy.multi_objective:
        strategy.tell(g, ev.fitness, ev.violation, secondary=ev.metrics["energy_nj"])
    else:
        strategy.tell(g, ev.fitness, ev.violation)
    st.record(g, ev, time.perf_counter() - t0)
    return True


def _save_state(path: str | Path, state: SearchState) -> None:
    """Pickle ``state`` to ``path`` atomically."""
    write_bytes(path, pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL))


def _load_state(path: str | Path | None) -> SearchState | None:
    """The saved search state, or None (no file, or a file from an incompatible version)."""
    if path is None or not Path(path).exists():
        return None
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None
    return state if isinstance(state, SearchState) else None
