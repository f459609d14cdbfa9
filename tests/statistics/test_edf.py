"""Anderson-Darling in the tails against mpmath: no cancellation in log(Phi) or log(1 - Phi).

A-squared sums ``(2i - 1) log Phi(x_i) + (2N + 1 - 2i) log Phi(-x_i)``; far out in a tail one of
the two is ``log(1 - tiny)`` and the other ``log(tiny)``, which ``log(1 - Phi)`` would lose
(1 - Phi(9) is 1e-19, below float64's resolution near 1). The oracle evaluates the same sum
with 60-digit mpmath on the very samples the statistic sees.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

import sigreg.stats

from ..support import asarray, float_dtypes, has_float64, to_numpy

mpmath = pytest.importorskip("mpmath")

BASE = np.random.default_rng(0).standard_normal(40)
CASES = {
    "far right 9": np.r_[BASE[:-1], 9.0],
    "far left -9": np.r_[BASE[:-1], -9.0],
    "right 38": np.r_[BASE[:-1], 38.0],
    "left -38": np.r_[BASE[:-1], -38.0],
    "outlier 1e3": np.r_[BASE[:-1], 1e3],
    "shifted 6": BASE + 6.0,
    "shifted -30": BASE - 30.0,
    "collapsed 1e-12": BASE * 1e-12,
}


@functools.cache
def _oracle(name: str, dtype_name: str) -> float:
    mpmath.mp.dps = 60
    x = sorted(mpmath.mpf(float(v)) for v in CASES[name].astype(dtype_name))
    n = len(x)
    total = mpmath.fsum(
        (2 * i - 1) * mpmath.log(mpmath.ncdf(v)) + (2 * n + 1 - 2 * i) * mpmath.log(mpmath.ncdf(-v))
        for i, v in enumerate(x, 1)
    )
    return float(-n - total / n)


@pytest.mark.parametrize("name", sorted(CASES))
def test_tails_against_mpmath(xp, name):
    for dtype in float_dtypes(xp):
        dtype_name = "float64" if has_float64(xp) and dtype == getattr(xp, "float64", None) else "float32"
        got = float(
            to_numpy(sigreg.stats.anderson_darling(asarray(xp, CASES[name].astype(dtype_name), dtype)))
        )
        # float32: -N - sum / N cancels about eps * N of A-squared (torch's summation order: 4e-6
        # at N = 40); the tails themselves add nothing to that.
        rtol = 1e-12 if dtype_name == "float64" else 2e-5
        assert got == pytest.approx(_oracle(name, dtype_name), rel=rtol)


@functools.cache
def _large_oracle(n: int) -> tuple[np.ndarray, float]:
    """A float32 Gaussian sample of ``n`` and its A-squared in 30-digit mpmath."""
    x = np.random.default_rng(n).standard_normal(n).astype(np.float32)
    mpmath.mp.dps = 30
    values = sorted(mpmath.mpf(float(v)) for v in x)
    total = mpmath.fsum(
        (2 * i - 1) * mpmath.log(mpmath.ncdf(v)) + (2 * n + 1 - 2 * i) * mpmath.log(mpmath.ncdf(-v))
        for i, v in enumerate(values, 1)
    )
    return x, float(-n - total / n)


@pytest.mark.parametrize("n", [500, 8000])
def test_float32_keeps_its_digits_at_large_n(xp, n):
    """-N - sum / N is a difference of O(N) numbers: taken about the plotting positions, float32
    stays within 1e-4 of the exact value (it was 8e-4 off at N = 8000 without that)."""
    x, exact = _large_oracle(n)
    got = float(to_numpy(sigreg.stats.anderson_darling(asarray(xp, x, xp.float32))))
    assert got == pytest.approx(exact, rel=1e-4)


@pytest.mark.parametrize("n", [1, 2, 31, 32, 33, 1000, 8000])
def test_plotting_position_share_against_mpmath(n):
    """The closed form of A^2 at the plotting positions (Glaisher's expansion from N = 32) against
    the 50-digit sum it replaces: below float64's own rounding of -N - sum / N."""
    from sigreg._statistics.edf import _at_plotting_positions

    mpmath.mp.dps = 50
    half = mpmath.fsum((2 * k - 1) * mpmath.log(mpmath.mpf(2 * k - 1) / (2 * n)) for k in range(1, n + 1))
    assert abs(_at_plotting_positions(n) - float(-n - 2 * half / n)) < 1e-14
