"""The statistic against independent oracles, on every backend."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sigreg

from .. import oracle
from ..support import asarray, float_dtypes, has_float64, max_rel, xp_assert_close

RTOL = {"float64": 1e-12, "float32": 2e-5}
NULL_MEAN = math.sqrt(2 * math.pi) * (1 - 1 / math.sqrt(3))  # 1.0594


def _case(seed: int = 0, n: int = 200, d: int = 12, k: int = 40, batch: tuple[int, ...] = ()):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((*batch, n, d)) * 1.1 + 0.05
    a = rng.standard_normal((d, k))
    return z, a / np.linalg.norm(a, axis=0)


def _dtype_name(xp, dtype) -> str:
    return "float64" if dtype == xp.float64 else "float32"


def _rounded(x: np.ndarray, xp, dtype) -> np.ndarray:
    """The float64 values of ``x`` as the backend sees them in ``dtype``."""
    return x.astype(np.float32).astype(np.float64) if dtype == xp.float32 else x


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("batch", [(), (3,), (2, 2)])
def test_matches_float64_oracle(xp, reduction, batch):
    z, a = _case(batch=batch)
    for dtype in float_dtypes(xp):
        zr, ar = _rounded(z, xp, dtype), _rounded(a, xp, dtype)
        per_slice = oracle.sigreg(zr, ar)
        expected = {"none": per_slice, "mean": per_slice.mean(), "sum": per_slice.sum()}[reduction]
        out = sigreg.sigreg(asarray(xp, zr, dtype), directions=asarray(xp, ar, dtype), reduction=reduction)
        xp_assert_close(out, expected, xp=xp, rtol=RTOL[_dtype_name(xp, dtype)], dtype=dtype)


def test_batched_views_equal_per_view_loop(xp):
    z, a = _case(seed=1, batch=(4,))
    zx, ax = asarray(xp, z), asarray(xp, a)
    batched = sigreg.sigreg(zx, directions=ax, reduction="none")
    for v in range(4):
        single = sigreg.sigreg(zx[v, ...], directions=ax, reduction="none")
        xp_assert_close(batched[v, ...], oracle_like(single), xp=xp, rtol=1e-6)
    mean = sigreg.sigreg(zx, directions=ax)
    xp_assert_close(mean, np.mean(oracle_like(batched)), xp=xp, rtol=1e-6)


def oracle_like(x) -> np.ndarray:
    from ..support import to_numpy

    return to_numpy(x).astype(np.float64)


def test_seeded_directions_used(xp):
    """``seed``/``num_slices`` give the same result as passing ``directions(...)``."""
    z, _ = _case(seed=2)
    zx = asarray(xp, z)
    a = sigreg.directions(z.shape[-1], 16, seed=7, xp=xp, dtype=zx.dtype, device=_dev(zx))
    xp_assert_close(
        sigreg.sigreg(zx, num_slices=16, seed=7),
        oracle_like(sigreg.sigreg(zx, directions=a)),
        xp=xp,
        rtol=1e-12 if has_float64(xp) else 1e-6,
    )


def _dev(x):
    import array_api_compat

    return array_api_compat.device(x)


def test_fine_wide_trapezoid_equals_closed_form(xp):
    if not has_float64(xp):
        pytest.skip("needs float64 (JAX x64 is off)")
    z, a = _case(seed=3, n=60, d=5, k=6)
    u = asarray(xp, z @ a)
    fine = sigreg.epps_pulley(u, t_max=12.0, num_points=4001)
    exact = sigreg.epps_pulley(u, integration="exact")
    xp_assert_close(fine, oracle_like(exact), xp=xp, rtol=1e-9, dtype=xp.float64)
    xp_assert_close(exact, oracle.exact_epps_pulley(z @ a), xp=xp, rtol=1e-12)


def test_paper_grid_equals_half_line_form(xp):
    z, a = _case(seed=4)
    u = z @ a
    for dtype in float_dtypes(xp):
        ur = _rounded(u, xp, dtype)
        out = sigreg.epps_pulley(asarray(xp, ur, dtype), t_max=5.0, num_points=9)
        xp_assert_close(out, oracle.paper_epps_pulley(ur), xp=xp, rtol=RTOL[_dtype_name(xp, dtype)])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_epps_pulley_axis(xp, axis):
    x = np.random.default_rng(5).standard_normal((30, 20))
    moved = np.moveaxis(x, axis, 0)
    out = sigreg.epps_pulley(asarray(xp, x), axis=axis, t_max=4.0, num_points=11)
    xp_assert_close(out, oracle.epps_pulley(moved, t_max=4.0, num_points=11), xp=xp, rtol=2e-5)


def test_default_grid_matches_oracle_on_heavy_tails(xp):
    """Values far outside [-t_max, t_max]^-1 scale: the angle addition stays accurate."""
    x = np.random.default_rng(6).standard_cauchy((500, 8))
    for dtype in float_dtypes(xp):
        xr = _rounded(x, xp, dtype)
        out = sigreg.epps_pulley(asarray(xp, xr, dtype))
        rtol = 1e-12 if dtype == xp.float64 else 2e-5
        xp_assert_close(out, oracle.epps_pulley(xr), xp=xp, rtol=rtol)


def test_null_mean_of_exact_statistic(xp):
    """Mean of the exact statistic for N(0, 1) samples is sqrt(2 pi)(1 - 1/sqrt 3) for any N."""
    for n, seed in ((16, 10), (64, 11)):
        x = np.random.default_rng(seed).standard_normal((n, 3000))
        values = oracle_like(sigreg.epps_pulley(asarray(xp, x), integration="exact"))
        standard_error = values.std(ddof=1) / math.sqrt(values.size)
        assert abs(values.mean() - NULL_MEAN) < 4 * standard_error, (n, values.mean(), standard_error)


def test_collapsed_and_distorted_clouds_score_far_higher(xp):
    rng = np.random.default_rng(12)
    n, d = 512, 8
    gaussian = rng.standard_normal((n, d))
    clouds = {
        "collapsed point": np.zeros((n, d)) + 0.3,
        "line": rng.standard_normal((n, 1)) * np.ones((1, d)) / math.sqrt(d),
        "low rank": rng.standard_normal((n, 2)) @ rng.standard_normal((2, d)) / math.sqrt(2),
        "shifted": gaussian + 1.0,
        "scaled down": gaussian * 0.3,
        "scaled up": gaussian * 3.0,
    }
    base = float(oracle_like(sigreg.sigreg(asarray(xp, gaussian), num_slices=256)))
    assert 0.5 < base < 2.0  # near the null level 1.05, not near 0
    for name, cloud in clouds.items():
        value = float(oracle_like(sigreg.sigreg(asarray(xp, cloud), num_slices=256)))
        assert value > 10 * base, (name, value, base)


def test_non_finite_input_propagates(xp):
    z = np.random.default_rng(13).standard_normal((20, 3))
    z[4, 1] = np.nan
    assert not np.isfinite(oracle_like(sigreg.sigreg(asarray(xp, z), num_slices=8)))


def test_single_sample_and_single_feature(xp):
    z = np.array([[0.7]])
    out = sigreg.sigreg(asarray(xp, z), directions=asarray(xp, np.ones((1, 1))), reduction="none")
    xp_assert_close(out, oracle.sigreg(z, np.ones((1, 1))), xp=xp, rtol=2e-5)


def test_float32_in_float32_out(xp):
    z, _ = _case(seed=14)
    out = sigreg.sigreg(asarray(xp, z, xp.float32), num_slices=8)
    assert out.dtype == xp.float32
    if has_float64(xp):
        assert sigreg.sigreg(asarray(xp, z, xp.float64), num_slices=8).dtype == xp.float64


def test_lejepa_loss_matches_definition(xp):
    rng = np.random.default_rng(15)
    views = rng.standard_normal((3, 50, 6))
    a = rng.standard_normal((6, 10))
    a /= np.linalg.norm(a, axis=0)
    lam = 0.3
    expected = lam * oracle.sigreg(views, a).mean() + (1 - lam) * np.mean((views.mean(0) - views) ** 2)
    out = sigreg.lejepa_loss(asarray(xp, views), lam=lam, directions=asarray(xp, a))
    xp_assert_close(out, expected, xp=xp, rtol=1e-12 if has_float64(xp) else 2e-5)


def test_statistic_is_non_negative_and_translation_sensitive(xp):
    z, a = _case(seed=16)
    values = oracle_like(sigreg.sigreg(asarray(xp, z), directions=asarray(xp, a), reduction="none"))
    assert np.all(values >= 0)
    assert (
        max_rel(sigreg.sigreg(asarray(xp, z + 0.5), directions=asarray(xp, a), reduction="none"), values)
        > 0.1
    )
