"""Schedule search strategies behind one ask/tell interface (seeded, budgeted).

A schedule is a core per job and a priority key per job (each core runs its jobs in key
order), batched as ``[B, J]`` arrays. ``random`` samples both uniformly; ``magma-ga`` is a
genetic algorithm with MAGMA-style operators (point crossover of the core or the key genes,
crossover of one core's whole sub-schedule, per-gene mutation, elitism and fitness-weighted
parents); ``hybrid`` (the default) is in :mod:`.hybrid`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from .problem import Problem


class ScheduleStrategy(ABC):
    """Proposes batches of schedules (``ask``) and learns from their makespans (``tell``)."""

    name: ClassVar[str] = "base"

    def __init__(self, problem: Problem, seed: int = 0, batch_size: int = 64):
        self.problem = problem
        self.seed = seed
        self.batch_size = batch_size
        self.rng = np.random.default_rng(seed)
        self.budget: int | None = None

    def plan(self, budget: int | None) -> None:
        self.budget = budget

    @abstractmethod
    def ask(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Next batch ``(core [B, J], key [B, J])``; empty when nothing more to propose."""

    def tell(self, core: np.ndarray, key: np.ndarray, makespan: np.ndarray,  # noqa: B027
             finish: np.ndarray | None = None) -> None:
        """Learn from a batch's makespans (``finish``: each core's finish time, ``[B, C]``)."""

    # helpers shared by the strategies
    def random_cores(self, n: int) -> np.ndarray:
        """``[n, J]`` cores drawn uniformly among each job's feasible cores."""
        f = self.problem.feasible
        u = self.rng.random((n, f.shape[0], f.shape[1])) * f[None]
        return np.argmax(u, axis=2)

    def _n(self, limit: int | None) -> int:
        return self.batch_size if limit is None else max(0, min(self.batch_size, limit))


class RandomSchedules(ScheduleStrategy):
    """Uniformly random core (among feasible ones) and key per job."""

    name = "random"

    def ask(self, limit=None):
        n = self._n(limit)
        return self.random_cores(n), self.rng.random((n, self.problem.num_jobs))


class MagmaStyleGA(ScheduleStrategy):
    """Generational GA with MAGMA-style operators; population size defaults to the job count."""

    name = "magma-ga"

    def __init__(self, problem: Problem, seed: int = 0, population: int | None = None,
                 elite_ratio: float = 0.05, parent_ratio: float = 0.1, mutation: float = 0.05,
                 crossover: float = 0.9, sub_schedule: float = 0.1, batch_size: int = 0):
        pop = population or max(8, problem.num_jobs + problem.num_jobs % 2)
        super().__init__(problem, seed, batch_size or pop)
        self.pop_size = pop
        self.n_elite = max(1, int(pop * elite_ratio))
        self.n_parent = max(2, int(pop * parent_ratio))
        self.p_mut, self.p_cx, self.p_sub = mutation, crossover, sub_schedule
        self.pop: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def ask(self, limit=None):
        n = self._n(limit)
        if self.pop is None:
            return self.random_cores(n), self.rng.random((n, self.problem.num_jobs))
        core, key = self._offspring(n)
        return core, key

    def tell(self, core, key, makespan, finish=None):
        if self.pop is None:
            c, k, m = core, key, makespan
        else:
            c = np.concatenate([self.pop[0], core])
            k = np.concatenate([self.pop[1], key])
            m = np.concatenate([self.pop[2], makespan])
        idx = np.argsort(m, kind="stable")[: self.pop_size]
        self.pop = (c[idx], k[idx], m[idx])

    def _parents(self, n: int) -> np.ndarray:
        m = self.pop[2][: self.n_parent]
        w = np.where(np.isfinite(m), m, np.nan)
        w = np.nan_to_num(np.nanmax(w) - w + 1, nan=1e-9) if np.isfinite(m).any() else m * 0 + 1
        return self.rng.choice(len(m), size=(n, 2), p=w / w.sum())

    def _offspring(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        J, C = self.problem.num_jobs, self.problem.num_cores
        ne = min(self.n_elite, n)
        par = self._parents(n)
        dad_c, dad_k = self.pop[0][par[:, 0]].copy(), self.pop[1][par[:, 0]].copy()
        mom_c, mom_k = self.pop[0][par[:, 1]], self.pop[1][par[:, 1]]
        r = self.rng
        # point crossover of one gene row: a prefix or a suffix comes from the other parent
        point = r.integers(0, J, n)[:, None]
        seg = np.where(point < J // 2, np.arange(J)[None] < point, np.arange(J)[None] >= point)
        seg &= (r.random(n) < self.p_cx)[:, None]
        on_core = (r.random(n) < 0.5)[:, None]
        dad_c = np.where(seg & on_core, mom_c, dad_c)
        dad_k = np.where(seg & ~on_core, mom_k, dad_k)
        # sub-schedule crossover: the child runs mom's jobs of one core exactly as mom does
        sub = r.random(n) < self.p_sub
        pick = r.integers(0, C, n)[:, None]
        take = sub[:, None] & (mom_c == pick)
        evict = sub[:, None] & (dad_c == pick) & ~take
        dad_c = np.where(take, mom_c, np.where(evict, self.random_cores(n), dad_c))
        dad_k = np.where(take, mom_k, dad_k)
        # per-gene mutation
        mc = r.random((n, J)) < self.p_mut
        mk = r.random((n, J)) < self.p_mut
        dad_c = np.where(mc, self.random_cores(n), dad_c)
        dad_k = np.where(mk, r.random((n, J)), dad_k)
        dad_c[:ne], dad_k[:ne] = self.pop[0][:ne], self.pop[1][:ne]  # elites re-evaluated
        return dad_c, dad_k
