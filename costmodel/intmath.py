"""Integer helpers with C semantics, vectorised (MAESTRO's arithmetic is C integer arithmetic)."""

from __future__ import annotations

import numpy as np


def tdiv(a, b):
    """C integer division: truncates toward zero (``(1-4)/2 == -1``). ``b`` must be non-zero."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    q = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (b < 0), -q, q)


def ceil_div(a, b):
    """``ceil(a / b)`` for non-negative ``a`` and positive ``b``."""
    return (np.asarray(a, dtype=np.int64) + b - 1) // b


def noc_sends(a, b):
    """MAESTRO's NoC send count ``a / b + (a % b != 0 ? 1 : 0)`` in C arithmetic, for a
    positive ``b``: ``ceil(a / b)`` for ``a >= 0``. A negative ``a`` (the traffic of some edge
    cases) truncates toward zero and still adds one send when ``b`` does not divide it, so
    traffic -1 on bandwidth 256 takes one send, not zero."""
    a = np.asarray(a, dtype=np.int64)
    q = (a + b - 1) // b
    if a.size and a.min() < 0:
        q = q + ((a < 0) & (q * b != a))
    return q


def nz(x):
    """``x`` where non-zero, else 1 (MAESTRO's guard against zero factors)."""
    return np.where(x != 0, x, 1)


def tdiv_pos(a, b):
    """:func:`tdiv` for a positive divisor ``b``: one floor division, corrected toward zero
    only where ``a`` is negative (rare, so usually a single pass)."""
    a = np.asarray(a, dtype=np.int64)
    q = a // b
    if a.size and a.min() < 0:
        q = q + ((a < 0) & (q * b != a))
    return q
