"""The default strategy: constructive seeds, then a memetic search (crossover + local moves).

The first batch holds the given ``initial`` schedules (e.g. a good schedule of a related
job table), the static list-scheduling seeds of :mod:`.heuristics` and the bandwidth-aware
dispatching seeds of :mod:`.dispatch` (topped up with random schedules).
If its best schedule keeps the off-chip link saturated (makespan close to the data moved
over the bandwidth), the next batches start with least-data assignments under core-load
caps (:func:`.heuristics.data_seeds`, greedy and from the linear relaxation): there the
constructive seeds balance the cores but move more data than needed, and no small move
leaves their basin.
Each later batch mixes (a) one to three local moves on the incumbent (move a job off the
core that finishes last or the most loaded one, move any job, swap two jobs' cores, swap two
jobs' queue places, move a job within its own queue; where the link is mostly idle, "any
job" favours the jobs that run while it is oversubscribed),
(b) moves on tournament-picked members of a small elite population and (c) uniform or
sub-schedule crossover of two members. Survivors are the best distinct makespans of the
population and the batch, children first, so equal-makespan moves are taken (plateaus).

Over the last ``polish`` part of the budget the search descends from the incumbent:
batches shrink to ``polish_batch`` schedules (more steps for the same evaluations), and
the improving few-job changes of a batch are also tried together on the incumbent they
improved (a batch of single moves finds many improving changes of different jobs, but
keeping only the best takes a batch per step). Where the link is mostly idle the
makespan is close to the largest core finish, so at the start of that phase the
incumbent's jobs are reassigned once by the min-max-load integer program
(:func:`.heuristics.min_load`), each core keeping the contention delay it has in the
incumbent, bounded by the incumbent's value: plateaus of a near-balanced assignment,
which no single move or swap leaves, are left in one step.
"""

from __future__ import annotations

import numpy as np

from .dispatch import dispatch_seeds
from .heuristics import data_seeds, load_seeds, seeds
from .problem import Problem
from .strategies import ScheduleStrategy


class HybridSearch(ScheduleStrategy):
    """Seeds + (mu + lambda) memetic search; see the module docstring."""

    name = "hybrid"

    def __init__(self, problem: Problem, seed: int = 0, batch_size: int = 100,
                 population: int = 32, n_random_orders: int = 2, incumbent: float = 0.25,
                 crossover: float = 0.4, n_kinds: int = 6,
                 seeding: str = "both", polish: float = 0.3, saturated: float = 0.25,
                 data_lp: bool = True, contention: float = 0.5,
                 idle_ratio: float = 4.0, compose: int = 8, delta_genes: int = 6,
                 polish_batch: int = 25, balance: bool = True,
                 rebalance_gain: float = 1e-9,
                 initial: tuple[np.ndarray, np.ndarray] | None = None):
        super().__init__(problem, seed, batch_size)
        self.mu = population
        self.n_random_orders = n_random_orders
        self.f_inc, self.f_cx = incumbent, crossover
        self.polish = polish
        self.told = 0
        self.pop: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.n_kinds = n_kinds
        self.seeding = seeding
        self.saturated = saturated
        self.queued: tuple[np.ndarray, np.ndarray] | None = None
        self.data_lp = data_lp
        self.contention = contention
        self.idle_ratio = idle_ratio
        self.idle_link = False
        self.link = "mixed"  #: "saturated", "idle" or "mixed", from the first batch
        self.compose = compose
        self.polish_batch = polish_batch
        self.balance = balance
        self.balanced = False
        self.rebalance_gain = rebalance_gain
        self.delta_genes = delta_genes
        self.base: tuple[np.ndarray, np.ndarray, float] | None = None  # incumbent at ask
        self.deltas: list[tuple[float, np.ndarray, np.ndarray, np.ndarray]] = []
        self.initial = initial  #: ``(core [B, J], key [B, J])`` put first in the first batch
        self.lat = np.where(problem.feasible, np.maximum(
            problem.latency, problem.area / problem.dram_bw), np.inf)

    def ask(self, limit=None):
        n = self._n(limit)
        if self.pop is None:
            c, k = self._seeds()
            if len(c) >= n:
                return c[:n], k[:n]
            m = n - len(c)
            return (np.concatenate([c, self.random_cores(m)]),
                    np.concatenate([k, self.rng.random((m, self.problem.num_jobs))]))
        self.base = (self.pop[0][0].copy(), self.pop[1][0].copy(), float(self.pop[2][0]))
        if self._polishing():
            n = min(n, self.polish_batch)
            if self.link == "idle" and self.balance and not self.balanced:
                self.balanced = True
                self.queued = self._rebalanced()
        mixed = self._compositions(n)
        if mixed is not None:
            if len(mixed[0]) >= n:
                return mixed
            cc, kk = self._children(n - len(mixed[0]))
            return np.concatenate([mixed[0], cc]), np.concatenate([mixed[1], kk])
        if self.queued is not None and len(self.queued[0]):
            c, k = self.queued[0][:n], self.queued[1][:n]
            self.queued = (self.queued[0][n:], self.queued[1][n:])
            if len(c) < n:
                cc, kk = self._children(n - len(c))
                c, k = np.concatenate([c, cc]), np.concatenate([k, kk])
            return c, k
        return self._children(n)

    def tell(self, core, key, makespan, finish=None):
        fresh = self.pop is None
        self.told += len(core)
        self._collect_deltas(core, key, makespan)
        if finish is None:
            finish = np.zeros((len(core), self.problem.num_cores))
        if self.pop is not None:
            core = np.concatenate([core, self.pop[0]])
            key = np.concatenate([key, self.pop[1]])
            makespan = np.concatenate([makespan, self.pop[2]])
            finish = np.concatenate([finish, self.finish])
        idx = np.argsort(makespan, kind="stable")
        _, first = np.unique(makespan[idx], return_index=True)
        idx = idx[np.sort(first)][: self.mu]
        self.pop = (core[idx].copy(), key[idx].copy(), makespan[idx])
        self.finish = finish[idx].copy()
        if fresh and np.isfinite(self.pop[2][0]):
            self._classify_link()

    def _classify_link(self) -> None:
        """Compare the best first schedule's makespan with the data it moves over the
        bandwidth. Within ``saturated`` of it the link is the bottleneck: the least-data
        seeds of :func:`.heuristics.data_seeds` are queued for the next batches, since there
        the data moved, not the balance the constructive seeds aim at, sets the makespan.
        At ``idle_ratio`` times it or more the link is mostly idle: the makespan is set by
        long jobs slowed only in short oversubscribed stretches, so incumbent moves of any
        job favour (share ``contention``) the jobs running in those stretches, and the
        polish phase starts with a min-max-load reassignment (:meth:`_rebalanced`)."""
        p, best = self.problem, self.pop[2][0]
        data = p.area[np.arange(p.num_jobs), self.pop[0][0]].sum() / p.dram_bw
        if self.saturated > 0 and best <= (1.0 + self.saturated) * data:
            self.link = "saturated"
            self.queued = data_seeds(p, best, lp=self.data_lp)
        self.idle_link = best >= self.idle_ratio * data
        if self.idle_link:
            self.link = "idle"

    def _rebalanced(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The incumbent's jobs reassigned to minimise the largest core finish, each core
        keeping the delay contention adds to it in the incumbent (its real finish minus its
        summed latencies) and the jobs keeping their queue keys. Only assignments whose
        largest finish so estimated beats the incumbent's by ``rebalance_gain`` (relative)
        are accepted, which also steers the node-limited solve away from worse ones."""
        p = self.problem
        core = self.pop[0][0]
        load = np.bincount(core, weights=p.latency[np.arange(p.num_jobs), core],
                           minlength=p.num_cores)
        delay = np.maximum(self.finish[0] - load, 0.0) if self.finish[0].any() else None
        bound = (load + (0.0 if delay is None else delay)).max() * (1.0 - self.rebalance_gain)
        return load_seeds(p, self.pop[1][0], delay, bound)

    def _seeds(self) -> tuple[np.ndarray, np.ndarray]:
        parts = []
        if self.initial is not None:
            parts.append((np.atleast_2d(np.asarray(self.initial[0], dtype=np.int64)),
                          np.atleast_2d(np.asarray(self.initial[1], dtype=np.float64))))
        if self.seeding in ("list", "both"):
            parts.append(seeds(self.problem, self.rng, self.n_random_orders))
        if self.seeding in ("dispatch", "both"):
            parts.append(dispatch_seeds(self.problem, self.rng))
        return np.concatenate([c for c, _ in parts]), np.concatenate([k for _, k in parts])

    # -- compositions of improving moves ------------------------------------------------
    def _collect_deltas(self, core, key, makespan) -> None:
        """Keep the batch's schedules that beat the incumbent they were asked from by a
        change of a few jobs (core or queue key), as (makespan, jobs, cores, keys)."""
        self.deltas = []
        if self.base is None or self.compose < 2:
            return
        bc, bk, bm = self.base
        better = np.flatnonzero(makespan < bm)
        for i in better[np.argsort(makespan[better], kind="stable")]:
            jobs = np.flatnonzero((core[i] != bc) | (key[i] != bk))
            if 0 < len(jobs) <= self.delta_genes:
                self.deltas.append((float(makespan[i]), jobs, core[i, jobs], key[i, jobs]))

    def _compositions(self, n: int) -> tuple[np.ndarray, np.ndarray] | None:
        """Several improving changes of the last batch applied together on the incumbent
        they improved: the best with each of the next ones, and the best ``k`` together
        for every ``k`` (a change touching a job already changed is left out). A batch
        of single moves finds many improving changes of different jobs, but keeping only
        the best one takes a batch per step."""
        if len(self.deltas) < 2 or n <= 0 or not self._polishing():
            self.deltas = []
            return None
        bc, bk, _ = self.base
        top = self.deltas[: self.compose]
        combos = [[0, i] for i in range(1, len(top))] + [list(range(k))
                                                        for k in range(3, len(top) + 1)]
        out_c, out_k, seen = [], [], set()
        for combo in combos:
            c, k, used = bc.copy(), bk.copy(), np.zeros(len(bc), bool)
            for i in combo:
                _, jobs, cs, ks = top[i]
                if used[jobs].any():
                    continue
                used[jobs] = True
                c[jobs], k[jobs] = cs, ks
            sig = c.tobytes() + k.tobytes()
            if sig not in seen:
                seen.add(sig)
                out_c.append(c)
                out_k.append(k)
        self.deltas = []
        return np.array(out_c[:n]), np.array(out_k[:n])

    # -- offspring ------------------------------------------------------------------------
    def _children(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        r = self.rng
        P = len(self.pop[2])
        n_inc = int(n * self._incumbent_share())
        n_cx = int(n * self.f_cx)
        src = np.concatenate([np.zeros(n_inc, int), self._tournament(n - n_inc)])
        core, key = self.pop[0][src].copy(), self.pop[1][src].copy()
        if P > 1 and n_cx > 0:
            mates = self._tournament(n_cx)
            self._crossover(core[-n_cx:], key[-n_cx:], mates)
        w = None
        if self.contention > 0 and self.idle_link:
            w = self._overload(self.pop[0][0], self.pop[1][0])
        for i in range(n):
            moves = r.integers(1, 4) if i < n - n_cx else r.integers(0, 2)
            fin = self.finish[src[i]].copy()
            for _ in range(moves):
                self._move(core[i], key[i], fin, w if i < n_inc else None)
        return core, key

    def _overload(self, core: np.ndarray, key: np.ndarray) -> np.ndarray | None:
        """Each job's share of the time the link is oversubscribed in ``(core, key)``.

        Under proportional sharing every core slows by the same factor, so the schedule's
        uncontended timeline (each core running its queue back to back) orders all starts
        and ends as the real one does; a job's weight is the integral of the demand above
        the bandwidth while it runs. None where the link is never oversubscribed."""
        p = self.problem
        J = p.num_jobs
        rows = np.arange(J)
        lat, dem = p.latency[rows, core], p.bw[rows, core]
        order = np.lexsort((rows, key, core))
        end = np.cumsum(lat[order])
        first = np.r_[True, core[order][1:] != core[order][:-1]]
        base = np.maximum.accumulate(np.where(first, end - lat[order], 0.0))
        stop = np.empty(J)
        stop[order] = end - base
        start = stop - lat
        t = np.concatenate([start, stop])
        o = np.argsort(t, kind="stable")
        t = t[o]
        d = np.cumsum(np.concatenate([dem, -dem])[o])
        over = np.maximum(d[:-1] - p.dram_bw, 0.0) * np.diff(t)
        cum = np.r_[0.0, np.cumsum(over)]
        w = np.interp(stop, t, cum) - np.interp(start, t, cum)
        tot = w.sum()
        return w / tot if tot > 0 and np.isfinite(tot) else None

    def _incumbent_share(self) -> float:
        """Share of the batch spent on the incumbent: rises to all of it over the last
        ``polish`` part of the budget, where small moves on the best schedule pay most."""
        if not self.budget or self.polish <= 0:
            return self.f_inc
        rise = (self.told / self.budget - (1.0 - self.polish)) / self.polish
        return self.f_inc + (1.0 - self.f_inc) * min(1.0, max(0.0, rise))

    def _polishing(self) -> bool:
        return bool(self.budget) and self.told >= (1.0 - self.polish) * self.budget

    def _tournament(self, n: int) -> np.ndarray:
        P = len(self.pop[2])
        a, b = self.rng.integers(0, P, n), self.rng.integers(0, P, n)
        return np.minimum(a, b)  # population is sorted: the lower index is the better

    def _crossover(self, core, key, mates) -> None:
        r = self.rng
        C = self.problem.num_cores
        for i, m in enumerate(mates):
            mc, mk = self.pop[0][m], self.pop[1][m]
            if r.random() < 0.5:  # uniform: each job from either parent
                take = r.random(core.shape[1]) < 0.5
            else:  # sub-schedule: one core's whole queue from the mate
                c = r.integers(0, C)
                take = mc == c
                evict = (core[i] == c) & ~take
                core[i, evict] = self._other_core(np.flatnonzero(evict), c)
            core[i, take], key[i, take] = mc[take], mk[take]

    def _other_core(self, jobs: np.ndarray, avoid: int) -> np.ndarray:
        f = self.problem.feasible[jobs].copy()
        if self.problem.num_cores > 1:
            f[:, avoid] &= ~f.any(axis=1)  # keep ``avoid`` only where it is the sole option
        u = self.rng.random(f.shape) * f
        return np.argmax(u, axis=1)

    def _move(self, core: np.ndarray, key: np.ndarray, fin: np.ndarray,
              weight: np.ndarray | None = None) -> None:
        r = self.rng
        J, C = self.problem.num_jobs, self.problem.num_cores
        kind = r.integers(0, self.n_kinds)
        if kind <= 1 and C > 1:  # a job off the core that finishes last (0: or is most loaded)
            load = np.bincount(core, weights=self.lat[np.arange(J), core], minlength=C)
            busy = fin if kind == 1 and fin.any() else load
            on = np.flatnonzero(core == np.argmax(busy))
            if len(on) == 0:
                return
            j = on[r.integers(0, len(on))]
            ok = np.flatnonzero(self.problem.feasible[j])
            dest = ok[np.argmin(busy[ok] + self.lat[j, ok])]
            busy[core[j]] -= self.lat[j, core[j]]
            busy[dest] += self.lat[j, dest]
            core[j], key[j] = dest, r.random()
        elif kind == 2:  # any job to any core, anywhere in its queue
            j = r.integers(0, J)
            if weight is not None and r.random() < self.contention:
                j = r.choice(J, p=weight)  # one that runs while the link is oversubscribed
            core[j] = self._other_core(np.array([j]), core[j])[0]
            key[j] = r.random()
        elif kind == 3:  # two jobs trade cores (where both fit)
            a, b = r.integers(0, J, 2)
            if self.problem.feasible[a, core[b]] and self.problem.feasible[b, core[a]]:
                core[a], core[b] = core[b], core[a]
                key[a], key[b] = key[b], key[a]
        elif kind == 4:  # two jobs trade queue places
            a, b = r.integers(0, J, 2)
            key[a], key[b] = key[b], key[a]
        else:  # a job to another place in its own queue
            key[r.integers(0, J)] = r.random()
