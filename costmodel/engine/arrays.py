"""Array helpers the engine's steps share: broadcast products and reductions over cases."""

from __future__ import annotations

from operator import attrgetter

import numpy as np

_SIZE = attrgetter("size")


def broadcast_prod(factors):
    """Product of broadcastable arrays, smallest first (so outer products grow only once)."""
    factors = [f for f in factors if not isinstance(f, int)]
    if len(factors) > 1:
        factors.sort(key=_SIZE)
    out = 1
    for f in factors:
        out = out * f
    return out


def row_param(a: np.ndarray):
    """A per-row hardware parameter, as a Python int when every row has the same value
    (numpy divides by a scalar several times faster)."""
    if len(a) and (a == a[0]).all():
        return int(a[0])
    return a


def rowdot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-row dot product over the cases of two ``[C, R]`` arrays (no temporary)."""
    return np.einsum("cr,cr->r", a, b)


def case_fsum(x: np.ndarray) -> np.ndarray:
    """Sum of floats over the cases (axis 0), adding them in case order for every row count:
    ``x.sum(axis=0)`` would switch to pairwise summation for a single row, so a batch and a
    single evaluation could differ in the last bit."""
    return np.cumsum(x, axis=0)[-1]


def valid_reduce(op, x, valid, part, fill):
    """``op`` (np.min or np.max) over each row's valid cases, ``fill`` counting for the
    invalid ones; only the rows ``part`` (those with an invalid case) need the masking."""
    out = op(x, axis=0)
    if len(part):
        out[part] = op(np.where(valid[:, part], x[:, part], fill), axis=0)
    return out


def divide_quiet(a, b):
    """``a / b`` without numpy's divide-by-zero warnings (0/0 is nan, x/0 inf), and without
    the cost of ``np.errstate`` when no divisor is 0."""
    if np.asarray(b).all():  # no divisor is 0
        return np.true_divide(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.true_divide(a, b)
