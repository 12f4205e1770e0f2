"""Optuna's samplers (TPE, CMA-ES, NSGA-II/III, QMC, random) driven through ask/tell.

A genome is encoded with numeric parameters only (see :mod:`search_spaces.optuna_encoding`),
so every sampler applies. Infeasible mappings are reported to Optuna through its constraint
interface (samplers that support it) and as a penalised value that grows with the violation.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
import warnings

import numpy as np

from mapper.search.strategies.base import RESUME_STORAGE, Strategy
from search_spaces import Genomes
from search_spaces.optuna_encoding import suggest

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


def _worker_seed(seed: int, first_trial: int) -> int:
    """The sampler seed of a worker whose first trial in a shared study is ``first_trial``
    (``seed`` itself for the first worker, so a lone worker matches an unshared run)."""
    if first_trial == 0:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}|{first_trial}".encode()).digest()[:4],
                          "little")


def make_storage(url: str, attempts: int = 5):
    """An Optuna RDB storage; SQLite files use WAL journaling with ``synchronous=NORMAL``
    (about 10x faster per trial than the defaults, still safe if the process is killed).

    Workers that start together on an empty database (e.g. PostgreSQL) race to create
    Optuna's tables: the losers get an integrity error and find the tables on a retry.
    """
    import optuna
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(attempts):
        try:
            storage = optuna.storages.RDBStorage(url)
            break
        except (SQLAlchemyError, optuna.exceptions.StorageInternalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
        except ImportError as e:  # no database driver
            from costmodel.errors import MaestroInputError

            raise MaestroInputError(f"storage {url!r}: {e.__cause__ or e} (PostgreSQL needs a "
                                    "driver: pip install 'dnn-mapper[postgres]')",
                                    rule="storage") from None
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
    """One Optuna study per search; ``batch_size`` trials are asked before they are told.

    ``shared=True``: other processes (on any machine) work on the same study concurrently.
    Each worker then seeds its sampler from the number of its first trial, so workers started
    with the same seed do not propose the same trials (a lone worker stays reproducible), and
    ``max_trials`` caps the trials of the whole study: trial numbers are given out atomically
    by the storage, so a trial numbered past the budget (not counting failed trials) is marked
    failed and this worker stops. Trials left running by a killed worker count as used.
    Each trial records the worker (``host:pid``) that ran it as its user attribute "worker".
    """

    name = "tpe"
    resume = RESUME_STORAGE

    def __init__(self, space, seed: int = 0, sampler: str = "tpe", batch_size: int = 16,
                 storage=None, study_name: str | None = None, penalty: float = 1e30,
                 multi_objective: bool = False, shared: bool = False,
                 max_trials: int | None = None):
        super().__init__(space, seed, batch_size)
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
        self.name = sampler
        self.multi_objective = multi_objective or sampler in ("nsga2", "nsga3")
        directions = ["minimize", "minimize"] if self.multi_objective else ["minimize"]
        if isinstance(storage, str):
            storage = make_storage(storage)
        self.study = optuna.create_study(
            directions=directions, sampler=make_sampler(sampler, seed, self.multi_objective),
            storage=storage, study_name=study_name, load_if_exists=storage is not None)
        self.penalty = penalty
        self.shared = shared
        self.max_trials = max_trials
        # QMC needs the common seed: its workers share one sequence through the study
        self._reseed = shared and sampler != "qmc"
        self._exhausted = False
        self._trials = []
        # trials already in a persistent study (an earlier or a concurrent worker's run)
        self.completed = len(self.study.get_trials(
            deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))
        self.initial_best = self.study_best()

    def resume_point(self) -> tuple[int, float, Genomes] | None:
        """The study's completed trials and best, when it holds a feasible one."""
        if self.initial_best is None:
            return None
        return self.completed, *self.initial_best

    def study_best(self) -> tuple[float, Genomes] | None:
        """The best feasible trial in the study (any worker's): ``(value, genome)`` or None."""
        import optuna

        done = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if not done:
            return None
        t = min(done, key=lambda t: t.values[0])
        if t.values[0] >= self.penalty:
            return None
        return float(t.values[0]), suggest(self.space, optuna.trial.FixedTrial(t.params))

    def final_best(self, patience: float = 60.0) -> tuple[float, Genomes] | None:
        """:meth:`study_best` at the end of this worker's search. A worker stopped by the
        shared budget first waits for the trials other workers still run (at most
        ``patience`` seconds without any of them finishing: those of a killed worker never
        finish), so that it too reports the study's best."""
        import optuna

        def running() -> int:
            return len(self.study.get_trials(deepcopy=False,
                                             states=(optuna.trial.TrialState.RUNNING,)))

        n, since = (running(), time.monotonic()) if self._exhausted else (0, 0.0)
        while n and time.monotonic() - since < patience:
            time.sleep(0.5)
            m = running()
            if m < n:
                since = time.monotonic()
            n = m
        return self.study_best()

    def _past_budget(self, trial) -> bool:
        """Whether ``trial`` is numbered past ``max_trials`` (failed trials do not count)."""
        import optuna

        if self.max_trials is None:
            return False
        failed = self.study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.FAIL,))
        return trial.number - sum(t.number < trial.number for t in failed) >= self.max_trials

    def ask(self, limit: int | None = None) -> Genomes:
        import optuna

        n = self.batch_size if limit is None else min(self.batch_size, limit)
        self._trials = []
        while len(self._trials) < n and not self._exhausted:
            t = self.study.ask()
            if self._past_budget(t):
                self.study.tell(t, state=optuna.trial.TrialState.FAIL)
                self._exhausted = True
                break
            if self.shared:
                t.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
            if self._reseed:  # before the first suggestion: the sampler draws lazily
                self._reseed = False
                self.study.sampler = make_sampler(self.name, _worker_seed(self.seed, t.number),
                                                  self.multi_objective)
            self._trials.append(t)
        if not self._trials:
            return self.space.empty()
        return Genomes.concat([suggest(self.space, t) for t in self._trials])

    def tell(self, g, fitness, violation, secondary=None) -> None:
        for k, t in enumerate(self._trials):
            c = float(violation[k]) if (np.isfinite(fitness[k]) or violation[k] > 0) else 1.0
            if self.name not in CONSTRAINED:
                pass  # this sampler ignores constraints: the penalty value steers it
            elif hasattr(t, "set_constraint"):
                t.set_constraint("violation", c)
            else:
                t.set_user_attr("constraint", (c,))
            # infeasible: the penalty grows with the violation, so that rank-based samplers
            # (CMA-ES) are steered towards feasible mappings instead of seeing a flat value
            ok, bad = bool(np.isfinite(fitness[k])), self.penalty * (1.0 + c)
            val = float(fitness[k]) if ok else bad
            if self.multi_objective:
                sec = float(secondary[k]) if secondary is not None and ok else bad
                self.study.tell(t, [val, sec])
            else:
                self.study.tell(t, val)
        self._trials = []
