"""The ``physical`` cost model: DRAM as a level of the hierarchy, on top of MAESTRO's on-chip
analysis.

MAESTRO charges every top-level iteration one full L2 tile from off-chip memory, with no reuse
between iterations and no DRAM energy. Here the top level's loop nest (its directives, outer
first; a SpatialMap is a loop over folds of ``units`` tiles) decides DRAM traffic:

* A tensor's tile is fetched again only when a loop it depends on advances. With ``n_l`` the
  iteration count of loop ``l`` and ``L_T`` the innermost loop that tensor ``T`` depends on
  (and that iterates), ``T``'s traffic is the product of: for loops outside ``L_T``, the sum
  of ``T``'s extents over the loop's iterations (relevant loop) or ``n_l`` (irrelevant loop:
  the tile changes between its iterations); for ``L_T``, the union of its tiles (a sliding
  window only fetches its new rows); for loops inside ``L_T``, the union (relevant) or 1.
* Outputs are written once per visit of their tile; a visit after the first reads the partial
  sums back (reduction loops outside the innermost output loop make them spill).
* An outer DRAM-to-L2 level: the innermost ``k`` top-level loops keep their tiles resident in
  L2 (``Dataflow.l2_resident``), so loops inside never cause refetches, at the price of an L2
  block ``2 x`` (double buffered) the union of those loops' tiles. ``k = 0`` is per-iteration
  reuse only. When the dataflow does not state ``k``, every ``k`` whose block fits the L2 is
  tried and the fastest (then least traffic) is kept: an exhaustive search of that level.
* Runtime: MAESTRO's on-chip runtime ``T_on`` (its analysis with an unbounded off-chip port)
  split evenly over the L2 blocks, each overlapped with the DRAM transfer of the next block
  (double buffering, as MAESTRO overlaps the NoC). Blocks are grouped by the outermost loop
  that advanced, so the bursts of refetches at outer-loop boundaries stall where they occur:
  ``runtime = T_on + latency + sum over groups of count x max(0, dram_time - T_on/blocks)``.
  Where the DRAM never stalls and the latency is 0, the runtime is MAESTRO's.

Everything is array code over a batch of candidates; the only Python loops run over the few
top-level loops and residency choices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .layer import Layer, TensorTable
from .levels import Level

SLIDING = {"Y": "R", "X": "S"}  # input-centric dims whose output extent depends on a filter dim


@dataclass
class _Loop:
    """One top-level loop: per-candidate iteration count and, per tensor (input, filter,
    output), extent statistics as ``[3, B]`` arrays; ``rel[t]`` is False where tensor ``t``
    does not depend on the loop (its rows then hold 1.0 and are not used)."""

    var: str
    n: np.ndarray        # iterations (folds for a SpatialMap)
    sums: np.ndarray     # per tensor: sum of the tile's extent over the iterations
    union: np.ndarray    # per tensor: extent covered by all iterations
    ext: np.ndarray      # per tensor: largest extent of one iteration
    rel: np.ndarray      # [3] bool: the tensor depends on this loop


@dataclass
class DramResult:
    """DRAM traffic (elements), runtime and residency for a batch of candidates."""

    runtime: np.ndarray
    read_input: np.ndarray
    read_weight: np.ndarray
    read_output: np.ndarray
    write: np.ndarray
    stall: np.ndarray
    resident: np.ndarray
    resident_size: np.ndarray
    overflow: np.ndarray
    peak_bw: np.ndarray

    @property
    def read(self) -> np.ndarray:
        return self.read_input + self.read_weight + self.read_output


def _extents(D, m, o, u):
    """Iterations, summed extent, covered extent and largest extent of a loop over ``D``
    with tiles of ``m`` every ``o``, ``u`` tiles per iteration (SpatialMap folds)."""
    D, m, o, u = (np.asarray(a, dtype=np.float64) for a in (D, m, o, u))
    tiles = np.where(D <= m, 1.0, np.ceil((D - m) / o) + 1.0)
    n = np.ceil(tiles / u)
    e = np.minimum(m, D) + o * (np.minimum(u, tiles) - 1.0)
    step = o * u
    full = np.where(D >= e, np.floor((D - e) / step) + 1.0, 0.0)
    full = np.minimum(full, n)
    rest = n - full
    # iterations j >= full hold D - j*step elements
    tail = rest * D - step * (full + n - 1.0) * rest / 2.0
    sums = full * np.minimum(e, D) + np.maximum(tail, 0.0)
    union = np.minimum(D, (n - 1.0) * step + e)
    return n, sums, union, np.minimum(e, D)


def top_loops(layer: Layer, table: TensorTable, top: Level) -> list[_Loop]:
    """The top level's loops, outer first, with extents in each tensor's own coordinates
    (input, filter, output; output rows and columns in output space). The extents of all
    loops are computed at once on ``[n, B]`` stacks."""
    units = np.maximum(top.N, 1)
    tensors = table.tensors()
    dirs = top.directives
    spatial = np.array([d.kind == "S" for d in dirs])[:, None]
    n, sums, union, ext = _extents(top.D, top.M, top.O, np.where(spatial, units, 1))
    loops = []
    for li, d in enumerate(dirs):
        rel = np.array([d.var in dims for dims in tensors])
        st_sum = np.ones((3, len(units)))
        st_union = np.ones((3, len(units)))
        st_ext = np.ones((3, len(units)))
        for t in range(3):
            if not rel[t]:
                continue
            if t == 2 and d.var in SLIDING and layer.is_conv_family:
                # output rows: each output belongs to one tile of input rows
                out = float(layer.output_size(d.var))
                st_sum[t] = out
                st_union[t] = out
                st_ext[t] = np.ceil(out / n[li])
            else:
                st_sum[t], st_union[t], st_ext[t] = sums[li], union[li], ext[li]
        loops.append(_Loop(d.var, n[li], st_sum, st_union, st_ext, rel))
    return loops


def _tensor_traffic(loops: list[_Loop], ks: np.ndarray):
    """Traffic of every tensor with the innermost ``k`` loops resident, for every ``k`` of
    ``ks`` (``[K, 1]``, ascending) at once: ``[3, K, B]`` traffic, number of fetches,
    innermost refetching loop (-1: fetched once) and L2 block size. Every product runs in
    the same order for each tensor and ``k`` (a loop that does not apply multiplies by an
    exact 1.0, or is skipped)."""
    L = len(loops)
    B = len(loops[0].n)
    shape = (3, len(ks), B)
    traffic = np.ones(shape)
    fetches = np.ones(shape)
    block = np.ones(shape)
    found = np.zeros(shape, dtype=bool)
    inner_loop = np.full(shape, -1, dtype=np.int64)
    large = len(ks) * B >= _SLICE_CELLS
    for li in range(L - 1, -1, -1):
        lp = loops[li]
        outer = li < L - ks  # [K, 1]: a prefix of the rows, ks ascending
        if large:  # per tensor, on the rows the loop is outside the resident block
            c = int(np.count_nonzero(outer))
            for t in range(3):
                tr, fe, bl, fo, il = traffic[t], fetches[t], block[t], found[t], inner_loop[t]
                was = fo[:c]
                if lp.rel[t]:
                    newly = ~was & (lp.n > 1)
                    il[:c][newly] = li
                    tr[:c] *= np.where(was, lp.sums[t], lp.union[t])
                    tr[c:] *= lp.union[t]
                    was |= newly
                    bl[:c] *= lp.ext[t]
                    bl[c:] *= lp.union[t]
                    fe[:c] *= np.where(was, lp.n, 1.0)
                else:
                    step = np.where(was, lp.n, 1.0)
                    tr[:c] *= step
                    fe[:c] *= step
            continue
        rel = lp.rel[:, None, None]
        sums, union, ext = lp.sums[:, None], lp.union[:, None], lp.ext[:, None]
        was = outer & found
        # a loop the tensor depends on: its first advancing loop from the inside fetches the
        # union, loops outside the sums; a loop it does not depend on refetches n times
        newly = rel & outer & ~found & (lp.n > 1)
        inner_loop[newly] = li
        traffic *= np.where(rel, np.where(was, sums, union), np.where(was, lp.n, 1.0))
        found |= newly
        block *= np.where(rel, np.where(outer, ext, union), 1.0)
        fetches *= np.where(outer & found, lp.n, 1.0)
    return traffic, fetches, inner_loop, block


# from this many (residency choices x candidates) on, the DRAM level works per tensor on row
# slices (less work); below, on whole [3, K, B] stacks (fewer numpy calls)
_SLICE_CELLS = 4096


def dram_model(layer: Layer, table: TensorTable, top: Level, t_on: np.ndarray,
               offchip_bw: np.ndarray, latency: np.ndarray, l2_size: np.ndarray,
               resident=None, scale=None) -> DramResult:
    """DRAM traffic and runtime of every candidate (see the module docstring).

    ``t_on``: MAESTRO's runtime with an unbounded off-chip port; ``resident``: None (choose the
    best residency that fits the L2), an int, or a ``[B]`` int array (innermost top-level
    loops kept in L2; values above the loop count are clipped).
    """
    loops = top_loops(layer, table, top)
    L = len(loops)
    B = len(t_on)
    bw = np.asarray(offchip_bw, dtype=np.float64)
    if resident is None:
        ks = np.arange(L + 1)
    else:
        fixed = np.broadcast_to(np.clip(np.asarray(resident, dtype=np.int64), 0, L), (B,))
        ks = np.unique(fixed)
    if len(ks) > 1 and len(ks) * B >= _SLICE_CELLS:  # large batch: one choice at a time
        rs = [_residencies(loops, ks[i:i + 1], t_on, bw, latency, l2_size, scale)
              for i in range(len(ks))]
        rows = [DramResult(**{f: getattr(x, f)[0] for f in _FIELDS}) for x in rs]
        if resident is None:
            best = rows[0]
            for x in rows[1:]:
                better = ~x.overflow & ((x.runtime < best.runtime) | (
                    (x.runtime == best.runtime) & (x.read + x.write < best.read + best.write)))
                best = DramResult(**{f: np.where(better, getattr(x, f), getattr(best, f))
                                     for f in _FIELDS})
            return best
        pick = np.searchsorted(ks, fixed)
        return DramResult(**{f: np.choose(pick, [getattr(x, f) for x in rows])
                             for f in _FIELDS})
    r = _residencies(loops, ks, t_on, bw, latency, l2_size, scale)  # [K, B] fields
    if resident is None:
        # the fastest that fits (k = 0 always does), then the least traffic, first k on ties
        total = r.read + r.write
        pick = np.zeros(B, dtype=np.int64)
        best_rt, best_tot = r.runtime[0], total[0]
        for i in range(1, len(ks)):
            rt, tot = r.runtime[i], total[i]
            better = ~r.overflow[i] & ((rt < best_rt) | ((rt == best_rt) & (tot < best_tot)))
            pick[better] = i
            best_rt = np.where(better, rt, best_rt)
            best_tot = np.where(better, tot, best_tot)
    else:
        pick = np.searchsorted(ks, fixed)
    cols = np.arange(B)
    return DramResult(**{f: getattr(r, f)[pick, cols] for f in _FIELDS})


_FIELDS = tuple(DramResult.__dataclass_fields__)


def _residencies(loops, ks, t_on, bw, latency, l2_size, scale=None) -> DramResult:
    """:class:`DramResult` with ``[K, B]`` fields: row ``i`` keeps the innermost ``ks[i]``
    top-level loops resident in L2."""
    L = len(loops)
    B = len(t_on)
    kcol = np.asarray(ks, dtype=np.int64)[:, None]
    traffic, fetches, lt, block = _tensor_traffic(loops, kcol)
    if scale is not None:  # compressed tensors: stored words instead of elements
        sc = np.asarray(scale, dtype=np.float64)
        sc = sc.reshape(3, 1, -1) if sc.ndim == 2 else sc.reshape(3, 1, 1)
        traffic = traffic * sc
        block = block * sc
    tr_in, tr_w, tr_o = traffic
    out_once = np.prod([lp.union[2] for lp in loops if lp.rel[2]], axis=0)
    if scale is not None:
        out_once = out_once * scale[2]
    write = tr_o
    read_out = np.maximum(tr_o - out_once, 0.0)
    # transfers per fetch of each tensor; lt: the loops whose advance triggers them
    per_fetch = np.array([tr_in / fetches[0], tr_w / fetches[1], (tr_o + read_out) / fetches[2]])
    outer = L - kcol  # [K, 1]: loops outside the resident block
    # blocks: the product of the outer loops' counts, in loop order
    cum = [np.ones(B)]
    for lp in loops[:int(outer.max())]:
        cum.append(cum[-1] * lp.n)
    blocks = np.array([cum[o] for o in outer[:, 0]])
    on_block = np.asarray(t_on, dtype=np.float64) / blocks
    on_block1 = np.maximum(on_block, 1.0)
    first = (per_fetch[0] + per_fetch[1] + per_fetch[2]) / bw
    stall = np.maximum(first - on_block, 0.0)
    peak = first * bw / on_block1
    before = np.ones(B)
    for j in range(L):
        n_j = loops[j].n
        c = int(np.count_nonzero(j < outer))  # rows where loop j is outside: a prefix
        count = before * (n_j - 1.0)
        part = np.where(lt[:, :c] >= j, per_fetch[:, :c], 0.0)
        amount = part[0] + part[1] + part[2]
        stall[:c] += count * np.maximum(amount / bw - on_block[:c], 0.0)
        peak[:c] = np.where(count > 0, np.maximum(peak[:c], amount / on_block1[:c]), peak[:c])
        before = before * n_j
    resident_size = np.where(kcol > 0, 2.0 * (block[0] + block[1] + block[2]), 0.0)
    overflow = resident_size > np.asarray(l2_size, dtype=np.float64)
    extra = np.ceil(np.maximum(stall - 1e-9, 0.0))
    runtime = np.asarray(t_on, dtype=np.int64) + np.asarray(latency, dtype=np.int64) + extra.astype(
        np.int64)

    def as_int(x):
        return np.rint(x).astype(np.int64)

    return DramResult(
        runtime=runtime, read_input=as_int(tr_in), read_weight=as_int(tr_w),
        read_output=as_int(read_out), write=as_int(write), stall=extra.astype(np.int64),
        resident=np.broadcast_to(kcol, runtime.shape), resident_size=as_int(resident_size),
        overflow=overflow, peak_bw=np.ceil(peak).astype(np.int64))


def compulsory(layer: Layer, table: TensorTable) -> tuple[int, int, int]:
    """Elements of the input, filter and output tensors (the least any mapping moves)."""
    sd = layer.full_dims()
    out = []
    for t, dims in enumerate(table.tensors()):
        v = 1
        for d in dims:
            if d not in sd:
                continue
            if t == 2 and d in SLIDING and layer.is_conv_family:
                v *= layer.output_size(d)
            else:
                v *= sd[d]
        out.append(v)
    return tuple(out)
