"""The asymptotic null laws (``sigreg/_pvalues/asymptotic.py``): weights of the chi-square mixture
against the closed-form null mean, Imhof's survival table against Monte Carlo draws and against 20,000
null samples."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sigreg
from sigreg._pvalues import asymptotic

stats = pytest.importorskip("scipy.stats", reason="scipy is not installed (the KS test of calibration)")


def _lambdas(**options):
    statistic = sigreg.stats.EppsPulley(**options)
    return asymptotic.chi2_weights(*statistic.null_quadrature(np))


@pytest.mark.parametrize("options", [{}, {"integration": "exact"}, {"t_max": 5.0, "num_points": 9}])
def test_null_weights_sum_to_the_exact_null_mean(options):
    """The weights of the chi-square mixture sum to E[EP] under the null, known in closed form."""
    lam = _lambdas(**options)
    if options.get("integration") == "exact":
        assert lam.sum() == pytest.approx(math.sqrt(2 * math.pi) * (1 - 1 / math.sqrt(3)), rel=1e-9)
    else:  # sum_j W_j (Var cos(t_j X) + Var sin(t_j X)) = sum_j W_j (1 - phi_j^2)
        knots, weights = sigreg.stats.EppsPulley(**options).null_quadrature(np)
        assert lam.sum() == pytest.approx(np.sum(weights * (1 - np.exp(-(knots**2)))), rel=1e-12)


def test_imhof_table_matches_monte_carlo_draws_of_the_mixture():
    lam = _lambdas()
    table = asymptotic.survival_table(tuple(lam.tolist()))
    q = np.array([0.3, 1.0, 2.0, 2.95, 4.58, 7.0])
    import array_api_compat.numpy as xp

    tabled = asymptotic.survival(q, table, xp)
    rng = np.random.default_rng(0)
    draws = np.concatenate([rng.standard_normal((250_000, lam.size)) ** 2 @ lam for _ in range(8)])
    empirical = np.array([(draws > v).mean() for v in q])
    error = np.sqrt(empirical * (1 - empirical) / draws.size)
    assert np.all(np.abs(tabled - empirical) <= 4 * error + 1e-5), (tabled, empirical)


@pytest.mark.parametrize(
    ("n", "unbiased"),
    [*((n, False) for n in (16, 32, 64, 128, 256, 1024)), *((n, True) for n in (16, 32, 128))],
)
def test_asymptotic_law_of_20000_null_samples(n, unbiased):
    """A sharper check of the same law: 20,000 samples at once (600 cannot see a 15% error
    in the weights; 20,000 do, at every level), from the smallest N that method="asymptotic"
    accepts. The unbiased statistic is shifted by the null mean, as sigreg.test does.
    docs/pvalues.md has the rates from 40,000 samples (docs/generate.py, pvalue_levels)."""
    import array_api_compat.numpy as xp

    x = np.random.default_rng(n).standard_normal((n, 20_000))
    lambdas = _lambdas(unbiased=unbiased)
    table = asymptotic.survival_table(tuple(lambdas.tolist()))
    values = sigreg.stats.epps_pulley(x, unbiased=unbiased) + (float(np.sum(lambdas)) if unbiased else 0.0)
    p = asymptotic.survival(values, table, xp)
    if not unbiased:  # the unbiased one's lower tail (p-values near 1) is off at small N: no test's
        assert stats.kstest(p, "uniform").pvalue > 0.001
    for level in (0.01, 0.05, 0.1, 0.2, 0.5):
        assert abs(np.mean(p <= level) - level) <= 4 * math.sqrt(level * (1 - level) / p.size) + 0.003


def test_fft_table_is_the_direct_imhof_sum():
    """The table's FFT evaluates the same midpoint sum as imhof_survival, point for point."""
    lam = _lambdas()
    step, sf = asymptotic.imhof_survival_grid(600, lam)
    picked = np.arange(1, 600, 37)
    np.testing.assert_allclose(sf[picked], asymptotic.imhof_survival(picked * step, lam), atol=1e-12)
