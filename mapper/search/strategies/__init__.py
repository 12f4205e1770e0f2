"""Search strategies, all behind one ask/tell interface; ``make_strategy`` is the factory."""

from __future__ import annotations

from mapper.search.strategies.base import Strategy
from mapper.search.strategies.exhaustive import Exhaustive
from mapper.search.strategies.genetic import GeneticAlgorithm
from mapper.search.strategies.optuna_samplers import SAMPLERS, OptunaStrategy
from mapper.search.strategies.random_search import RandomSearch

STRATEGIES = ("ga", "random", "exhaustive") + SAMPLERS
DEFAULT_STRATEGY = "ga"


def make_strategy(name: str, space, seed: int = 0, **params) -> Strategy:
    """Build a strategy by name (see ``STRATEGIES``)."""
    if name == "ga":
        return GeneticAlgorithm(space, seed, **params)
    if name == "random":
        return RandomSearch(space, seed, **params)
    if name == "exhaustive":
        return Exhaustive(space, seed, **params)
    if name in SAMPLERS:
        return OptunaStrategy(space, seed, sampler=name, **params)
    raise ValueError(f"unknown strategy {name!r}; expected one of {', '.join(STRATEGIES)}")


__all__ = ["Strategy", "Exhaustive", "GeneticAlgorithm", "OptunaStrategy", "RandomSearch",
           "STRATEGIES", "DEFAULT_STRATEGY", "make_strategy"]
