"""List-scheduling seeds: jobs in a priority order, each onto the core where it ends first.

A job's estimated duration on a core is its latency, or the time its data takes at the full
off-chip bandwidth if that is longer. Rules: earliest finish (``eft``), and a bandwidth-aware
rule that also counts the data all cores must move (``eft-bw``). Each core then runs its
jobs in the order they were assigned (longest first for the longest-first orders).
"""

from __future__ import annotations

import numpy as np

from .problem import Problem


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
