"""Statistics of the empirical distribution function: Anderson-Darling, Cramér-von Mises, Watson.

Rank-based (:mod:`sigreg._statistics.rank_based`): no sums, no ``all_reduce``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .._core import normal_cdf
from .._core.plan import DEFAULT, Plan
from . import rank_based

Array = Any


@dataclass(frozen=True)
class AndersonDarling(rank_based.OrderStatistic):
    """Anderson-Darling's A-squared against N(0, 1), as :func:`sigreg.stats.anderson_darling`.

    The per-slice score of :func:`sigreg.sigreg` is A-squared itself.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> z = np.random.default_rng(0).standard_normal((256, 8))
    >>> bool(sigreg.sigreg(z, statistic="anderson_darling", num_slices=16) < 3)
    True
    """

    name: ClassVar[str] = "anderson_darling"

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        n = u.shape[-2]
        i = rank_based.float_ranks(u, xp) + 1.0
        log_cdf, log_survival = normal_cdf.log_ndtr_pair(u, xp)
        terms = (2.0 * i - 1.0) * log_cdf + (2.0 * n + 1.0 - 2.0 * i) * log_survival
        return -n - xp.sum(terms, axis=-2) / n, (i, log_cdf, log_survival)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        i, log_cdf, log_survival = residuals
        n = u.shape[-2]
        # d log(Phi(u)) / du = phi(u) / Phi(u), d log(Phi(-u)) / du = -phi(u) / Phi(-u): from
        # the logs the forward kept, so no tail is evaluated again.
        log_density = normal_cdf.log_pdf(u)
        to_cdf, to_survival = xp.exp(log_density - log_cdf), xp.exp(log_density - log_survival)
        grad = -((2.0 * i - 1.0) * to_cdf - (2.0 * n + 1.0 - 2.0 * i) * to_survival) / n
        return rank_based.expand_cotangent(cotangent) * grad


def _edf_misfit(u: Array, xp: Any) -> tuple[Array, Array]:
    # Phi(x_j) - (2 i_j - 1) / (2N): the distance of the CDF from the plotting position.
    n = u.shape[-2]
    cdf = normal_cdf.ndtr(u, xp)
    return cdf, cdf - (2.0 * rank_based.float_ranks(u, xp) + 1.0) / (2.0 * n)


@dataclass(frozen=True)
class CramerVonMises(rank_based.OrderStatistic):
    """Cramér-von Mises' W-squared against N(0, 1), as :func:`sigreg.stats.cramer_von_mises`.

    The per-slice score of :func:`sigreg.sigreg` is W-squared itself.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> z = np.random.default_rng(0).standard_normal((256, 8))
    >>> bool(sigreg.sigreg(z, statistic="cramer_von_mises", num_slices=16) < 0.5)
    True
    """

    name: ClassVar[str] = "cramer_von_mises"

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        _, misfit = _edf_misfit(u, xp)
        values = 1.0 / (12.0 * u.shape[-2]) + xp.sum(misfit * misfit, axis=-2)
        return values + rank_based.nonfinite_marker(u, xp), (misfit,)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        (misfit,) = residuals
        return rank_based.expand_cotangent(cotangent) * 2.0 * misfit * normal_cdf.pdf(u, xp)


@dataclass(frozen=True)
class Watson(rank_based.OrderStatistic):
    """Watson's U-squared against N(0, 1), as :func:`sigreg.stats.watson`.

    The per-slice score of :func:`sigreg.sigreg` is U-squared itself.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> z = np.random.default_rng(0).standard_normal((256, 8))
    >>> bool(sigreg.sigreg(z, statistic="watson", num_slices=16) < 0.5)
    True
    """

    name: ClassVar[str] = "watson"

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        n = u.shape[-2]
        cdf, misfit = _edf_misfit(u, xp)
        centre = xp.mean(cdf, axis=-2, keepdims=True) - 0.5
        values = 1.0 / (12.0 * n) + xp.sum(misfit * misfit, axis=-2) - n * centre[..., 0, :] ** 2
        return values + rank_based.nonfinite_marker(u, xp), (misfit, centre)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        misfit, centre = residuals
        return rank_based.expand_cotangent(cotangent) * 2.0 * (misfit - centre) * normal_cdf.pdf(u, xp)
