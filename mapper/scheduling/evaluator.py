"""Schedule evaluator: cores run their queues in order and share off-chip bandwidth.

A job on core c must move ``area = latency x demand`` elements. While the cores' summed
demand exceeds the off-chip bandwidth each gets a share in proportion to its demand, so a
job lasts its latency when bandwidth is plentiful and longer when it is not. The simulation
jumps from one job completion to the next, with MAGMA's operation order and tie-breaking
(one core is advanced per event), so a schedule's makespan equals MAGMA's bit for bit.

Everything is vectorised over a batch of schedules: ``core`` and ``key`` are ``[B, J]``
arrays (core index, and a priority key that orders each core's queue; ties by job index).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPSILON = 1e-12  #: remaining data below this counts as done (MAGMA's threshold)


@dataclass
class Timeline:
    """Per schedule: makespan, per-job start/end (only if recorded), per-core finish time."""

    makespan: np.ndarray  # [B]
    core_finish: np.ndarray  # [B, C]
    start: np.ndarray | None = None  # [B, J]
    end: np.ndarray | None = None  # [B, J]


def queue_order(core: np.ndarray, key: np.ndarray, num_cores: int):
    """Jobs sorted by (core, key, job), and each core's [first, end) slice of that order."""
    B, J = core.shape
    order = np.lexsort((key, core), axis=-1)
    counts = np.zeros((B, num_cores), dtype=np.int64)
    np.add.at(counts, (np.repeat(np.arange(B), J), core.ravel()), 1)
    end = np.cumsum(counts, axis=1)
    return order, end - counts, end


def positions(core: np.ndarray, key: np.ndarray, num_cores: int) -> np.ndarray:
    """Each job's position in its core's queue (0 = runs first), ``[B, J]``."""
    order, first, _ = queue_order(core, key, num_cores)
    B, J = core.shape
    rows = np.arange(B)[:, None]
    pos = np.empty_like(order)
    pos[rows, order] = np.arange(J)[None, :] - first[rows, core[rows, order]]
    return pos


def simulate(latency: np.ndarray, bw: np.ndarray, core: np.ndarray, key: np.ndarray,
             dram_bw: float, record: bool = False) -> Timeline:
    """Run every schedule of the batch; ``latency``/``bw`` are the job table's ``[J, C]``."""
    core = np.atleast_2d(np.asarray(core, dtype=np.int64))
    key = np.atleast_2d(np.asarray(key, dtype=np.float64))
    B, J = core.shape
    C = latency.shape[1]
    area = latency * bw
    order, ptr, end = queue_order(core, key, C)
    rows = np.arange(B)
    A = np.full((B, C), np.inf)
    R = np.zeros((B, C))
    cur = np.full((B, C), -1, dtype=np.int64)
    now = np.zeros(B)
    finish = np.zeros((B, C))
    start = np.zeros((B, J)) if record else None
    stop = np.zeros((B, J)) if record else None
    for c in range(C):  # first job of every core
        col = np.full(B, c)
        _load(col, rows, np.ones(B, bool), ptr, end, order, area, bw, A, R, cur, now, start)
    with np.errstate(divide="ignore", invalid="ignore"):
        for _ in range(J + C):
            live = np.isfinite(A).any(axis=1)
            if not live.any():
                break
            tot = np.sum(R, axis=1)
            adj = np.where((tot > dram_bw)[:, None], R * dram_bw / tot[:, None], R)
            t = A / adj
            dt = np.where(live, np.min(t, axis=1), 0.0)
            now += dt
            t -= dt[:, None]
            A -= dt[:, None] * adj
            A[np.abs(A) < EPSILON] = 0
            nxt = np.argmin(t, axis=1)
            if record:
                done = cur[rows, nxt]
                ok = live & (done >= 0)
                stop[rows[ok], done[ok]] = now[ok]
            finish[rows[live], nxt[live]] = now[live]
            _load(nxt, rows, live, ptr, end, order, area, bw, A, R, cur, now, start)
    bad = ~np.isfinite(latency[np.arange(J)[None, :], core]).all(axis=1)
    now[bad] = np.inf  # a job on a core it does not fit
    return Timeline(now, finish, start, stop)


def _load(c, rows, live, ptr, end, order, area, bw, A, R, cur, now, start) -> None:
    """Give core ``c[b]`` of each live schedule its next queued job (or retire it)."""
    p = ptr[rows, c]
    has = live & (p < end[rows, c])
    job = order[rows, np.minimum(p, order.shape[1] - 1)]
    r, cc, j = rows[has], c[has], job[has]
    A[r, cc] = area[j, cc]
    R[r, cc] = bw[j, cc]
    cur[r, cc] = j
    ptr[r, cc] += 1
    if start is not None:
        start[r, j] = now[r]
    off = live & ~has
    r, cc = rows[off], c[off]
    A[r, cc] = np.inf
    R[r, cc] = 0.0
    cur[r, cc] = -1


def makespans(latency: np.ndarray, bw: np.ndarray, core: np.ndarray, key: np.ndarray,
              dram_bw: float) -> np.ndarray:
    """Makespan of each schedule of the batch, ``[B]`` cycles."""
    return simulate(latency, bw, core, key, dram_bw).makespan


def energies(energy: np.ndarray, core: np.ndarray) -> np.ndarray:
    """Total energy of each schedule: every job's energy on its core, ``[B]``."""
    core = np.atleast_2d(core)
    return energy[np.arange(core.shape[1])[None, :], core].sum(axis=1)
