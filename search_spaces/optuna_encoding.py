"""A mapping genome as numeric Optuna parameters, so that any Optuna sampler can search a
:class:`MappingSpace`.

Only integer and float parameters are used (CMA-ES handles nothing else): a loop order is
encoded by random keys (one float per dim, sorted), a spatial dim by its index, tiles and
cluster sizes as log-scaled integers. The same parameters always give the same genome, so a
finished trial's genome can be rebuilt with ``optuna.trial.FixedTrial``.
"""

from __future__ import annotations

import numpy as np

from .genomes import Genomes
from .mapping_space import MappingSpace


def suggest(space: MappingSpace, trial) -> Genomes:
    """One repaired genome of ``space`` drawn through the Optuna ``trial`` (or rebuilt from
    an ``optuna.trial.FixedTrial`` of a finished trial's parameters)."""
    L, D = space.L, space.D
    levels = trial.suggest_int("levels", space.min_levels, space.max_levels)
    order = np.zeros((1, L, D), dtype=np.int64)
    par = np.zeros((1, L), dtype=np.int64)
    par2 = np.full((1, L), -1, dtype=np.int64)
    tiles = np.ones((1, L, D), dtype=np.int64)
    clusters = np.ones((1, L), dtype=np.int64)
    for lv in range(L):
        keys = [trial.suggest_float(f"l{lv}_key_{d}", 0.0, 1.0) for d in space.dims]
        order[0, lv] = np.argsort(keys)
        par[0, lv] = space.par_idx[trial.suggest_int(f"l{lv}_par", 0, len(space.par_idx) - 1)]
        if space.second_spatial:
            j = trial.suggest_int(f"l{lv}_par2", -1, len(space.par2_idx) - 1)
            par2[0, lv] = -1 if j < 0 else space.par2_idx[j]
        for k, d in enumerate(space.dims):
            if space.filter_mask[k] and not space.rs_spatial:
                continue
            tiles[0, lv, k] = trial.suggest_int(f"l{lv}_tile_{d}", 1, int(space.extent[k]),
                                                log=True)
        if lv > 0:
            clusters[0, lv] = trial.suggest_int(f"l{lv}_cluster", 1, space.P, log=True)
    g = Genomes(np.array([levels]), order, par, tiles, clusters, par2)
    return space.repair(g)
