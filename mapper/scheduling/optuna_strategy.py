"""Optuna samplers (TPE, CMA-ES, QMC) proposing schedules through optuna's ask/tell API.

Each job has two parameters: its core as a float in [0, 1) scaled onto its feasible cores,
and its priority key in [0, 1). Optuna's cost grows with trials x parameters, so these suit
small budgets or small workloads.
"""

from __future__ import annotations

import warnings

import numpy as np

from .problem import Problem
from .strategies import ScheduleStrategy


class OptunaSchedules(ScheduleStrategy):
    """Schedules sampled by an optuna sampler (``tpe``, ``cmaes`` or ``qmc``)."""

    name = "optuna"

    def __init__(self, problem: Problem, seed: int = 0, sampler: str = "tpe",
                 batch_size: int = 16):
        super().__init__(problem, seed, batch_size)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        samplers = {"tpe": lambda: optuna.samplers.TPESampler(seed=seed),
                    "cmaes": lambda: optuna.samplers.CmaEsSampler(seed=seed),
                    "qmc": lambda: optuna.samplers.QMCSampler(seed=seed)}
        with warnings.catch_warnings():  # QMCSampler's "experimental" notice is not for users
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            self.study = optuna.create_study(sampler=samplers[sampler]())
        self.trials: list = []
        self.options = [np.flatnonzero(f) for f in problem.feasible]

    def ask(self, limit=None):
        n = self._n(limit)
        J = self.problem.num_jobs
        core = np.zeros((n, J), dtype=np.int64)
        key = np.zeros((n, J))
        self.trials = []
        for b in range(n):
            t = self.study.ask()
            for j in range(J):
                u = t.suggest_float(f"c{j}", 0.0, 1.0)
                ok = self.options[j]
                core[b, j] = ok[min(int(u * len(ok)), len(ok) - 1)]
                key[b, j] = t.suggest_float(f"k{j}", 0.0, 1.0)
            self.trials.append(t)
        return core, key

    def tell(self, core, key, makespan, finish=None):
        for t, m in zip(self.trials, makespan, strict=True):
            self.study.tell(t, float(m) if np.isfinite(m) else 1e300)
