"""N:M step model (``costmodel.sparsity.nm``): window laws by FFT power against exact
convolution, and spatial steps against every mask of small cases."""

from __future__ import annotations

from itertools import combinations, product

import numpy as np
import pytest

from costmodel.sparsity import nm, stats


def test_nm_ratio_fft_power_matches_convolution():
    """Many-row windows power their per-row pmf by FFT: the same ratios as repeated exact
    convolution to 1e-9, and temporal windows agree with spatial folds of one unit."""
    rng = np.random.default_rng(1)
    B = 120
    D = 4 * rng.integers(1, 40, B)
    t = rng.integers(1, 50, B)
    rows = rng.choice([5, 64, 300, 1000], B)
    few = np.minimum(rows, 64)
    P = rng.integers(1, 1024, B).astype(float)
    r = rng.integers(1, 9, B).astype(float)
    s = rng.choice([1, 2, 4], B).astype(float)
    args = (t, t, D, rows)

    def ratio(spatial, fft_rows, args=args):
        stats.clear_caches()
        old, nm.FFT_ROWS = nm.FFT_ROWS, fft_rows
        try:
            t_, o_, D_, rows_ = args
            classes = np.stack([rows_, P, 0 * P, 0 * P, 1 + 0 * P], axis=1)[:, None, :]
            return nm.nm_compute_ratio(t_, o_, D_, spatial, np.ones(B), (2, 4), classes,
                                          r, r, s)
        finally:
            nm.FFT_ROWS = old

    fft, exact = ratio(0.0, 4), ratio(0.0, 10 ** 9)
    assert np.allclose(fft, exact, rtol=1e-9, atol=0)
    # one unit per spatial fold: the step programme gives the single window's law
    assert np.allclose(ratio(1.0, 4, (t, t, D, few)), ratio(0.0, 4, (t, t, D, few)),
                       rtol=1e-9, atol=0)
    assert (fft >= 0.5 - 1e-12).all() and (fft <= 1 + 1e-12).all()


def _brute_step(start, t, units, last, rows, N, M):
    """CDF of the step maximum over every N:M mask of the step's groups and rows."""
    bounds = [start + u * t for u in range(units)] + [start + (units - 1) * t + last]
    G = -(-bounds[-1] // M)
    pats = [np.isin(np.arange(M), c) for c in combinations(range(M), N)]
    hist = np.zeros(rows * max(t, last) + 1)
    for pick in product(pats, repeat=G * rows):
        arr = np.array(pick).reshape(rows, G * M)
        hist[max(arr[:, bounds[u]:bounds[u + 1]].sum() for u in range(units))] += 1
    return np.cumsum(hist) / hist.sum()


@pytest.mark.parametrize("args", [(0, 1, 4, 1, 1, 2, 4), (0, 1, 8, 1, 1, 2, 4),
                                  (1, 3, 3, 3, 1, 2, 4), (2, 3, 3, 2, 2, 2, 4),
                                  (0, 2, 4, 2, 1, 2, 4), (1, 5, 2, 5, 1, 2, 4),
                                  (0, 6, 2, 2, 1, 2, 4), (3, 1, 3, 1, 2, 1, 4),
                                  (1, 2, 5, 1, 1, 2, 4)])
def test_spatial_step_law_is_exact(args):
    """Units splitting groups between them (dependent counts), straddling windows, chains
    cut where unit and group borders meet: the law of the step maximum, exactly."""
    stats.clear_caches()
    assert np.allclose(nm.nm_spatial_step_cdf(*args), _brute_step(*args), rtol=0, atol=1e-12)
