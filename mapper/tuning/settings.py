"""How to tune: :class:`TuneSettings`, its defaults (held here once) and its validation."""

from __future__ import annotations

import hashlib
import json
import math
import numbers
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path

from costmodel import Hardware
from costmodel.analysis import COST_MODELS
from costmodel.errors import MaestroInputError
from costmodel.sparsity import SparsityConfig
from mapper.search.evaluator import OBJECTIVES
from mapper.search.strategies import DEFAULT_STRATEGY
from mapper.search.strategies.registry import REGISTRY
from search_spaces import Constraints
from search_spaces.templates import GEMM_TEMPLATES, TEMPLATES

# Cost-model evaluations per distinct layer: two islands of 24,000 plus a reserve of two extra
# islands of 7,200, spent only on layers that need them (mapper.tuning.plan; the figures
# behind these values are in docs/decisions.md, "Default budget").
DEFAULT_BUDGET = 62_400
DEFAULT_ISLANDS = 2
# A layer whose best latency after its islands is more than EXTEND_GAP above its compute
# bound, but not more than EXTEND_MAX_GAP, gets DEFAULT_EXTRA_ISLANDS more islands: most
# layers end within 0.1% of that bound, where independent restarts pay; a layer far above it
# is limited by its shape rather than by the search.
DEFAULT_EXTRA_ISLANDS = 2
EXTEND_GAP = 0.005
EXTEND_MAX_GAP = 0.2
# An island ends once its best latency is within STOP_GAP of the layer's floor (the compute
# bound, or the busiest PE's least work over the space): the last few cycles above it took
# 34% of ResNet-50's evaluations (docs/speed.md, "Stopping near the bound").
STOP_GAP = 1e-4
# ... under a per-layer budget of at least this many evaluations (or a time limit alone): a
# smaller budget is a request for the best mapping those evaluations find, and stopping near
# the bound saves little there (docs/decisions.md, "Stop gap only on large budgets").
STOP_GAP_MIN_BUDGET = 24_000
# a pruning search under a per-layer budget below this skips candidates that overflow the
# L1 without counting them; above it, measured on the quality benchmark, doing so took 18%
# more time for no better latency (docs/decisions.md, "Buffers as MAESTRO sizes them")
L1_PRUNE_BELOW = 24_000
BACKENDS = ("loky", "threading", "multiprocessing", "dask")
# the packages whose code decides what a tuning run finds (their sources are fingerprinted)
RESULT_PACKAGES = ("costmodel", "search_spaces", "mapper/search", "mapper/tuning")


@cache
def code_version() -> str:
    """Digest of the sources of :data:`RESULT_PACKAGES`: a checkpoint written by other code
    (another version of the cost model or the search) is not resumed."""
    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256()
    for pkg in RESULT_PACKAGES:
        for f in sorted((root / pkg).rglob("*.py")):
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]
# settings that change how a run is executed, not what it finds (not in the fingerprint)
EXECUTION_FIELDS = ("jobs", "storage", "backend", "scheduler")


@dataclass
class TuneSettings:
    """How to tune: strategy, objective, budgets per layer, seed, parallelism, space.

    Checked when built: a bad value raises :class:`MaestroInputError` (a ``ValueError``)
    naming the field."""

    strategy: str = DEFAULT_STRATEGY
    objective: str = "latency"
    budget: int | None = DEFAULT_BUDGET  # evaluations per distinct layer
    time_limit: float | None = None    # seconds per distinct layer (per island)
    seed: int = 0
    islands: int = DEFAULT_ISLANDS     # independent runs per layer sharing the budget
    extra_islands: int = DEFAULT_EXTRA_ISLANDS  # more islands for layers far above their bound
    extend_gap: float = EXTEND_GAP     # "far": best latency > floor x (1 + extend_gap)
    extend_max_gap: float = EXTEND_MAX_GAP  # ... and <= floor x (1 + extend_max_gap)
    # an island ends at floor x (1 + stop_gap) (plan.latency_floor); None: STOP_GAP on
    # budgets of at least STOP_GAP_MIN_BUDGET, else 0 (see island_stop_gap)
    stop_gap: float | None = None
    jobs: int = -1                     # worker processes (-1: all cores); results independent
    max_levels: int = 2
    template: str | None = None        # restricted space (see search_spaces.templates)
    pareto: bool = False               # also keep each layer's latency/energy/area front
    prune: bool = True                 # skip (and do not count) candidates that cannot win
    storage: str | None = None         # Optuna storage URL for Optuna samplers (sqlite/postgres)
    backend: str = "loky"              # joblib backend: loky, threading, multiprocessing, dask
    scheduler: str | None = None       # Dask scheduler address for backend="dask"
    cost_model: str = "physical"       # costmodel.analysis.COST_MODELS (as `mapper tune`)
    sparsity: SparsityConfig | None = None  # formats / skip / gate (physical model only)
    constraints: Constraints = field(default_factory=Constraints)
    strategy_params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        _one_of("strategy", self.strategy, tuple(REGISTRY))
        _one_of("objective", self.objective, OBJECTIVES)
        _one_of("backend", self.backend, BACKENDS)
        _one_of("cost_model", self.cost_model, COST_MODELS)
        if self.budget is None and self.time_limit is None:
            _bad("budget", "give an evaluation budget, a time limit, or both")
        if self.budget is not None:
            _at_least("budget", self.budget, 1)
        if self.time_limit is not None and not (_is_number(self.time_limit)
                                                and 0 < self.time_limit < math.inf):
            _bad("time_limit", f"must be a positive number of seconds, got {self.time_limit!r}")
        _integer("seed", self.seed)
        _at_least("islands", self.islands, 1)
        _at_least("extra_islands", self.extra_islands, 0)
        _at_least("max_levels", self.max_levels, 1)
        _integer("jobs", self.jobs)
        if self.jobs == 0:
            _bad("jobs", "must not be 0 (-1: all cores, n: n workers)")
        if self.stop_gap is not None and not (_is_number(self.stop_gap)
                                              and 0 <= self.stop_gap < math.inf):
            _bad("stop_gap", f"must be a number >= 0, got {self.stop_gap!r}")
        gaps = (self.extend_gap, self.extend_max_gap)
        if not (all(map(_is_number, gaps)) and 0 <= self.extend_gap <= self.extend_max_gap):
            _bad("extend_gap", "need 0 <= extend_gap <= extend_max_gap, got "
                 f"{self.extend_gap} and {self.extend_max_gap}")
        if self.template not in (None, "", "free"):
            _one_of("template", str(self.template).partition(":")[0],
                    tuple(TEMPLATES) + tuple(GEMM_TEMPLATES))
        if self.sparsity is not None and not isinstance(self.sparsity, SparsityConfig):
            _bad("sparsity", f"must be a SparsityConfig, got {type(self.sparsity).__name__}")
        if not isinstance(self.constraints, Constraints):
            _bad("constraints", f"must be a Constraints, got {type(self.constraints).__name__}")
        if not isinstance(self.strategy_params, dict):
            _bad("strategy_params", "must be a dict of the strategy's parameters")

    def island_stop_gap(self) -> float:
        """The ``stop_gap`` each island searches with: the one given, else :data:`STOP_GAP`
        under a budget of at least :data:`STOP_GAP_MIN_BUDGET` or a time limit alone, else 0
        (a small budget is spent in full)."""
        if self.stop_gap is not None:
            return self.stop_gap
        return STOP_GAP if self.budget is None or self.budget >= STOP_GAP_MIN_BUDGET else 0.0

    def prunes_l1(self) -> bool:
        """Whether a pruning search also skips (and does not count) candidates whose tiles
        overflow the L1: under a per-layer budget below :data:`L1_PRUNE_BELOW`, where
        evaluations are few and a tight L1 can reject most of them; a larger budget spends
        them as before, which measured as fast and as good (docs/decisions.md, "Buffers as
        MAESTRO sizes them")."""
        return self.budget is not None and self.budget < L1_PRUNE_BELOW

    def fingerprint(self, hw: Hardware) -> str:
        """Identifies settings + hardware + code, so a checkpoint is only reused by the same
        run of the same version."""
        d = asdict(self)
        for k in EXECUTION_FIELDS:
            d.pop(k)
        d["hardware"] = hw.to_dict()
        d["code"] = code_version()
        if self.sparsity is None:   # fingerprints of runs without sparsity stay as they were
            d.pop("sparsity")
        else:
            d["sparsity"] = self.sparsity.to_dict()
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _bad(name: str, message: str):
    raise MaestroInputError(f"TuneSettings.{name}: {message}", rule="settings")


def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and not math.isnan(v)


def _integer(name: str, v) -> None:
    if not isinstance(v, numbers.Integral) or isinstance(v, bool):
        _bad(name, f"must be an integer, got {v!r}")


def _at_least(name: str, v, low: int) -> None:
    _integer(name, v)
    if v < low:
        _bad(name, f"{name} must be at least {low}, got {v}")


def _one_of(name: str, v, known) -> None:
    if v not in known:
        _bad(name, f"unknown {name} {v!r}; expected one of {', '.join(known)}")
