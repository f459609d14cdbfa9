"""BHEP and Henze-Zirkler (``sigreg/_statistics/bhep.py``) against independent oracles.

Numerical integration of BHEP's defining integral, the closed form with the full N x N
matrix of distances, and pingouin for Henze-Zirkler; gradients against finite differences.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate

import sigreg.stats as stats

from ..support import asarray, has_float64, is_jax, to_numpy, xp_assert_close

RTOL = 1e-10


def _sample(n, seed=0, shape=()):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)) * 1.3 + 0.2


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
        # Far from 0 and wide: the gradient through the centring and the column scales.
        lambda z: stats.henze_zirkler(z * 1e3 + 50.0),
        lambda z: stats.bhep(z * 0.5 + 3.0),
    ],
    ids=["bhep", "bhep-standardized", "henze_zirkler", "henze_zirkler-moved", "bhep-moved"],
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
