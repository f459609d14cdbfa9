"""RDMReg's target, RectifiedGeneralizedNormal, against the relationships its authors state.

Sources: Kuang et al., "Rectified LpJEPA" (arXiv 2602.01456: the abstract and Figure 1, the
rectified features ``ReLU(z)`` matched to ``ReLU(N(mu, sigma^2))``-type laws) and the authors'
code (github.com/YilunKuang/rectified-lp-jepa): ``GN_p(mu, sigma)`` has density proportional to
``exp(-|x - mu|^p / (p sigma^p))``; ``sigma_GN = Gamma(1/p)^(1/2) / (p^(1/p) Gamma(3/p)^(1/2))``
gives it unit variance (1 at p = 2, 1/sqrt(2) at p = 1, the README); the mean and variance of
``ReLU(Y)`` are ``rectified_gengaus_mean_var_unified`` (solo/losses/rectified_lpjepa.py),
transcribed below with scipy's incomplete gamma functions. Oracles: scipy's quadrature and
distributions, in float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import scipy.special
import scipy.stats

import sigreg.targets as targets

CASES = [(1.0, 0.0), (1.0, -1.0), (2.0, 0.5), (2.0, -1.0), (0.7, 0.3), (1.5, -0.4)]


def _paper_sigma_gn(p):
    return math.gamma(1 / p) ** 0.5 / (p ** (1 / p) * math.gamma(3 / p) ** 0.5)


def _paper_moments(p, mu, sigma):
    """The authors' closed form of E[ReLU(Y)] and Var[ReLU(Y)], ``Y ~ GN_p(mu, sigma)``."""
    sgn = float(np.sign(mu))
    t = abs(mu) ** p / (p * sigma**p)
    g1, g3 = scipy.special.gamma(1 / p), scipy.special.gamma(3 / p)
    lower1 = scipy.special.gammainc(1 / p, t) * g1  # gamma(1/p, t), not regularised
    lower3 = scipy.special.gammainc(3 / p, t) * g3
    upper2 = scipy.special.gammaincc(2 / p, t) * scipy.special.gamma(2 / p)  # Gamma(2/p, t)
    a = (g1 + sgn * lower1) / g1
    b = upper2 / g1
    c = (g3 + sgn * lower3) / g1
    p1, p2 = p ** (1 / p), p ** (2 / p)
    mean = 0.5 * (mu * a + p1 * sigma * b)
    second = 0.5 * (mu**2 * a + 2 * mu * p1 * sigma * b + p2 * sigma**2 * c)
    return mean, second - mean**2


@pytest.mark.parametrize("p", [0.5, 1.0, 1.5, 2.0, 3.0])
def test_default_sigma_is_the_papers_sigma_gn_and_gives_unit_variance(p):
    target = targets.RectifiedGeneralizedNormal(p=p, mu=0.3)
    assert target.sigma == pytest.approx(_paper_sigma_gn(p), rel=1e-14)
    # GN_p(0, sigma) = sigma p^(1/p) G with G of scipy's gennorm(p) (density prop. to exp(-|g|^p)).
    variance = scipy.stats.gennorm(p, scale=target.sigma * p ** (1 / p)).var()
    assert variance == pytest.approx(1.0, rel=1e-12)
    assert targets.RectifiedGeneralizedNormal(p=2.0).sigma == 1.0  # the README's sigma_GN(2)
    assert targets.RectifiedGeneralizedNormal(p=1.0).sigma == pytest.approx(1 / math.sqrt(2), rel=1e-15)


@pytest.mark.parametrize(("p", "mu"), CASES)
def test_density_is_normalised(p, mu):
    """The stated density of ``Y`` integrates to 1 (scipy.integrate.quad, float64)."""
    target = targets.RectifiedGeneralizedNormal(p=p, mu=mu, sigma=1.3)
    s = target.sigma
    c = p ** (1 - 1 / p) / (2 * s * math.gamma(1 / p))
    total = sum(
        scipy.integrate.quad(lambda y: c * math.exp(-(abs(y - mu) ** p) / (p * s**p)), a, b, limit=200)[0]
        for a, b in ((-math.inf, mu), (mu, math.inf))
    )
    assert total == pytest.approx(1.0, abs=1e-10)


@pytest.mark.parametrize(("p", "mu"), CASES)
def test_expected_l0_norm_matches_the_incomplete_gamma_form_and_scipy(p, mu):
    """``E ||X||_0 / D = P(Y > 0) = 1/2 (1 + sign(mu) P(1/p, |mu|^p / (p sigma^p)))``."""
    target = targets.RectifiedGeneralizedNormal(p=p, mu=mu)
    s = target.sigma
    closed = 0.5 * (1 + np.sign(mu) * scipy.special.gammainc(1 / p, abs(mu) ** p / (p * s**p)))
    by_scipy = scipy.stats.gennorm(p, loc=mu, scale=s * p ** (1 / p)).sf(0.0)
    assert 1.0 - target.zero_mass == pytest.approx(closed, abs=1e-13)
    assert 1.0 - target.zero_mass == pytest.approx(by_scipy, abs=1e-13)
    if p == 2.0:  # the rectified Gaussian: Phi(mu / sigma)
        assert 1.0 - target.zero_mass == pytest.approx(scipy.stats.norm.cdf(mu / s), abs=1e-13)


@pytest.mark.parametrize(("p", "mu"), CASES)
def test_cf_has_the_papers_rectified_mean_and_variance(p, mu):
    """``psi'(0) = i E[X]``, ``psi''(0) = -E[X^2]``: central differences of our CF against the
    authors' incomplete-gamma closed form of the rectified moments."""
    target = targets.RectifiedGeneralizedNormal(p=p, mu=mu)
    h = 1e-3
    (re_p, re_m), (im_p, im_m) = target.cf((h, -h))
    mean = (im_p - im_m) / (2 * h)
    second = (2.0 - re_p - re_m) / h**2
    expected_mean, expected_var = _paper_moments(p, mu, target.sigma)
    assert mean == pytest.approx(expected_mean, rel=1e-5, abs=1e-7)
    assert second - mean**2 == pytest.approx(expected_var, rel=1e-5, abs=1e-7)


def test_samples_have_the_papers_sparsity_and_mean_at_its_defaults():
    """The sampler at the authors' default (p = 1, mu = 0, sigma_GN: the rectified Laplace)."""
    target = targets.RectifiedGeneralizedNormal(p=1.0, mu=-0.5)
    x = target.sample(20000, 4, seed=5)
    n = x.size
    zeros = float(np.mean(x == 0.0))
    assert abs(zeros - target.zero_mass) < 4 * math.sqrt(target.zero_mass * (1 - target.zero_mass) / n)
    mean, var = _paper_moments(1.0, -0.5, target.sigma)
    assert abs(float(np.mean(x)) - mean) < 4 * math.sqrt(var / n)
    assert float(np.min(x)) == 0.0
