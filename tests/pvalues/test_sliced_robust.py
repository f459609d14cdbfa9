"""``sigreg.test`` on non-finite input, and its Monte Carlo null cache key.

Non-finite samples have no p-value: the statistic and every p-value are NaN, on every
backend and method, with no exception. A cached null is reused only for the same
directions: the oracle is the same call with the cache emptied.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import sigreg
import sigreg.stats
from sigreg._pvalues import sliced

from ..support import asarray, to_numpy


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("method", ["auto", "monte_carlo"])
@pytest.mark.parametrize("statistic", ["epps_pulley", "jarque_bera", "anderson_darling", "shapiro_wilk"])
def test_non_finite_input_gives_nan_statistic_and_pvalues(xp, bad, method, statistic):
    z = np.random.default_rng(0).standard_normal((40, 3))
    z[7, 1] = bad
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sigreg.test(asarray(xp, z), statistic=statistic, method=method, num_slices=4, n_resamples=9)
    for field in ("statistic", "pvalue", "slice_statistics", "slice_pvalues"):
        assert np.all(np.isnan(to_numpy(getattr(result, field)))), (field, getattr(result, field))
    assert tuple(result.worst.shape) == (4,)


def test_every_statistic_gives_nan_for_an_infinite_sample():
    z = np.random.default_rng(1).standard_normal((40, 3))
    z[0, 0] = np.inf
    for name in sigreg.stats.available():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            result = sigreg.test(z, statistic=name, num_slices=3, n_resamples=9)
        assert np.isnan(float(result.statistic)) and np.isnan(float(result.pvalue)), name
        assert np.all(np.isnan(result.slice_pvalues)), name


def _fresh(z, **kw):
    sliced._CACHE.clear()
    return sigreg.test(z, **kw)


def test_explicit_directions_get_their_own_null():
    rng = np.random.default_rng(2)
    z = rng.standard_normal((48, 4))
    first, second = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    kw = dict(n_resamples=99, seed=5)
    sliced._CACHE.clear()
    sigreg.test(z, directions=first, **kw)  # fills the cache with the first directions' null
    reused = sigreg.test(z, directions=second, **kw)
    expected = _fresh(z, directions=second, **kw)
    assert float(reused.pvalue) == float(expected.pvalue)
    np.testing.assert_array_equal(reused.slice_pvalues, expected.slice_pvalues)
    # The same directions again: served from the cache, and equal.
    again = sigreg.test(z, directions=second.copy(), **kw)
    assert float(again.pvalue) == float(expected.pvalue)


def test_seeded_directions_are_cached_by_seed_options_and_shape():
    z = np.random.default_rng(3).standard_normal((48, 4))
    kw = dict(n_resamples=49, num_slices=3, method="monte_carlo")
    sliced._CACHE.clear()
    sigreg.test(z, seed=1, **kw)
    for changed in (dict(seed=2), dict(seed=1, statistic="jarque_bera"), dict(seed=1, num_points=9)):
        cached = sigreg.test(z, **kw, **changed)
        fresh = _fresh(z, **kw, **changed)
        np.testing.assert_array_equal(cached.slice_pvalues, fresh.slice_pvalues)
    cached32 = sigreg.test(z.astype(np.float32), seed=1, **kw)
    np.testing.assert_array_equal(
        cached32.slice_pvalues, _fresh(z.astype(np.float32), seed=1, **kw).slice_pvalues
    )


def test_explicit_device_directions_are_not_cached():
    torch = pytest.importorskip("torch")
    z = torch.asarray(np.random.default_rng(4).standard_normal((32, 3)))
    a = torch.asarray(np.random.default_rng(5).standard_normal((3, 2)))
    sliced._CACHE.clear()
    sigreg.test(z, directions=a, n_resamples=9)
    assert len(sliced._CACHE) == 0
