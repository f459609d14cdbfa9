"""Property tests: every statistic under changes of location and scale, in every dtype, against float64.

Hypothesis draws an offset (up to 1e4 standard deviations) and a scale (1e-30 to 1e30) for a
fixed Gaussian sample. Oracles: scipy.stats for the statistics free of location and scale
(Jarque-Bera, Shapiro-Wilk) and for Vasicek's entropy, else the same samples in float64 NumPy.
Few examples and small shapes: these run in every backend session.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sigreg
import sigreg.stats

from ..support import asarray, float_dtypes, has_float64, to_numpy

N = 40
# The xp fixture is the same for every example: the health check's worry does not apply.
PROPERTY = settings(
    max_examples=6,
    deadline=None,
    derandomize=True,  # the same examples in every run: CI reproduces what a developer saw
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
BASE = np.random.default_rng(11).standard_normal(N)
OFFSETS = st.sampled_from([0.0, 1.0, -7.5, 100.0, -1e3, 1e4])
LOG_SCALES = st.integers(min_value=-30, max_value=30)
# float32 holds about 3.4e38; projections are clamped to about 5e33 (sigreg._core.slicing).
LARGEST = 1e32


def _sample(offset, log_scale, dtype_name):
    x = (BASE + offset * 1.0) * 10.0**log_scale
    assume_fits(x)
    return x.astype(dtype_name).astype(np.float64)  # what the statistic sees, exactly


def assume_fits(x):
    from hypothesis import assume

    assume(np.max(np.abs(x)) < LARGEST)


def _value(xp, name, x, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(to_numpy(getattr(sigreg.stats, name)(asarray(xp, x, dtype))))


def _dtypes(xp):
    return [
        (d, "float64" if d == getattr(xp, "float64", None) and has_float64(xp) else "float32")
        for d in float_dtypes(xp)
    ]


SCIPY = {
    "jarque_bera": lambda x: scipy.stats.jarque_bera(x).statistic,
    # W is free of location and scale; scipy refuses a range below 1e-19 ("range zero"), so it
    # sees the float64 sample standardised (exact to float64 rounding).
    "shapiro_wilk": lambda x: scipy.stats.shapiro((x - np.mean(x)) / np.std(x)).statistic,
    "entropy": lambda x: scipy.stats.differential_entropy(x, method="vasicek"),
}


@pytest.mark.parametrize("name", list(SCIPY))
@PROPERTY
@given(offset=OFFSETS, log_scale=LOG_SCALES)
def test_against_scipy_at_any_location_and_scale(xp, name, offset, log_scale):
    for dtype, dtype_name in _dtypes(xp):
        x = _sample(offset, log_scale, dtype_name)
        expected = float(SCIPY[name](x))
        actual = _value(xp, name, x, dtype)
        if dtype_name == "float64":
            assert actual == pytest.approx(expected, rel=1e-10, abs=1e-10)
        else:  # entropy is a log: its error is absolute
            tolerance = dict(abs=1e-4) if name == "entropy" else dict(rel=1e-4)
            assert actual == pytest.approx(expected, **tolerance)


@pytest.mark.parametrize("name", ["shapiro_wilk"])
@PROPERTY
@given(offset=OFFSETS, log_scale=LOG_SCALES, ties=st.integers(min_value=1, max_value=N))
def test_shapiro_wilk_stays_in_the_unit_interval(xp, name, offset, log_scale, ties):
    x = _sample(offset, log_scale, "float32")
    x[:ties] = x[0]  # from one sample to all samples tied
    for dtype, _ in _dtypes(xp):
        w = _value(xp, name, x, dtype)
        assert np.isnan(w) if ties == N else 0.0 <= w <= 1.0


FLOAT64_ORACLE = ["epps_pulley", "anderson_darling", "cramer_von_mises", "watson", "moments", "wasserstein"]


@pytest.mark.parametrize("name", FLOAT64_ORACLE + list(SCIPY))
@PROPERTY
@given(offset=OFFSETS, log_scale=st.integers(min_value=-30, max_value=8))
def test_float32_agrees_with_float64_numpy(xp, name, offset, log_scale):
    """Statistics of N(0, 1) itself grow with the misfit; float32 keeps 1e-4 relative of them
    (where float64's value fits in float32 at all)."""
    x = _sample(offset, log_scale, "float32")
    if name == "epps_pulley":
        from hypothesis import assume

        # Its cos(t x) in float32 is off by about ulp(t x): conditioned, not robust, once |x|
        # passes about 1e3 (the statistic compares with N(0, 1) itself, so far samples are
        # bad embeddings anyway).
        assume(np.max(np.abs(x)) < 1e3)
    expected = float(getattr(sigreg.stats, name)(x))  # float64 NumPy
    actual = _value(xp, name, x, xp.float32)
    if abs(expected) > 1e37:
        assert actual == pytest.approx(expected, rel=1e-4) or actual == np.inf
    else:
        assert actual == pytest.approx(expected, rel=1e-4, abs=1e-4 * (name == "entropy"))


# As a SIGReg score the projection z @ A is rounded first: in float32 by about 6e-8 * |offset|
# * sqrt(D) standard deviations, which is not the statistic's doing; offsets stay at most 30
# (the z + 30) so that this rounding stays below the 1e-4 tolerance.
@PROPERTY
@given(offset=st.sampled_from([0.0, 1.0, -7.5, 30.0]), log_scale=LOG_SCALES)
def test_sigreg_jarque_bera_is_free_of_location_and_scale(xp, offset, log_scale):
    z = np.random.default_rng(12).standard_normal((64, 3))
    a = sigreg.directions(3, 4, seed=1)
    expected = to_numpy(sigreg.sigreg(z, directions=a, statistic="jarque_bera", reduction="none"))
    moved = (z + offset) * 10.0**log_scale
    assume_fits(moved)
    for dtype, dtype_name in _dtypes(xp):
        data = moved.astype(dtype_name)
        # The oracle sees the same (rounded) samples: scipy of the projections in float64.
        u = data.astype(np.float64) @ a.astype(dtype_name).astype(np.float64)
        oracle = scipy.stats.jarque_bera(u, axis=0).statistic
        actual = to_numpy(
            sigreg.sigreg(
                asarray(xp, data, dtype),
                directions=asarray(xp, a, dtype),
                statistic="jarque_bera",
                reduction="none",
            )
        )
        rtol = 1e-10 if dtype_name == "float64" else 1e-4
        np.testing.assert_allclose(actual, oracle, rtol=rtol)
        if offset == 0.0 and log_scale == 0:
            np.testing.assert_allclose(actual, expected, rtol=rtol)
