"""The asymptotic law of the average over slices (``sigreg/_pvalues/average.py``).

Oracles: the cumulants against the eigenvalues of the whole 2PK x 2PK covariance matrix, built
from bivariate Gauss-Hermite quadrature of ``E[cos(tX) cos(sY)]`` (not from the closed form the
module uses); the incomplete gamma function and the shifted gamma law against scipy's. The
p-values that the law gives are checked for uniformity in tests/pvalues/test_sliced.py.
"""

from __future__ import annotations

import math

import array_api_compat.numpy as xp
import numpy as np
import pytest

import sigreg
from sigreg._pvalues import asymptotic, average

scipy_stats = pytest.importorskip("scipy.stats", reason="scipy is not installed (the gamma law oracle)")
scipy_special = pytest.importorskip("scipy.special")

KNOTS, WEIGHTS = (tuple(v.tolist()) for v in sigreg.stats.EppsPulley().null_quadrature(np))


def _cross_covariances(rho: float, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cov[cos tX, cos sY] and Cov[sin tX, sin sY] for (X, Y) standard normal with correlation rho, by
    60 x 60 Gauss-Hermite nodes."""
    nodes, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    weight = np.outer(w, w)
    x, y = z1, rho * z1 + math.sqrt(max(0.0, 1 - rho * rho)) * z2
    phi = np.exp(-0.5 * t * t)
    tx, ty, wf = np.outer(t, x.ravel()), np.outer(t, y.ravel()), weight.ravel()
    cos = (np.cos(tx) * wf) @ np.cos(ty).T
    sin = (np.sin(tx) * wf) @ np.sin(ty).T
    return cos - np.outer(phi, phi), sin


def _exact_cumulants(directions: np.ndarray) -> tuple[float, float, float]:
    t, w = np.asarray(KNOTS), np.asarray(WEIGHTS)
    a = average.unit_columns(directions)
    gram = a.T @ a
    k, p = gram.shape[0], t.size
    root = np.sqrt(w)
    blocks = [np.zeros((k * p, k * p)), np.zeros((k * p, k * p))]
    for a in range(k):
        for b in range(a, k):
            for block, cov in zip(blocks, _cross_covariances(gram[a, b], t), strict=True):
                scaled = root[:, None] * cov * root[None, :] / k
                block[a * p : (a + 1) * p, b * p : (b + 1) * p] = scaled
                block[b * p : (b + 1) * p, a * p : (a + 1) * p] = scaled.T
    lam = np.concatenate([np.linalg.eigvalsh(block) for block in blocks])
    return float(np.sum(lam)), 2 * float(np.sum(lam**2)), 8 * float(np.sum(lam**3))


@pytest.mark.parametrize(("dim", "k"), [(3, 7), (6, 9), (20, 4), (2, 2)])
def test_cumulants_match_the_eigenvalues_of_the_covariance(dim, k):
    directions = sigreg.directions(dim, k, seed=dim + k)
    ours = average.cumulants(average.unit_columns(directions), KNOTS, WEIGHTS)
    exact = _exact_cumulants(directions)
    assert ours[0] == pytest.approx(exact[0], rel=1e-10)
    assert ours[1] == pytest.approx(exact[1], rel=1e-6)
    assert ours[2] == pytest.approx(exact[2], rel=2e-3)  # the triples in B(1)'s leading eigenvectors


def test_one_slice_gives_the_per_slice_law():
    lam = asymptotic.chi2_weights(np.asarray(KNOTS), np.asarray(WEIGHTS))
    k1, k2, k3 = average.cumulants(np.ones((1, 1)), KNOTS, WEIGHTS)
    assert (k1, k2, k3) == pytest.approx((lam.sum(), 2 * np.sum(lam**2), 8 * np.sum(lam**3)), rel=1e-9)


def test_orthogonal_directions_average_independent_slices():
    """Coordinates of N(0, I) data are independent: the cumulants of the average of K of them are
    those of one slice divided by K^(r - 1)."""
    k1, k2, k3 = average.cumulants(np.ones((1, 1)), KNOTS, WEIGHTS)
    ours = average.cumulants(np.eye(6), KNOTS, WEIGHTS)
    assert ours == pytest.approx((k1, k2 / 6, k3 / 36), rel=1e-9)


def test_many_slices_sum_their_distinct_triples_over_an_even_subset(monkeypatch):
    """Above MAX_TRIPLE_SLICES the triples of distinct slices are summed over an even subset (all
    of them for their term in rho^3): 40 of 120 slices give the third cumulant within 3% (256 of
    1024, the default's limit, within 0.3%)."""
    directions = average.unit_columns(sigreg.directions(8, 120, seed=4))
    full = average.cumulants(directions, KNOTS, WEIGHTS)
    monkeypatch.setattr(average, "MAX_TRIPLE_SLICES", 40)
    subset = average.cumulants(directions, KNOTS, WEIGHTS)
    assert subset[:2] == full[:2]
    assert subset[2] == pytest.approx(full[2], rel=0.03)


def test_incomplete_gamma_against_scipy():
    x = np.concatenate([np.linspace(0.0, 60.0, 301), [1e-8, 1e-3, 200.0]])
    for a in (0.2, 1.0, 3.7, 55.0, 4000.0):
        expected = scipy_special.gammaincc(a, x)
        ours = average.log_gamma_sf(a, x)
        tiny = expected < 1e-290
        np.testing.assert_allclose(ours[~tiny], np.log(expected[~tiny]), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("dim", "k"), [(3, 64), (64, 256), (64, 4)])
def test_survival_table_is_the_shifted_gamma_of_these_cumulants(dim, k):
    directions = average.unit_columns(sigreg.directions(dim, k, seed=1))
    k1, k2, k3 = average.cumulants(directions, KNOTS, WEIGHTS)
    table = average.survival_table(k1, k2, k3)
    law = scipy_stats.pearson3(k3 / k2**1.5, loc=k1, scale=math.sqrt(k2))
    q = law.isf(np.array([0.9, 0.5, 0.1, 0.01, 1e-3, 1e-6, 1e-10]))
    np.testing.assert_allclose(asymptotic.survival(q, table, xp), law.sf(q), rtol=2e-3)
    # Beyond the table (below 1e-12): extrapolated, towards larger p-values.
    q = law.isf(np.array([1e-13, 1e-15]))
    extrapolated = asymptotic.survival(q, table, xp)
    assert np.all(extrapolated >= law.sf(q)) and np.all(extrapolated <= 1.5 * law.sf(q))
    assert float(asymptotic.survival(np.array([0.0]), table, xp)[0]) == pytest.approx(1.0)


def test_quantile_inverts_the_table():
    directions = average.unit_columns(sigreg.directions(16, 64, seed=2))
    k1, k2, k3 = average.cumulants(directions, KNOTS, WEIGHTS)
    table = average.survival_table(k1, k2, k3)
    law = scipy_stats.pearson3(k3 / k2**1.5, loc=k1, scale=math.sqrt(k2))
    for survival in (0.95, 0.5, 0.05, 1e-6, 1e-14):
        assert average.quantile(table, survival) == pytest.approx(law.isf(survival), rel=2e-3)
