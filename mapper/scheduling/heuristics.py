"""List-scheduling seeds: jobs in a priority order, each onto the core where it ends first.

A job's estimated duration on a core is its latency, or the time its data takes at the full
off-chip bandwidth if that is longer. Rules: earliest finish (``eft``), and a bandwidth-aware
rule that also counts the data all cores must move (``eft-bw``). Each core then runs its
jobs in the order they were assigned (longest first for the longest-first orders).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .problem import Problem


@contextmanager
def _quiet_stdout() -> Iterator[None]:
    """Silence file descriptor 1 around a HiGHS call: its MIP solver prints debugging lines
    (``HighsMipSolverData::...``) to stdout whatever the options, into the command's output."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (OSError, ValueError):  # no real stdout: nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def job_orders(p: Problem, rng: np.random.Generator, n_random: int = 2) -> list[np.ndarray]:
    """Priority orders: longest first by best / mean latency and by data, then random ones."""
    lat = np.where(p.feasible, p.latency, np.nan)
    dur = np.maximum(lat, p.area / p.dram_bw)
    out = [np.argsort(-np.nanmin(dur, axis=1), kind="stable"),
           np.argsort(-np.nanmean(dur, axis=1), kind="stable"),
           np.argsort(-np.nanmin(np.where(p.feasible, p.area, np.nan), axis=1), kind="stable"),
           np.argsort(-np.nanmin(lat, axis=1), kind="stable")]
    out += [rng.permutation(p.num_jobs) for _ in range(n_random)]
    return out


def list_schedule(p: Problem, order: np.ndarray, bw_weight: float = 0.0):
    """Assign jobs in ``order`` greedily; returns ``(core [J], key [J])``."""
    J, C = p.latency.shape
    dur = np.where(p.feasible, np.maximum(p.latency, p.area / p.dram_bw), np.inf)
    ready = np.zeros(C)
    data = 0.0
    core = np.zeros(J, dtype=np.int64)
    key = np.zeros(J)
    for rank, j in enumerate(order):
        finish = ready + dur[j]
        if bw_weight > 0:
            finish = np.maximum(finish, bw_weight * (data + p.area[j]) / p.dram_bw)
            finish = finish + 1e-9 * (ready + dur[j])  # ties: the earliest plain finish
        c = int(np.argmin(finish))
        core[j], key[j] = c, rank / J
        ready[c] += dur[j, c]
        data += p.area[j, c]
    return core, key


def seeds(p: Problem, rng: np.random.Generator, n_random: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Every (order, rule) combination, and each with its queues reversed: ``[S, J]`` arrays."""
    cores, keys = [], []
    for order in job_orders(p, rng, n_random):
        for w in (0.0, 1.0):
            c, k = list_schedule(p, order, w)
            cores += [c, c]
            keys += [k, 1.0 - k]
    return np.array(cores), np.array(keys)


def least_data(p: Problem, cap: float, refill: bool = True,
               start: np.ndarray | None = None) -> np.ndarray | None:
    """Cores ``[J]`` that move little data while no core's summed latency exceeds ``cap``.

    Every job starts on its least-data core (or on ``start``); while a core is over the cap,
    the move off an over-full core that adds the least data per cycle of load removed (onto
    a core where it fits) is made; with ``refill`` jobs then move to less-data cores while
    they fit. None if the cap cannot be met this way.
    """
    J, C = p.latency.shape
    lat = np.where(p.feasible, p.latency, np.inf)
    area = np.where(p.feasible, p.area, np.inf)
    rows = np.arange(J)
    core = np.argmin(area, axis=1) if start is None else start.copy()
    load = np.bincount(core, weights=lat[rows, core], minlength=C)
    with np.errstate(invalid="ignore"):
        while (load > cap * (1 + 1e-9)).any():
            jobs = np.flatnonzero((load > cap * (1 + 1e-9))[core])
            more = area[jobs] - area[jobs, core[jobs]][:, None]
            cost = np.where(load[None, :] + lat[jobs] <= cap, more, np.inf)
            cost = cost / lat[jobs, core[jobs]][:, None]
            i, c = np.unravel_index(np.argmin(cost), cost.shape)
            if not np.isfinite(cost[i, c]):
                return None
            j = jobs[i]
            load[core[j]] -= lat[j, core[j]]
            load[c] += lat[j, c]
            core[j] = c
        while refill:
            less = np.where(load[None, :] + lat <= cap, area - area[rows, core][:, None], 0.0)
            j, c = np.unravel_index(np.argmin(less), less.shape)
            if not less[j, c] < 0:
                break
            load[core[j]] -= lat[j, core[j]]
            load[c] += lat[j, c]
            core[j] = c
    return core


def least_data_lp(p: Problem, cap: float) -> np.ndarray | None:
    """Like :func:`least_data`, from the linear relaxation (HiGHS): each job on the core
    holding most of it, then over-full cores repaired and jobs refilled greedily. The
    relaxation splits at most one job per core, so the rounding changes little."""
    from scipy.optimize import linprog
    from scipy.sparse import coo_matrix

    J, C = p.latency.shape
    jj, cc = np.nonzero(p.feasible)
    n = len(jj)
    area = p.area[jj, cc]
    one = coo_matrix((np.ones(n), (jj, np.arange(n))), shape=(J, n))
    loads = coo_matrix((p.latency[jj, cc], (cc, np.arange(n))), shape=(C, n))
    with _quiet_stdout():
        res = linprog(area / max(area.max(), 1e-30), A_ub=loads, b_ub=np.full(C, cap),
                      A_eq=one, b_eq=np.ones(J), bounds=(0, 1), method="highs")
    if res.status != 0:
        return None
    x = np.zeros((J, C))
    x[jj, cc] = res.x
    return least_data(p, cap, True, np.argmax(x, axis=1))


def data_seeds(p: Problem, longest: float, n_caps: int = 40,
               lp: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Least-data assignments under core-load caps from the load bound up to ``longest``.

    Where the off-chip link stays saturated, the makespan is the data all jobs move divided
    by the bandwidth, and the data a job moves depends on its core: the least-data cores
    are slow, so the cap on their load is the trade-off. Assignments come from the greedy
    :func:`least_data` (with and without refill) and, with ``lp``, from
    :func:`least_data_lp`; each runs its queues with the lowest demand first (the link
    stays busy to the end), and longest first: ``[S, J]`` core and key arrays.
    """
    lat = np.where(p.feasible, p.latency, np.inf)
    low = max(lat.min(axis=1).max(), lat.min(axis=1).sum() / p.num_cores)
    rows = np.arange(p.num_jobs)
    cores, keys, seen = [], [], set()
    for cap in np.geomspace(low, max(longest, low), n_caps):
        found = [least_data(p, cap, False), least_data(p, cap, True)]
        if lp:
            found.append(least_data_lp(p, cap))
        for c in found:
            if c is None or c.tobytes() in seen:
                continue
            seen.add(c.tobytes())
            dem, dur = p.bw[rows, c], lat[rows, c]
            cores += [c, c]
            keys += [np.argsort(np.argsort(dem, kind="stable")) / p.num_jobs,
                     np.argsort(np.argsort(-dur, kind="stable")) / p.num_jobs]
    J = p.num_jobs
    return (np.array(cores).reshape(-1, J).astype(np.int64), np.array(keys).reshape(-1, J))


def min_load(p: Problem, offset: np.ndarray | None = None, bound: float = np.inf,
             node_limit: int = 1000, time_limit: float = 10.0) -> np.ndarray | None:
    """Cores ``[J]`` that minimise the largest summed latency of a core plus its ``offset``
    (e.g. the delay contention added to it in a known schedule): the makespan when the
    off-chip link is mostly idle. From the integer program solved by HiGHS within
    ``node_limit`` branch-and-bound nodes (``time_limit`` seconds only as a safety net);
    ``bound`` (e.g. a known schedule's value) cuts off every assignment that does not beat
    it, which keeps the limited search from ending on a worse one. None if none was found."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import coo_matrix, hstack

    J, C = p.latency.shape
    jj, cc = np.nonzero(p.feasible)
    n = len(jj)
    one = hstack([coo_matrix((np.ones(n), (jj, np.arange(n))), shape=(J, n)),
                  coo_matrix((J, 1))])
    loads = hstack([coo_matrix((p.latency[jj, cc], (cc, np.arange(n))), shape=(C, n)),
                    coo_matrix(-np.ones((C, 1)))])
    off = np.zeros(C) if offset is None else -np.asarray(offset, dtype=float)
    with _quiet_stdout():
        res = milp(np.r_[np.zeros(n), 1.0],
                   constraints=[LinearConstraint(one, 1, 1), LinearConstraint(loads, -np.inf, off)],
                   integrality=np.r_[np.ones(n), 0],
                   bounds=Bounds(0, np.r_[np.ones(n), bound]),
                   options={"node_limit": node_limit, "time_limit": time_limit,
                            "mip_rel_gap": 1e-7})
    if res.x is None:
        return None
    x = np.zeros((J, C))
    x[jj, cc] = res.x[:n]
    return np.argmax(x, axis=1)


def load_seeds(p: Problem, key: np.ndarray, offset: np.ndarray | None = None,
               bound: float = np.inf,
               node_limit: int = 1000) -> tuple[np.ndarray, np.ndarray] | None:
    """The :func:`min_load` assignment with queues in the order of ``key`` (e.g. the
    incumbent's), longest first and lowest demand first: ``[3, J]`` core and key arrays."""
    c = min_load(p, offset, bound, node_limit)
    if c is None:
        return None
    rows, J = np.arange(p.num_jobs), p.num_jobs
    keys = [key.copy(), np.argsort(np.argsort(-p.latency[rows, c], kind="stable")) / J,
            np.argsort(np.argsort(p.bw[rows, c], kind="stable")) / J]
    return np.array([c, c, c]), np.array(keys)
