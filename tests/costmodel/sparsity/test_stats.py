"""The vectorised expected maximum: exact path against scipy's hypergeometric CDF, the
approximate path within its stated bound of the exact sum, and the cache."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import hypergeom

from costmodel.sparsity import stats
from costmodel.sparsity.stats import APPROX_REL_ERR, expected_max_cycles, step_cycles


def _reference(n, d, P, r, s, T) -> float:
    """E[max] by scipy's CDF at every integer of the support."""
    K = round(d * T)
    k = np.arange(0, n + 1)
    F = hypergeom.cdf(k, T, K, n)
    g = step_cycles(k, r, s)
    return float(g[0] + ((g[1:] - g[:-1]) * (1 - F[:-1] ** P)).sum())


CASES = [(1, 0.5, 4, 1, 1, 8), (16, 0.05, 256, 3, 16, 4096), (64, 0.01, 1024, 0.5, 4, 16384),
         (200, 0.5, 64, 1, 1, 400), (200, 0.95, 4, 3, 4, 200 * 16), (1000, 0.2, 1024, 1, 16, 4000),
         (50, 0.3, 32, 1, 1, 100000), (3, 0.8, 1, 1, 1, 6)]


@pytest.mark.parametrize("case", CASES)
def test_exact_path_matches_scipy(case):
    assert expected_max_cycles(*case) == pytest.approx(_reference(*case), rel=1e-7)


def test_batch_equals_one_at_a_time():
    rows = np.array(CASES, dtype=float)
    batch = expected_max_cycles(*rows.T)
    one = [float(expected_max_cycles(*c)) for c in CASES]
    assert np.allclose(batch, one, rtol=0, atol=0)


def test_approximate_path_within_bound():
    """Wide windows (sd above ~28 elements) use the Edgeworth-corrected normal; against the
    exact sum over every integer the relative error stays below APPROX_REL_ERR."""
    rng = np.random.default_rng(5)
    B = 400
    n = np.floor(np.exp(rng.uniform(np.log(3000), np.log(2e5), B)))
    T = n * rng.choice([1.5, 2, 4, 16, 256, 4096], B)
    d = rng.choice([0.01, 0.05, 0.2, 0.5, 0.7, 0.9, 0.99], B)
    P = rng.choice([1, 4, 64, 256, 1024, 4096], B).astype(float)
    r = rng.choice([1, 3, 0.5, 1 / 7, 12], B)
    s = rng.choice([1, 4, 16, 64], B).astype(float)
    approx = expected_max_cycles(n, d, P, r, s, T)
    exact = expected_max_cycles(n, d, P, r, s, T, exact_width=10**7)
    K = np.rint(d * T)
    lo, hi, _, _ = stats._window(n, K, T)
    assert (hi - lo + 1 > stats.EXACT_WIDTH).sum() > 150   # the approximation was exercised
    assert np.abs(approx / exact - 1).max() < APPROX_REL_ERR


def test_cache_hits_give_the_same_numbers(monkeypatch):
    monkeypatch.setattr(stats, "_cache", (stats._cache[0][:0], stats._cache[1][:0]))
    rows = np.array(CASES, dtype=float)
    cold = expected_max_cycles(*rows.T)
    assert len(stats._cache[0]) == len(CASES)
    calls = []
    monkeypatch.setattr(stats, "_compute", lambda *a: calls.append(a) or np.zeros(0))
    warm = expected_max_cycles(*rows[::-1].T)
    assert not calls and np.array_equal(warm, cold[::-1])


def test_expected_max_is_at_least_the_mean_and_grows_with_units():
    one = expected_max_cycles(64, 0.3, 1, 1, 1, 10**6)
    many = expected_max_cycles(64, 0.3, 256, 1, 1, 10**6)
    assert one == pytest.approx(64 * 0.3, rel=0.02) and many > one + 5

