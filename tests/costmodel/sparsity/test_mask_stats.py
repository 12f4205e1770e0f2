"""Mask-based step statistics: the batched implementation in ``stats`` against a plain
per-geometry reference (one summed-area table, one ``np.unique`` histogram and one sum per
distinct geometry), which must agree bit for bit on fixed inputs."""

from __future__ import annotations

import numpy as np
import pytest

from costmodel.sparsity import stats
from costmodel.sparsity.stats import (
    box_sum,
    mask_expected_max_cycles,
    mask_key,
    sat,
    step_cycles,
)


def _ref_distribution(mask, tile, stride, axis, units):
    tile = tuple(int(min(max(t, 1), D)) for t, D in zip(tile, mask.shape))
    stride = tuple(int(max(o, 1)) for o in stride)
    units = int(units) if axis >= 0 else 1
    lo, hi = [], []
    for ax, (m, o, D) in enumerate(zip(tile, stride, mask.shape)):
        shape = [1] * mask.ndim
        shape[ax] = -1
        start = np.arange(0, D - m + 1, o).reshape(shape)
        lo.append(start)
        hi.append(start + m)
    counts = np.asarray(box_sum(sat(mask), lo, hi))
    if units > 1:
        c = np.moveaxis(counts, axis, -1)
        pad = -c.shape[-1] % units
        c = np.pad(c, [(0, 0)] * (c.ndim - 1) + [(0, pad)], constant_values=-1)
        counts = c.reshape(*c.shape[:-1], -1, units).max(axis=-1)
    vals, cnt = np.unique(counts.ravel(), return_counts=True)
    return vals.astype(np.float64), np.cumsum(cnt) / cnt.sum()


def _reference(mask, tile, stride, axis, units, P, r, simd):
    """Per candidate: E = sum_k g(k) (F(k)^G - F(k-1)^G) over that geometry's distribution
    alone."""
    B = len(tile)
    out = np.empty(B)
    for b in range(B):
        u = int(np.broadcast_to(units, (B,))[b])
        ax = int(np.broadcast_to(axis, (B,))[b])
        vals, F = _ref_distribution(mask, tile[b], stride[b], ax, u)
        g = max(1.0, float(np.rint(np.broadcast_to(P, (B,))[b] / max(u, 1))))
        rr, s = (float(np.broadcast_to(a, (B,))[b]) for a in (r, simd))
        Fp = np.exp(g * np.log(np.clip(F, 1e-300, 1.0)))
        terms = step_cycles(vals, rr, s) * np.diff(Fp, prepend=0.0)
        out[b] = np.add.reduceat(terms, [0])[0]   # the batched sum's reduction, one segment
    return out


def _fresh(monkeypatch):
    monkeypatch.setattr(stats, "_dists", {})
    monkeypatch.setattr(stats, "_last_lookup", [])
    monkeypatch.setattr(stats, "_parts", {})
    monkeypatch.setattr(stats, "_part_bytes", 0)


def _clustered(shape, seed, block=4, d=0.5):
    rng = np.random.default_rng(seed)
    coarse = rng.random([-(-n // block) for n in shape]) < d
    for ax in range(len(shape)):
        coarse = np.repeat(coarse, block, axis=ax)
    return coarse[tuple(slice(0, n) for n in shape)] & (rng.random(shape) < 0.8)


def _cases(mask, rng, B, overlap=False):
    """Random geometries: divisor and non-divisor tiles, strides equal to / below / above
    the tile (overlapping windows), tiles wider than the tensor, spatial axes and units."""
    nd = mask.ndim
    tile = np.empty((B, nd), dtype=np.int64)
    stride = np.empty_like(tile)
    for ax, D in enumerate(mask.shape):
        tile[:, ax] = rng.choice([1, 2, 3, 4, 5, 8, 16, D, D + 3], B)
        kind = rng.choice([0, 0, 1, 2] if overlap else [0], B)
        stride[:, ax] = np.where(kind == 0, tile[:, ax],
                                 np.where(kind == 1, np.maximum(tile[:, ax] // 2, 1),
                                          tile[:, ax] + 1))
    units = rng.choice([1, 2, 3, 7, 64], B)
    P = units * rng.choice([1, 2, 4], B)
    r = rng.choice([1.0, 3.0, 0.5, 1 / 7], B)
    simd = rng.choice([1.0, 4.0, 16.0], B)
    return tile, stride, units, P, r, simd


@pytest.mark.parametrize("small,slices", [(0, 1), (0, 4), (0, 64), (1 << 14, 4), (60, 4)])
@pytest.mark.parametrize("shape,overlap", [((48, 96), False), ((48, 96), True),
                                           ((12, 10, 3, 3), True), ((7, 9, 11), True),
                                           ((1, 6, 20, 20), True)])
def test_batched_mask_statistics_are_bit_identical_to_the_reference(shape, overlap, small,
                                                                    slices, monkeypatch):
    """Every route: one geometry at a time (``SMALL_POSITIONS`` 0) by the summed-area table
    (``SLICES`` 1), by default, by strided slices for every abutting window (64); geometries
    with few positions all at once (the default), and a mix (60)."""
    _fresh(monkeypatch)
    monkeypatch.setattr(stats, "SLICES", slices)
    monkeypatch.setattr(stats, "SMALL_POSITIONS", small)
    rng = np.random.default_rng(len(shape) * 10 + overlap)
    mask = _clustered(shape, 1)
    key = mask_key(mask)
    B = 300
    tile, stride, units, P, r, simd = _cases(mask, rng, B, overlap)
    for axis in range(-1, mask.ndim):
        ref = _reference(mask, tile, stride, axis, units, P, r, simd)
        cold = mask_expected_max_cycles(mask, key, tile, stride, axis, units, P, r, simd)
        warm = mask_expected_max_cycles(mask, key, tile, stride, axis, units, P, r, simd)
        assert np.array_equal(cold, ref) and np.array_equal(warm, ref)


#: (tile, stride, axis, units, P, r, simd, expected step cycles) on _clustered((48, 96), 1)
FIXED = [
    ((4, 8), (4, 8), 1, 4, 8, 1.0, 1.0, 25.39506172839506),
    ((1, 1), (1, 1), -1, 64, 64, 3.0, 4.0, 1.0),
    ((16, 3), (8, 3), 0, 3, 6, 0.5, 1.0, 14.03369140625),   # half a MAC per kept: halves split
    ((48, 100), (48, 100), -1, 1, 1, 1.0, 16.0, 117.0),
]


def test_fixed_numbers(monkeypatch):
    _fresh(monkeypatch)
    mask = _clustered((48, 96), 1)
    for t, s, a, u, P, r, sm, want in FIXED:
        got = mask_expected_max_cycles(mask, mask_key(mask), [t], [s], a, u, P, r, sm)
        assert float(got[0]) == want
        assert float(_reference(mask, [t], [s], a, u, P, r, sm)[0]) == want


def test_store_starts_over_when_full(monkeypatch):
    """More geometries than the per-mask store holds: the store restarts, numbers unchanged."""
    _fresh(monkeypatch)
    monkeypatch.setattr(stats, "MASK_TILES", 8)
    mask = _clustered((48, 96), 2)
    tile, stride, units, P, r, simd = _cases(mask, np.random.default_rng(3), 40)
    ref = _reference(mask, tile, stride, 1, units, P, r, simd)
    for lo in range(0, 40, 5):
        got = mask_expected_max_cycles(mask, mask_key(mask), tile[lo:lo + 5], stride[lo:lo + 5],
                                       1, units[lo:lo + 5], P[lo:lo + 5], r[lo:lo + 5],
                                       simd[lo:lo + 5])
        assert np.array_equal(got, ref[lo:lo + 5])
    assert len(stats._dists[mask_key(mask)][0]) <= 8


def test_partials_kept_between_calls_and_dropped_past_the_budget(monkeypatch):
    """Later calls reuse the kept partials (same numbers); a small byte budget makes the cache
    start over during a call, numbers unchanged."""
    mask = _clustered((48, 96), 3)
    key = mask_key(mask)
    tile, stride, units, P, r, simd = _cases(mask, np.random.default_rng(9), 60, True)
    ref = _reference(mask, tile, stride, 1, units, P, r, simd)
    for budget in (stats.PART_BYTES, 4000):
        _fresh(monkeypatch)
        monkeypatch.setattr(stats, "PART_BYTES", budget)
        for lo in range(0, 60, 20):
            got = mask_expected_max_cycles(mask, key, tile[lo:lo + 20], stride[lo:lo + 20], 1,
                                           units[lo:lo + 20], P[lo:lo + 20], r[lo:lo + 20],
                                           simd[lo:lo + 20])
            assert np.array_equal(got, ref[lo:lo + 20])
        if budget > 4000:
            assert stats._parts[key]            # partials kept for the next batch


def test_search_bounds_hold_for_a_mask_with_a_denser_edge():
    """Whole tiles leave a tensor's edge out of the statistics; with a denser edge their mean
    lies below the mask's density, so the latency bounds use the sparsest region whole tiles
    can cover (mask_floor_density), which no candidate beats."""
    from costmodel import Hardware, Layer
    from costmodel.sparsity import uniform
    from costmodel.sparsity.density import tensor_shapes
    from costmodel.sparsity.report import skip_fraction
    from mapper.search.evaluator import Evaluator
    from mapper.tuning.settings import TuneSettings
    from mapper.tuning.tuner import space_for
    dims = {"M": 64, "N": 96, "K": 100}
    shp = tensor_shapes(Layer("g", "GEMM", dims))["weight"]
    assert shp == (100, 96)                  # (K, N)
    mask = np.random.default_rng(7).random(shp) < 0.3
    mask[-13:] = True                        # the last 13 K rows dense
    layer = Layer("g", "GEMM", dims, density={"weight": mask})
    cfg = uniform({"weight": "bitmask"}, "skip")
    hw = Hardware(num_pes=64, l1_size=512, l2_size=1 << 20, noc_bw=64, offchip_bw=64)
    space = space_for(layer, hw, TuneSettings(budget=10))
    g = space.sample(np.random.default_rng(0), 400)
    ev = Evaluator(space, cost_model="physical", sparsity=cfg)
    ms = ev.metrics(g)
    ok = ms["valid"]
    assert ok.sum() > 50
    f = skip_fraction(layer, cfg)
    assert f < mask.mean()
    assert (ms["runtime"][ok] >= ev.latency_bound(g)[ok]).all()
    assert ms["runtime"][ok].min() >= ev.compute_bound
    # the mask's mean density as the bound: some candidates beat it
    assert (ms["runtime"][ok] < np.floor(ev.latency_bound(g)[ok] / f * mask.mean())).any()
