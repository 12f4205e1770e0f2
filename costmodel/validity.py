"""Validity flags: one bit per reason a result cannot be trusted, and the text of each.

A candidate's ``flags`` is the OR of the bits that apply; it is valid when no bit is set.
The engine (:mod:`costmodel.engine`) sets the bits of :data:`ERROR_REASONS` while it analyses
the levels: those are cases MAESTRO itself aborts on or cannot analyse. The report
(:mod:`costmodel.analysis`) adds the consistency checks, where MAESTRO returns a number that
is physically impossible, and the physical model (:mod:`costmodel.physical_report`) its own.
The physical model raises a runtime below the busiest PE's work to it instead of flagging it
(:func:`costmodel.analysis.evaluate_batch`).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

# set by the engine
ERR_PES = 1           # cluster sizes need more PEs than exist
ERR_UNIQUE_ZERO = 2   # a changing temporal dim with no new data (MAESTRO aborts)
ERR_ZERO_COMPUTE = 4  # a child level with no valid case: MAESTRO dies with SIGFPE
ERR_NO_VALID = 8      # no valid iteration case at the top level
ERR_OCC_WRAP = 1024   # a case occurs 2^31+ times: MAESTRO's int count wraps (or it aborts)
# consistency checks of the report
ERR_MACS = 16         # MAESTRO's MAC count differs from the layer's true MAC count
ERR_RUNTIME = 32      # runtime below MACs / (PEs busy at once x SIMD lanes)
ERR_PAIRS = 64        # two SpatialMaps whose tiles do not pair: some pairs never computed
ERR_BUSIEST_PE = 512  # runtime below the MACs of the busiest PE over the SIMD lanes
# physical model
ERR_L2_RESIDENCY = 128  # the stated L2-resident block does not fit the L2
ERR_DRAM_BOUNDS = 256   # DRAM traffic or runtime below a physical lower bound

#: the flags the engine sets, and why
ERROR_REASONS = {
    ERR_PES: "cluster sizes need more PEs than the accelerator has",
    ERR_UNIQUE_ZERO: "a changing temporal loop brings no new data (MAESTRO aborts)",
    ERR_ZERO_COMPUTE: "a sub-cluster level has no valid iteration case (MAESTRO crashes, SIGFPE)",
    ERR_NO_VALID: "no valid iteration case at the top level",
    ERR_OCC_WRAP: ("a loop case occurs 2^31 times or more: MAESTRO counts occurrences in a "
                   "32-bit int, which wraps (it aborts when the wrapped count is not positive, "
                   "else every count is wrong)"),
}

#: every flag, and why
REASONS = {
    **ERROR_REASONS,
    ERR_MACS: "analysed MAC count differs from the layer's true MAC count",
    ERR_RUNTIME: ("runtime is below the compute bound MACs / (PEs x SIMD lanes), "
                  "counting only the PEs the mapping keeps busy at once"),
    ERR_PAIRS: ("a level spreads two dims over its units (two SpatialMaps, both split) "
                "whose tiles do not pair: independent dims, or a sliding window and its "
                "filter at different offsets or tile counts: MAESTRO pairs their tiles "
                "unit by unit, so some tile pairs are never computed"),
    ERR_BUSIEST_PE: ("runtime is below the MAC count of the busiest PE (PE 0) over the SIMD "
                     "lanes: MAESTRO's multi-level analysis undercounts edge tiles here, and "
                     "no execution of the mapping is that fast"),
    ERR_L2_RESIDENCY: "the L2-resident block (L2Resident) does not fit the L2",
    ERR_DRAM_BOUNDS: ("DRAM traffic below the tensors' sizes, or runtime below DRAM traffic / "
                      "off-chip bandwidth (physical model)"),
}


def describe_flags(flags: int) -> str:
    """Human-readable reasons for a bitmask of invalidity flags ('' when valid)."""
    return _describe(int(flags))


@lru_cache(maxsize=1024)
def _describe(flags: int) -> str:
    return "; ".join(text for bit, text in sorted(REASONS.items()) if flags & bit)


def describe_flags_array(flags: np.ndarray) -> np.ndarray:
    """:func:`describe_flags` of every candidate: one text per distinct bitmask of a batch
    (a small batch directly, where ``np.unique`` would cost more than it saves)."""
    if len(flags) <= 64:
        out = np.empty(len(flags), dtype=object)
        out[:] = [_describe(f) for f in flags.tolist()]
        return out
    uniq, inv = np.unique(flags, return_inverse=True)
    return np.array([_describe(f) for f in uniq.tolist()], dtype=object)[inv]
