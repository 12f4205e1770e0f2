"""A domain-aware genetic algorithm in the style of GAMMA/DiGamma.

Each generation keeps an elite, breeds children by GAMMA's per-dimension tile crossover and by
domain mutations (tile steps, spatial-dim change, loop swaps, cluster resizing, adding or
removing a level, splitting a level in two), and spends part of the batch on tile-only
variants of the best individuals.
Tile-only variants share their parent's dataflow structure, so the batch cost model scores them in
one call: this is where most evaluations go, and why the GA is fast.
"""

from __future__ import annotations

import numpy as np

from mapper.search.strategies.base import RunContext, Strategy
from search_spaces import Genomes
from search_spaces.genomes import equal_groups, first_occurrences, hash_multipliers
from search_spaces.variation import (
    crossover,
    crossover_tiles,
    mutate,
    neighbourhoods,
    split_level,
    with_structure_of,
)


class GeneticAlgorithm(Strategy):
    """Population-based search whose batches are grouped by dataflow structure.

    Each generation picks ``n_structures`` structures: the best distinct ones of the population
    (exploitation), new ones bred from elites by crossover and structural mutation
    (``explore``), random newcomers carrying elite tiles (``immigrants``), and ``splits``
    structures that give an elite individual one more cluster level spreading another dim
    (:func:`variation.split_level`: how a one-level mapping whose spatial dim is too small
    for the array becomes a two-level one that keeps it busy, without a detour through
    random genes). Every structure
    gets ``per_structure`` children whose tiles and cluster sizes come from GAMMA-style crossover
    with other elites plus tile mutation. The neighbourhoods of the ``local_top`` best
    individuals and of the best of ``class_top`` other classes (line searches along every tile
    and cluster size, see :func:`variation.neighbours`) are scored whole (hill climbing),
    and at most ``max_per_structure`` individuals of one structure survive (niching keeps the
    population diverse). No dataflow is proposed twice. When the population has converged
    (``restart_after`` generations without improvement, or ``short_stall`` of them whose
    batches were less than ``short_restart`` full because nearly every proposal was a repeat)
    the search restarts from a fresh sample of ``restart_init`` x ``init_size`` genomes and
    keeps its best. ``seeds`` (genomes of the space) open the first sample. The initial
    sample gives each random structure ``init_tiles_per_structure``
    tile variants: a cost-model call costs about the same for 30 or 250 genomes of one structure
    (random structures have many edge cases), so large blocks make the start-up cheap. Under
    an evaluation budget below about 24,000 (or a time limit below about 4 s) the batches
    shrink with the budget, the initial sample keeps more structures and the neighbourhoods
    may take less of a batch (``local_share``, if not given: down to 75%). Under such an
    evaluation budget (not a time limit alone) each generation makes 2 split structures
    (``splits``, if not given), and a latency search draws ``bound_select``
    (if not given: 4) new structures, tiles and children for every one it proposes and keeps
    those fitting the buffers with the lowest compute estimate
    (:meth:`~search_spaces.MappingSpace.compute_estimate`; ``select_by="busy"``: the most PEs
    busy) (the initial sample and restarts, crossover, immigrants, children and split
    structures, whose new level's place and dim it picks from trial splits), and orders
    the neighbourhoods' moves by that estimate before they are cut to their share of the
    batch. Under a pruning
    evaluator (the tuner's default) children whose latency bound cannot beat the best are not
    scored; ``oversample`` (set by the search loop) then enlarges each batch so that it still
    yields about ``batch_size`` scored candidates.
    """

    name = "ga"
    islands = True
    prunes = True
    # evaluations per second of one process, used to size batches under a time limit only
    EVALS_PER_SECOND = 6000
    BOUND_SELECT_BELOW = 24_000  # budgets whose latency searches select by busy bound
    BOUND_SELECT = 4  # new genomes drawn per one proposed under selection
    SELECT_BY = "estimate"  # what bound_select ranks by: "estimate" or "busy"
    PROBE = 16  # trial splits per kind when a split's kind is chosen by selection
    SEEN_CAP = 1_000_000  # hashes kept for duplicate filtering (about 70 MB at most)

    def __init__(self, space, seed: int = 0, population: int = 64, n_structures: int = 8,
                 per_structure: int = 160, explore: float = 0.5, mutation_rate: float = 0.3,
                 batch_size: int = 0, init_tiles_per_structure: int = 256, immigrants: float = 0.25,
                 local_top: int = 8, max_per_structure: int = 4, init_size: int = 2048,
                 restart_after: int = 4, class_top: int = 2, restart_init: float = 0.5,
                 short_restart: float = 0.25, short_stall: int = 1, splits: int | None = None,
                 own_split_share: float = 0.5, local_share: float | None = None,
                 bound_select: int | None = None, objective: str = "latency",
                 seeds: Genomes | None = None, select_by: str | None = None):
        super().__init__(space, seed, batch_size or n_structures * per_structure)
        self._auto_batch = not batch_size
        self.population = population
        self.n_structures = n_structures
        self.per_structure = per_structure
        self.explore = explore
        self.mutation_rate = mutation_rate
        self.init_tiles_per_structure = init_tiles_per_structure
        self.immigrants = immigrants
        self.local_top = local_top
        self.max_per_structure = max_per_structure  # niching: cap per structure
        self.init_size = init_size or self.batch_size
        self._scaled = False
        self.restart_after = restart_after  # generations without improvement (0: never)
        self._stall = 0
        self.class_top = class_top  # hill-climb the best of this many other classes too
        self._best = np.inf
        self.pop: Genomes | None = None
        self.fit: np.ndarray | None = None
        self.viol: np.ndarray | None = None
        self._pop_hashes: np.ndarray | None = None  # Genomes.hashes of pop
        # the batch the last ask returned and its hashes, until tell
        self._last_ask: tuple[Genomes, np.ndarray] | None = None
        self._expanded: set[bytes] = set()
        self._seen: set[int] = set()  # hashes of every genome proposed so far
        self._seen_log: list[np.ndarray] = []  # the same as arrays: cheap to checkpoint
        self.restart_init = restart_init    # restart sample, as a share of init_size
        self.short_restart = short_restart  # a batch this much below full counts as converged
        self.short_stall = short_stall
        self._restarts = 0
        # structures per generation made by splitting a level in two (None: 1, or by budget:
        # plan)
        self._splits_given = splits
        self.splits = 1 if splits is None else splits
        # share of new top levels sized from their own dim (variation.split_level)
        self.own_split_share = own_split_share
        # most of a batch that neighbourhoods may take (None: all of it, or by budget: plan)
        self._local_share = local_share
        self.local_share = 1.0 if local_share is None else local_share
        self.seeds = seeds  # genomes the first sample starts with (e.g. a feasible start)
        # new genomes drawn per one proposed, keeping those that can keep most PEs busy
        # (None: 1, or by budget for a latency search: plan)
        self._bound_select = bound_select
        self.bound_select = 1 if bound_select is None else max(1, int(bound_select))
        self.objective = objective  # what the fitness is (the busy bound bounds latency)
        self.select_by = select_by or self.SELECT_BY

    @classmethod
    def options(cls, space, run: RunContext) -> dict:
        """The objective (selection by busy bound is for latency alone, not for a Pareto
        front) and, for a widened space or an island, the large-budget settings."""
        opts: dict = {"objective": "pareto" if run.pareto else run.objective}
        if run.widened:
            # nearly every mapping of a widened layer overflows the L1: start from the
            # smallest tiles, which fit when anything does, so even a small budget ends with a
            # mapping; and draw as it comes: the busiest of such mappings are mostly
            # infeasible too (docs/decisions.md, "Widened GA searches")
            opts.update(seeds=space.smallest_tiles(), bound_select=1)
        if run.island:
            # the small-budget settings (neighbourhood cap, selection by busy bound) are for a
            # layer's search of a small budget; islands share a large one, and small reserve
            # islands hill-climb like the first ones (docs/decisions.md, "GA islands")
            opts.update(local_share=1.0, bound_select=1, splits=1)
        return opts

    def _local_moves(self) -> Genomes:
        """Neighbourhoods of the best individuals not expanded yet (hill-climbing steps)."""
        expand = []
        keys = self.pop.keys()
        # also the best of a few other classes (level count, spatial dims), so that a class
        # whose best is still rough gets its tiles tuned before the search leaves it
        _, cfirst = np.unique(self.space.class_keys(self.pop), return_index=True)
        others = [i for i in np.sort(cfirst).tolist() if i >= self.local_top][: self.class_top]
        for i in list(range(min(self.local_top, len(self.pop)))) + others:
            key = keys[i].tobytes()
            if key in self._expanded or not np.isfinite(self.fit[i]):
                continue
            self._expanded.add(key)
            expand.append(i)
        return neighbourhoods(self.space, self.pop, expand)

    def _scale_to_budget(self, budget: int, counted: bool = True) -> None:
        """Shrink batches for small evaluation budgets, so that a run of a few thousand
        evaluations still lives for tens of generations instead of being all start-up
        (``counted``: a budget of evaluations, not one estimated from a time limit)."""
        per_structure = int(np.clip(budget // 150, 16, self.per_structure))
        if per_structure < self.per_structure:  # many structures in a small initial sample
            self.init_tiles_per_structure = int(np.clip(per_structure // 5, 8,
                                                    self.init_tiles_per_structure))
        self.per_structure = per_structure
        self.init_size = int(np.clip(budget // 12, 256, self.init_size))
        # own-dim top levels pay at the default budget (depthwise layers) but cost at a few
        # thousand evaluations, so their share shrinks with the budget below 24,000
        # (docs/decisions.md, "GA under small budgets")
        self.own_split_share *= min(1.0, budget / 24_000)
        # hill-climbing neighbourhoods come first in a batch and can fill it: under a small
        # budget that leaves no room for new structures, so unless given, their share falls
        # from the whole batch at 24,000 to 75% at 4,000 (docs/decisions.md, "GA under
        # small budgets")
        if self._local_share is None:
            self.local_share = 1.0 - 0.3 * max(0.0, 1.0 - budget / 24_000)
        # under a small budget, most proposals are spent on genomes that cannot keep the
        # array busy; drawing 4 per proposal and keeping the busiest (MappingSpace.busy_bound,
        # free next to a cost-model call) spends them where a low latency is possible. Not
        # under a time limit alone: a run takes about 20% longer per evaluation
        # (docs/decisions.md, "GA under small budgets")
        if (self._bound_select is None and self.objective == "latency" and counted
                and budget < self.BOUND_SELECT_BELOW):
            self.bound_select = self.BOUND_SELECT
        # a one-level mapping whose spatial dim leaves a last fold part-empty (960 channels
        # over 168 PEs) is a basin a few thousand evaluations rarely leave by mutation; a
        # second split structure per generation gets them out (docs/decisions.md, "GA under
        # small budgets")
        if self._splits_given is None and counted and budget < self.BOUND_SELECT_BELOW:
            self.splits = 2
        self.batch_size = self.n_structures * self.per_structure

    def plan(self, budget: int | None, time_limit: float | None) -> None:
        if self._scaled:
            return
        self._scaled = True
        if not self._auto_batch:
            return
        counted = budget is not None
        if budget is None and time_limit is not None:
            budget = int(time_limit * self.EVALS_PER_SECOND)
        if budget is not None:
            self._scale_to_budget(budget, counted)

    def ask(self, limit: int | None = None) -> Genomes:
        sp, rng = self.space, self.rng
        self.plan(limit, None)  # no-op once planned; else the first call sees the whole budget
        n_total = int(self.batch_size * self.oversample)
        n_total = n_total if limit is None else min(n_total, limit)
        if self.pop is None or not np.isfinite(self.fit).any():
            n = self.init_size if not self._restarts else int(self.init_size * self.restart_init)
            n = n if limit is None else min(n, limit)
            g = self._initial_sample(n)
            if self.seeds is not None and not self._restarts:
                g = Genomes.concat([sp.repair(self.seeds), g])
            return self._asked(*self._unseen(g, n))
        pop = self.pop
        keys = sp.structure_keys(pop)
        _, first = np.unique(keys, return_index=True)
        first = np.sort(first)  # population is sorted best first: best of each structure
        n_new = max(1, int(round(self.explore * self.n_structures)))
        n_imm = int(round(self.immigrants * self.n_structures))
        n_keep = max(1, self.n_structures - n_new - n_imm)
        # the best structures, plus the best structure of some other classes (level count, spatial
        # dims) picked at random, so that no kind of dataflow is abandoned early
        top = list(first[: (n_keep + 1) // 2])
        _, cfirst = np.unique(sp.class_keys(pop), return_index=True)
        others = [i for i in np.sort(cfirst) if i not in top]
        if others:
            top += list(rng.permutation(others)[: n_keep - len(top)])
        top += [i for i in first if i not in top][: n_keep - len(top)]
        keep = pop.take(np.array(top, dtype=np.int64))
        elite = pop.take(slice(0, min(len(pop), max(4, self.population // 4))))
        m = self.bound_select
        pa = elite.take(rng.integers(0, len(elite), n_new * m))
        pb = elite.take(rng.integers(0, len(elite), n_new * m))
        fresh = mutate(sp, rng, crossover(sp, rng, pa, pb), rate=self.mutation_rate)
        parts = [keep, self._busiest(fresh, n_new, len(fresh))]
        if n_imm:  # new random structures, carrying tiles of elite individuals
            donors = elite.take(rng.integers(0, len(elite), n_imm * m))
            imm = with_structure_of(sp, donors, sp.sample(rng, n_imm * m))
            parts.append(self._busiest(imm, n_imm, len(imm)))
        bases = Genomes.concat(parts)
        k = max(1, int(round(self.per_structure * self.oversample)))
        base_rep = bases.take(np.repeat(np.arange(len(bases)), k * m))
        partner = elite.take(rng.integers(0, len(elite), len(base_rep)))
        # bases are repaired (population, and outputs of mutate, sample and repair), and so
        # are the children crossover_tiles returns
        kids = crossover_tiles(sp, rng, base_rep, partner, repaired=True)
        kids = mutate(sp, rng, kids, rate=self.mutation_rate, structural=False, repaired=True)
        kids = sp.fit_spatial(kids, rng, rng.random(len(kids)) < 0.2)
        kids = self._busiest(kids, k, k * m)
        # the first child of each structure keeps its base's tiles: a structural move is
        # judged with the tiles that made its parent good
        rest = [bases, self._splits(elite, k),
                kids.take(np.nonzero(np.arange(len(kids)) % k)[0])]
        local = self._rank_local(self._local_moves())
        if self.local_share >= 1.0 or not len(local):
            return self._asked(*self._unseen(Genomes.concat([local, *rest]), n_total))
        # neighbourhoods first, but only up to their share of the batch
        local, h_local = self._unseen(local, max(1, int(self.local_share * n_total)))
        rest, h_rest = self._unseen(Genomes.concat(rest), n_total - len(local))
        return self._asked(Genomes.concat([local, rest]), np.concatenate([h_local, h_rest]))

    def _rank_local(self, local: Genomes) -> Genomes:
        """Under selection (small latency budgets), the neighbourhoods' moves ordered by
        :meth:`MappingSpace.compute_estimate`, fitting the L1 first, so that the batch cut
        keeps the most promising steps of every neighbourhood instead of the first ones."""
        if self.bound_select == 1 or not len(local):
            return local
        sp = self.space
        est = np.where(sp.fits_buffers(local), sp.compute_estimate(local), np.inf)
        return local.take(np.argsort(est, kind="stable"))

    def _noisy_busy(self, g: Genomes) -> np.ndarray:
        """``[G]`` the selection score, higher is better: minus
        :meth:`MappingSpace.compute_estimate` (``select_by="busy"``:
        :meth:`MappingSpace.busy_bound`), the worst for a genome whose tiles overflow the
        L1 or, by estimate, the L2 (:meth:`MappingSpace.fits_buffers`: infeasible); ties in
        random order."""
        sp = self.space
        fits = sp.fits_buffers(g)
        if self.select_by == "estimate":
            est = sp.compute_estimate(g) * (1.0 + 1e-6 * self.rng.random(len(g)))
            return np.where(fits, -est, -np.inf)
        busy = np.where(fits, sp.busy_bound(g), 0)
        return busy + 0.5 * self.rng.random(len(g))

    def _busiest_in_blocks(self, g: Genomes, keep: int, block: int):
        """``(busy, pick)``: the noisy busy bound of ``g`` as ``[blocks, block]`` and, per
        block of ``block`` consecutive genomes, the positions of the ``keep`` busiest in
        their order."""
        b = self._noisy_busy(g).reshape(-1, block)
        return b, np.sort(np.argsort(-b, axis=1)[:, :keep], axis=1)

    def _busiest(self, g: Genomes, keep: int, block: int) -> Genomes:
        """From each block of ``block`` consecutive genomes, the ``keep`` that can keep the
        most PEs busy, in their order (all of ``g`` when ``bound_select`` is 1)."""
        if self.bound_select == 1 or not len(g):
            return g
        b, pick = self._busiest_in_blocks(g, keep, block)
        return g.take((np.arange(len(b))[:, None] * block + pick).ravel())

    def _initial_sample(self, n: int) -> Genomes:
        """``n`` random genomes in blocks of ``init_tiles_per_structure`` sharing a structure.
        With ``bound_select`` = m (the first sample and restarts), m times as many structures
        with m times as many tiles each are drawn; each keeps its tiles with the best
        selection score, and the structures whose kept tiles score best come first."""
        sp, k = self.space, self.init_tiles_per_structure
        # restarts too: under pruning an unselected restart sample rarely has a candidate
        # that can beat the best, so it is never scored (docs/decisions.md, "GA under small
        # budgets")
        m = self.bound_select
        if m == 1:
            return sp.sample(self.rng, n, tiles_per_structure=k)
        n_structures = -(-n // k)
        g = sp.sample(self.rng, n_structures * m * k * m, tiles_per_structure=k * m)
        b, pick = self._busiest_in_blocks(g, k, k * m)
        best = np.argsort(-np.take_along_axis(b, pick, axis=1).max(axis=1))[:n_structures]
        return g.take((best[:, None] * k * m + pick[best]).ravel())

    def _splits(self, elite: Genomes, k: int) -> Genomes:
        """``k`` children for each of ``splits`` structures made by giving an elite
        individual with room one more level (:func:`variation.split_level`): the best
        such individual, or half the time a random one; one structure per split, so one
        cost-model call scores its children."""
        sp, rng = self.space, self.rng
        room = np.nonzero(elite.levels < sp.max_levels)[0]
        parts = []
        for _ in range(self.splits if len(room) else 0):
            i = room[0] if rng.random() < 0.5 else room[rng.integers(0, len(room))]
            above, dim = self._split_kind(elite, i)
            m = self.bound_select
            parts.append(self._busiest(
                split_level(sp, rng, elite.take(np.full(k * m, i)), above, dim,
                            own_share=self.own_split_share), k, k * m))
        return Genomes.concat(parts) if parts else sp.empty()

    def _split_kind(self, elite: Genomes, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Where elite ``i``'s new level goes (``above`` its top level or not) and which
        dim it spreads: at random, or under selection (``bound_select`` > 1) the kind whose
        best of ``PROBE`` trial splits has the best selection score, so that a one-level
        mapping whose last fold is part-empty is split along the dim and cluster size that
        fill the array (docs/decisions.md, "GA under small budgets")."""
        sp, rng = self.space, self.rng
        if self.bound_select == 1:
            return (np.array(rng.random() < 0.5),
                    np.array(sp.par_idx[rng.integers(0, len(sp.par_idx))]))
        kinds = [(a, d) for a in (True, False) for d in sp.par_idx]
        q = self.PROBE
        above = np.repeat([a for a, _ in kinds], q)
        dim = np.repeat([d for _, d in kinds], q)
        trial = split_level(sp, rng, elite.take(np.full(len(above), i)), above, dim,
                            own_share=self.own_split_share)
        best = int(np.argmax(self._noisy_busy(trial).reshape(len(kinds), q).max(axis=1)))
        return np.array(kinds[best][0]), np.array(kinds[best][1])

    def _asked(self, g: Genomes, hashes: np.ndarray) -> Genomes:
        """``g``, the batch :meth:`ask` proposes, kept with its :meth:`Genomes.hashes` until
        :meth:`tell` (which would otherwise compute them again)."""
        self._last_ask = (g, hashes)
        return g

    def _unseen(self, g: Genomes, n: int) -> tuple[Genomes, np.ndarray]:
        """The first ``n`` genomes of ``g`` that decode to a dataflow not proposed before
        (children and neighbourhoods repeat each other and earlier generations: up to 45% of
        the proposals on depthwise layers), and their hashes. When all are old (a small space
        seen whole), the batch is returned as it is, so the search still ends within its
        budget."""
        h = g.hashes()
        first = first_occurrences(h)
        seen = self._seen
        old = np.fromiter(map(seen.__contains__, h[first].tolist()), bool, len(first))
        new = first[~old]
        new = (new if len(new) else first)[:n]
        if len(seen) > self.SEEN_CAP:  # bounded memory in very long runs
            seen.clear()
            self._seen_log.clear()
        h_new = h[new]
        seen.update(h_new.tolist())
        self._seen_log.append(h_new)
        return g.take(new), h_new

    def __getstate__(self) -> dict:
        # a set of a million Python ints takes 0.2 s to pickle; its arrays take milliseconds
        state = self.__dict__.copy()
        state["_seen"] = None
        state["_last_ask"] = None  # a batch between ask and tell: tell hashes it again
        return state

    def __setstate__(self, state: dict) -> None:
        state.setdefault("_pop_hashes", None)  # a state saved before these were kept
        state.setdefault("_last_ask", None)
        self.__dict__.update(state)
        log = self._seen_log
        self._seen = set(np.concatenate(log).tolist()) if log else set()

    def tell(self, g: Genomes, fitness: np.ndarray, violation: np.ndarray) -> None:
        """Merge the scored batch ``g`` into the population. Where ``g`` is the batch the
        last :meth:`ask` returned (the same object, unchanged, as the search loop passes
        it), the hashes ask computed for it serve; the population keeps its own."""
        last, self._last_ask = self._last_ask, None
        h = last[1] if last is not None and last[0] is g else g.hashes()
        if self.pop is None:
            allg, fit, viol, h_all = g, fitness, violation, h
        else:
            allg = Genomes.concat([self.pop, g])
            fit = np.concatenate([self.fit, fitness])
            viol = np.concatenate([self.viol, violation])
            h_pop = self.pop.hashes() if self._pop_hashes is None else self._pop_hashes
            h_all = np.concatenate([h_pop, h])
        # the distinct genomes, as indices into allg (one take of the survivors at the end)
        uniq = allg.distinct(h_all)
        fit, viol = fit[uniq], viol[uniq]
        order = np.lexsort((viol, np.where(np.isfinite(fit), fit, np.inf)))
        # elitism per class: the best of every (level count, spatial dims) class survives
        cfirst, _ = _groups(self.space.class_keys(allg)[uniq[order]])
        protected = order[cfirst]
        if self.max_per_structure:
            _, inv = _groups(self.space.structure_keys(allg)[uniq[order]])
            order = order[_rank_in_group(inv) < self.max_per_structure]
        rest = order[~np.isin(order, protected)]
        order = np.concatenate([protected, rest])[: max(self.population, len(protected))]
        order = order[np.lexsort((viol[order], np.where(np.isfinite(fit[order]), fit[order],
                                                        np.inf)))]
        self.pop, self.fit, self.viol = allg.take(uniq[order]), fit[order], viol[order]
        self._pop_hashes = h_all[uniq[order]]
        if self.fit[0] < self._best:
            self._best, self._stall = float(self.fit[0]), 0
        else:
            self._stall += 1
        short = self.short_restart and len(g) < self.short_restart * self.batch_size
        if self.restart_after and (self._stall >= self.restart_after
                                   or (short and self._stall >= self.short_stall)):
            # stuck in one basin: start a fresh population (the search keeps its best)
            self.pop = self.fit = self.viol = self._pop_hashes = None
            self._expanded.clear()
            self._stall, self._best = 0, np.inf
            self._restarts += 1


def _groups(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(first, label)`` of the groups of equal ``keys`` (bytes keys, as
    :meth:`MappingSpace.structure_keys` makes them): the increasing indices of each group's
    first key (``np.sort`` of ``np.unique``'s ``return_index``) and a label per key that
    equals exactly where keys are equal (labels are not ``np.unique``'s inverse, just as
    fine for grouping). The keys are read as 64-bit words, one key a word where it fits
    (several times faster to sort than bytes keys), else hashed into one and checked: a
    collision falls back to sorting the keys themselves."""
    n, width = len(keys), keys.dtype.itemsize
    if n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    words = np.zeros((n, -(-width // 8) * 8), dtype=np.uint8)
    words[:, :width] = keys.view(np.uint8).reshape(n, width)
    words = words.view(np.uint64)
    if words.shape[1] == 1:
        h = words[:, 0]
    else:
        with np.errstate(over="ignore"):
            h = words @ hash_multipliers(words.shape[1])
            h ^= h >> np.uint64(29)
    first, label = equal_groups(h)
    if words.shape[1] > 1 and not (words[first[label]] == words).all():
        _, first, label = np.unique(keys, return_index=True, return_inverse=True)
    return np.sort(first), label.ravel()


def _rank_in_group(group: np.ndarray) -> np.ndarray:
    """``[n]`` how many earlier entries share each entry's group (0 for a group's first)."""
    srt = np.argsort(group, kind="stable")
    g = group[srt]
    new = np.ones(len(g), dtype=bool)
    new[1:] = g[1:] != g[:-1]
    starts = np.flatnonzero(new)
    pos = np.arange(len(g))
    rank = np.empty(len(g), dtype=np.int64)
    rank[srt] = pos - np.repeat(starts, np.diff(np.append(starts, len(g))))
    return rank
