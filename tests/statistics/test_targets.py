"""Targets other than N(0, 1): sigreg.targets and target= of the Epps-Pulley statistic.

Oracles: scipy's quadrature of each 1-D CF and scipy's Bessel function; a float64 NumPy
transcription of the statistic on the full symmetric grid; the Monte Carlo null mean
``sum_j W_j (1 - |psi_a(t_j)|^2)`` of samples drawn from the target; finite differences.
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings

import numpy as np
import pytest
import scipy.integrate
import scipy.special

import sigreg
import sigreg.stats
import sigreg.targets as targets

from .. import oracle
from ..support import asarray, has_float64, to_numpy, xp_assert_close


def _density(target):
    """(density on the continuous part, point mass at 0, support) of each 1-D product target."""
    if isinstance(target, targets.Laplace):
        b = 1 / math.sqrt(2)
        return (lambda x: math.exp(-abs(x) / b) / (2 * b)), 0.0, (-math.inf, math.inf)
    if isinstance(target, targets.Uniform):
        r = math.sqrt(3)
        return (lambda x: 1 / (2 * r)), 0.0, (-r, r)
    if isinstance(target, targets.GeneralizedNormal):
        b = target.beta
        alpha = math.sqrt(math.gamma(1 / b) / math.gamma(3 / b))  # unit variance
        c = b / (2 * alpha * math.gamma(1 / b))
        return (lambda x: c * math.exp(-((abs(x) / alpha) ** b))), 0.0, (-math.inf, math.inf)
    p, mu, s = target.p, target.mu, target.sigma
    c = p ** (1 - 1 / p) / (2 * s * math.gamma(1 / p))

    def f(y):
        return c * math.exp(-(abs(y - mu) ** p) / (p * s**p))

    # P(Y <= 0): |Y - mu|^p / (p s^p) is Gamma(1/p), and Y is symmetric about mu.
    tail = 0.5 * scipy.special.gammaincc(1 / p, abs(mu) ** p / (p * s**p))
    return f, (tail if mu >= 0 else 1.0 - tail), (0.0, math.inf)


def _quad_cf(target, t):
    """The 1-D CF at ``t`` by scipy.integrate.quad of cos/sin(t x) p(x).

    The support is cut into pieces whose ends grow by factors of 10 away from the kinks (0, and
    ``mu`` of the rectified law), so that quad sees a smooth density on each (the generalised
    Gaussians' are peaked at the kink for small shapes, and heavy-tailed); on each piece
    ``weight="cos"`` / ``"sin"`` (QUADPACK's QAWO) handles the oscillation."""
    f, mass, (lo, hi) = _density(target)
    re = mass + sum(_quad_piece(f, a, b, t, "cos") for a, b in _pieces(target, lo, hi))
    im = sum(_quad_piece(f, a, b, t, "sin") for a, b in _pieces(target, lo, hi))
    return re + 1j * im


def _quad_piece(f, a, b, t, weight):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", scipy.integrate.IntegrationWarning)
        if t == 0.0:
            value = scipy.integrate.quad(f, a, b, epsabs=1e-15, epsrel=1e-13, limit=200)[0]
            return value if weight == "cos" else 0.0
        return scipy.integrate.quad(f, a, b, weight=weight, wvar=t, epsabs=1e-15, epsrel=1e-13, limit=200)[0]


def _pieces(target, lo, hi):
    if isinstance(target, targets.Uniform):
        return [(lo, 0.0), (0.0, hi)]
    if isinstance(target, targets.Laplace):
        return [(-40.0, 0.0), (0.0, 40.0)]
    if isinstance(target, targets.GeneralizedNormal):
        beta, centre = target.beta, 0.0
        scale = math.sqrt(math.gamma(1 / beta) / math.gamma(3 / beta))
    else:  # scale: sigma p^(1/p), the alpha of exp(-|y - mu|^p / alpha^p)
        beta, centre, scale = target.p, target.mu, target.sigma * target.p ** (1 / target.p)
    # |Y - centre| / scale beyond this holds below 1e-20 of the mass.
    reach = scale * (60.0 + 20.0 / beta) ** (1.0 / beta)
    steps = [scale * 10.0**k for k in range(-15, 1 + math.ceil(math.log10(reach / scale)))]
    ends = [centre - reach, centre, centre + reach]
    ends += [centre + sign * s for s in steps if s < reach for sign in (-1, 1)]
    ends = sorted({min(max(e, lo), hi) for e in ends})
    return list(itertools.pairwise(ends))


PRODUCTS = [
    targets.Laplace(),
    targets.Uniform(),
    targets.GeneralizedNormal(1.5),
    targets.GeneralizedNormal(0.7),
    targets.RectifiedGeneralizedNormal(),
    targets.RectifiedGeneralizedNormal(p=1.0, mu=0.5, sigma=2.0),
]


@pytest.mark.parametrize("target", PRODUCTS, ids=repr)
def test_cf_matches_quadrature_of_the_density(target):
    t = (0.0, 0.4, 1.3, 3.0)
    re, im = target.cf(t)
    expected = np.array([_quad_cf(target, tj) for tj in t])
    np.testing.assert_allclose(np.array(re) + 1j * np.array(im), expected, rtol=0, atol=2e-9)


# Every shape from the smallest allowed (0.1: a peak at 0 and a tail to 1e4 standard deviations)
# past the uniform-like 10; the rectified law from far left of 0 (mostly zeros) to far right.
EXTREMES = [
    *(targets.GeneralizedNormal(beta) for beta in (0.1, 0.15, 0.3, 0.7, 1.0, 1.5, 3.0, 3.5, 10.0, 50.0)),
    targets.RectifiedGeneralizedNormal(p=0.1),
    targets.RectifiedGeneralizedNormal(p=0.1, mu=-1.0, sigma=2.0),
    targets.RectifiedGeneralizedNormal(p=0.5, mu=1.0),
    targets.RectifiedGeneralizedNormal(p=1.0, mu=-3.0),
    targets.RectifiedGeneralizedNormal(p=1.0, mu=0.5, sigma=3.0),
    targets.RectifiedGeneralizedNormal(p=2.0, mu=3.0, sigma=0.1),
    targets.RectifiedGeneralizedNormal(p=10.0, mu=-0.2),
]
KNOTS = (1e-4, 0.3, 1.0, 3.0, 8.0)


@pytest.mark.parametrize("target", EXTREMES, ids=repr)
def test_cf_is_one_at_zero_and_the_quadrature_of_the_density_elsewhere(target):
    re, im = target.cf((0.0, *KNOTS))
    assert (re[0], im[0]) == (1.0, 0.0)  # exactly
    expected = np.array([_quad_cf(target, t) for t in KNOTS])
    # The promise is 1e-9; the rule gives about 1e-15.
    np.testing.assert_allclose(np.array(re[1:]) + 1j * np.array(im[1:]), expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("target", [EXTREMES[0], EXTREMES[6], EXTREMES[-2]], ids=repr)
def test_a_knots_value_does_not_depend_on_the_other_knots(target):
    for t in KNOTS:
        alone = target.cf((t,))
        assert alone == tuple(part[:1] for part in target.cf((t, 40.0)))
        assert alone == tuple(part[1:] for part in target.cf((0.5 * t, t)))


@pytest.mark.parametrize("target", [EXTREMES[k] for k in (0, 6, 8, 11, -2)], ids=repr)
def test_the_tabulated_cf_is_within_1e_9(target):
    """What the sliced statistic interpolates (along an axis, ``s = t``) against the CF itself."""
    import array_api_compat.numpy as npx

    t = np.concatenate([np.geomspace(1e-5, 0.1, 30), np.linspace(0.0, 3.0, 91)])
    re, im = target.projection_cf(np.eye(1), tuple(t), npx)
    expected_re, expected_im = target.cf(tuple(t))
    np.testing.assert_allclose(re[0], expected_re, rtol=0, atol=1e-9)
    np.testing.assert_allclose(im[0], expected_im, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "target", [targets.Laplace(), targets.GeneralizedNormal(1.5), targets.Sphere()], ids=repr
)
def test_any_real_scalar_is_a_knot_on_every_backend(xp, target):
    a = np.random.default_rng(3).standard_normal((3, 2))
    dtype = xp.float64 if has_float64(xp) else xp.float32
    t = (0.5, 1.25, 2.0)  # exact in float32 too
    knot_sets = [
        tuple(np.linspace(0.5, 2.0, 3)),  # NumPy scalars
        (np.float32(0.5), np.asarray(1.25), xp.asarray(2.0)),  # and 0-d arrays, of NumPy and of xp
        asarray(xp, t),  # a 1-D array
    ]
    if isinstance(target, targets.Sphere):
        expected = target.projection_cf(3, t)
        for knots in knot_sets:
            assert target.projection_cf(3, knots) == expected
        return
    expected = target.projection_cf(a, t, npx_namespace())
    for knots in knot_sets:
        re, im = target.projection_cf(asarray(xp, a, dtype), knots, xp)
        rtol = 1e-12 if dtype == xp.float64 else 1e-5
        np.testing.assert_allclose(to_numpy(re), expected[0], rtol=rtol, atol=rtol)
        np.testing.assert_allclose(to_numpy(im), expected[1], rtol=rtol, atol=rtol)
    host = target.cf(knot_sets[1])
    assert host == target.cf(t) and all(type(v) is float for part in host for v in part)


def npx_namespace():
    import array_api_compat.numpy as npx

    return npx


def test_parameters_out_of_reach_are_refused_naming_them():
    # A location of 100 scales: the CF turns 300 times on [0, 3], too fast to tabulate to 1e-9.
    with pytest.raises(ValueError, match=r"RectifiedGeneralizedNormal\(p=2.0, mu=100.0, sigma=1.0\).*t_max"):
        sigreg.stats.EppsPulley(target=targets.RectifiedGeneralizedNormal(mu=100.0))
    with pytest.raises(ValueError, match=r"GeneralizedNormal\(beta=1.0\) at knots up to 10000.0"):
        targets.GeneralizedNormal(1.0).cf((1.0, 1e4))


@pytest.mark.parametrize("target", PRODUCTS, ids=repr)
def test_projection_cf_is_the_product_of_coordinate_cfs(target):
    import array_api_compat.numpy as npx

    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 4))
    t = (0.5, 1.5, 3.0)
    re, im = target.projection_cf(a, t, npx)
    unit = a / np.linalg.norm(a, axis=0)
    expected = np.ones((4, 3), dtype=complex)
    for d in range(3):
        for k in range(4):
            expected[k] *= [_quad_cf(target, unit[d, k] * tj) for tj in t]
    np.testing.assert_allclose(re + 1j * im, expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize("dim", [1, 2, 3, 7, 64, 200])
def test_sphere_cf_is_the_bessel_expression(dim):
    t = (0.3, 1.0, 2.5, 3.0)
    got = np.array(targets.Sphere().projection_cf(dim, t))
    r = np.array(t) * math.sqrt(dim)
    nu = dim / 2 - 1
    # In logarithms: Gamma(nu + 1) (2/r)^nu overflows at large dim, where J_nu(r) is tiny.
    j = scipy.special.jv(nu, r)
    expected = np.sign(j) * np.exp(scipy.special.gammaln(nu + 1) + nu * np.log(2 / r) + np.log(np.abs(j)))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_sphere_cf_is_the_cf_of_the_projected_density():
    # The projection X of a uniform point on the sphere of radius sqrt(D): X / sqrt(D) has density
    # proportional to (1 - s^2)^((D - 3)/2) on [-1, 1].
    dim, t = 5, 1.7
    w = lambda s: (1 - s * s) ** ((dim - 3) / 2)  # noqa: E731
    norm = scipy.integrate.quad(w, -1, 1)[0]
    expected = scipy.integrate.quad(lambda s: math.cos(t * math.sqrt(dim) * s) * w(s), -1, 1)[0] / norm
    assert targets.Sphere().projection_cf(dim, (t,))[0] == pytest.approx(expected, abs=1e-12)


@functools.cache
def _psi_oracle(target, t):
    """psi(t): Laplace's closed form, else quadrature (``psi(-t)`` is ``conj(psi(t))``)."""
    if isinstance(target, targets.Laplace):
        return 1.0 / (1.0 + 0.5 * t * t)
    return _quad_cf(target, t) if t >= 0 else np.conj(_psi_oracle(target, -t))


def _ep_oracle(z, a, target, t_max=3.0, num_points=17):
    """EP of each slice against the target's psi_a on the full symmetric grid, in float64 NumPy."""
    t = np.linspace(-t_max, t_max, 2 * num_points - 1)
    u = z @ a
    unit = a / np.linalg.norm(a, axis=0)
    if isinstance(target, targets.Sphere):
        psi = np.array(target.projection_cf(a.shape[0], tuple(t)))[None, :] * np.ones((a.shape[1], 1))
    else:  # psi_a(t) = prod_d psi(a_d t), psi by quadrature of the density
        psi = np.ones((a.shape[1], t.size), dtype=complex)
        for d in range(a.shape[0]):
            for k in range(a.shape[1]):
                psi[k] *= np.array([_psi_oracle(target, float(s)) for s in unit[d, k] * t])
    ecf = np.exp(1j * u[:, :, None] * t).mean(axis=0)
    err = np.abs(ecf - psi) ** 2 * np.exp(-0.5 * t**2)
    return u.shape[0] * oracle._trapezoid(err, t, axis=-1)


ORACLE_TARGETS = [
    targets.Laplace(),
    targets.GeneralizedNormal(1.5),
    targets.RectifiedGeneralizedNormal(p=1.0, mu=0.5),
    targets.Sphere(),
    targets.GeneralizedNormal(3.0),
]


@pytest.mark.parametrize("target", ORACLE_TARGETS, ids=repr)
def test_sigreg_with_a_target_matches_the_float64_oracle(xp, target):
    rng = np.random.default_rng(2)
    z = rng.standard_normal((60, 4)) * 0.9 + 0.2
    a = rng.standard_normal((4, 5))
    a /= np.linalg.norm(a, axis=0)
    expected = _ep_oracle(z, a, target)
    dtype = xp.float64 if has_float64(xp) else xp.float32
    got = sigreg.sigreg(
        asarray(xp, z, dtype), directions=asarray(xp, a, dtype), target=target, reduction="none"
    )
    # Tabulated CFs (GeneralizedNormal, RDMReg's) interpolate a float64 table: about 1e-9.
    rtol = 1e-8 if dtype == xp.float64 else 2e-4
    xp_assert_close(got, expected, xp=xp, rtol=rtol, atol=rtol)


def test_along_an_axis_the_target_is_psi_itself():
    x = np.random.default_rng(3).standard_normal((80, 3))
    got = sigreg.stats.epps_pulley(x, target="laplace")
    np.testing.assert_allclose(got, _ep_oracle(x, np.eye(3), targets.Laplace()), rtol=1e-12)


def test_normal_target_is_the_default_bit_for_bit():
    z = np.random.default_rng(4).standard_normal((50, 6))
    assert np.array_equal(
        sigreg.sigreg(z, num_slices=9, target=targets.Normal()), sigreg.sigreg(z, num_slices=9)
    )
    assert np.array_equal(
        sigreg.value_and_grad(z, num_slices=9, target="normal")[1], sigreg.value_and_grad(z, num_slices=9)[1]
    )
    assert sigreg.stats.EppsPulley(target="normal") == sigreg.stats.EppsPulley()
    assert repr(sigreg.stats.EppsPulley()) == "EppsPulley(t_max=3.0, num_points=17, integration='trapezoid')"


@pytest.mark.parametrize("target", [*ORACLE_TARGETS[:2], targets.Uniform()], ids=repr)
def test_gradient_matches_finite_differences(target):
    rng = np.random.default_rng(5)
    z = rng.standard_normal((12, 3)) + 0.3
    a = rng.standard_normal((3, 4))
    opts = dict(directions=a / np.linalg.norm(a, axis=0), target=target, t_max=4.0, num_points=13)
    value, grad = sigreg.value_and_grad(z, **opts)
    numeric = oracle.numerical_grad(lambda x: float(sigreg.sigreg(x, **opts)), z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=2e-8)
    assert float(value) == float(sigreg.sigreg(z, **opts))


def test_framework_autodiff_matches_the_analytic_gradient(xp):
    # torch autograd / jax.grad through the adapters against value_and_grad (NumPy, float64).
    rng = np.random.default_rng(6)
    z = rng.standard_normal((30, 4))
    a = rng.standard_normal((4, 6))
    target = targets.RectifiedGeneralizedNormal(p=1.0, mu=0.5)
    _, expected = sigreg.value_and_grad(z, directions=a, target=target)
    dtype = xp.float64 if has_float64(xp) else xp.float32
    zx, ax = asarray(xp, z, dtype), asarray(xp, a, dtype)
    rtol = 1e-9 if dtype == xp.float64 else 3e-4
    if xp.__name__ == "array_api_compat.torch":
        zx.requires_grad_(True)
        sigreg.sigreg(zx, directions=ax, target=target).backward()
        grad = zx.grad
    elif xp.__name__ == "jax.numpy":
        import jax

        eager = jax.grad(lambda v: sigreg.sigreg(v, directions=ax, target=target))(zx)
        np.testing.assert_allclose(to_numpy(eager), expected, rtol=rtol, atol=rtol * np.abs(expected).max())
        grad = jax.jit(jax.grad(lambda v: sigreg.sigreg(v, directions=ax, target=target)))(zx)
    else:
        grad = sigreg.value_and_grad(zx, directions=ax, target=target)[1]
    np.testing.assert_allclose(to_numpy(grad), expected, rtol=rtol, atol=rtol * np.abs(expected).max())


@pytest.mark.parametrize(
    "target",
    [
        targets.Laplace(),
        targets.Uniform(),
        targets.GeneralizedNormal(1.5),
        targets.RectifiedGeneralizedNormal(),
        targets.Sphere(),
    ],
    ids=repr,
)
def test_monte_carlo_null_mean_of_samples_from_the_target(target):
    """Samples drawn from the target: ``E EP_k = sum_j W_j (1 - |psi_a(t_j)|^2)`` for every N."""
    import array_api_compat.numpy as npx

    n, d, k, reps = 32, 4, 32, 24
    statistic = sigreg.stats.EppsPulley(target=target)
    a = sigreg.directions(d, k, seed=7)
    cf = statistic.constants(a, npx, n, 0)
    j = len(statistic.knots)
    cf = np.broadcast_to(cf, (k, 2 * j))
    modulus2 = cf[:, :j] ** 2 + cf[:, j:] ** 2
    expected = np.mean(np.sum(np.array(statistic.grid.weight) * (1.0 - modulus2), axis=-1))
    means = [
        float(sigreg.sigreg(target.sample(n, d, seed=100 + r), directions=a, target=target))
        for r in range(reps)
    ]
    stderr = np.std(means, ddof=1) / math.sqrt(reps)
    assert abs(np.mean(means) - expected) < 4 * stderr + 0.01 * expected, (np.mean(means), expected, stderr)


@pytest.mark.parametrize(
    "target", [targets.Laplace(), targets.RectifiedGeneralizedNormal(), targets.Sphere()], ids=repr
)
def test_samples_are_the_same_on_every_backend(xp, target):
    expected = target.sample(50, 3, seed=11)
    dtype = xp.float64 if has_float64(xp) else xp.float32
    got = target.sample(
        50, 3, seed=11, xp=xp, dtype=dtype, device=None if "torch" not in xp.__name__ else "cpu"
    )
    rtol = 1e-12 if dtype == xp.float64 else 1e-5
    xp_assert_close(got, expected, xp=xp, rtol=rtol, atol=rtol)


def test_samples_have_the_targets_law():
    x = targets.Laplace().sample(40000, 2, seed=1)
    assert abs(np.var(x) - 1.0) < 0.03 and abs(np.mean(np.abs(x)) - math.sqrt(0.5)) < 0.01
    r = targets.RectifiedGeneralizedNormal(p=1.0, mu=0.5)
    assert abs(np.mean(r.sample(40000, 2, seed=2) == 0.0) - r.zero_mass) < 0.01
    s = targets.Sphere().sample(100, 7, seed=3)
    np.testing.assert_allclose(np.linalg.norm(s, axis=1), math.sqrt(7), rtol=1e-12)


def test_all_reduce_and_dask_stay_exact():
    pytest.importorskip("dask")
    import dask.array as da

    rng = np.random.default_rng(8)
    z = rng.standard_normal((64, 5))
    target = targets.RectifiedGeneralizedNormal(p=1.0, mu=0.5)
    expected = sigreg.sigreg(z, num_slices=6, target=target, reduction="none")
    lazy = sigreg.sigreg(da.from_array(z, chunks=(16, 5)), num_slices=6, target=target, reduction="none")
    np.testing.assert_allclose(lazy.compute(), expected, rtol=1e-12)
    # Two workers holding halves: the sums are added, the CF is the same on both.
    halves = [z[:40], z[40:]]

    def on_worker(i):
        other = halves[1 - i]

        def all_reduce(packed):
            # The other worker's packed sums, computed as it would (same directions, same CF).
            statistic = sigreg.stats.EppsPulley(target=target)
            a = sigreg.directions(5, 6, seed=0)
            import array_api_compat.numpy as npx

            sums = statistic.local_sums(other @ a, npx)
            return packed + np.concatenate([sums.reshape(-1), [other.shape[0], 1.0]])

        return sigreg.sigreg(halves[i], num_slices=6, target=target, reduction="none", all_reduce=all_reduce)

    np.testing.assert_allclose(on_worker(0), expected, rtol=1e-12)
    np.testing.assert_allclose(on_worker(1), expected, rtol=1e-12)


def test_bad_targets_are_refused_naming_the_argument():
    with pytest.raises(ValueError, match=r"target must be one of 'normal', 'laplace'.*got 'cauchy'"):
        sigreg.sigreg(np.zeros((4, 2)), target="cauchy")
    with pytest.raises(ValueError, match=r"beta must be"):
        targets.GeneralizedNormal(0.0)
    with pytest.raises(ValueError, match=r"beta must be"):
        targets.GeneralizedNormal(-1.0)
    with pytest.raises(ValueError, match=r"sigma must be"):
        targets.RectifiedGeneralizedNormal(sigma=-1.0)
    with pytest.raises(ValueError, match=r"p must be"):
        targets.RectifiedGeneralizedNormal(p=0.0)
    with pytest.raises(ValueError, match=r"GeneralizedNormal\(beta\)"):
        sigreg.stats.EppsPulley(target="generalized_normal")
    with pytest.raises(TypeError, match="target must be a target name"):
        sigreg.stats.EppsPulley(target=3)
    with pytest.raises(ValueError, match=r"'shapiro_wilk' cannot use target=Sphere\(\)"):
        sigreg.sigreg(np.zeros((8, 2)), statistic="shapiro_wilk", target="sphere")
    with pytest.raises(ValueError, match=r"integration='exact'.*target=Laplace\(\)"):
        sigreg.stats.EppsPulley(integration="exact", target="laplace")
    with pytest.raises(ValueError, match="law of whole embeddings"):
        sigreg.stats.epps_pulley(np.zeros((8, 2)), target="sphere")
    with pytest.raises(ValueError, match=r"n must be"):
        targets.Laplace().sample(0, 2)
    # N(0, 1) is every statistic's own target: accepted by name.
    assert (
        sigreg.sigreg(
            np.random.default_rng(0).standard_normal((20, 2)), statistic="shapiro_wilk", target="normal"
        )
        >= 0
    )


def test_targets_pickle_and_print_by_their_public_module():
    import pickle

    for target in [*PRODUCTS, targets.Sphere(), targets.Normal()]:
        data = pickle.dumps(sigreg.stats.EppsPulley(target=target))
        assert b"sigreg._" not in data and pickle.loads(data).target == target
    assert repr(targets.GeneralizedNormal(1.5)) == "GeneralizedNormal(beta=1.5)"
    assert {"normal", "laplace", "sphere", "rectified_generalized_normal"} <= set(targets.available())


@pytest.mark.parametrize(
    "target", [targets.Laplace(), targets.RectifiedGeneralizedNormal(p=1.0, mu=0.5)], ids=repr
)
def test_unbiased_with_a_target(target):
    """unbiased=True composes with target=: the U-statistic of |ecf - psi_a|^2 (mean exactly 0 for
    samples of the target), against its float64 transcription over pairs i != j."""
    rng = np.random.default_rng(9)
    z = rng.standard_normal((20, 3))
    a = rng.standard_normal((3, 4))
    a /= np.linalg.norm(a, axis=0)
    statistic = sigreg.stats.EppsPulley(unbiased=True, target=target)
    got = sigreg.sigreg(z, directions=a, statistic=statistic, reduction="none")
    import array_api_compat.numpy as npx

    j = len(statistic.knots)
    cf = statistic.constants(a, npx, z.shape[0], 0)
    psi = cf[:, :j] + 1j * cf[:, j:]  # (K, J)
    u = z @ a
    e = np.exp(1j * u[:, :, None] * np.array(statistic.knots))  # (N, K, J)
    n = u.shape[0]
    pairs = np.einsum("nkj,mkj->kj", e - psi, np.conj(e - psi)).real
    diagonal = np.sum(np.abs(e - psi) ** 2, axis=0)
    expected = n * np.sum(np.array(statistic.grid.weight) * (pairs - diagonal) / (n * (n - 1)), axis=-1)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    grad = sigreg.value_and_grad(z, directions=a, statistic=statistic)[1]
    numeric = oracle.numerical_grad(lambda x: float(sigreg.sigreg(x, directions=a, statistic=statistic)), z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=2e-8)
    means = [
        float(sigreg.sigreg(target.sample(16, 3, seed=r), directions=a, statistic=statistic))
        for r in range(40)
    ]
    assert abs(np.mean(means)) < 4 * np.std(means, ddof=1) / math.sqrt(len(means))


def _wasserstein_oracle(z, a, target, seed, p=2.0):
    """Sorted slices against sorted projections of the target's draws (the null stream of ``seed``)."""
    import array_api_compat.numpy as npx

    from sigreg._core import draws

    keys = draws.null_sample_keys(draws.seed_keys(seed, npx, None))
    x = target.draw(z.shape[0], z.shape[1], keys, npx, None, np.float64)
    unit = a / np.linalg.norm(a, axis=0)
    return np.mean(np.abs(np.sort(z @ a, axis=0) - np.sort(x @ unit, axis=0)) ** p, axis=0)


@pytest.mark.parametrize(
    "target", [targets.Laplace(), targets.RectifiedGeneralizedNormal(), targets.Sphere()], ids=repr
)
def test_wasserstein_against_a_target_pairs_order_statistics_with_draws(xp, target):
    rng = np.random.default_rng(10)
    z = rng.standard_normal((40, 4))
    a = rng.standard_normal((4, 5))
    expected = _wasserstein_oracle(z, a, target, seed=3)
    dtype = xp.float64 if has_float64(xp) else xp.float32
    kw = dict(statistic="wasserstein", target=target, seed=3, reduction="none")
    got = sigreg.sigreg(asarray(xp, z, dtype), directions=asarray(xp, a, dtype), **kw)
    rtol = 1e-12 if dtype == xp.float64 else 1e-4
    xp_assert_close(got, expected, xp=xp, rtol=rtol, atol=rtol)
    if xp.__name__ == "jax.numpy":  # the custom VJP with the reference as a constant argument
        import jax

        _, numpy_grad = sigreg.value_and_grad(z, directions=a, statistic="wasserstein", target=target, seed=3)
        f = jax.jit(
            lambda v: sigreg.sigreg(v, directions=asarray(xp, a, dtype), **{**kw, "reduction": "mean"})
        )
        np.testing.assert_allclose(
            to_numpy(jax.grad(f)(asarray(xp, z, dtype))), numpy_grad, rtol=rtol, atol=1e-6
        )


def test_wasserstein_target_gradient_and_reproducibility():
    rng = np.random.default_rng(11)
    z = rng.standard_normal((15, 3))
    opts = dict(statistic="wasserstein", target="laplace", num_slices=4, seed=5)
    _, grad = sigreg.value_and_grad(z, **opts)
    numeric = oracle.numerical_grad(lambda x: float(sigreg.sigreg(x, **opts)), z)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)
    assert float(sigreg.sigreg(z, **opts)) == float(sigreg.sigreg(z, **opts))
    assert float(sigreg.sigreg(z, **opts)) != float(sigreg.sigreg(z, **{**opts, "seed": 6}))
    assert repr(sigreg.stats.Wasserstein(target="laplace")) == "Wasserstein(p=2.0, target=Laplace())"
    assert repr(sigreg.stats.Wasserstein()) == "Wasserstein(p=2.0)"


def test_wasserstein_along_an_axis_takes_the_normal_target_only():
    x = np.random.default_rng(12).standard_normal((30, 2))
    assert np.array_equal(sigreg.stats.wasserstein(x, target="normal"), sigreg.stats.wasserstein(x))
    with pytest.raises(ValueError, match=r"target=Laplace\(\) is drawn from a seed"):
        sigreg.stats.wasserstein(x, target="laplace")


# A tabulated target's quadrature runs when the statistic is made: made outside the compiled
# function, it is a constant there; closed forms (Laplace, Uniform) and the sphere trace by name.
@pytest.mark.parametrize(
    "options",
    [
        {"statistic": sigreg.stats.EppsPulley(target=targets.RectifiedGeneralizedNormal(p=1.0, mu=0.5))},
        {"target": "laplace"},
        {"target": "sphere"},
        {"statistic": "wasserstein", "target": "uniform"},
    ],
    ids=["rdmreg", "laplace", "sphere", "wasserstein"],
)
def test_torch_compile_traces_a_target_in_one_graph(options):
    torch = pytest.importorskip("torch")
    z = torch.randn(32, 4, dtype=torch.float64, requires_grad=True)

    def loss(v):
        return sigreg.sigreg(v, num_slices=8, seed=2, **options)

    compiled = torch.compile(loss, fullgraph=True, backend="eager")
    (grad,) = torch.autograd.grad(compiled(z), z)
    (eager,) = torch.autograd.grad(loss(z), z)
    assert float(compiled(z).detach()) == pytest.approx(float(loss(z).detach()), rel=1e-12)
    torch.testing.assert_close(grad, eager, rtol=1e-10, atol=1e-12)


def test_pvalues_refuse_a_target_other_than_normal():
    z = np.random.default_rng(13).standard_normal((32, 3))
    with pytest.raises(ValueError, match=r"against N\(0, I\) only.*target=Laplace\(\)"):
        sigreg.test(z, target="laplace", num_slices=4)
    assert 0.0 <= float(sigreg.test(z, target="normal", num_slices=4).pvalue) <= 1.0
