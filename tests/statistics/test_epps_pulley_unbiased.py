"""``unbiased=True``: the Epps-Pulley U-statistic, without the i = j pairs of ``|ecf|^2``."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sigreg
from sigreg import demo
from sigreg.stats import EppsPulley, epps_pulley

from .. import oracle
from ..support import asarray, has_float64, to_numpy, xp_assert_close

OPTS = dict(num_slices=6, seed=3, unbiased=True)


def _u_statistic(u: np.ndarray, t_max: float = 3.0, num_points: int = 17) -> np.ndarray:
    """Per column of ``u`` (N, K): N * integral of the U-statistic of ``|ecf - phi|^2``, written
    from its definition (pairs i != j of cos(t (x_i - x_j))) on the full symmetric grid."""
    n = u.shape[0]
    t = np.linspace(-t_max, t_max, 2 * num_points - 1)
    phi = np.exp(-0.5 * t**2)
    out = []
    for x in u.T:
        d = x[:, None] - x[None, :]
        off_diagonal = ~np.eye(n, dtype=bool)
        pairs = np.cos(t[:, None] * d[off_diagonal][None, :]).sum(axis=1) / (n * (n - 1))
        c = np.cos(t[:, None] * x[None, :]).mean(axis=1)
        integrand = (pairs - 2 * phi * c + phi**2) * phi
        out.append(n * oracle._trapezoid(integrand, t))
    return np.array(out)


def test_values_match_the_definition(xp):
    rng = np.random.default_rng(0)
    u = rng.standard_normal((40, 3)) * 1.3 + 0.2
    got = epps_pulley(asarray(xp, u), unbiased=True)
    rtol = 1e-12 if has_float64(xp) else 2e-5
    xp_assert_close(got, _u_statistic(u), xp=xp, rtol=rtol, atol=rtol)


def test_closed_form_matches_a_fine_quadrature():
    """The whole-line closed form against the trapezoid rule on [-12, 12] with 4000 knots."""
    u = np.random.default_rng(1).standard_normal((30, 4)) * 0.8
    exact = epps_pulley(u, unbiased=True, integration="exact")
    fine = epps_pulley(u, unbiased=True, t_max=12.0, num_points=4000)
    np.testing.assert_allclose(exact, fine, rtol=1e-9, atol=1e-12)


def test_differs_from_the_plain_form_by_the_diagonal():
    """``unbiased - plain = N/(N-1) * sum_j W_j (|ecf_j|^2 - 1)``: the diagonal pairs removed."""
    u = np.random.default_rng(2).standard_normal((25, 2))
    stat = EppsPulley()
    ecf_cos, ecf_sin = sigreg.stats.ecf(u, stat.knots)
    n = u.shape[0]
    shift = n / (n - 1) * ((ecf_cos**2 + ecf_sin**2 - 1) @ np.asarray(stat.grid.weight))
    np.testing.assert_allclose(epps_pulley(u, unbiased=True) - epps_pulley(u), shift, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    ("n", "integration"),
    [(8, "trapezoid"), (64, "trapezoid"), (1024, "trapezoid"), (8, "exact"), (64, "exact")],
)
def test_null_mean_is_zero_at_every_n(n, integration):
    """Monte Carlo over N(0, 1) columns: the mean is 0 within 4 standard errors, where the plain
    statistic's is its null mean (about 1.05), far outside that band."""
    columns = 4000
    x = np.random.default_rng(n).standard_normal((n, columns))
    values = epps_pulley(x, unbiased=True, integration=integration)
    error = values.std() / math.sqrt(columns)
    assert abs(values.mean()) < 4 * error
    plain = epps_pulley(x, integration=integration).mean()
    assert abs(plain - demo.null_mean(integration=integration)) < 4 * error + 0.05
    assert plain > 10 * error
    assert demo.null_mean(unbiased=True) == 0.0


def test_gradient_matches_finite_differences(xp):
    if not has_float64(xp):
        pytest.skip("finite differences need float64 (JAX without x64 has none)")
    z = np.random.default_rng(4).standard_normal((9, 3))
    for integration in ("trapezoid", "exact"):
        options = dict(OPTS, integration=integration)
        value, grad = sigreg.value_and_grad(asarray(xp, z), **options)
        expected = oracle.numerical_grad(lambda w, options=options: float(sigreg.sigreg(w, **options)), z)
        np.testing.assert_allclose(to_numpy(grad), expected, rtol=1e-6, atol=1e-8)
        assert float(value) == pytest.approx(float(sigreg.sigreg(z, **options)), rel=1e-12)


def test_torch_autograd_of_the_naive_formula():
    torch = pytest.importorskip("torch")
    z = torch.tensor(np.random.default_rng(5).standard_normal((12, 4)), requires_grad=True)
    a = sigreg.directions(4, 6, seed=3, xp=torch, dtype=torch.float64)
    sigreg.sigreg(z, directions=a, unbiased=True).backward()
    ours = z.grad.clone()
    z.grad = None
    u = z @ a
    n = u.shape[0]
    t = torch.linspace(-3, 3, 33, dtype=z.dtype)
    phi = torch.exp(-0.5 * t**2)
    c, s = torch.cos(u[..., None] * t).mean(0), torch.sin(u[..., None] * t).mean(0)
    pairs = (n * (c**2 + s**2) - 1) / (n - 1)
    integrand = (pairs - 2 * phi * c + phi**2) * phi
    (n * torch.trapezoid(integrand, t, dim=-1)).mean().backward()
    torch.testing.assert_close(ours, z.grad, rtol=1e-10, atol=1e-12)


def test_accumulator_and_all_reduce_are_exact():
    z = np.random.default_rng(6).standard_normal((3, 21, 4))  # three shards of one batch
    whole_value, whole_grad = sigreg.value_and_grad(z.reshape(63, 4), **OPTS)
    acc = sigreg.Accumulator()
    for shard in z:
        sigreg.sigreg(shard, all_reduce=acc.collect, **OPTS)
    parts = [sigreg.value_and_grad(shard, all_reduce=acc.reduce, **OPTS) for shard in z]
    assert all(float(v) == pytest.approx(float(whole_value), rel=1e-12) for v, _ in parts)
    np.testing.assert_allclose(np.concatenate([g for _, g in parts]), whole_grad, rtol=1e-10, atol=1e-13)


def test_dask_equals_numpy():
    da = pytest.importorskip("dask.array")
    z = np.random.default_rng(7).standard_normal((50, 4))
    got = sigreg.sigreg(da.from_array(z, chunks=(13, 4)), **OPTS)
    np.testing.assert_allclose(np.asarray(got), sigreg.sigreg(z, **OPTS), rtol=1e-12)


def test_asymptotic_pvalues_are_calibrated():
    """Under the null the asymptotic p-values of the U-statistic are uniform: 5% fall below
    0.05 (within 4 binomial standard errors), and they agree with the Monte Carlo null's."""
    n, draws = 256, 600
    x = np.random.default_rng(8).standard_normal((draws, n, 1))
    a = np.ones((1, 1))
    p = np.array([float(sigreg.test(x[i], directions=a, unbiased=True).pvalue) for i in range(draws)])
    for level in (0.05, 0.25, 0.5):
        assert abs(np.mean(p < level) - level) < 4 * math.sqrt(level * (1 - level) / draws)
    result = sigreg.test(x[0] * 1.5, directions=a, unbiased=True)
    monte_carlo = sigreg.test(x[0] * 1.5, directions=a, unbiased=True, method="monte_carlo", n_resamples=199)
    assert float(result.pvalue) < 0.01 and float(monte_carlo.slice_pvalues[0]) < 0.02


def test_bad_input_is_refused():
    with pytest.raises(TypeError, match="unbiased must be True or False"):
        EppsPulley(unbiased=1)
    with pytest.raises(TypeError, match="unbiased must be True or False"):
        sigreg.sigreg(np.zeros((4, 2)), unbiased="yes")
    with pytest.raises(ValueError, match="at least 2 samples for EppsPulley\\(unbiased=True\\)"):
        sigreg.sigreg(np.ones((1, 3)), unbiased=True)
    with pytest.raises(ValueError, match="at least 2 samples"):
        epps_pulley(np.ones(1), unbiased=True)
    sigreg.sigreg(np.ones((1, 3)))  # the plain form accepts one sample


def test_options_round_trip():
    import pickle

    stat = EppsPulley(unbiased=True)
    assert pickle.loads(pickle.dumps(stat)) == stat
    assert stat != EppsPulley()
    z = np.random.default_rng(9).standard_normal((16, 3))
    assert float(sigreg.sigreg(z, statistic=stat)) == float(sigreg.sigreg(z, unbiased=True))
