"""C-semantics integer helpers against Python's exact integer arithmetic."""

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from costmodel.intmath import ceil_div, noc_sends, nz, tdiv, tdiv_pos

ints = st.integers(-(2**40), 2**40)
nonzero = ints.filter(lambda b: b != 0)


def c_div(a: int, b: int) -> int:
    """C's ``a / b``: the exact quotient truncated toward zero."""
    q = abs(a) // abs(b)
    return -q if (a < 0) != (b < 0) else q


def test_tdiv_truncates_toward_zero_unlike_floor_division():
    assert tdiv(-3, 2) == -1 and -3 // 2 == -2
    assert tdiv(3, -2) == -1 and tdiv(-3, -2) == 1 and tdiv(7, 2) == 3


@given(st.lists(st.tuples(ints, nonzero), min_size=1, max_size=20))
def test_tdiv_matches_c_division_elementwise(pairs):
    a, b = (np.array(x, dtype=np.int64) for x in zip(*pairs))
    assert tdiv(a, b).tolist() == [c_div(x, y) for x, y in pairs]


@given(st.lists(ints, min_size=1, max_size=20), st.integers(1, 2**20))
def test_tdiv_pos_equals_tdiv_for_positive_divisors(a, b):
    assert tdiv_pos(np.array(a), b).tolist() == [c_div(x, b) for x in a]


@given(st.integers(0, 2**40), st.integers(1, 2**20))
def test_ceil_div_is_exact_ceiling(a, b):
    assert int(ceil_div(a, b)) == -(-a // b)


def test_nz_replaces_only_zeros():
    assert nz(np.array([0, 3, -2, 0])).tolist() == [1, 3, -2, 1]


def test_noc_sends_follows_c_arithmetic():
    a = np.array([0, 1, 256, 257, -1, -256, -257, -512])
    # a / 256 truncated toward zero, plus one where 256 does not divide a
    assert noc_sends(a, 256).tolist() == [0, 1, 1, 2, 1, -1, 0, -2]
