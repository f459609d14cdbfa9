"""Property tests: every statistic under changes of location and scale, in every dtype, against float64.

Hypothesis draws an offset (up to 1e4 standard deviations) and a scale (1e-30 to 1e30) for a
fixed Gaussian sample, and always tries the grid of offsets 0, 1e2, 1e4 by scales 1e-30, 1, 1e30
(float64 also 1e-300 and 1e300). Oracles, on the same rounded samples: scipy.stats for the
statistics free of location and scale (Jarque-Bera, Shapiro-Wilk's 1 - W), the closed form over
all pairs in float64 NumPy for BHEP and Henze-Zirkler, else the samples in float64 NumPy.
Few examples and small shapes: these run in every backend session.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.stats
from hypothesis import HealthCheck, example, given, settings
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


def _sample(offset, log_scale, dtype_name, base=BASE, largest=LARGEST):
    x = (base + offset * 1.0) * 10.0**log_scale
    assume_fits(x, largest)
    return x.astype(dtype_name).astype(np.float64)  # what the statistic sees, exactly


def _fits(x, dtype_name):
    """Whether float32 (or float64) holds ``x`` to its relative precision: no overflow, no subnormals."""
    info = np.finfo(dtype_name)
    return bool(np.all(np.abs(x) < info.max / 4) and np.all(np.abs(x[x != 0]) > info.tiny * 1e4))


def _standardised(x, axis=0):
    """x less its mean (two passes), over its largest deviation: in float64, free of overflow."""
    x = x - np.mean(x, axis=axis, keepdims=True)
    x = x - np.mean(x, axis=axis, keepdims=True)
    return x / np.max(np.abs(x), axis=axis, keepdims=True)


# The issue's grid (offsets 0, 1e2, 1e4 by scales 1e-30, 1, 1e30, and float64's 1e-300, 1e300),
# tried on top of hypothesis's draws.
def _on_the_grid(test):
    for offset in (0.0, 100.0, 1e4):
        for log_scale in (-300, -30, 0, 30, 300):
            test = example(offset=offset, log_scale=log_scale)(test)
    return test


def assume_fits(x, largest=LARGEST):
    from hypothesis import assume

    assume(np.max(np.abs(x)) < largest)


def _value(xp, name, x, dtype):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(to_numpy(getattr(sigreg.stats, name)(asarray(xp, x, dtype))))


def _dtypes(xp):
    return [
        (d, "float64" if d == getattr(xp, "float64", None) and has_float64(xp) else "float32")
        for d in float_dtypes(xp)
    ]


# Both are free of location and scale: scipy sees the float64 sample standardised (exact to
# float64 rounding; scipy's own moments overflow at 1e300, and it refuses a range below 1e-19).
SCIPY = {
    "jarque_bera": lambda x: scipy.stats.jarque_bera(_standardised(x)).statistic,
    "shapiro_wilk": lambda x: 1.0 - scipy.stats.shapiro(_standardised(x)).statistic,
}


@pytest.mark.parametrize("name", list(SCIPY))
@PROPERTY
@_on_the_grid
@given(offset=OFFSETS, log_scale=LOG_SCALES)
def test_against_scipy_at_any_location_and_scale(xp, name, offset, log_scale):
    for dtype, dtype_name in _dtypes(xp):
        x = (BASE + offset) * 10.0**log_scale
        if not _fits(x, dtype_name):
            continue
        x = x.astype(dtype_name).astype(np.float64)  # what the statistic sees, exactly
        expected = float(SCIPY[name](x))
        actual = _value(xp, name, x, dtype)
        if dtype_name == "float64":
            assert actual == pytest.approx(expected, rel=1e-10, abs=1e-10)
        else:
            assert actual == pytest.approx(expected, rel=1e-4)


# BHEP and Henze-Zirkler of correlated samples (N, 3): the closed form over all pairs, from the
# definition, in float64 NumPy on the same rounded samples; standardised ones whitened first (centred
# in two passes and each column over its largest entry: exact to float64 rounding at any location
# and scale). Not standardised, BHEP tests N(0, I) itself: its value at an offset of 1e4 or a scale
# of 1e30 is that of a cloud far from it, computed all the same.
BASE_3 = np.random.default_rng(13).standard_normal((N, 3)) @ np.array(
    [[1.0, 0.4, 0.0], [0.0, 0.8, 0.3], [0.0, 0.0, 0.5]]
)
K, FRAMES = 2, 3


def _bhep64(y, beta, standardize):
    n, d = y.shape
    if standardize:
        x = _standardised(y)
        y = x @ np.linalg.cholesky(np.linalg.inv(x.T @ x / n))  # |y_j - y_k|^2: Mahalanobis
    b2 = beta**2
    with np.errstate(over="ignore"):  # at 1e300: the terms are exp(-inf) = 0
        pairs = np.sum(np.exp(-b2 / 2 * np.sum((y[:, None] - y[None]) ** 2, axis=-1)))
        singles = np.sum(np.exp(-b2 / (2 * (1 + b2)) * np.sum(y * y, axis=-1)))
    return pairs / n - 2 * (1 + b2) ** (-d / 2) * singles + n * (1 + 2 * b2) ** (-d / 2)


def _hz_beta(n, d):
    return ((2 * d + 1) / 4) ** (1 / (d + 4)) * n ** (1 / (d + 4)) / math.sqrt(2)


def _frames(d, seed=0):
    """The library's k-frames: whole k-column groups of orthogonal d x d blocks of sigreg.directions."""
    per_block = d // K
    blocks = -(-FRAMES // per_block)
    a = np.asarray(sigreg.directions(d, blocks * d, seed=seed, kind="orthogonal"), dtype=np.float64)
    return [a[:, b * d + j * K : b * d + (j + 1) * K] for b in range(blocks) for j in range(per_block)][
        :FRAMES
    ]


def _on_frames(y, statistic):
    # Standardised: each frame of the centred samples (the statistic is free of location).
    if statistic[1]:
        y = y - np.mean(y, axis=0)
        y = y - np.mean(y, axis=0)
    return float(np.mean([_bhep64(y @ f, statistic[0](len(y), K), statistic[1]) for f in _frames(3)]))


MULTIVARIATE = {  # name: (function of z, float64 oracle)
    "henze_zirkler": (
        lambda z: sigreg.stats.henze_zirkler(z),
        lambda y: _bhep64(y, _hz_beta(*y.shape), True),
    ),
    "bhep_standardized": (
        lambda z: sigreg.stats.bhep(z, beta=0.8, standardize=True),
        lambda y: _bhep64(y, 0.8, True),
    ),
    "henze_zirkler_subspaces": (
        lambda z: sigreg.stats.henze_zirkler(z, subspace_dim=K, num_subspaces=FRAMES),
        lambda y: _on_frames(y, (_hz_beta, True)),
    ),
    "bhep": (lambda z: sigreg.stats.bhep(z), lambda y: _bhep64(y, 1.0, False)),
    "bhep_subspaces": (
        lambda z: sigreg.stats.bhep(z, subspace_dim=K, num_subspaces=FRAMES),
        lambda y: _on_frames(y, (lambda n, d: 1.0, False)),
    ),
}


@pytest.mark.parametrize("name", list(MULTIVARIATE))
@PROPERTY
@_on_the_grid
@given(offset=OFFSETS, log_scale=LOG_SCALES)
def test_bhep_and_henze_zirkler_at_any_location_and_scale(xp, name, offset, log_scale):
    function, oracle = MULTIVARIATE[name]
    for dtype, dtype_name in _dtypes(xp):
        y = (BASE_3 + offset) * 10.0**log_scale
        if not _fits(y, dtype_name):
            continue
        y = y.astype(dtype_name).astype(np.float64)
        expected = oracle(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            actual = float(to_numpy(function(asarray(xp, y, dtype))))
        assert actual == pytest.approx(expected, rel=1e-10 if dtype_name == "float64" else 1e-4)


@pytest.mark.parametrize("name", ["shapiro_wilk"])
@PROPERTY
@given(offset=OFFSETS, log_scale=LOG_SCALES, ties=st.integers(min_value=1, max_value=N))
def test_shapiro_wilk_stays_in_the_unit_interval(xp, name, offset, log_scale, ties):
    x = _sample(offset, log_scale, "float32")
    x[:ties] = x[0]  # from one sample to all samples tied
    for dtype, _ in _dtypes(xp):
        w = _value(xp, name, x, dtype)
        assert np.isnan(w) if ties == N else 0.0 <= w <= 1.0


FLOAT64_ORACLE = [
    "epps_pulley",
    "anderson_darling",
    "cramer_von_mises",
    "watson",
    "moments",
    "entropy",
    "wasserstein",
]


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
        # Vasicek's H is a log: its float32 error is absolute, and the misfit holds it.
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
