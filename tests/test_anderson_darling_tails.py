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

from .support import asarray, float_dtypes, has_float64, to_numpy

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
