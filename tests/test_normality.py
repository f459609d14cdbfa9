"""The normality statistics of sigreg.stats against independent oracles.

scipy.stats (and pingouin for Henze-Zirkler) where they compute the same
statistic, float64 NumPy formulas written from the definitions otherwise, and
numerical integration of BHEP's defining integral. The contract every
registered statistic keeps (shapes, gradients, jit, all_reduce) is in
test_contract.py.
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

from .support import asarray, has_float64, is_jax, to_numpy, xp_assert_close

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


# BHEP and Henze-Zirkler.


def _bhep_pairs(y, beta):
    """The closed form with the full N x N matrix of squared distances."""
    n, d = y.shape
    pairs = np.sum(np.exp(-(beta**2) / 2 * np.sum((y[:, None] - y[None]) ** 2, axis=-1))) / n
    single = (
        2 * (1 + beta**2) ** (-d / 2) * np.sum(np.exp(-(beta**2) / (2 * (1 + beta**2)) * np.sum(y**2, 1)))
    )
    return pairs - single + n * (1 + 2 * beta**2) ** (-d / 2)


def _integrand(z, t):
    # |ecf(t) - exp(-|t|^2/2)|^2 at knots t (..., D).
    phase = t @ z.T
    real = np.mean(np.cos(phase), axis=-1) - np.exp(-0.5 * np.sum(t * t, axis=-1))
    return real**2 + np.mean(np.sin(phase), axis=-1) ** 2


@pytest.mark.parametrize("beta", [0.5, 1.0, 2.0])
def test_bhep_is_its_defining_integral_in_one_dimension(beta):
    z = _sample(15, 7, shape=(1,))
    density = scipy.stats.norm(scale=beta).pdf
    integral, _ = scipy.integrate.quad(
        lambda t: _integrand(z, np.array([[t]]))[0] * density(t), -np.inf, np.inf, epsabs=1e-13, limit=500
    )
    np.testing.assert_allclose(stats.bhep(z, beta=beta), len(z) * integral, rtol=1e-8)


@pytest.mark.parametrize("beta", [0.7, 1.5])
def test_bhep_is_its_defining_integral_in_two_dimensions(beta):
    z = _sample(12, 8, shape=(2,))
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)  # E over N(0, 1), times sqrt(2 pi)
    s, r = np.meshgrid(nodes, nodes, indexing="ij")
    t = beta * np.stack([s.ravel(), r.ravel()], axis=-1)
    w = np.outer(weights, weights).ravel() / (2 * np.pi)
    np.testing.assert_allclose(stats.bhep(z, beta=beta), len(z) * np.sum(w * _integrand(z, t)), rtol=1e-9)


def _whiten(z):
    x = z - z.mean(0)
    cov = x.T @ x / len(z)
    return x @ np.linalg.cholesky(np.linalg.inv(cov))


@pytest.mark.parametrize(("n", "d"), [(10, 1), (40, 3), (300, 5)])
def test_bhep_and_henze_zirkler_against_the_full_matrix(n, d):
    z = _sample(n, 9, shape=(d,)) @ np.random.default_rng(1).standard_normal((d, d))
    np.testing.assert_allclose(stats.bhep(z, beta=0.8), _bhep_pairs(z, 0.8), rtol=RTOL)
    np.testing.assert_allclose(
        stats.bhep(z, beta=0.8, standardize=True), _bhep_pairs(_whiten(z), 0.8), rtol=RTOL
    )
    beta = ((2 * d + 1) / 4) ** (1 / (d + 4)) * n ** (1 / (d + 4)) / math.sqrt(2)
    np.testing.assert_allclose(stats.henze_zirkler(z), _bhep_pairs(_whiten(z), beta), rtol=RTOL)
    np.testing.assert_allclose(stats.henze_zirkler(z, standardize=False), _bhep_pairs(z, beta), rtol=RTOL)


def test_henze_zirkler_agrees_with_pingouin():
    pingouin = pytest.importorskip("pingouin", reason="pingouin is installed in the numpy session only")
    for n, d, seed in [(20, 2, 0), (100, 4, 1), (500, 3, 2)]:
        z = _sample(n, seed, shape=(d,)) @ np.random.default_rng(seed).standard_normal((d, d))
        expected = pingouin.multivariate_normality(z).hz
        np.testing.assert_allclose(stats.henze_zirkler(z), expected, rtol=RTOL)


def test_bhep_is_blocked(monkeypatch):
    from sigreg._statistics import bhep

    z = _sample(50, 10, shape=(3,))
    whole = stats.henze_zirkler(z)
    monkeypatch.setattr(bhep, "BLOCK_ELEMENTS", 7 * 50)  # blocks of 7 rows, the last one short
    assert len(bhep._blocks(50)) == 8
    np.testing.assert_allclose(stats.henze_zirkler(z), whole, rtol=1e-13)


@pytest.mark.parametrize("function", ["bhep", "henze_zirkler"])
@pytest.mark.parametrize("standardize", [False, True])
def test_multivariate_on_every_backend_with_batches(xp, function, standardize):
    z = np.stack([_sample(25, s, shape=(3,)) for s in range(2)])  # (2, 25, 3)
    expected = [getattr(stats, function)(zi, standardize=standardize) for zi in z]
    dtype = xp.float64 if has_float64(xp) else xp.float32
    actual = getattr(stats, function)(asarray(xp, z, dtype), standardize=standardize)
    rtol = RTOL if has_float64(xp) else 1e-4
    xp_assert_close(actual, expected, xp=xp, rtol=rtol, dtype=dtype)


def _numerical_grad(f, z, eps=1e-6):
    grad = np.zeros_like(z)
    for index in np.ndindex(z.shape):
        step = np.zeros_like(z)
        step[index] = eps
        grad[index] = (f(z + step) - f(z - step)) / (2 * eps)
    return grad


@pytest.mark.parametrize(
    "function",
    [
        lambda z: stats.bhep(z, beta=1.3),
        lambda z: stats.bhep(z, beta=0.6, standardize=True),
        lambda z: stats.henze_zirkler(z),
    ],
    ids=["bhep", "bhep-standardized", "henze_zirkler"],
)
def test_multivariate_gradients(xp, function):
    if "torch" not in xp.__name__ and not is_jax(xp):
        pytest.skip(f"{xp.__name__} has no autodiff")
    if not has_float64(xp):
        pytest.skip("needs float64 (JAX x64 is off)")
    z = _sample(12, 11, shape=(3,))
    expected = _numerical_grad(lambda v: float(function(v)), z)
    if is_jax(xp):
        import jax

        grad = jax.grad(function)(asarray(xp, z))
        assert np.allclose(
            to_numpy(jax.jit(jax.grad(function))(asarray(xp, z))), expected, rtol=1e-6, atol=1e-8
        )
    else:
        zt = asarray(xp, z).requires_grad_(True)
        function(zt).backward()
        grad = zt.grad
    np.testing.assert_allclose(to_numpy(grad), expected, rtol=1e-6, atol=1e-8)


def test_normal_cdf_and_its_logs_match_scipy_to_the_far_tails():
    # The CDF under every statistic: Cody's erfc in array-API operations against
    # scipy.special, float64, through the small-argument, middle and asymptotic regions.
    from sigreg._core import normal_cdf

    region_edges = [-0.0, 0.0, 0.46875 * math.sqrt(2), 4 * math.sqrt(2)]
    x = np.concatenate([np.linspace(-38.0, 38.0, 20001), region_edges])
    np.testing.assert_allclose(normal_cdf.ndtr(x, np), scipy.special.ndtr(x), rtol=1e-14, atol=1e-300)
    log_cdf, log_survival = normal_cdf.log_ndtr_pair(x, np)
    np.testing.assert_allclose(log_cdf, scipy.special.log_ndtr(x), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(log_survival, scipy.special.log_ndtr(-x), rtol=1e-13, atol=1e-300)
    np.testing.assert_array_equal(normal_cdf.log_ndtr(x, np), log_cdf)
