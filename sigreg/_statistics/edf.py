"""Statistics of the empirical distribution function: Anderson-Darling, Cramér-von Mises, Watson.

Rank-based (:mod:`sigreg._statistics.rank_based`): no sums, no ``all_reduce``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .._core import normal_cdf
from .._core.plan import DEFAULT, Plan
from . import rank_based

Array = Any


@dataclass(frozen=True)
class AndersonDarling(rank_based.OrderStatistic):
    """Anderson-Darling's A-squared of each column against N(0, 1).

    ``A^2 = -N - 1/N sum_i (2i - 1) [log Phi(x_(i)) + log(1 - Phi(x_(N+1-i)))]`` with the known
    N(0, 1) CDF ``Phi``, computed in the log domain (finite for any finite sample). As
    ``scipy.stats.goodness_of_fit(norm, x, known_params={"loc": 0, "scale": 1},
    statistic="ad").statistic``; the per-slice score of :func:`sigreg.sigreg` is A-squared itself.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> from sigreg.stats import anderson_darling
    >>> x = np.random.default_rng(0).standard_normal((500, 2))
    >>> bool(np.all(anderson_darling(x) < 3)), bool(anderson_darling(x + 1)[0] > 50)
    (True, True)
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
        # A^2 = -N - sum(terms) / N is a difference of two O(N) numbers with an O(1) result. The
        # logs are taken relative to the plotting positions p_i = (2i - 1) / 2N, where they are
        # small for a Gaussian sample, and the positions' own share, a constant of N, is added
        # in float64 on the host: float32 then keeps its digits at large N.
        position = (2.0 * i - 1.0) / (2.0 * n)
        log_cdf_gap, log_survival_gap = log_cdf - xp.log(position), log_survival - xp.log1p(-position)
        terms = (2.0 * i - 1.0) * log_cdf_gap + (2.0 * n + 1.0 - 2.0 * i) * log_survival_gap
        return _at_plotting_positions(n) - xp.sum(terms, axis=-2) / n, (i, log_cdf, log_survival)

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


def _at_plotting_positions(n: int) -> float:
    """A^2 of a sample whose CDF values are exactly the plotting positions ``(2i - 1) / 2N``.

    In closed form, so that jax.jit and torch.compile trace it as a constant of the shape (a
    cached or O(N) Python loop would not trace).
    """
    if n < 32:
        # sum_i (2N + 1 - 2i) log(1 - p_i) equals sum_i (2i - 1) log(p_i) (i -> N + 1 - i).
        half = sum((2 * k - 1) * math.log((2 * k - 1) / (2 * n)) for k in range(1, n + 1))
        return -n - 2.0 * half / n
    # That sum is the odd terms of log H(2N), H the hyperfactorial; Glaisher's expansion of
    # log H leaves, after the O(N^2 log N) terms cancel by hand, 2/N times an O(log N) number:
    # no cancellation: within 1e-16 of 50-digit mpmath from N = 32 on.
    return 2.0 / n * (math.log(n / 2.0) / 12.0 + _LOG_GLAISHER + 2.0 * _tail(n) - _tail(2 * n))


_LOG_GLAISHER = 0.24875447703378425  # log of the Glaisher-Kinkelin constant A


def _tail(m: int) -> float:
    # log H(m) - [(m^2 / 2 + m / 2 + 1 / 12) log m - m^2 / 4 + log A], to O(m^-8).
    inv2 = 1.0 / (m * m)
    return inv2 * (1.0 / 720.0 - inv2 * (1.0 / 5040.0 - inv2 / 10080.0))


def _edf_misfit(u: Array, xp: Any) -> tuple[Array, Array]:
    # Phi(x_j) - (2 i_j - 1) / (2N): the distance of the CDF from the plotting position.
    n = u.shape[-2]
    cdf = normal_cdf.ndtr(u, xp)
    return cdf, cdf - (2.0 * rank_based.float_ranks(u, xp) + 1.0) / (2.0 * n)


@dataclass(frozen=True)
class CramerVonMises(rank_based.OrderStatistic):
    """Cramér-von Mises' W-squared of each column against N(0, 1).

    ``W^2 = 1/(12 N) + sum_i (Phi(x_(i)) - (2i - 1)/(2N))^2``, as
    ``scipy.stats.cramervonmises(x, "norm").statistic``; the per-slice score of
    :func:`sigreg.sigreg` is W-squared itself.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> from sigreg.stats import cramer_von_mises
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> bool(cramer_von_mises(x) < 0.5), bool(cramer_von_mises(2 * x) > 2)
    (True, True)
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
    """Watson's U-squared of each column against N(0, 1).

    ``U^2 = W^2 - N (mean_i Phi(x_i) - 1/2)^2`` with Cramér-von Mises' ``W^2``: invariant to
    where the circle of probabilities is cut. The per-slice score of :func:`sigreg.sigreg` is
    U-squared itself.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> from sigreg.stats import watson
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> bool(watson(x) < 0.5), bool(watson(3 * x) > 2)
    (True, True)
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
