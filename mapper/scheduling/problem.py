"""A scheduling problem (job table + off-chip bandwidth) and the budgeted ask/tell loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from costmodel.errors import MaestroInputError

from .evaluator import energies, simulate
from .job_table import JobTable


@dataclass
class Problem:
    """What a strategy may look at: ``[J, C]`` latency/demand/energy and the bandwidth."""

    latency: np.ndarray
    bw: np.ndarray
    dram_bw: float
    energy: np.ndarray | None = None

    def __post_init__(self) -> None:
        check_bandwidth(self.dram_bw)
        self.feasible = np.isfinite(self.latency)
        self.area = self.latency * self.bw

    @classmethod
    def from_table(cls, table: JobTable, dram_bw: float) -> Problem:
        return cls(table.latency, table.bw, dram_bw, table.energy)

    @property
    def num_jobs(self) -> int:
        return self.latency.shape[0]

    @property
    def num_cores(self) -> int:
        return self.latency.shape[1]

    def makespans(self, core: np.ndarray, key: np.ndarray) -> np.ndarray:
        return simulate(self.latency, self.bw, core, key, self.dram_bw).makespan


def check_bandwidth(dram_bw: float, name: str = "off-chip bandwidth") -> float:
    """The off-chip bandwidth must be a positive finite number (elements per cycle);
    ``name`` is how errors call it (e.g. the command-line option)."""
    try:
        v = float(dram_bw)
    except (TypeError, ValueError):
        raise MaestroInputError(f"{name} must be a number, got {dram_bw!r}",
                                rule="dram-bw") from None
    if not (0 < v < float("inf")):
        raise MaestroInputError(f"{name} must be a positive finite number (elements per "
                                f"cycle), got {dram_bw}", rule="dram-bw")
    return v


@dataclass
class SearchResult:
    """Best schedule found, with the evaluation count and best-so-far history."""

    core: np.ndarray
    key: np.ndarray
    makespan: float
    energy: float
    evaluations: int
    seconds: float
    history: list[tuple[int, float]] = field(default_factory=list)  # (evaluations, best)


def run_search(problem: Problem, strategy, budget: int,
               time_limit: float | None = None,
               progress: Callable[[int, float], None] | None = None) -> SearchResult:
    """Ask/tell until ``budget`` schedules are evaluated (or the strategy stops);
    ``progress(evaluations, best makespan)`` is called after every batch."""
    t0 = time.perf_counter()
    best = (np.inf, None, None)
    used, history = 0, []
    strategy.plan(budget)
    while used < budget:
        if time_limit is not None and time.perf_counter() - t0 > time_limit:
            break
        core, key = strategy.ask(budget - used)
        if len(core) == 0:
            break
        tl = simulate(problem.latency, problem.bw, core, key, problem.dram_bw)
        ms = tl.makespan
        strategy.tell(core, key, ms, finish=tl.core_finish)
        used += len(core)
        i = int(np.argmin(ms))
        if ms[i] < best[0]:
            best = (float(ms[i]), core[i].copy(), key[i].copy())
            history.append((used, best[0]))
        if progress is not None:
            progress(used, best[0])
    if best[1] is None:
        raise MaestroInputError("no schedule was evaluated (budget too small?)", rule="budget")
    e = float(energies(problem.energy, best[1])[0]) if problem.energy is not None else 0.0
    return SearchResult(best[1], best[2], best[0], e, used, time.perf_counter() - t0, history)
