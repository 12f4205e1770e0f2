"""Strategy names and the factory."""

from __future__ import annotations

from .hybrid import HybridSearch
from .problem import Problem
from .strategies import MagmaStyleGA, RandomSchedules, ScheduleStrategy

OPTUNA_SAMPLERS = ("tpe", "cmaes", "qmc")
STRATEGIES = ("hybrid", "magma-ga", "random") + OPTUNA_SAMPLERS
DEFAULT_STRATEGY = "hybrid"


def make_strategy(name: str, problem: Problem, seed: int = 0, **params) -> ScheduleStrategy:
    """Build a schedule strategy by name (see ``STRATEGIES``)."""
    if name == "hybrid":
        return HybridSearch(problem, seed, **params)
    if name == "magma-ga":
        return MagmaStyleGA(problem, seed, **params)
    if name == "random":
        return RandomSchedules(problem, seed, **params)
    if name in OPTUNA_SAMPLERS:
        from .optuna_strategy import OptunaSchedules

        return OptunaSchedules(problem, seed, sampler=name, **params)
    raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")
