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
class _Loops:
    """The top-level loops, outer first, stacked: per-candidate iteration counts ``n [L, B]``
    (folds for a SpatialMap) and, per loop and tensor (input, filter, output), extent
    statistics ``[L, 3, B]``; ``rel [L, 3]`` is False where the tensor does not depend on the
    loop (its rows then hold 1.0 and are not used)."""

    n: np.ndarray        # iterations
    sums: np.ndarray     # sum of the tile's extent over the iterations
    union: np.ndarray    # extent covered by all iterations
    ext: np.ndarray      # largest extent of one iteration
    rel: np.ndarray      # [L, 3] bool: the tensor depends on the loop

    def __len__(self) -> int:
        return len(self.n)


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


_PLANS: dict[tuple, tuple] = {}


def _loop_plan(layer: Layer, table: TensorTable, dirs) -> tuple:
    """``(spatial [L, 1], rel [L, 3], out_loops, out_sizes [k, 1])`` of the top level's
    directives: which loops are SpatialMaps, which tensors depend on each loop, and the loops
    over output rows/columns (a CONV's Y/X: each output belongs to one tile of input rows)
    with their output sizes. They depend only on the directives' kinds and dims and the
    layer's shape, so they are cached (read-only arrays)."""
    kinds = tuple((d.kind, d.var) for d in dirs)
    key = (kinds, table.tensors(), layer.type, tuple(layer.dims.items()),
           tuple(layer.strides.items()))
    plan = _PLANS.get(key)
    if plan is None:
        tensors = table.tensors()
        spatial = np.array([k == "S" for k, _ in kinds], dtype=bool)[:, None]
        rel = np.array([[v in dims for dims in tensors] for _, v in kinds], dtype=bool)
        out_loops = [li for li, (_, v) in enumerate(kinds)
                     if rel[li, 2] and v in SLIDING and layer.is_conv_family]
        out_sizes = np.array([float(layer.output_size(kinds[li][1])) for li in out_loops],
                             dtype=np.float64)[:, None]
        out_idx = np.array(out_loops, dtype=np.int64)
        for a in (spatial, rel, out_idx, out_sizes):
            a.setflags(write=False)
        if len(_PLANS) >= 1024:
            _PLANS.clear()
        plan = _PLANS[key] = (spatial, rel, out_idx, out_sizes)
    return plan


def top_loops(layer: Layer, table: TensorTable, top: Level) -> _Loops:
    """The top level's loops, outer first, with extents in each tensor's own coordinates
    (input, filter, output; output rows and columns in output space). The extents of all
    loops are computed at once on ``[n, B]`` stacks."""
    units = np.maximum(top.N, 1)
    spatial, rel, out_idx, out_sizes = _loop_plan(layer, table, top.directives)
    n, sums, union, ext = _extents(top.D, top.M, top.O, np.where(spatial, units, 1))
    relb = rel[:, :, None]
    st_sum = np.where(relb, sums[:, None, :], 1.0)
    st_union = np.where(relb, union[:, None, :], 1.0)
    st_ext = np.where(relb, ext[:, None, :], 1.0)
    if len(out_idx):
        st_sum[out_idx, 2] = out_sizes
        st_union[out_idx, 2] = out_sizes
        st_ext[out_idx, 2] = np.ceil(out_sizes / n[out_idx])
    return _Loops(n, st_sum, st_union, st_ext, rel)


def _tensor_traffic(loops: _Loops, ks: np.ndarray):
    """Traffic of every tensor with the innermost ``k`` loops resident, for every ``k`` of
    ``ks`` (``[K, 1]``, ascending) at once: ``[3, K, B]`` traffic, number of fetches,
    innermost refetching loop (-1: fetched once) and L2 block size. Every product runs over
    the loops from the inside out, in the same order for each tensor and ``k`` (a loop that
    does not apply multiplies by an exact 1.0, or is skipped)."""
    cells = len(ks) * loops.n.shape[1]
    if cells >= _SLICE_CELLS:
        return _tensor_traffic_sliced(loops, ks)
    if cells >= _STACK_CELLS:
        return _tensor_traffic_stacked(loops, ks)
    L = len(loops)
    inward = slice(None, None, -1)  # loop axis from the innermost loop out
    n = loops.n[inward][:, None, None, :]                     # [L, 1, 1, B]
    rel = loops.rel[inward][:, :, None, None]                 # [L, 3, 1, 1]
    sums, union, ext = (a[inward][:, :, None, :] for a in (loops.sums, loops.union, loops.ext))
    li = np.arange(L - 1, -1, -1)
    outer = (li[:, None] < L - ks[:, 0])[:, None, :, None]    # [L, 1, K, 1]
    # a tensor is fetched anew from the first loop (from the inside) outside the resident
    # block that it depends on and that iterates (``first``); loops further out find it so
    newly = rel & outer & (n > 1)                              # [L, 3, K, B]
    fetched = newly.any(axis=0)
    first = np.argmax(newly, axis=0)
    r = np.arange(L)[:, None, None, None]
    found = (r >= first) & fetched
    was = (r > first) & fetched & outer
    inner_loop = np.where(fetched, L - 1 - first, -1)
    # a loop the tensor depends on: its first advancing loop from the inside fetches the
    # union, loops outside the sums; a loop it does not depend on refetches n times.
    # multiply.reduce multiplies along the loop axis in order (inside out)
    prod = np.multiply.reduce
    traffic = prod(np.where(rel, np.where(was, sums, union), np.where(was, n, 1.0)), axis=0)
    block = prod(np.where(rel, np.where(outer, ext, union), 1.0), axis=0)
    fetches = prod(np.where(outer & found, n, 1.0), axis=0)
    return traffic, fetches, inner_loop, block


def _accumulators(shape: tuple[int, ...]):
    """Empty products ``traffic, fetches, block`` (ones), ``found`` (False) and
    ``inner_loop`` (-1) of the loop-by-loop traffic passes."""
    return (np.ones(shape), np.ones(shape), np.ones(shape), np.zeros(shape, dtype=bool),
            np.full(shape, -1, dtype=np.int64))


def _tensor_traffic_stacked(loops: _Loops, ks: np.ndarray):
    """:func:`_tensor_traffic` one loop at a time on ``[3, K, B]`` stacks (less work than
    the ``[L, 3, K, B]`` arrays on medium batches)."""
    L = len(loops)
    shape = (3, len(ks), loops.n.shape[1])
    traffic, fetches, block, found, inner_loop = _accumulators(shape)
    for li in range(L - 1, -1, -1):
        n = loops.n[li]
        outer = li < L - ks  # [K, 1]
        rel = loops.rel[li][:, None, None]
        sums, union, ext = (a[li][:, None] for a in (loops.sums, loops.union, loops.ext))
        was = outer & found
        newly = rel & outer & ~found & (n > 1)
        inner_loop[newly] = li
        traffic *= np.where(rel, np.where(was, sums, union), np.where(was, n, 1.0))
        found |= newly
        block *= np.where(rel, np.where(outer, ext, union), 1.0)
        fetches *= np.where(outer & found, n, 1.0)
    return traffic, fetches, inner_loop, block


def _tensor_traffic_sliced(loops: _Loops, ks: np.ndarray):
    """:func:`_tensor_traffic` per tensor on row slices (less work on large batches)."""
    L = len(loops)
    B = loops.n.shape[1]
    shape = (3, len(ks), B)
    traffic, fetches, block, found, inner_loop = _accumulators(shape)
    for li in range(L - 1, -1, -1):
        n = loops.n[li]
        c = int(np.count_nonzero(li < L - ks))  # the rows the loop is outside the block
        for t in range(3):
            tr, fe, bl, fo, il = traffic[t], fetches[t], block[t], found[t], inner_loop[t]
            was = fo[:c]
            if loops.rel[li, t]:
                sums, union, ext = loops.sums[li, t], loops.union[li, t], loops.ext[li, t]
                newly = ~was & (n > 1)
                il[:c][newly] = li
                tr[:c] *= np.where(was, sums, union)
                tr[c:] *= union
                was |= newly
                bl[:c] *= ext
                bl[c:] *= union
                fe[:c] *= np.where(was, n, 1.0)
            else:
                step = np.where(was, n, 1.0)
                tr[:c] *= step
                fe[:c] *= step
    return traffic, fetches, inner_loop, block


# from this many (residency choices x candidates) on, the DRAM level works per tensor on row
# slices (less work); from _STACK_CELLS on one loop at a time on [3, K, B] stacks; below, on
# whole [L, 3, K, B] stacks (fewest numpy calls)
_SLICE_CELLS = 4096
_STACK_CELLS = 512


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
    pick = _fastest(r) if resident is None else np.searchsorted(ks, fixed)
    cols = np.arange(B)
    return DramResult(**{f: getattr(r, f)[pick, cols] for f in _FIELDS})


def _fastest(r: DramResult) -> np.ndarray:
    """``[B]`` row of ``r`` (``[K, B]`` fields) each candidate keeps: the fastest that fits
    (row 0, k = 0, always counts), then the least traffic, the first row on ties."""
    fits = ~r.overflow
    fits[0] = True
    big = np.iinfo(np.int64).max
    rt = r.runtime
    best_rt = np.min(rt, axis=0, where=fits, initial=big)
    fits &= rt == best_rt
    total = r.read + r.write
    fits &= total == np.min(total, axis=0, where=fits, initial=big)
    return np.argmax(fits, axis=0)


_FIELDS = tuple(DramResult.__dataclass_fields__)


def _residencies(loops: _Loops, ks, t_on, bw, latency, l2_size, scale=None) -> DramResult:
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
    out_once = np.prod(loops.union[loops.rel[:, 2], 2], axis=0)
    if scale is not None:
        out_once = out_once * scale[2]
    write = tr_o
    read_out = np.maximum(tr_o - out_once, 0.0)
    # transfers per fetch of each tensor; lt: the loops whose advance triggers them
    per_fetch = np.array([tr_in / fetches[0], tr_w / fetches[1], (tr_o + read_out) / fetches[2]])
    outer = L - kcol  # [K, 1]: loops outside the resident block
    # cum[o]: the product of the first o loops' counts, in loop order (blocks of o outer loops)
    cum = np.ones((L + 1, B))
    np.cumprod(loops.n, axis=0, out=cum[1:])
    blocks = cum[outer[:, 0]]
    on_block = np.asarray(t_on, dtype=np.float64) / blocks
    on_block1 = np.maximum(on_block, 1.0)
    first = (per_fetch[0] + per_fetch[1] + per_fetch[2]) / bw
    stall0 = np.maximum(first - on_block, 0.0)
    peak = first * bw / on_block1
    stall, peak = _refetch_bursts(loops, cum, lt, per_fetch, outer, bw, on_block, on_block1,
                                  stall0, peak)
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


def _refetch_bursts(loops: _Loops, cum, lt, per_fetch, outer, bw, on_block, on_block1, stall,
                    peak):
    """Stall and peak bandwidth ``[K, B]`` with the bursts of refetches at loop boundaries:
    loop ``j`` (outside the resident block) advances ``cum[j] x (n_j - 1)`` times, each time
    refetching the tensors whose innermost refetching loop is ``j`` or further in. The stalls
    add up from the outermost loop in (a running sum, in that order)."""
    L = len(loops)
    if stall.size >= _STACK_CELLS:
        return _refetch_bursts_loop(loops, cum, lt, per_fetch, outer, bw, on_block, on_block1,
                                    stall, peak)
    j = np.arange(L)[:, None, None]                            # [L, 1, 1]
    count = (cum[:-1] * (loops.n - 1.0))[:, None, :]           # [L, 1, B]
    applies = j < outer                                        # [L, K, 1]
    part = np.where(lt >= j[:, None], per_fetch, 0.0)          # [L, 3, K, B]
    amount = part[:, 0] + part[:, 1] + part[:, 2]              # [L, K, B]
    terms = np.where(applies, count * np.maximum(amount / bw - on_block, 0.0), 0.0)
    stall = stall.copy()
    for term in terms:  # in loop order (np.add.reduce would sum pairwise)
        stall += term
    burst = np.where(applies & (count > 0), amount / on_block1, -np.inf)
    return stall, np.maximum(peak, burst.max(axis=0))


def _refetch_bursts_loop(loops: _Loops, cum, lt, per_fetch, outer, bw, on_block, on_block1,
                         stall, peak):
    """:func:`_refetch_bursts` one loop at a time, on the rows it is outside the resident
    block (a prefix): less work on medium and large batches."""
    stall, peak = stall.copy(), peak.copy()
    for j in range(len(loops)):
        c = int(np.count_nonzero(j < outer))
        count = cum[j] * (loops.n[j] - 1.0)
        part = np.where(lt[:, :c] >= j, per_fetch[:, :c], 0.0)
        amount = part[0] + part[1] + part[2]
        stall[:c] += count * np.maximum(amount / bw - on_block[:c], 0.0)
        peak[:c] = np.where(count > 0, np.maximum(peak[:c], amount / on_block1[:c]), peak[:c])
    return stall, peak


_COMPULSORY: dict[tuple, tuple[int, int, int]] = {}


def compulsory(layer: Layer, table: TensorTable) -> tuple[int, int, int]:
    """Elements of the input, filter and output tensors (the least any mapping moves),
    cached per layer shape and tensor table (a search evaluates one layer many times)."""
    key = (layer.type, tuple(layer.dims.items()), tuple(layer.strides.items()), table)
    out = _COMPULSORY.get(key)
    if out is None:
        if len(_COMPULSORY) >= 1024:
            _COMPULSORY.clear()
        out = _COMPULSORY[key] = _compulsory(layer, table)
    return out


def _compulsory(layer: Layer, table: TensorTable) -> tuple[int, int, int]:
    """:func:`compulsory`, computed."""
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

