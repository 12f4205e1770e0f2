"""Job tables with searched dataflows instead of MAGMA's three fixed templates.

For each distinct (layer shape, core hardware) the mapper's tuner searches a mapping with a
small budget; the tuned entry replaces the template's where it is faster once bandwidth is
counted: its duration ``max(latency, latency x demand / share)`` is shorter, ``share`` being
one core's even share of the off-chip bandwidth. (Latency alone is not enough: a faster
mapping that moves more data lengthens the other cores' jobs through bandwidth sharing.)
A core is thus no longer tied to one dataflow style. Latency and demand are defined as in
the template table (:mod:`.job_table`; under ``physical``: the core's own off-chip port
unbounded, demand = DRAM traffic / latency), and the tuner scores mappings with the table's
cost model.

The even-share test cannot see the schedule: on a link that is saturated part of the time,
a tuned entry that is quicker at an even share but moves more data lengthens the jobs that
run beside it. :func:`schedule_tuned` therefore chooses, per scheduled job, between the
template and the tuned mapping by the makespan of the schedule itself, and searches
schedules from both tables and from the chosen mix; the template table's best schedule
is one of its candidates, so the result is never longer than it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace

import numpy as np

from mapper.tuning.settings import TuneSettings
from mapper.tuning.tuner import tune_layer

from .evaluator import energies, simulate
from .job_table import JobTable, cost_layer, demand, physical_demand, table_hardware
from .problem import Problem, SearchResult, run_search
from .registry import DEFAULT_STRATEGY, make_strategy


def tuned_entry(layer, core, budget: int, seed: int, time_limit: float | None = None,
                cost_model: str = "maestro") -> tuple[float, float, float]:
    """(latency, demand, energy) of the best mapping the tuner finds for ``layer`` on ``core``."""
    settings = TuneSettings(budget=budget, seed=seed, jobs=1, islands=1, time_limit=time_limit,
                            cost_model=cost_model)
    res = tune_layer(cost_layer(layer, cost_model), table_hardware(core, cost_model), settings,
                     seed=seed)
    rep = res.report
    if rep is None or not rep.valid:
        return np.inf, np.inf, np.inf
    rt = float(rep.runtime)
    bw = (physical_demand(rep.dram_read + rep.dram_write, rt) if cost_model == "physical"
          else demand(rep.l2_size, rt))
    return rt, float(bw), float(rep.energy_nj)


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
                                 slot, table.cost_model)
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


@dataclass
class TunedSchedule:
    """The schedule :func:`schedule_tuned` keeps, the table it runs on, and where it came from.

    ``kept`` names the candidate kept: ``"templates"`` (the template table's best schedule),
    ``"tuned"`` (the best schedule on the even-share tuned table) or ``"chosen"`` (entries
    chosen per job by the schedule's makespan); ``tuned_jobs`` counts the jobs of the kept
    schedule that run a tuned mapping; ``stages`` holds every candidate's makespan and the
    schedule evaluations of all searches."""

    result: SearchResult
    table: JobTable
    kept: str
    tuned_jobs: int
    templates: SearchResult
    stages: dict = field(default_factory=dict)


def choose_entries(core: np.ndarray, key: np.ndarray, table: JobTable, tuned: JobTable,
                   use: np.ndarray, dram_bw: float) -> tuple[float, np.ndarray]:
    """Per job of the schedule ``(core, key)``, the template or the tuned entry on its core,
    whichever gives the shorter makespan: starting from the mix ``use`` (``[J, C]``, True =
    tuned entry), each job's entry is switched where that shortens the schedule, in rounds
    until no switch does. Returns the makespan and the new mix."""
    use = use.copy()
    jobs = np.arange(len(core))
    differs = ((tuned.latency != table.latency) | (tuned.bw != table.bw))[jobs, core]
    lat, bw = _mix(table, tuned, use)
    best = float(simulate(lat, bw, core[None], key[None], dram_bw).makespan[0])
    improved = True
    while improved:
        improved = False
        for j in np.flatnonzero(differs):
            c = core[j]
            use[j, c] = not use[j, c]
            lat[j, c], bw[j, c] = _entry(table, tuned, use, j, c)
            m = float(simulate(lat, bw, core[None], key[None], dram_bw).makespan[0])
            if m < best:
                best, improved = m, True
            else:  # switch back
                use[j, c] = not use[j, c]
                lat[j, c], bw[j, c] = _entry(table, tuned, use, j, c)
    return best, use


def schedule_tuned(table: JobTable, tuned: JobTable, dram_bw: float, budget: int,
                   seed: int = 0, strategy: str = DEFAULT_STRATEGY,
                   templates: SearchResult | None = None) -> TunedSchedule:
    """Schedule with tuned dataflows, never longer than the template table's best schedule.

    1. the template table's best schedule (``templates``, or a search of ``budget``);
    2. a search on the even-share tuned table, its first batch holding that schedule;
    3. on both schedules, each job's entry chosen by the makespan (:func:`choose_entries`);
    4. a search on the better mix's table from its schedule, then the entries chosen again.
    The shortest of these is kept. Schedules are searched with ``budget`` evaluations each.
    """
    if templates is None:
        templates = _search(table, dram_bw, budget, seed, strategy)
    replaced = (tuned.latency != table.latency) | (tuned.bw != table.bw)
    init = (templates.core[None], templates.key[None])
    on_tuned = _search(tuned, dram_bw, budget, seed, strategy, init)
    none = np.zeros_like(replaced)
    cands = [("templates", templates, none), ("tuned", on_tuned, replaced)]
    mixes = [(*choose_entries(r.core, r.key, table, tuned, use, dram_bw), r)
             for _, r, use in cands]
    m, use, r = min(mixes, key=lambda x: x[0])
    mixed = _table(table, tuned, use)
    again = _search(mixed, dram_bw, budget, seed, strategy, (r.core[None], r.key[None]))
    m2, use2 = choose_entries(again.core, again.key, table, tuned, use, dram_bw)
    cands += [("chosen", replace(r, makespan=m), use), ("chosen", replace(again, makespan=m2),
                                                        use2)]
    stages = {"templates": templates.makespan, "tuned": on_tuned.makespan,
              "chosen_from_templates": mixes[0][0], "chosen_from_tuned": mixes[1][0],
              "chosen_searched": m2,
              "evaluations": templates.evaluations + on_tuned.evaluations + again.evaluations}
    kept, res, use = min(cands, key=lambda c: c[1].makespan)  # first of equals: templates
    final = _table(table, tuned, use)
    res = replace(res, energy=float(energies(final.energy, res.core)[0]))
    n_tuned = int(use[np.arange(len(res.core)), res.core].sum())
    return TunedSchedule(res, final, kept, n_tuned, templates, stages)


def _search(table: JobTable, dram_bw: float, budget: int, seed: int, strategy: str,
            initial: tuple[np.ndarray, np.ndarray] | None = None) -> SearchResult:
    p = Problem.from_table(table, dram_bw)
    params = {"initial": initial} if initial is not None and strategy == "hybrid" else {}
    return run_search(p, make_strategy(strategy, p, seed, **params), budget)


def _entry(table: JobTable, tuned: JobTable, use: np.ndarray, j: int, c: int):
    t = tuned if use[j, c] else table
    return t.latency[j, c], t.bw[j, c]


def _mix(table: JobTable, tuned: JobTable, use: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.where(use, tuned.latency, table.latency), np.where(use, tuned.bw, table.bw)


def _table(table: JobTable, tuned: JobTable, use: np.ndarray) -> JobTable:
    """The job table with the tuned entries where ``use`` is True."""
    lat, bw = _mix(table, tuned, use)
    return replace(table, latency=lat, bw=bw,
                   energy=np.where(use, tuned.energy, table.energy))
