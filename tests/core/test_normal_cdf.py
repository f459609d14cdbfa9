"""The normal CDF, its logarithms and density (``sigreg/_core/normal_cdf.py``) against scipy."""

from __future__ import annotations

import math

import numpy as np
import scipy.special

from sigreg._core import normal_cdf


def test_normal_cdf_and_its_logs_match_scipy_to_the_far_tails():
    # The CDF under every statistic: Cody's erfc in array-API operations against
    # scipy.special, float64, through the small-argument, middle and asymptotic regions.
    region_edges = [-0.0, 0.0, 0.46875 * math.sqrt(2), 4 * math.sqrt(2)]
    x = np.concatenate([np.linspace(-38.0, 38.0, 20001), region_edges])
    np.testing.assert_allclose(normal_cdf.ndtr(x, np), scipy.special.ndtr(x), rtol=1e-14, atol=1e-300)
    log_cdf, log_survival = normal_cdf.log_ndtr_pair(x, np)
    np.testing.assert_allclose(log_cdf, scipy.special.log_ndtr(x), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(log_survival, scipy.special.log_ndtr(-x), rtol=1e-13, atol=1e-300)
    np.testing.assert_array_equal(normal_cdf.log_ndtr(x, np), log_cdf)
