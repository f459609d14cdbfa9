"""The normality statistics of sigreg.stats against independent oracles.

scipy.stats (and pingouin for Henze-Zirkler) where they compute the same
statistic, float64 NumPy formulas written from the definitions otherwise, and
BHEP and Henze-Zirkler are in tests/statistics/test_bhep.py. The contract every
registered statistic keeps (shapes, gradients, jit, all_reduce) is in
tests/core/test_statistic.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

import sigreg
import sigreg.stats as stats

from ..support import asarray, has_float64, xp_assert_close

RTOL = 1e-10
SIZES = [3, 4, 5, 6, 11, 12, 100, 1001]


def _sample(n, seed=0, shape=()):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)) * 1.3 + 0.2


def _known_normal(x, statistic):
    return scipy.stats.goodness_of_fit(
        scipy.stats.norm, x, known_params={"loc": 0, "scale": 1}, statistic=statistic, n_mc_samples=1
    ).statistic


# The scipy oracle of each statistic, as a function of one 1-D float64 sample.
SCIPY = {
    "anderson_darling": lambda x: _known_normal(x, "ad"),
    "cramer_von_mises": lambda x: scipy.stats.cramervonmises(x, "norm").statistic,
    "shapiro_wilk": lambda x: scipy.stats.shapiro(x).statistic,
    "jarque_bera": lambda x: scipy.stats.jarque_bera(x).statistic,
    "entropy": lambda x: scipy.stats.differential_entropy(x, method="vasicek"),
}


def _watson(x):
    n = len(x)
    cdf = scipy.special.ndtr(np.sort(x))
    w2 = 1 / (12 * n) + np.sum((cdf - (2 * np.arange(1, n + 1) - 1) / (2 * n)) ** 2)
    return w2 - n * (np.mean(cdf) - 0.5) ** 2


def _moments(x, order=4):
    total = 0.0
    for k in range(1, order + 1):
        mu = scipy.stats.norm.moment(k)
        total += (np.mean(x**k) - mu) ** 2 / (scipy.stats.norm.moment(2 * k) - mu**2)
    return len(x) * total


def _wasserstein(x, p=2.0):
    n = len(x)
    q = scipy.stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    return np.mean(np.abs(np.sort(x) - q) ** p) ** (1 / p)


# Own float64 oracles, written from the definitions.
OWN = {"watson": _watson, "moments": _moments, "wasserstein": _wasserstein}
ORACLES = {**SCIPY, **OWN}


def _defined(name, n):
    if name == "entropy":
        return 2 * math.floor(math.sqrt(n) + 0.5) < n
    return n >= {"shapiro_wilk": 3, "jarque_bera": 2}.get(name, 1)


@pytest.mark.parametrize("name", sorted(ORACLES))
@pytest.mark.parametrize("n", SIZES)
def test_float64_agrees_with_the_oracle(name, n):
    if not _defined(name, n):
        pytest.skip(f"{name} is undefined at N={n} (tested in test_too_few_samples)")
    for seed in range(3):
        x = _sample(n, seed)
        np.testing.assert_allclose(getattr(stats, name)(x), ORACLES[name](x), rtol=RTOL, atol=0)


def test_cramer_von_mises_agrees_with_goodness_of_fit_too():
    x = _sample(50)
    np.testing.assert_allclose(stats.cramer_von_mises(x), _known_normal(x, "cvm"), rtol=RTOL)


@pytest.mark.parametrize("name", ["entropy"])
@pytest.mark.parametrize("window_length", [1, 3, 7])
def test_entropy_window_lengths(name, window_length):
    x = _sample(40, 1)
    expected = scipy.stats.differential_entropy(x, window_length=window_length, method="vasicek")
    np.testing.assert_allclose(stats.entropy(x, window_length=window_length), expected, rtol=RTOL)


@pytest.mark.parametrize("order", range(2, 9))
def test_moments_every_order(order):
    x = _sample(200, 2)
    np.testing.assert_allclose(stats.moments(x, order=order), _moments(x, order), rtol=RTOL)


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 4.0])
def test_wasserstein_orders(p):
    x = _sample(300, 3)
    np.testing.assert_allclose(stats.wasserstein(x, p=p), _wasserstein(x, p), rtol=RTOL)


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_every_backend_and_batched_axes(xp, name):
    """A (3, N, 2) batch along axis 1 on every backend equals the float64 oracle per column."""
    x = _sample(30, 4, shape=(3, 2))  # (N, 3, 2)
    x = np.moveaxis(x, 0, 1)  # (3, N, 2): samples along axis 1
    expected = np.array([[ORACLES[name](x[i, :, j]) for j in range(2)] for i in range(3)])
    dtype = xp.float64 if has_float64(xp) else xp.float32
    actual = getattr(stats, name)(asarray(xp, x, dtype), axis=1)
    rtol = RTOL if has_float64(xp) else 2e-4
    xp_assert_close(actual, expected, xp=xp, rtol=rtol, atol=0 if has_float64(xp) else 1e-5, dtype=dtype)


@pytest.mark.parametrize("name", sorted(ORACLES))
def test_ties_agree_with_the_oracle(name):
    x = np.round(_sample(60, 5), 1)  # many tied values
    assert len(np.unique(x)) < len(x)
    np.testing.assert_allclose(getattr(stats, name)(x), ORACLES[name](x), rtol=RTOL)


@pytest.mark.parametrize(("name", "minimum"), [("shapiro_wilk", 3), ("jarque_bera", 2), ("entropy", 3)])
def test_too_few_samples(name, minimum):
    for n in range(1, minimum):
        with pytest.raises(ValueError, match="x must have at least"):
            getattr(stats, name)(np.arange(float(n)))
        with pytest.raises(ValueError, match="z must have at least"):
            sigreg.sigreg(np.ones((n, 2)), statistic=name)


def test_small_samples_where_defined():
    for name in ("anderson_darling", "cramer_von_mises", "watson", "moments", "wasserstein"):
        for n in (1, 2, 3):
            value = float(getattr(stats, name)(np.linspace(-0.5, 0.7, n)))
            assert math.isfinite(value), (name, n)
    assert stats.jarque_bera(np.array([0.0, 1.0])) == pytest.approx(1 / 3)  # S = 0, K = 1
    assert stats.shapiro_wilk(np.array([0.0, 1.0, 2.0])) == pytest.approx(1.0)
    assert math.isfinite(float(stats.entropy(np.array([0.0, 1.0, 3.0]), window_length=1)))
    with pytest.raises(ValueError, match="window_length must be below half"):
        stats.entropy(np.arange(10.0), window_length=5)


@pytest.mark.parametrize("name", sorted(ORACLES))
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input_gives_a_non_finite_result(name, bad):
    x = _sample(20, 6)
    x[7] = bad
    with np.errstate(invalid="ignore", divide="ignore"):  # NumPy warns on inf - inf, as np.cos(inf) does
        assert not np.isfinite(getattr(stats, name)(x))


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: stats.moments(np.ones(5), order=0), ValueError, "order must be >= 1"),
        (lambda: stats.moments(np.ones(5), order=1), ValueError, r"order must be in 2\.\.8.*collapsed"),
        (lambda: stats.moments(np.ones(5), order=9), ValueError, r"order must be in 2\.\.8"),
        (lambda: stats.moments(np.ones(5), order=2.5), TypeError, "order must be an integer"),
        (lambda: stats.wasserstein(np.ones(5), p=0.5), ValueError, "p must be >= 1"),
        (lambda: stats.wasserstein(np.ones(5), p=np.inf), ValueError, "p must be positive and finite"),
        (lambda: stats.entropy(np.ones(5), window_length=0), ValueError, "window_length must be >= 1"),
        (lambda: stats.bhep(np.ones((5, 2)), beta=0.0), ValueError, "beta must be positive and finite"),
        (lambda: stats.bhep(np.ones((5, 2)), beta=np.nan), ValueError, "beta must be positive and finite"),
        (lambda: stats.bhep(np.ones((5, 2)), standardize=1), TypeError, "standardize must be True or False"),
        (lambda: stats.henze_zirkler(np.ones((3, 3))), ValueError, "more samples than dimensions"),
        (lambda: stats.bhep(np.ones(5)), ValueError, "z must have shape"),
        (lambda: stats.anderson_darling(np.arange(5)), TypeError, "x must have a real floating-point dtype"),
        (lambda: stats.get("moments", order=10), ValueError, "order must be in"),
    ],
)
def test_bad_options_name_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("name", ["anderson_darling", "shapiro_wilk", "entropy", "wasserstein"])
def test_sort_based_statistics_refuse_all_reduce(name):
    with pytest.raises(ValueError, match="all_reduce needs a statistic that is a function of sums"):
        sigreg.sigreg(np.ones((8, 2)), statistic=name, all_reduce=lambda x: x)
