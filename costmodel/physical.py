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
    # cum[o]: the product of the first o loops' counts, in loop order (blocks of o outer
    # loops, [L + 1, B]); advances[l]: how often loop l advances, cum[l] x (n_l - 1)
    cum: np.ndarray
    advances: np.ndarray
    out_once: np.ndarray  # [B] the output tensor's covered extent (product over the loops)

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


def _extents(D, m, o, u, out: np.ndarray) -> np.ndarray:
    """Iterations of a loop over ``D`` with tiles of ``m`` every ``o``, ``u`` tiles per
    iteration (SpatialMap folds); its summed, covered and largest extents go to ``out[0]``,
    ``out[1]`` and ``out[2]`` (float arrays)."""
    tiles = np.where(D <= m, 1.0, np.ceil((D - m) / o) + 1.0)
    n = np.ceil(tiles / u)
    e = np.minimum(m, D) + o * (np.minimum(u, tiles) - 1.0)
    step = o * u
    full = np.where(D >= e, np.floor((D - e) / step) + 1.0, 0.0)
    full = np.minimum(full, n)
    rest = n - full
    # iterations j >= full hold D - j*step elements
    tail = rest * D - step * (full + n - 1.0) * rest / 2.0
    ext = np.minimum(e, D, out=out[2])
    np.add(full * ext, np.maximum(tail, 0.0), out=out[0])
    np.minimum(D, (n - 1.0) * step + e, out=out[1])
    return n


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
    spatial, rel, out_idx, out_sizes = _loop_plan(layer, table, top.directives)
    D, m, o = np.array((top.D, top.M, top.O), dtype=np.float64)
    u = np.where(spatial, np.maximum(top.N, 1), 1.0)
    stats = np.empty((3,) + D.shape)
    n = _extents(D, m, o, u, stats)
    st = np.where(rel[:, :, None], stats[:, :, None, :], 1.0)  # [3 stats, L, 3 tensors, B]
    if len(out_idx):
        st[:2, out_idx, 2] = out_sizes
        st[2, out_idx, 2] = np.ceil(out_sizes / n[out_idx])
    cum = np.empty((len(n) + 1, n.shape[1]))
    cum[0] = 1.0
    if n.shape[1] >= _STACK_BATCH:  # wide rows: one multiply per loop (accumulate is slow)
        for li, row in enumerate(n):
            np.multiply(cum[li], row, out=cum[li + 1])
    else:
        np.multiply.accumulate(n, axis=0, out=cum[1:])
    out_once = np.multiply.reduce(st[1, :, 2], axis=0)  # 1.0 where not dependent
    return _Loops(n, st[0], st[1], st[2], rel, cum, cum[:-1] * (n - 1.0), out_once)


@dataclass(frozen=True)
class _Choices:
    """Residency choices ``ks`` (ascending) over ``L`` top-level loops whose tensor
    dependences are ``rel``: the candidate-independent masks of the DRAM passes (cached)."""

    kcol: np.ndarray      # [K, 1] int64: the choices
    outer_idx: object     # [K] loops outside the resident block, L - k (a slice: all k)
    zero_first: bool      # ks[0] == 0: row 0 keeps nothing resident
    rows: tuple           # rows[l]: the choices (a prefix) with loop l outside the block
    outer: np.ndarray     # [L, 1, K, 1]: loop outside the block
    applies: np.ndarray   # [L, K, 1]: the same, for [L, K, B] stacks
    fetch_at: np.ndarray  # [L, 3, K, 1]: outer and the tensor depends on it
    loop_idx: np.ndarray  # [L, 1, 1, 1]: the loop index


_CHOICES: dict[tuple, _Choices] = {}


def _choices(rel: np.ndarray, ks: np.ndarray) -> _Choices:
    """:class:`_Choices` of ``ks`` for loops with dependences ``rel [L, 3]``."""
    key = (rel.tobytes(), ks.tobytes())
    ch = _CHOICES.get(key)
    if ch is None:
        L = len(rel)
        outside = np.arange(L)[:, None] < L - ks[None, :]  # [L, K]
        fetch_at = (rel[:, :, None] & outside[:, None, :])[..., None]
        ch = _Choices(
            kcol=ks.astype(np.int64)[:, None], zero_first=bool(ks[0] == 0),
            outer_idx=slice(None, None, -1) if np.array_equal(ks, np.arange(L + 1)) else L - ks,
            rows=tuple(int(c) for c in outside.sum(axis=1)), outer=outside[:, None, :, None],
            applies=outside[:, :, None], fetch_at=fetch_at,
            loop_idx=np.arange(L)[:, None, None, None])
        if len(_CHOICES) >= 1024:
            _CHOICES.clear()
        _CHOICES[key] = ch
    return ch


def _tensor_traffic(loops: _Loops, ch: _Choices, traffic: np.ndarray):
    """Traffic of every tensor with the innermost ``k`` loops resident, for every choice of
    ``ch`` at once: writes the ``[3, K, B]`` traffic to ``traffic`` and returns the number of
    fetches, the number of outer loops whose advance refetches the tensor (``refetchers``:
    loops ``0 .. refetchers - 1``) and the L2 block size. Every product runs over the loops
    from the inside out, in the same order for each tensor and ``k`` (a loop that does not
    apply multiplies by an exact 1.0, or is skipped). A loop the tensor does not depend on
    holds 1.0 in ``sums``, ``union`` and ``ext``."""
    B = loops.n.shape[1]
    if len(ch.kcol) * B >= _SLICE_CELLS:
        return _tensor_traffic_sliced(loops, ch, traffic)
    if B >= _STACK_BATCH:
        return _tensor_traffic_stacked(loops, ch, traffic)
    n = loops.n[:, None, None, :]                                       # [L, 1, 1, B]
    sums, union, ext = (a[:, :, None, :] for a in (loops.sums, loops.union, loops.ext))
    # the innermost loop that fetches the tensor anew (one it depends on, outside the
    # resident block, iterating) and the loops outside it: loops 0 .. refetchers - 1
    number = np.where(loops.n > 1.0, ch.loop_idx[:, 0, 0] + 1, 0)[:, None, None, :]
    refetchers = np.maximum.reduce(np.where(ch.fetch_at, number, 0), axis=0)
    found = ch.loop_idx < refetchers  # that loop or one outside it
    was = ch.loop_idx + 1 < refetchers  # outside it
    # a loop the tensor depends on: its first advancing loop from the inside fetches the
    # union, loops outside the sums; a loop it does not depend on refetches n times.
    # multiply.reduce multiplies along the loop axis in order (here inside out)
    prod = np.multiply.reduce
    cause = np.where(loops.rel[:, :, None, None], sums, n)
    prod(np.where(was, cause, union)[::-1], axis=0, out=traffic)
    block = prod(np.where(ch.outer, ext, union)[::-1], axis=0)
    fetches = prod(np.where(found, n, 1.0)[::-1], axis=0)
    return fetches, refetchers, block


def _accumulators(traffic: np.ndarray):
    """Empty products ``fetches, block`` (ones), ``found`` (False) and ``refetchers`` (0) of
    the loop-by-loop traffic passes; sets ``traffic`` to ones."""
    shape = traffic.shape
    traffic[...] = 1.0
    return (np.ones(shape), np.ones(shape), np.zeros(shape, dtype=bool),
            np.zeros(shape, dtype=np.int64))


def _tensor_traffic_stacked(loops: _Loops, ch: _Choices, traffic: np.ndarray):
    """:func:`_tensor_traffic` one loop at a time on ``[3, K, B]`` stacks (less work than
    the ``[L, 3, K, B]`` arrays on medium batches): the rows a loop is outside the resident
    block (a prefix) take its refetches, the others its union."""
    fetches, block, found, refetchers = _accumulators(traffic)
    cause = np.where(loops.rel[:, :, None], loops.sums, loops.n[:, None, :])  # [L, 3, B]
    iterates = loops.rel[:, :, None] & (loops.n > 1.0)[:, None, :]
    for li in range(len(loops) - 1, -1, -1):
        c = ch.rows[li]
        union = loops.union[li][:, None]
        traffic[:, c:] *= union
        block[:, c:] *= union
        if c:
            was = found[:, :c]
            traffic[:, :c] *= np.where(was, cause[li][:, None], union)
            was |= iterates[li][:, None]
            refetchers[:, :c] += was
            block[:, :c] *= loops.ext[li][:, None]
            fetches[:, :c] *= np.where(was, loops.n[li], 1.0)
    return fetches, refetchers, block


def _tensor_traffic_sliced(loops: _Loops, ch: _Choices, traffic: np.ndarray):
    """:func:`_tensor_traffic` per tensor on row slices (less work on large batches)."""
    fetches, block, found, refetchers = _accumulators(traffic)
    for li in range(len(loops) - 1, -1, -1):
        n = loops.n[li]
        c = ch.rows[li]
        for t in range(3):
            tr, fe, bl, fo, rf = traffic[t], fetches[t], block[t], found[t], refetchers[t]
            was = fo[:c]
            if loops.rel[li, t]:
                sums, union, ext = loops.sums[li, t], loops.union[li, t], loops.ext[li, t]
                newly = ~was & (n > 1)
                rf[:c][newly] = li + 1
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
    return fetches, refetchers, block


# from this many (residency choices x candidates) on, the DRAM level works per tensor on row
# slices (less work); from _STACK_BATCH candidates on one loop at a time on [3, K, B] stacks;
# below, on whole [L, 3, K, B] stacks (fewest numpy calls)
_SLICE_CELLS = 4096
_STACK_BATCH = 512

#: the int64 fields of :class:`DramResult` in the order of the stacks the passes build
_ROWS = ("read_input", "read_weight", "write", "read_output", "resident_size", "stall",
         "peak_bw", "runtime", "resident")
_RUNTIME, _STALL, _RESIDENT = (_ROWS.index(f) for f in ("runtime", "stall", "resident"))
_TRAFFIC = slice(0, 4)  # the reads and the write: a candidate's DRAM traffic
_BIG = np.iinfo(np.int64).max


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
    hw = (np.asarray(t_on, dtype=np.float64), np.asarray(offchip_bw, dtype=np.float64),
          np.asarray(t_on, dtype=np.int64) + np.asarray(latency, dtype=np.int64),
          np.asarray(l2_size, dtype=np.float64), scale)
    if resident is None:
        ks = np.arange(L + 1)
    else:
        fixed = np.broadcast_to(np.clip(np.asarray(resident, dtype=np.int64), 0, L), (B,))
        ks = np.unique(fixed)
    if len(ks) > 1 and len(ks) * B >= _SLICE_CELLS:  # large batch: one choice at a time
        rows = [_residencies(loops, _choices(loops.rel, ks[i:i + 1]), *hw)
                for i in range(len(ks))]
        rows = [(ints[:, 0], over[0]) for ints, over in rows]
        if resident is None:
            best, best_over = rows[0]
            for x, over in rows[1:]:
                rt, best_rt = x[_RUNTIME], best[_RUNTIME]
                better = ~over & ((rt < best_rt) | ((rt == best_rt) & (
                    x[_TRAFFIC].sum(axis=0) < best[_TRAFFIC].sum(axis=0))))
                best = np.where(better, x, best)
                best_over = np.where(better, over, best_over)
            return _result(best, best_over)
        pick = np.searchsorted(ks, fixed)
        return _result(np.choose(pick, [x for x, _ in rows]),
                       np.choose(pick, [over for _, over in rows]))
    ints, overflow = _residencies(loops, _choices(loops.rel, ks), *hw)  # [K, B] fields
    if len(ks) == 1:
        return _result(ints[:, 0], overflow[0])
    pick = _fastest(ints, overflow) if resident is None else np.searchsorted(ks, fixed)
    cols = np.arange(B)
    return _result(ints[:, pick, cols], overflow[pick, cols])


def _result(ints: np.ndarray, overflow: np.ndarray) -> DramResult:
    """:class:`DramResult` of the ``[9, B]`` int64 fields (``_ROWS`` order) and overflows."""
    return DramResult(overflow=overflow, **dict(zip(_ROWS, ints)))


def _fastest(ints: np.ndarray, overflow: np.ndarray) -> np.ndarray:
    """``[B]`` row each candidate keeps of the ``[9, K, B]`` int fields (``_ROWS`` order):
    the fastest that fits (row 0, k = 0, always counts), then the least traffic, the first
    row on ties."""
    fits = ~overflow
    fits[0] = True
    rt = ints[_RUNTIME]
    fits &= rt == np.minimum.reduce(np.where(fits, rt, _BIG), axis=0)
    total = ints[_TRAFFIC].sum(axis=0)
    fits &= total == np.minimum.reduce(np.where(fits, total, _BIG), axis=0)
    return np.argmax(fits, axis=0)


def _residencies(loops: _Loops, ch: _Choices, t_on, bw, t_lat, l2, scale=None):
    """``(ints [9, K, B], overflow [K, B])``: the int64 fields of :class:`DramResult`
    (``_ROWS`` order) and its overflow flags, row ``i`` keeping the innermost ``ks[i]``
    top-level loops resident in L2. ``t_on``, ``bw``, ``l2``: float; ``t_lat``: int64
    ``t_on`` plus the DRAM latency."""
    B = loops.n.shape[1]
    f = np.empty((7, len(ch.kcol), B))  # the first 7 fields of _ROWS, rounded at the end
    traffic = f[:3]
    fetches, refetchers, block = _tensor_traffic(loops, ch, traffic)
    if scale is not None:  # compressed tensors: stored words instead of elements
        sc = np.asarray(scale, dtype=np.float64)
        sc = sc.reshape(3, 1, -1) if sc.ndim == 2 else sc.reshape(3, 1, 1)
        traffic *= sc
        block = block * sc
    tr_o, read_out = f[2], f[3]
    out_once = loops.out_once
    if scale is not None:
        out_once = out_once * scale[2]
    np.maximum(np.subtract(tr_o, out_once, out=read_out), 0.0, out=read_out)
    # transfers per fetch of each tensor; refetchers: the loops whose advance triggers them
    per_fetch = traffic / fetches
    np.add(tr_o, read_out, out=per_fetch[2])
    per_fetch[2] /= fetches[2]
    on_block = t_on / loops.cum[ch.outer_idx]
    on_block1 = np.maximum(on_block, 1.0)
    first = per_fetch[0] + per_fetch[1]
    first += per_fetch[2]
    first /= bw
    stall, peak = _refetch_bursts(loops, ch, refetchers, per_fetch, bw, on_block, on_block1,
                                  first)
    size = np.add(block[0], block[1], out=f[4])
    size += block[2]
    size *= 2.0
    if ch.zero_first:
        size[0] = 0.0
    overflow = size > l2
    extra = np.subtract(stall, 1e-9, out=f[_STALL])
    np.ceil(np.maximum(extra, 0.0, out=extra), out=extra)
    np.ceil(peak, out=f[6])
    np.rint(f, out=f)  # the stall and peak rows are whole already
    ints = np.empty((9,) + f.shape[1:], dtype=np.int64)
    ints[:7] = f
    np.add(t_lat, ints[_STALL], out=ints[_RUNTIME])
    ints[_RESIDENT] = ch.kcol
    return ints, overflow


def _refetch_bursts(loops: _Loops, ch: _Choices, refetchers, per_fetch, bw, on_block,
                    on_block1, first):
    """Stall and peak bandwidth ``[K, B]`` of the first fetch (``first``: its DRAM time) and
    the bursts of refetches at loop boundaries: loop ``j`` (outside the resident block)
    advances ``cum[j] x (n_j - 1)`` times, each time refetching the tensors with more than
    ``j`` refetching loops. The stalls add up from the outermost loop in (a running sum, in
    that order). A loop inside the block refetches nothing (amount 0)."""
    if first.shape[1] >= _STACK_BATCH:
        return _refetch_bursts_loop(loops, ch, refetchers, per_fetch, bw, on_block,
                                    on_block1, first)
    count = loops.advances[:, None, :]                          # [L, 1, B]
    part = np.where(refetchers > ch.loop_idx, per_fetch, 0.0)   # [L, 3, K, B]
    amount = part[:, 0] + part[:, 1] + part[:, 2]               # [L, K, B]
    terms = np.where(ch.applies, np.maximum(amount / bw - on_block, 0.0), 0.0)
    terms *= count
    stall = np.maximum(first - on_block, 0.0)
    for term in terms:  # in loop order (np.add.reduce would sum pairwise)
        stall += term
    burst = np.maximum.reduce(np.where(count > 0, amount / on_block1, -np.inf), axis=0)
    return stall, np.maximum(first * bw / on_block1, burst)


def _refetch_bursts_loop(loops: _Loops, ch: _Choices, refetchers, per_fetch, bw, on_block,
                         on_block1, first):
    """:func:`_refetch_bursts` one loop at a time, on the rows it is outside the resident
    block (a prefix): less work on medium and large batches."""
    stall = np.maximum(first - on_block, 0.0)
    peak = first * bw / on_block1
    count = loops.advances
    advances = count > 0
    for j in range(len(loops)):
        c = ch.rows[j]
        if not c:
            continue
        part = np.where(refetchers[:, :c] > j, per_fetch[:, :c], 0.0)
        amount = part[0] + part[1] + part[2]
        stall[:c] += count[j] * np.maximum(amount / bw - on_block[:c], 0.0)
        np.maximum(peak[:c], amount / on_block1[:c], out=peak[:c], where=advances[j])
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

