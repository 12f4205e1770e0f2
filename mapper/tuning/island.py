"""One island: a run of the strategy on one layer, as a worker process executes it."""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path

from mapper.search.evaluator import Evaluator
from mapper.search.loop import SearchResult, run_search
from mapper.search.pareto import ParetoArchive
from mapper.search.strategies import RunContext, build_strategy, strategy_class
from mapper.search.strategies.base import RESUME_STORAGE
from mapper.tuning.checkpoint import shape_hash
from mapper.tuning.plan import IslandTask
from search_spaces import Genomes
from search_spaces.templates import make_space


def run_island(task: IslandTask) -> SearchResult:
    """Search ``task.layer`` with ``task.budget`` evaluations (``task.widen``: in the free
    space with R/S also allowed as spatial dims). A strategy that resumes from a state file
    gets the task's; one that keeps its trials in a storage (Optuna) gets the settings'
    shared storage, or by default an SQLite file beside the state file."""
    s = task.settings
    space = make_space(task.layer, task.hardware, s.template, max_levels=s.max_levels)
    if task.widen:
        space = dataclasses.replace(space, rs_spatial=True)
    cls = strategy_class(s.strategy)
    run = RunContext(objective=s.objective, pareto=s.pareto, island=task.shared,
                     widened=task.widen)
    params = dict(s.strategy_params)
    if task.shared and task.island % 2 == 1 and s.strategy == "ga" and "splits" not in params:
        # every second island of a shared budget makes two split structures per generation:
        # islands then differ in how far they leave one-level basins (docs/decisions.md,
        # "GA islands")
        params["splits"] = 2
    starts = [g for g in map(space.encode, task.starts) if g is not None]
    if starts and "seeds" in inspect.signature(cls).parameters:
        # the mappings the model file states open the first sample (with the smallest
        # tiles of a widened space, its own seeds)
        opts = cls.options(space, run)
        first = [opts["seeds"]] if opts.get("seeds") is not None else []
        params["seeds"] = Genomes.concat(first + starts)
    state_file = task.state_file
    if cls.resume == RESUME_STORAGE:
        params.update(_storage_params(task))
        state_file = None
    strategy = build_strategy(s.strategy, space, task.seed, run, **params)
    # skipping candidates that cannot beat the best latency: a Pareto front needs them
    prune = s.prune and cls.prunes and not s.pareto
    evaluator = Evaluator(space, s.objective, s.constraints, prune=prune,
                          cost_model=s.cost_model, sparsity=s.sparsity,
                          stop_gap=s.island_stop_gap(), prune_l1=s.prunes_l1())
    return run_search(space, strategy, evaluator, budget=task.budget, time_limit=s.time_limit,
                      pareto=ParetoArchive() if s.pareto else None, state_file=state_file)


def _storage_params(task: IslandTask) -> dict:
    """Storage parameters of a strategy that keeps its trials in a database. A storage the
    user gave may be shared by workers on many machines: the budget then caps the whole
    study's trials, not each worker's."""
    s = task.settings
    storage = s.storage
    if storage is None and task.state_file is not None:
        Path(task.state_file).parent.mkdir(parents=True, exist_ok=True)
        storage = f"sqlite:///{Path(task.state_file).with_suffix('.optuna.db')}"
    if storage is None:
        return {}
    shared = s.storage is not None
    return {"storage": storage, "shared": shared,
            "max_trials": task.budget if shared else None,
            "study_name": f"{task.layer.name}-{shape_hash(task.layer)}-"
                          f"{s.fingerprint(task.hardware)}"}
