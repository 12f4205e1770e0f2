"""Sizing heterogeneous cores under an area budget (Herald's question), by local search.

The budget is a total PE count (PEs of one type, so area is proportional to it), split into
steps of ``step`` PEs. A candidate is one (PE count, style) per core; its score is the
makespan a short schedule search reaches on it. Starting from a given split, the search
moves a step of PEs from one core to another or flips a core's style, keeping the best
candidate; job-table columns are computed once per distinct core and reused.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from .cores import Core, CoreSetting
from .job_table import JobTable, build_job_table
from .problem import Problem, run_search
from .registry import make_strategy
from .workload import Job

STYLE_FLIP = {"dla": "shi", "shi": "dla"}


@dataclass
class SizingResult:
    """Best split found, its makespan and every candidate tried (pes, styles, makespan)."""

    setting: CoreSetting
    makespan: float
    tried: list[tuple[tuple[int, ...], tuple[str, ...], float]] = field(default_factory=list)
    seconds: float = 0.0


class ColumnCache:
    """Job-table columns per distinct core, so that candidate settings cost no new tables."""

    def __init__(self, jobs: list[Job]):
        self.jobs = jobs
        self.cols: dict[Core, JobTable] = {}

    def table(self, cores: tuple[Core, ...]) -> JobTable:
        for c in set(cores) - set(self.cols):
            self.cols[c] = build_job_table(self.jobs, CoreSetting(c.label(), (c,)))
        parts = [self.cols[c] for c in cores]
        cat = [np.concatenate([getattr(t, a) for t in parts], axis=1)
               for a in ("latency", "bw", "energy", "cluster")]
        return JobTable(self.jobs, CoreSetting("sized", cores), *cat)


def size_cores(jobs: list[Job], start: CoreSetting, dram_bw: float, step: int,
               screen_budget: int = 800, time_limit: float = 60.0, seed: int = 0,
               strategy: str = "hybrid") -> SizingResult:
    """Hill-climb PE splits and styles of ``start``'s cores at its total PE count."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    cache = ColumnCache(jobs)
    pes = np.array([c.num_pes for c in start.cores])
    styles = [c.style for c in start.cores]
    best = (_score(cache, pes, styles, dram_bw, screen_budget, seed, strategy), pes, styles)
    tried = [(tuple(pes), tuple(styles), best[0])]
    seen = {tried[0][:2]}
    while time.perf_counter() - t0 < time_limit:
        cand = _neighbour(best[1], best[2], step, rng)
        key = (tuple(cand[0]), tuple(cand[1]))
        if key in seen:
            if len(seen) > 4 * len(pes) ** 2:
                break
            continue
        seen.add(key)
        ms = _score(cache, cand[0], cand[1], dram_bw, screen_budget, seed, strategy)
        tried.append((*key, ms))
        if ms < best[0]:
            best = (ms, cand[0], cand[1])
    setting = CoreSetting("sized", _cores(best[1], best[2]))
    return SizingResult(setting, best[0], tried, time.perf_counter() - t0)


def _cores(pes, styles) -> tuple[Core, ...]:
    return tuple(Core(int(p), s) for p, s in zip(pes, styles, strict=True))


def _score(cache: ColumnCache, pes, styles, dram_bw: float, budget: int, seed: int,
           strategy: str) -> float:
    table = cache.table(_cores(pes, styles))
    if not np.isfinite(table.latency).any(axis=1).all():
        return np.inf  # some job fits no core of this split
    p = Problem.from_table(table, dram_bw)
    return run_search(p, make_strategy(strategy, p, seed), budget).makespan


def _neighbour(pes: np.ndarray, styles: list[str], step: int,
               rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """Move ``step`` (or two) PEs from one core to another, or flip one core's style."""
    pes, styles = pes.copy(), list(styles)
    if rng.random() < 0.25:
        i = rng.integers(0, len(styles))
        styles[i] = STYLE_FLIP.get(styles[i], styles[i])
        return pes, styles
    a, b = rng.choice(len(pes), 2, replace=False)
    amount = step * rng.integers(1, 3)
    if pes[a] - amount >= step:
        pes[a] -= amount
        pes[b] += amount
    return pes, styles
