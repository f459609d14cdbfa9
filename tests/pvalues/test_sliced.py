"""``sigreg.test``: calibrated p-values under the null, agreement of methods and backends."""

from __future__ import annotations

import math

import numpy as np
import pytest

import sigreg

from ..support import asarray, has_float64, to_numpy

stats = pytest.importorskip("scipy.stats", reason="scipy is not installed (the KS test of calibration)")


def test_slice_pvalues_are_uniform_under_the_null():
    """600 independent N(0, 1) samples of N = 256: asymptotic p-values, KS and rejection rate."""
    p = np.array(
        [
            float(
                sigreg.test(
                    np.random.default_rng(seed).standard_normal((256, 1)), num_slices=1, method="asymptotic"
                ).pvalue
            )
            for seed in range(600)
        ]
    )
    assert stats.kstest(p, "uniform").pvalue > 0.001
    assert 0.035 <= np.mean(p <= 0.05) <= 0.065


@pytest.mark.parametrize("method", ["auto", "monte_carlo"])
def test_averaged_pvalues_are_uniform_under_the_null(method):
    """500 N(0, I) clouds, one set of directions: the asymptotic law of the average given those
    directions, and a (cached) Monte Carlo null of the same."""
    results = [
        sigreg.test(
            np.random.default_rng(seed).standard_normal((64, 4)), num_slices=8, n_resamples=199, method=method
        )
        for seed in range(1000, 1500)
    ]
    assert {r.method for r in results} == {"asymptotic" if method == "auto" else "monte_carlo"}
    p = np.array([float(r.pvalue) for r in results])
    assert stats.kstest(p, "uniform").pvalue > 0.001
    assert 0.035 <= np.mean(p <= 0.05) <= 0.065


def test_averaged_pvalues_with_fresh_directions_are_uniform():
    """As monitoring uses it: N(0, I) clouds, each with its own seed (its own directions and law).
    (benchmarks/pvalue_calibration.py measures the defaults' sizes, with more draws.)"""
    p = np.array(
        [
            float(sigreg.test(rng.standard_normal((48, 6)), num_slices=24, seed=seed).pvalue)
            for seed, rng in ((seed, np.random.default_rng(seed)) for seed in range(400))
        ]
    )
    assert stats.kstest(p, "uniform").pvalue > 0.001
    assert 0.03 <= np.mean(p <= 0.05) <= 0.07


def test_asymptotic_and_monte_carlo_slice_pvalues_agree_from_256_samples():
    z = np.random.default_rng(3).standard_normal((256, 6)) * 1.05
    asymptotic = sigreg.test(z, num_slices=16, seed=2, n_resamples=999).slice_pvalues
    monte_carlo = sigreg.test(z, num_slices=16, seed=2, n_resamples=999, method="monte_carlo").slice_pvalues
    assert np.max(np.abs(asymptotic - monte_carlo)) <= 0.02


def test_non_gaussian_data_is_rejected_and_the_worst_slice_found():
    rng = np.random.default_rng(4)
    z = rng.standard_normal((512, 6))
    z[:, 2] = rng.uniform(-math.sqrt(3), math.sqrt(3), 512)  # one non-Gaussian coordinate
    eye = np.eye(6)
    result = sigreg.test(z, directions=eye, n_resamples=199)
    assert float(result.pvalue) <= 0.01
    assert int(result.worst[0]) == 2 and float(result.slice_pvalues[2]) < 1e-4
    assert result.slice_statistics.shape == (6,) and result.directions is eye


def test_same_pvalues_on_every_backend(xp):
    z = np.random.default_rng(5).standard_normal((128, 5))
    ref = sigreg.test(z, num_slices=12, seed=7)
    out = sigreg.test(asarray(xp, z), num_slices=12, seed=7)
    rtol = 1e-9 if has_float64(xp) else 1e-4
    np.testing.assert_allclose(to_numpy(out.slice_pvalues), ref.slice_pvalues, rtol=rtol, atol=1e-12)
    np.testing.assert_allclose(to_numpy(out.statistic), ref.statistic, rtol=rtol)
    np.testing.assert_allclose(to_numpy(out.pvalue), ref.pvalue, rtol=rtol)
    assert out.method == ref.method == "asymptotic" and out.slice_method == "asymptotic"
    ref = sigreg.test(z, num_slices=12, seed=7, n_resamples=99, method="monte_carlo")
    out = sigreg.test(asarray(xp, z), num_slices=12, seed=7, n_resamples=99, method="monte_carlo")
    assert abs(float(to_numpy(out.pvalue)) - float(ref.pvalue)) <= 2 / 100  # one draw may tie differently
    assert out.method == ref.method == "monte_carlo"


def test_explicit_directions_of_any_library_give_the_same_law(xp):
    """Explicit directions are copied to the host for the law of the average: the same p-value
    as the NumPy directions, and as the seed's (drawn again on the host)."""
    z = np.random.default_rng(8).standard_normal((96, 5))
    a = sigreg.directions(5, 9, seed=3)
    ref = sigreg.test(z, num_slices=9, seed=3)
    out = sigreg.test(asarray(xp, z), directions=asarray(xp, a))
    rtol = 1e-9 if has_float64(xp) else 1e-4
    np.testing.assert_allclose(to_numpy(out.pvalue), ref.pvalue, rtol=rtol)


def test_the_repr_is_one_short_line_and_the_arrays_are_attributes():
    z = np.random.default_rng(9).standard_normal((512, 64))
    result = sigreg.test(z)
    text = repr(result)
    assert "\n" not in text and len(text) < 200, text
    worst = int(result.worst[0])
    assert text == (
        f"TestResult(statistic={float(result.statistic):.4g}, pvalue={float(result.pvalue):.4g}, "
        f"method='asymptotic', num_samples=512, num_slices=256, worst_slice={worst} "
        f"(statistic={result.slice_statistics[worst]:.4g}, pvalue={result.slice_pvalues[worst]:.4g}, "
        "asymptotic))"
    )
    assert result.slice_pvalues.shape == (256,) and result.directions.shape == (64, 256)
    assert result.num_slices == 256 and result.num_samples == 512


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (dict(method="bootstrap"), ValueError, "method must be one of"),
        (dict(n_resamples=0), ValueError, "n_resamples must be >= 1"),
        (dict(n_resamples=9.5), TypeError, "n_resamples must be an integer"),
        (dict(method="asymptotic"), None, None),
        (dict(method="asymptotic", num_slices=1, integration="exact"), None, None),
    ],
)
def test_bad_arguments(kwargs, error, match):
    z = np.random.default_rng(6).standard_normal((32, 3))
    if error is None:
        result = sigreg.test(z, **kwargs)
        assert result.slice_method == result.method == "asymptotic"
        return
    with pytest.raises(error, match=match):
        sigreg.test(z, **kwargs)


def test_small_samples_and_shapes():
    with pytest.raises(ValueError, match="needs at least 16 samples"):
        sigreg.test(np.ones((8, 2)), num_slices=1, method="asymptotic")
    with pytest.raises(ValueError, match=r"z must have shape \(N, D\)"):
        sigreg.test(np.ones((2, 8, 2)))
    assert sigreg.test(
        np.random.default_rng(0).standard_normal((8, 2)), num_slices=4, n_resamples=19
    ).slice_method == ("monte_carlo")
