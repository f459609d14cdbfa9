"""A new statistic, added the way CONTRIBUTING says: its module, one registry line, one function line.

Imported by the tests that check that this route suffices (tests/core/test_statistic.py): it
then joins the contract tests, ``sigreg.stats.available()``, ``sigreg test --statistic`` and
``sigreg.test``. Nothing else in the package names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import sigreg.stats
from sigreg._api.along_axis import function_of
from sigreg._core.plan import DEFAULT, Plan

Array = Any


# 1. The module (sigreg/_statistics/<name>.py): the class, with its docstring.
@dataclass(frozen=True)
class ToyMoments(sigreg.stats.SumsStatistic):  # numpydoc ignore=PR02
    """The misfit of the mean and mean square of each column from N(0, 1)'s.

    ``N (m_1^2 + weight (m_2 - 1)^2)`` with ``m_k = mean(x^k)``.

    Parameters
    ----------
    weight : float, default 0.5
        The weight of the mean square's misfit.

    Examples
    --------
    >>> import numpy as np
    >>> from tests.core.toy_statistic import toy_moments
    >>> bool(toy_moments(np.random.default_rng(0).standard_normal(500) + 1.0) > 100)
    True
    """

    name: ClassVar[str] = "toy_moments"
    weight: float = 0.5

    def local_sums(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> Array:  # numpydoc ignore=GL08
        return xp.stack([xp.sum(u, axis=-2), xp.sum(u * u, axis=-2)], axis=-1)

    def from_sums(self, sums: Array, n: Any, xp: Any) -> Array:  # numpydoc ignore=GL08
        mean, square = sums[..., 0] / n, sums[..., 1] / n
        return n * (mean * mean + self.weight * (square - 1.0) ** 2)

    def from_sums_vjp(self, sums: Array, n: Any, cotangent: Array, xp: Any) -> Array:  # numpydoc ignore=GL08
        mean, square = sums[..., 0] / n, sums[..., 1] / n
        return xp.stack([cotangent * 2.0 * mean, cotangent * 2.0 * self.weight * (square - 1.0)], axis=-1)

    def local_sums_vjp(  # numpydoc ignore=GL08
        self, u: Array, sums_bar: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        return sums_bar[..., None, :, 0] + 2.0 * u * sums_bar[..., None, :, 1]


# 2. The registry line (sigreg/_statistics/registry.py): statistic="toy_moments" resolves.
sigreg.stats.register(ToyMoments)
# 3. The function line (sigreg/stats.py): sigreg.stats.toy_moments along an axis.
toy_moments = function_of(ToyMoments)
sigreg.stats.toy_moments = toy_moments  # type: ignore[attr-defined]  # what the line in stats.py defines
