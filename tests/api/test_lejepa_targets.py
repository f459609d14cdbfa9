"""lejepa_loss with a target: SIGReg's term compares each slice with its own projected CF.

sigreg.sigreg with target= is checked against a float64 transcription in tests/statistics/test_targets.py;
here lejepa_loss (lam = 1, so only the SIGReg term) must give the same number, and not the
number of the unbound statistic (which would compare every slice with the 1-D CF).
"""

from __future__ import annotations

import numpy as np
import pytest

import sigreg
import sigreg.stats
from sigreg._backend import dispatch


@pytest.mark.parametrize("target", ["laplace", "sphere"])
def test_lejepa_loss_with_a_target_is_sigreg_with_that_target(target):
    views = np.random.default_rng(5).standard_normal((2, 32, 6))
    statistic = sigreg.stats.get("epps_pulley", target=target, num_points=9)
    loss = sigreg.lejepa_loss(views, lam=1.0, statistic=statistic, num_slices=8, seed=2)
    expected = sigreg.sigreg(views, statistic=statistic, num_slices=8, seed=2)
    np.testing.assert_allclose(loss, expected, rtol=1e-12)
    # The unbound statistic compares every slice with the 1-D CF (another number), or, for a
    # law of whole embeddings, refuses: lejepa_loss must bind each slice's CF.
    directions = sigreg.directions(6, 8, seed=2)
    u = views @ directions
    if target == "sphere":
        with pytest.raises(ValueError, match="law of whole embeddings"):
            dispatch.column_statistics(u, statistic, dispatch.plan(u, np), None, np)
        return
    unbound = dispatch.column_statistics(u, statistic, dispatch.plan(u, np), None, np)
    assert abs(float(np.mean(unbound)) - float(expected)) > 1e-6 * abs(float(expected))
