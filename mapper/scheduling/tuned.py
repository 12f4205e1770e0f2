"""Job tables with searched dataflows instead of MAGMA's three fixed templates.

For each distinct (layer shape, core hardware) the mapper's tuner searches a mapping with a
small budget; the tuned entry replaces the template's where it is faster once bandwidth is
counted: its duration ``max(latency, latency x demand / share)`` is shorter, ``share`` being
one core's even share of the off-chip bandwidth. (Latency alone is not enough: a faster
mapping that moves more data lengthens the other cores' jobs through bandwidth sharing.)
A core is thus no longer tied to one dataflow style. Demand uses the template table's
formula.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from mapper.tuning.settings import TuneSettings
from mapper.tuning.tuner import tune_layer

from .job_table import JobTable, demand


def tuned_entry(layer, core, budget: int, seed: int,
                time_limit: float | None = None) -> tuple[float, float, float]:
    """(latency, demand, energy) of the best mapping the tuner finds for ``layer`` on ``core``."""
    settings = TuneSettings(budget=budget, seed=seed, jobs=1, islands=1, time_limit=time_limit)
    res = tune_layer(layer, core.hw(), settings, seed=seed)
    if res.report is None or not res.report.valid:
        return np.inf, np.inf, np.inf
    rt = float(res.report.runtime)
    return rt, float(demand(res.report.l2_size, rt)), float(res.report.energy_nj)


def tune_job_table(table: JobTable, budget: int, dram_bw: float | None = None,
                   seed: int = 0, time_limit: float | None = None) -> tuple[JobTable, dict]:
    """A copy of ``table`` with tuned entries where they are faster; and run statistics.
    Without ``dram_bw`` entries are compared on latency alone.

    With ``time_limit`` (seconds, whole table) each pair gets an even share of the time
    left, and pairs reached after the deadline keep their template entries."""
    t0 = time.perf_counter()
    lat, bw, en = table.latency.copy(), table.bw.copy(), table.energy.copy()
    pairs: dict[tuple, list[tuple[int, int]]] = {}
    for j, job in enumerate(table.jobs):
        for i, core in enumerate(table.setting.cores):
            pairs.setdefault((job.layer.shape_key(), repr(core.hw())), []).append((j, i))
    share_bw = dram_bw / len(table.setting.cores) if dram_bw else None
    tuned = 0
    for n, cells in enumerate(pairs.values()):
        slot = None
        if time_limit is not None:
            slot = (time_limit - (time.perf_counter() - t0)) / (len(pairs) - n)
            if slot <= 0.05:
                break
        j0, i0 = cells[0]
        tl, tb, te = tuned_entry(table.jobs[j0].layer, table.setting.cores[i0], budget, seed,
                                 slot)
        tuned += 1
        for j, i in cells:
            if _duration(tl, tb, share_bw) < _duration(lat[j, i], bw[j, i], share_bw):
                lat[j, i], bw[j, i], en[j, i] = tl, tb, te
    stats = {"pairs": len(pairs), "tuned_pairs": tuned, "budget_per_pair": budget,
             "entries_replaced": int((lat != table.latency).sum()),
             "seconds": round(time.perf_counter() - t0, 2)}
    return replace(table, latency=lat, bw=bw, energy=en), stats


def _duration(latency: float, bw: float, dram_bw: float | None) -> float:
    if not np.isfinite(latency):
        return np.inf
    return latency if dram_bw is None else max(latency, latency * bw / dram_bw)
