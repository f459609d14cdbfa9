"""Slice directions: reproducible across backends, unit columns, uniform on the sphere."""

from __future__ import annotations

import math

import array_api_compat
import numpy as np
import pytest

import sigreg

from ..support import device, has_float64, to_numpy, xp_assert_close


def _numpy_reference(dim: int, k: int, seed: int = 0) -> np.ndarray:
    return sigreg.directions(dim, k, seed=seed, dtype=np.float64)


def test_same_seed_same_directions_on_every_backend(xp):
    ref = _numpy_reference(7, 33, seed=5)
    for dtype in [xp.float32] + ([xp.float64] if has_float64(xp) else []):
        out = sigreg.directions(7, 33, seed=5, xp=xp, dtype=dtype, device=device(xp))
        rtol = 1e-6 if dtype == xp.float32 else 1e-13
        xp_assert_close(out, ref, xp=xp, rtol=rtol, atol=rtol, dtype=dtype)


def test_array_seed_equals_int_seed(xp):
    for seed in (0, 3, 2**31 - 1):
        array_seed = xp.asarray(seed, dtype=xp.int32, device=device(xp))
        out = sigreg.directions(4, 9, seed=array_seed, xp=xp, device=device(xp))
        np.testing.assert_allclose(to_numpy(out), _numpy_reference(4, 9, seed), rtol=1e-6, atol=1e-6)
    if has_float64(xp):  # int64 exists where float64 does; seeds beyond 32 bits
        big = 2**40 + 17
        out = sigreg.directions(4, 9, seed=xp.asarray(big, dtype=xp.int64, device=device(xp)), xp=xp)
        np.testing.assert_allclose(to_numpy(out), _numpy_reference(4, 9, big), rtol=1e-6, atol=1e-6)


def test_default_namespace_and_dtype():
    out = sigreg.directions(3, 4)
    assert isinstance(out, np.ndarray) and out.dtype == np.float64 and out.shape == (3, 4)


def test_columns_have_unit_norm_and_seeds_differ(xp):
    a = to_numpy(sigreg.directions(16, 64, seed=1, xp=xp, device=device(xp)))
    np.testing.assert_allclose(np.linalg.norm(a, axis=0), 1.0, rtol=1e-6)
    b = to_numpy(sigreg.directions(16, 64, seed=2, xp=xp, device=device(xp)))
    assert np.max(np.abs(a - b)) > 0.5
    big = to_numpy(sigreg.directions(16, 64, seed=1 + 2**32, xp=xp, device=device(xp)))
    assert np.max(np.abs(a - big)) > 0.5  # the high word of the seed counts


def test_prefix_property():
    """Column k depends only on (seed, k): more slices extend the draw."""
    np.testing.assert_array_equal(sigreg.directions(5, 10, seed=4), sigreg.directions(5, 30, seed=4)[:, :10])


def test_uniform_on_the_sphere():
    """Statistical checks with fixed seeds; a biased or correlated generator fails them."""
    k = 20000
    a = sigreg.directions(3, k, seed=123)
    # Archimedes: each coordinate of a uniform point on S^2 is uniform on [-1, 1].
    for row in a:
        hist, _ = np.histogram(row, bins=20, range=(-1, 1))
        chi2 = np.sum((hist - k / 20) ** 2 / (k / 20))
        assert chi2 < 45, chi2  # 19 degrees of freedom: P(chi2 > 45) < 1e-3
    # Mean zero and covariance I/3 (standard error about 0.004).
    assert np.max(np.abs(a.mean(axis=1))) < 0.02
    np.testing.assert_allclose(a @ a.T / k, np.eye(3) / 3, atol=0.015)
    # Neighbouring columns (consecutive counters) are uncorrelated.
    corr = np.mean(np.sum(a[:, :-1] * a[:, 1:], axis=0))
    assert abs(corr) < 4 * math.sqrt(1 / 3 / k)
    # Angles on the circle for dim=2: uniform.
    b = sigreg.directions(2, k, seed=7)
    hist, _ = np.histogram(np.arctan2(b[1], b[0]), bins=36, range=(-math.pi, math.pi))
    assert np.sum((hist - k / 36) ** 2 / (k / 36)) < 70  # 35 degrees of freedom


def test_different_seeds_are_not_shifted_copies():
    """Keyed hashing: the stream of seed s is no shift of the stream of seed s + 1."""
    a = sigreg.directions(2, 4000, seed=10)[0]
    b = sigreg.directions(2, 4000, seed=11)[0]
    assert len(np.intersect1d(a, b)) == 0
    g = np.abs(sigreg.directions(1000, 2, seed=10).ravel())
    h = np.abs(sigreg.directions(1000, 2, seed=11).ravel())
    assert abs(np.corrcoef(g, h)[0, 1]) < 0.1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(dim=0, num_slices=3), ValueError, "dim must be >= 1"),
        (dict(dim=3, num_slices=0), ValueError, "num_slices must be >= 1"),
        (dict(dim=3.0, num_slices=3), TypeError, "dim must be an integer"),
        (dict(dim=3, num_slices=3, seed=-1), ValueError, "seed must be in"),
        (dict(dim=3, num_slices=3, seed=2**64), ValueError, "seed must be in"),
        (dict(dim=3, num_slices=3, seed=1.5), TypeError, "seed must be"),
        (dict(dim=3, num_slices=3, dtype=np.int32), TypeError, "dtype must be a real floating"),
        # One 32-bit counter numbers the draws: the message names the largest num_slices for dim.
        (dict(dim=2**16, num_slices=2**16), ValueError, r"num_slices must be at most 32767 for dim=65536"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    dim, k = kwargs.pop("dim"), kwargs.pop("num_slices")
    with pytest.raises(error, match=match):
        sigreg.directions(dim, k, **kwargs)


def test_result_namespace(xp):
    out = sigreg.directions(3, 2, xp=xp, device=device(xp))
    assert array_api_compat.array_namespace(out) is array_api_compat.array_namespace(xp.empty(0))


# --- structured directions: orthogonal blocks and scrambled Sobol points -----------------


def _numpy_positive_qr(a: np.ndarray) -> np.ndarray:
    q, r = np.linalg.qr(a)
    return q * np.where(np.diag(r) < 0, -1.0, 1.0)


@pytest.mark.parametrize("dim, k", [(5, 12), (4, 4), (6, 3)])  # partial last block, one block, k < dim
def test_orthogonal_blocks(xp, dim, k):
    ref = sigreg.directions(dim, k, seed=9, kind="orthogonal", dtype=np.float64)
    random = sigreg.directions(dim, k, seed=9, dtype=np.float64)
    for start in range(0, k, dim):
        block = ref[:, start : start + dim]
        np.testing.assert_allclose(block.T @ block, np.eye(block.shape[1]), atol=1e-12)
        # the Q of the same counter-based draw (NumPy's LAPACK, signs fixed independently)
        np.testing.assert_allclose(block, _numpy_positive_qr(random[:, start : start + dim]), atol=1e-12)
    for dtype in [xp.float32] + ([xp.float64] if has_float64(xp) else []):
        out = sigreg.directions(dim, k, seed=9, kind="orthogonal", xp=xp, dtype=dtype, device=device(xp))
        got = to_numpy(out).astype(np.float64)
        tol = 1e-12 if dtype == xp.float64 else 2e-5
        np.testing.assert_allclose(got, ref, atol=tol)
        for start in range(0, k, dim):
            block = got[:, start : start + dim]
            np.testing.assert_allclose(block.T @ block, np.eye(block.shape[1]), atol=tol)


def test_sobol_same_on_every_backend(xp):
    ref = sigreg.directions(7, 40, seed=11, kind="sobol", dtype=np.float64)
    np.testing.assert_allclose(np.linalg.norm(ref, axis=0), 1.0, rtol=1e-14)
    assert not np.allclose(ref, sigreg.directions(7, 40, seed=12, kind="sobol", dtype=np.float64))
    for dtype in [xp.float32] + ([xp.float64] if has_float64(xp) else []):
        out = sigreg.directions(7, 40, seed=11, kind="sobol", xp=xp, dtype=dtype, device=device(xp))
        tol = 1e-13 if dtype == xp.float64 else 2e-6
        xp_assert_close(out, ref, xp=xp, rtol=tol, atol=tol, dtype=dtype)


def _sobol_points(dims: int, n: int) -> np.ndarray:
    """Unshifted Sobol points (n, dims) in [0, 1) from the library's direction numbers."""
    from sigreg._core.quasi_random import BITS, direction_numbers

    v = np.array(direction_numbers(dims), dtype=np.int64)  # (dims, BITS)
    x = np.zeros((n, dims), dtype=np.int64)
    for i in range(BITS):
        x ^= ((np.arange(n)[:, None] >> i) & 1) * v[:, i]
    return x / 2.0**BITS


def test_sobol_sequence_matches_scipy_and_is_stratified():
    qmc = pytest.importorskip("scipy.stats.qmc")
    points = _sobol_points(40, 256)
    # The first two coordinates have no free initial numbers: scipy's (Joe-Kuo) are the same;
    # scipy enumerates the points in Gray-code order.
    reference = qmc.Sobol(d=2, scramble=False).random(256)
    gray = np.arange(256) ^ (np.arange(256) >> 1)
    np.testing.assert_array_equal(points[gray, :2], reference)
    # Every coordinate: each block of 2**m points puts one point in each interval of width 2**-m.
    for m in (3, 5, 8):
        strata = np.floor(points[: 2**m] * 2**m).astype(int)
        for d in range(points.shape[1]):
            assert sorted(strata[:, d]) == list(range(2**m)), (m, d)


def test_primitive_polynomials_are_primitive():
    from sigreg._core.quasi_random import _primitive_polynomials

    polys = _primitive_polynomials(60)
    # Counts per degree: phi(2**s - 1) / s = 1, 1, 2, 2, 6, 6, 18, ... (OEIS A011260)
    counts = [sum(1 for d, _ in polys if d == s) for s in range(1, 7)]
    assert counts == [1, 1, 2, 2, 6, 6]
    assert polys[:4] == ((1, 0b11), (2, 0b111), (3, 0b1011), (3, 0b1101))


def test_direction_kind_is_checked():
    with pytest.raises(ValueError, match="kind must be one of 'random', 'orthogonal', 'sobol'"):
        sigreg.directions(3, 4, kind="halton")
