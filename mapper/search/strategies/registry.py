"""The registry of search strategies: names, classes, fixed parameters and capabilities.

How to add a strategy:

1. Write a :class:`~mapper.search.strategies.base.Strategy` subclass in its own module:
   ``ask``/``tell``, a ``name``, its capabilities as class attributes (``islands``,
   ``prunes``, ``resume``, ``enumerates``, ``multi_objective``) and, if it needs parameters
   that depend on the run (objective, Pareto front, island, widened space), an ``options``
   class method returning them.
2. Add one :func:`register` line below.

The tuner, the comparison harness and the CLI read everything else from here: nothing there
needs editing. ``tests/mapper/search/strategies/test_registry.py`` checks every registered strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mapper.search.strategies.base import RunContext, Strategy
from mapper.search.strategies.exhaustive import Exhaustive
from mapper.search.strategies.genetic import GeneticAlgorithm
from mapper.search.strategies.optuna_samplers import SAMPLERS, OptunaStrategy
from mapper.search.strategies.random_search import RandomSearch
from search_spaces import MappingSpace


@dataclass(frozen=True)
class StrategyEntry:
    """A registered strategy: its class and the parameters its name fixes."""

    name: str
    cls: type[Strategy]
    fixed: dict = field(default_factory=dict)


REGISTRY: dict[str, StrategyEntry] = {}


def register(name: str, cls: type[Strategy], **fixed) -> None:
    """Make ``cls`` available as ``name``, built with the ``fixed`` parameters."""
    if name in REGISTRY:
        raise ValueError(f"strategy {name!r} is registered twice")
    REGISTRY[name] = StrategyEntry(name, cls, fixed)


register("ga", GeneticAlgorithm)
register("random", RandomSearch)
register("exhaustive", Exhaustive)
for _sampler in SAMPLERS:
    register(_sampler, OptunaStrategy, sampler=_sampler)

STRATEGIES: tuple[str, ...] = tuple(REGISTRY)
DEFAULT_STRATEGY = "ga"


def strategy_class(name: str) -> type[Strategy]:
    """The class registered as ``name`` (its capabilities are class attributes)."""
    return entry(name).cls


def entry(name: str) -> StrategyEntry:
    """The registry entry of ``name``; a clear error naming the known ones otherwise."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown strategy {name!r}; expected one of "
                         f"{', '.join(REGISTRY)}") from None


def make_strategy(name: str, space: MappingSpace, seed: int = 0, **params) -> Strategy:
    """Build the strategy registered as ``name`` with ``params`` (no run-dependent options)."""
    e = entry(name)
    return e.cls(space, seed, **{**params, **e.fixed})


def build_strategy(name: str, space: MappingSpace, seed: int, run: RunContext,
                   **params) -> Strategy:
    """Build ``name`` for ``run``: the options it declares for the run
    (:meth:`Strategy.options`), overridden by ``params``."""
    return make_strategy(name, space, seed, **{**strategy_class(name).options(space, run),
                                                **params})
