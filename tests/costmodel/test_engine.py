"""Engine internals: merged (padded) state-count groups give exactly the per-group results."""

from __future__ import annotations

from itertools import product
from math import prod

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import costmodel.engine.states as states
from costmodel import Hardware, Layer
from costmodel.analysis import evaluate_batch
from costmodel.engine.states import case_grid, code_counts, merge_groups
from search_spaces import MappingSpace

# the states a directive can have (Init always): slots in a 3-state group are Init, Steady, Edge
KINDS = {"I": (0,), "IS": (0, 1), "IE": (0, 2), "ISE": (0, 1, 2)}


def _maestro_order(counts, last):
    """Cases of ``counts`` in MAESTRO's order, as state tuples."""
    grid = case_grid(tuple(counts), tuple(last))
    return [np.unravel_index(int(f), counts) for f in grid.perm]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(KINDS)), st.integers(0, 2)),
                min_size=1, max_size=6))
def test_padded_case_order_restricted_to_existing_cases_is_the_real_order(spec):
    """The fact merging rests on: pad a row's counts up (missing states become cases that do
    not exist) and MAESTRO's order of the padded cases, restricted to those that exist, is the
    order of the row's own cases."""
    kinds = [k for k, _ in spec]
    real = [len(KINDS[k]) for k in kinds]
    padded = [max(r, min(3, r + extra)) for r, (_, extra) in zip(real, spec)]

    def slot(j, s):  # the padded slot of real state index s of directive j
        return KINDS[kinds[j]][s] if padded[j] == 3 else s

    last = [True] * len(kinds)
    want = [tuple(slot(j, int(s)) for j, s in enumerate(c)) for c in _maestro_order(real, last)]
    exist = set(want)
    got = [tuple(int(s) for s in c) for c in _maestro_order(padded, last)]
    assert [c for c in got if c in exist] == want


def test_merge_groups_respects_the_cell_limit():
    codes = np.array([0, 1, 5, 0b101010])  # ascending group codes of 3 directives
    bounds = [0, 10, 20, 30, 40]
    runs = list(merge_groups(codes, bounds, 3))
    assert runs[0][0] == 0 and runs[-1][1] == 4
    assert all(lo < hi for lo, hi, _ in runs)
    for lo, hi, counts in runs:  # the padded counts cover every merged group's counts
        for g in range(lo, hi):
            own = code_counts(int(codes[g]), 3)
            assert all(c >= o for c, o in zip(counts, own))
        exact = sum(prod(code_counts(int(codes[g]), 3)) * (bounds[g + 1] - bounds[g])
                    for g in range(lo, hi))
        padded = prod(counts) * (bounds[hi] - bounds[lo])
        assert hi - lo == 1 or padded <= states.MERGE_FACTOR * exact + states.MERGE_SLACK


LAYERS = [
    Layer("conv", "CONV", dict(K=24, C=10, R=3, S=3, Y=13, X=11), strides=dict(Y=2, X=1)),
    Layer("dw", "DSCONV", dict(K=1, C=40, R=3, S=3, Y=9, X=9)),
    Layer("pw", "CONV", dict(K=50, C=33, R=1, S=1, Y=7, X=7)),
]


@pytest.mark.parametrize("layer,levels,rs", list(product(LAYERS, (1, 2, 3), (False, True))))
def test_merged_groups_equal_exact_groups(layer, levels, rs, monkeypatch):
    """Every report field of random batches, with groups merged (the default) and without."""
    hw = Hardware(num_pes=60, l1_size=10**6, l2_size=10**8, noc_bw=7, offchip_bw=5)
    space = MappingSpace(layer, hw, max_levels=levels, rs_spatial=rs)
    g = space.sample(np.random.default_rng(levels), 120, tiles_per_structure=30)
    keys = space.structure_keys(g)
    _, first, inv = np.unique(keys, return_index=True, return_inverse=True)
    merged = []
    real = states.merge_groups

    def spy(ucodes, bounds, n):
        for lo, hi, counts in real(ucodes, bounds, n):
            merged.append(hi - lo)
            yield lo, hi, counts

    monkeypatch.setattr(states, "merge_groups", spy)
    for k, f in enumerate(first):
        idx = np.flatnonzero(inv == k)
        structure = space.structure_of(g, int(f))
        sizes, offs = space.sizes_offsets(g, idx, structure)
        out = []
        for factor, slack in ((states.MERGE_FACTOR, states.MERGE_SLACK), (0, -1)):
            monkeypatch.setattr(states, "MERGE_FACTOR", factor)
            monkeypatch.setattr(states, "MERGE_SLACK", slack)
            out.append(evaluate_batch(layer, structure, sizes, offs, hw))
        a, b = out
        for name in a:
            x, y = np.asarray(a[name]), np.asarray(b[name])
            if x.dtype == object:
                assert (x == y).all(), name
            else:
                assert np.array_equal(x, y, equal_nan=True), (name, structure)
    assert max(merged) > 1  # some groups were merged, and compared with the exact ones


def test_merged_groups_count_only_existing_cases_before_the_first_valid_one(monkeypatch):
    """A batch (ResNet-50 CONV4_1_1, two SpatialMaps) where a padded row's first valid case
    comes after cases it does not have: its L1 and L2 sizes must count only its own cases."""
    layer = Layer("CONV4_1_1", "CONV", dict(K=256, C=512, R=1, S=1, Y=28, X=28),
                  strides=dict(Y=2, X=2))
    hw = Hardware(num_pes=168, l1_size=512, l2_size=108000, noc_bw=81920000,
                  offchip_bw=81920000)
    structure = (("T", "S"), ("T", "C"), ("S", "K"), ("S", "Y"), ("T", "R"), ("T", "X"), ("C", ""),
             ("T", "X"), ("T", "S"), ("T", "R"), ("T", "Y"), ("T", "K"), ("S", "C"))
    # (C, K, Y, X, cluster, X, Y, K, C) tiles; S and R tiles are 1; offsets: Y/X sizes + 1
    rows = [(4, 4, 3, 3, 4, 3, 3, 2, 1), (64, 64, 27, 21, 3, 1, 27, 1, 2),
            (5, 1, 1, 1, 3, 1, 1, 1, 2), (19, 2, 3, 23, 6, 1, 3, 1, 1),
            (58, 16, 7, 1, 6, 1, 1, 1, 2), (4, 12, 1, 13, 8, 1, 1, 6, 1),
            (2, 11, 3, 11, 1, 9, 1, 1, 2), (64, 8, 21, 9, 8, 1, 1, 2, 2)]
    sizes = np.array([[1, c, k, y, 1, x, cl, x2, 1, 1, y2, k2, c2]
                      for c, k, y, x, cl, x2, y2, k2, c2 in rows])
    offs = sizes.copy()
    for col in (3, 5, 7, 10):  # Y and X slide by one more than their size
        offs[:, col] += 1
    out = []
    for factor, slack in ((states.MERGE_FACTOR, states.MERGE_SLACK), (0, -1)):
        monkeypatch.setattr(states, "MERGE_FACTOR", factor)
        monkeypatch.setattr(states, "MERGE_SLACK", slack)
        out.append(evaluate_batch(layer, structure, sizes, offs, hw))
    for name in ("l1_size", "l2_size", "input_l1_size", "filter_l2_size", "runtime", "flags"):
        assert np.array_equal(out[0][name], out[1][name]), name
