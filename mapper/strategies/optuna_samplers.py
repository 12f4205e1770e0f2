"""Optuna's samplers (TPE, CMA-ES, NSGA-II/III, QMC, random) driven through ask/tell.

The mapping space encodes itself with numeric parameters only (see
:meth:`MappingSpace.suggest`), so every sampler applies. Infeasible mappings are reported to
Optuna through its constraint interface (samplers that support it) and as a penalised value.
"""

from __future__ import annotations

import warnings

import numpy as np

from search_spaces import Genomes

from .base import Strategy

SAMPLERS = ("tpe", "cmaes", "nsga2", "nsga3", "qmc", "optuna-random")
CONSTRAINED = ("tpe", "nsga2", "nsga3")  # samplers that use Optuna's constraint interface


def _constraints(trial):
    return trial.user_attrs.get("constraint", (0.0,))


def _constraint_kw() -> dict:
    """Optuna >= 5 reads constraints set on the trial; older versions need a callback."""
    import optuna

    return {} if hasattr(optuna.trial.Trial, "set_constraint") else {
        "constraints_func": _constraints}


def make_sampler(kind: str, seed: int, multi_objective: bool = False):
    import optuna

    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, **_constraint_kw(),
                                          multivariate=True, n_startup_trials=32)
    if kind == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=16,
                                            warn_independent_sampling=False)
    if kind == "nsga2":
        return optuna.samplers.NSGAIISampler(seed=seed, **_constraint_kw(),
                                             population_size=64)
    if kind == "nsga3":
        return optuna.samplers.NSGAIIISampler(seed=seed, **_constraint_kw(),
                                              population_size=64)
    if kind == "qmc":
        return optuna.samplers.QMCSampler(seed=seed, scramble=True,
                                          warn_independent_sampling=False)
    if kind == "optuna-random":
        return optuna.samplers.RandomSampler(seed=seed)
    raise ValueError(f"unknown Optuna sampler {kind!r}; expected one of {SAMPLERS}")


def make_storage(url: str):
    """An Optuna RDB storage; SQLite files use WAL journaling with ``synchronous=NORMAL``
    (about 10x faster per trial than the defaults, still safe if the process is killed)."""
    import optuna

    storage = optuna.storages.RDBStorage(url)
    if url.startswith("sqlite"):
        from sqlalchemy import event

        def pragmas(conn, _record):
            cur = conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        event.listen(storage.engine, "connect", pragmas)
        storage.engine.dispose()
    return storage


class OptunaStrategy(Strategy):
    """One Optuna study per search; ``batch_size`` trials are asked before they are told."""

    name = "tpe"

    def __init__(self, space, seed: int = 0, sampler: str = "tpe", batch_size: int = 16,
                 storage=None, study_name: str | None = None, penalty: float = 1e30,
                 multi_objective: bool = False):
        super().__init__(space, seed, batch_size)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        self.name = sampler
        self.multi = multi_objective or sampler in ("nsga2", "nsga3")
        directions = ["minimize", "minimize"] if self.multi else ["minimize"]
        if isinstance(storage, str):
            storage = make_storage(storage)
        self.study = optuna.create_study(
            directions=directions, sampler=make_sampler(sampler, seed, self.multi),
            storage=storage, study_name=study_name, load_if_exists=storage is not None)
        self.penalty = penalty
        self._trials = []
        self.secondary: np.ndarray | None = None  # set by the driver for multi-objective runs
        # trials already in a persistent study (an earlier or a concurrent worker's run)
        done = [t for t in self.study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        self.completed = len(done)
        self.initial_best = None
        if done:
            t = min(done, key=lambda t: t.values[0])
            if t.values[0] < penalty:
                g = self.space.suggest(optuna.trial.FixedTrial(t.params))
                self.initial_best = (float(t.values[0]), g)

    def ask(self, limit: int | None = None) -> Genomes:
        n = self.batch_size if limit is None else min(self.batch_size, limit)
        self._trials = [self.study.ask() for _ in range(n)]
        return Genomes.concat([self.space.suggest(t) for t in self._trials])

    def tell(self, g, fitness, violation, secondary=None) -> None:
        for k, t in enumerate(self._trials):
            c = float(violation[k]) if (np.isfinite(fitness[k]) or violation[k] > 0) else 1.0
            if self.name not in CONSTRAINED:
                pass  # this sampler ignores constraints: the penalty value steers it
            elif hasattr(t, "set_constraint"):
                t.set_constraint("violation", c)
            else:
                t.set_user_attr("constraint", (c,))
            val = float(fitness[k]) if np.isfinite(fitness[k]) else self.penalty
            if self.multi:
                sec = float(secondary[k]) if secondary is not None and np.isfinite(
                    fitness[k]) else self.penalty
                self.study.tell(t, [val, sec])
            else:
                self.study.tell(t, val)
        self._trials = []
