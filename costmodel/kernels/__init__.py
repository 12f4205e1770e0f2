"""Compiled fast path of the engine (numba): the same records as
:class:`costmodel.engine.Engine`, bit for bit, one candidate at a time.

numpy's cost per call (a few microseconds for each of the engine's hundreds of array
operations per case group) dominates the small batches a search makes and a single
evaluation; compiled scalar code has no such cost. :func:`analyze` returns the engine's
result fields for a batch of candidates (docs/speed.md).
"""

from __future__ import annotations

import numpy as np

from ..layer import TensorTable
from ..levels import Level
from .level import analyze_batch
from .pack import candidates, structure, top_dims, var_names

__all__ = ["MAX_BATCH", "analyze"]

#: evaluate_batch runs the kernel up to this many candidates, the numpy engine above: the
#: kernel costs about 70 us a candidate, numpy about 5 ms a call plus 12 us a candidate
#: (crossover near 50; docs/speed.md)
MAX_BATCH = 48


def analyze(levels: list[Level], table: TensorTable, hw) -> dict:
    """The top level's records (the fields of ``Engine.analyze``) for every candidate;
    ``hw`` is a :class:`costmodel.engine.HardwareBatch`."""
    names = var_names(levels, table)
    S = structure(levels, table, names)
    P = candidates(levels, table, names)
    H = tuple(np.ascontiguousarray(a, dtype=np.int64)
              for a in (hw.noc_bw, hw.noc_latency, hw.offchip_bw, hw.simd_lanes))
    B = len(levels[0].N)
    T = _outputs(B)
    analyze_batch(S, P, H, T, top_dims(levels, names))
    return dict(zip(FIELDS, T))


FIELDS = ("runtime", "avg_active", "max_active", "err", "first_l1", "num_macs", "offchip_req",
          "peak_bw", "l2_size_in", "l2_size_w", "l2_size_out", "counters", "delays",
          "compute_cycles", "top_iterations", "avg_bw", "ai")


def _outputs(B: int) -> tuple:
    """Zeroed result arrays, in :data:`FIELDS` order."""
    i64 = np.int64
    z = lambda *s, dt=i64: np.zeros((B, *s), dtype=dt)  # noqa: E731
    return (z(), z(dt=float), z(), z(), z(3), z(), z(), z(), z(), z(), z(), z(3, 4), z(3, 3),
            z(), z(), z(dt=float), z(dt=float))
