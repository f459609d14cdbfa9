"""sigreg.epps_pulley and sigreg.stats.ecf along an axis (``sigreg/_api/along_axis.py``)."""

from __future__ import annotations

import pytest

import sigreg


def test_epps_pulley_arguments(xp):
    with pytest.raises(ValueError, match="axis must be in"):
        sigreg.epps_pulley(xp.ones((4, 3)), axis=2)
    with pytest.raises(ValueError, match="axis must be >= -2"):
        sigreg.epps_pulley(xp.ones((4, 3)), axis=-3)
    with pytest.raises(ValueError, match="at least one sample along axis 1"):
        sigreg.epps_pulley(xp.ones((4, 0)), axis=1)
    with pytest.raises(ValueError, match="at least one dimension"):
        sigreg.epps_pulley(xp.asarray(1.0))
