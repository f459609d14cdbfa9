"""Quadrature rules of the Epps-Pulley statistic: convergence to the closed form, the paper's
symmetric grid, and the same numbers on every backend."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import sigreg
from sigreg.stats import EppsPulley

from .. import oracle
from ..support import asarray, has_float64, xp_assert_close

RULES = ["trapezoid", "simpson", "gauss_hermite"]


def _case(seed=0, n=200, d=3, k=5):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d)) * 1.1 + 0.1
    a = rng.standard_normal((d, k))
    return z, a / np.linalg.norm(a, axis=0)


@pytest.mark.parametrize("rule", RULES)
def test_converges_to_the_closed_form(rule):
    """Errors against the exact statistic shrink as the knots grow; t_max = 8 truncates
    below 1e-13 (the Gaussian window is exp(-32) there)."""
    z, a = _case()
    exact = oracle.exact_epps_pulley(z @ a)
    errors = []
    for points in (9, 17, 33, 65):
        value = sigreg.sigreg(
            z, directions=a, reduction="none", integration=rule, t_max=8.0, num_points=points
        )
        errors.append(float(np.max(np.abs(value - exact) / exact)))
    assert all(b < a for a, b in itertools.pairwise(errors[:-1])), errors  # strictly better until rounding
    assert errors[-1] < 1e-10, errors
    assert errors[0] > 1e-3, errors  # 9 knots are visibly not converged: the test can fail


def test_simpson_weights_against_scipy():
    scipy_integrate = pytest.importorskip("scipy.integrate")
    z, a = _case(seed=1)
    u = z @ a
    t = np.linspace(-4.0, 4.0, 2 * 11 - 1)
    phi = np.exp(-0.5 * t**2)
    ecf = np.exp(1j * u[:, :, None] * t).mean(axis=0)
    expected = u.shape[0] * scipy_integrate.simpson(np.abs(ecf - phi) ** 2 * phi, x=t, axis=-1)
    got = sigreg.sigreg(z, directions=a, reduction="none", integration="simpson", t_max=4.0, num_points=11)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_gauss_hermite_against_numpy_nodes():
    z, a = _case(seed=2)
    u = z @ a
    nodes, weights = np.polynomial.hermite_e.hermegauss(20)
    ecf = np.exp(1j * u[:, :, None] * nodes).mean(axis=0)
    expected = u.shape[0] * np.sum(np.abs(ecf - np.exp(-0.5 * nodes**2)) ** 2 * weights, axis=-1)
    got = sigreg.sigreg(z, directions=a, reduction="none", integration="gauss_hermite", num_points=20)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_paper_symmetric_grid_is_the_half_line_grid():
    """LeJEPA's Algorithm 1 (linspace(-5, 5, 17), full trapezoid) is t_max=5 with 9 knots."""
    z, a = _case(seed=3)
    statistic = EppsPulley.from_symmetric_grid(-5.0, 5.0, 17)
    assert (statistic.t_max, statistic.num_points) == (5.0, 9)
    got = sigreg.sigreg(z, directions=a, reduction="none", statistic=statistic)
    np.testing.assert_allclose(got, oracle.paper_epps_pulley(z @ a), rtol=1e-12)
    simpson = EppsPulley.from_symmetric_grid(-5.0, 5.0, 17, integration="simpson")
    assert simpson.integration == "simpson" and simpson.num_points == 9


def test_symmetric_grid_arguments():
    with pytest.raises(ValueError, match=r"t_min must be -t_max = -5.0"):
        EppsPulley.from_symmetric_grid(-4.0, 5.0, 17)
    with pytest.raises(ValueError, match="num_knots must be odd"):
        EppsPulley.from_symmetric_grid(-5.0, 5.0, 16)
    with pytest.raises(ValueError, match="num_knots must be >= 3"):
        EppsPulley.from_symmetric_grid(-5.0, 5.0, 1)
    with pytest.raises(ValueError, match="integration must be one of 'trapezoid', 'simpson'"):
        EppsPulley.from_symmetric_grid(-5.0, 5.0, 17, integration="gauss_hermite")
    with pytest.raises(ValueError, match="num_points must be odd for integration='simpson'"):
        EppsPulley.from_symmetric_grid(-5.0, 5.0, 15, integration="simpson")  # 8 half-line knots


@pytest.mark.parametrize("rule", ["simpson", "gauss_hermite"])
def test_rules_agree_across_backends_with_gradients(xp, rule):
    z, a = _case(seed=4, n=60)
    if not has_float64(xp):
        z, a = (x.astype(np.float32).astype(np.float64) for x in (z, a))
    opts = dict(integration=rule, num_points=13, t_max=4.0)
    ref_value, ref_grad = sigreg.value_and_grad(z, directions=a, **opts)
    value, grad = sigreg.value_and_grad(asarray(xp, z), directions=asarray(xp, a), **opts)
    rtol = 1e-12 if has_float64(xp) else 2e-5
    xp_assert_close(value, ref_value, xp=xp, rtol=rtol)
    xp_assert_close(
        grad, ref_grad, xp=xp, rtol=rtol if has_float64(xp) else 1e-4, atol=1e-6 * (not has_float64(xp))
    )


@pytest.mark.parametrize("rule", ["simpson", "gauss_hermite"])
def test_gradient_matches_finite_differences(rule):
    z, a = _case(seed=5, n=10)
    opts = dict(directions=a, integration=rule, num_points=9, t_max=4.0)
    _, grad = sigreg.value_and_grad(z, **opts)
    numeric = oracle.numerical_grad(lambda x: float(sigreg.sigreg(x, **opts)), z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


def test_null_mean_of_gauss_hermite_is_the_whole_line_value():
    """The null mean sum_j w_j (1 - phi_j^2) of the folded rule tends to sqrt(2 pi)(1 - 1/sqrt 3)."""
    knots, weights = EppsPulley(integration="gauss_hermite", num_points=40).null_quadrature(np)
    mean = float(np.sum(weights * (1 - np.exp(-(knots**2)))))
    assert mean == pytest.approx(math.sqrt(2 * math.pi) * (1 - 1 / math.sqrt(3)), rel=1e-10)


@pytest.mark.parametrize("n", [2, 3, 17, 64, 128])
def test_gauss_hermite_nodes_against_numpy(n):
    nodes, weights = np.polynomial.hermite_e.hermegauss(n)
    positive = nodes > 0
    grid = EppsPulley(integration="gauss_hermite", num_points=n).grid
    np.testing.assert_allclose(grid.t, nodes[positive], rtol=1e-14)
    np.testing.assert_allclose(grid.weight, 2 * weights[positive], rtol=1e-12)
