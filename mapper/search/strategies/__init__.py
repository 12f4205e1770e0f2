"""Search strategies, all behind one ask/tell interface; see :mod:`.registry` to add one."""

from __future__ import annotations

from mapper.search.strategies.base import RunContext, Strategy
from mapper.search.strategies.exhaustive import Exhaustive
from mapper.search.strategies.genetic import GeneticAlgorithm
from mapper.search.strategies.optuna_samplers import OptunaStrategy
from mapper.search.strategies.random_search import RandomSearch
from mapper.search.strategies.registry import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    build_strategy,
    make_strategy,
    strategy_class,
)

__all__ = ["Strategy", "RunContext", "Exhaustive", "GeneticAlgorithm", "OptunaStrategy",
           "RandomSearch", "STRATEGIES", "DEFAULT_STRATEGY", "make_strategy", "build_strategy",
           "strategy_class"]
