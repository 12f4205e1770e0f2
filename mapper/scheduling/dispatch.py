"""Bandwidth-aware dispatching: build a schedule by running the cores forward in time.

Static list scheduling cannot see contention: jobs that run at the same time share the
off-chip bandwidth, so a schedule balanced on latencies can still end late. Here the
cores are simulated with the evaluator's proportional sharing while the schedule is built.
Whenever a core falls idle it takes the highest-priority waiting job for which it is a good
place: the job would end on this core no later than ``1 + slack`` times its earliest
uncontended end on any core. With ``bw_fit`` a job whose demand would push the cores past
the off-chip bandwidth is passed over while another acceptable job fits. Each built
schedule is one candidate; its makespan still comes from the exact evaluator.
"""

from __future__ import annotations

import numpy as np

from .problem import Problem


def dispatch(p: Problem, order: np.ndarray, slack: float = 0.0,
             bw_fit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """One schedule ``(core [J], key [J])`` from the priority ``order`` (first = most urgent)."""
    J, C = p.latency.shape
    lat = np.where(p.feasible, p.latency, np.inf)
    dem = np.maximum(np.nan_to_num(p.bw, posinf=0.0), 1e-30)
    pending = np.asarray(order, dtype=np.int64).copy()
    core = np.zeros(J, dtype=np.int64)
    key = np.zeros(J)
    left = np.zeros(C)  # data still to move by each core's running job
    rate = np.zeros(C)  # its demand (0: idle)
    free_at = np.zeros(C)  # uncontended estimate of when each core falls idle
    t, rank = 0.0, 0
    while len(pending) or rate.any():
        for c in np.flatnonzero(rate == 0):
            j = _pick(c, pending, lat, dem, t, free_at, rate.sum(), p.dram_bw, slack, bw_fit)
            if j is None:
                continue
            pending = pending[pending != j]
            core[j], key[j], rank = c, rank / J, rank + 1
            rate[c], left[c] = dem[j, c], lat[j, c] * dem[j, c]
            free_at[c] = t + lat[j, c]
        busy = rate > 0
        if not busy.any():  # nothing placeable: should not happen, but never loop forever
            for j in pending:
                core[j], key[j], rank = int(np.argmin(lat[j])), rank / J, rank + 1
            break
        share = rate * min(1.0, p.dram_bw / rate.sum())
        with np.errstate(divide="ignore"):
            dt = np.where(busy, left / np.where(busy, share, 1.0), np.inf)
        c = int(np.argmin(dt))
        t += dt[c]
        left -= dt[c] * share
        left[c], rate[c], free_at[c] = 0.0, 0.0, t
        free_at = np.maximum(free_at, t)
    return core, key


def _pick(c: int, pending: np.ndarray, lat: np.ndarray, dem: np.ndarray, t: float,
          free_at: np.ndarray, load: float, dram_bw: float, slack: float,
          bw_fit: bool) -> int | None:
    """The job idle core ``c`` should take now, or None to stay idle until the next event."""
    if not len(pending):
        return None
    L = lat[pending]
    here = t + L[:, c]
    best = np.min(free_at[None, :] + L, axis=1)
    ok = np.isfinite(here) & (here <= best * (1.0 + slack) + 1e-9)
    if not ok.any():
        return None
    if bw_fit:
        fits = ok & (load + dem[pending, c] <= dram_bw)
        if fits.any():
            ok = fits
    return int(pending[np.argmax(ok)])


def priority_orders(p: Problem, rng: np.random.Generator, n_noisy: int) -> list[np.ndarray]:
    """Longest first by best latency, by best uncontended duration, by data; plus noisy ones."""
    lat = np.where(p.feasible, p.latency, np.nan)
    dur = np.nanmin(np.maximum(lat, p.area / p.dram_bw), axis=1)
    area = np.nanmin(np.where(p.feasible, p.area, np.nan), axis=1)
    base = [np.nanmin(lat, axis=1), dur, np.nanmean(np.maximum(lat, p.area / p.dram_bw), axis=1)]
    out = [np.argsort(-b, kind="stable") for b in base]
    out.append(np.argsort(-area, kind="stable"))
    for i in range(n_noisy):
        b = base[i % len(base)] * np.exp(rng.normal(0.0, 0.3, p.num_jobs))
        out.append(np.argsort(-b, kind="stable"))
    return out


def dispatch_seeds(p: Problem, rng: np.random.Generator,
                   n_noisy: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Every priority order x (slack, bandwidth fit) rule: ``[S, J]`` core and key arrays."""
    cores, keys = [], []
    for order in priority_orders(p, rng, n_noisy):
        for slack, fit in ((0.0, True), (0.0, False), (0.1, True), (0.3, True)):
            c, k = dispatch(p, order, slack, fit)
            cores.append(c)
            keys.append(k)
    return np.array(cores), np.array(keys)
