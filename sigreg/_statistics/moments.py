"""Statistics of the sample moments: Jarque-Bera and the weighted raw-moment misfit.

Both are functions of the power sums ``S_k = sum_i x_i^k`` over samples, so they
support ``all_reduce`` (data-parallel) like Epps-Pulley.

Precision. The weighted moment misfit compares the *raw* moments with N(0, 1)'s, so
its raw sums lose nothing to cancellation: where a raw moment is far from N(0, 1)'s,
the statistic is as large as that moment. Jarque-Bera is free of location and scale,
so raw sums would cancel: at a mean of 100 standard deviations float32 keeps no digit
of the fourth central moment. Its values are therefore computed on each column
shifted by its mean and divided by its largest deviation (:meth:`JarqueBera.local_form`,
used whenever the sums are not reduced across workers or micro-batches), so both
float32 and float64 stay exact at any location and scale.

Sums that are added across workers, micro-batches or Dask chunks must all be taken
about the same shift. With ``all_reduce``, the ``Accumulator``, Dask or ``sigreg test PATH``,
Jarque-Bera (``needs_frame``) therefore reduces twice: first each column's mean and largest
deviation give a shift and a scale that every part agrees on, then the power sums of the columns
moved and scaled by them are reduced as before (:mod:`sigreg._core.frame`, the one place of that
rule). Both float32 and float64 then stay exact at any location and scale on those paths too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .._core import checks
from .._core.plan import DEFAULT, Plan
from .._core.statistic import Statistic, SumsStatistic
from . import rank_based

Array = Any

MAX_ORDER = 8
# The second moment is what makes a collapsed cloud score badly.
MIN_ORDER = 2


def _normal_moment(k: int) -> float:
    """``E[X^k]`` for X ~ N(0, 1): 0 for odd k, ``(k - 1)!!`` for even k."""
    return 0.0 if k % 2 else float(math.prod(range(k - 1, 0, -2)))


def _power_sums(u: Array, order: int, xp: Any) -> Array:
    powers, power = [], u
    for _ in range(order):
        powers.append(xp.sum(power, axis=-2))
        power = power * u
    return xp.stack(powers, axis=-1)


def _power_sums_vjp(u: Array, sums_bar: Array, xp: Any) -> Array:
    # d S_k / d u = k u^(k-1), combined by Horner's rule in u.
    order = sums_bar.shape[-1]
    grad = order * sums_bar[..., None, :, order - 1]
    for k in range(order - 1, 0, -1):
        grad = grad * u + k * sums_bar[..., None, :, k - 1]
    return grad + xp.zeros_like(u)  # order 1: a constant per column, broadcast to every sample


def _stack_last(parts: list[Array], xp: Any) -> Array:
    return xp.stack(parts, axis=-1)


class _PowerSums(SumsStatistic):
    """The sums of the first ``powers`` powers of each column: the moment statistics' sums."""

    @property
    def powers(self) -> int:
        raise NotImplementedError

    def local_sums(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> Array:  # numpydoc ignore=GL08
        return _power_sums(u, self.powers, xp)

    def local_sums_vjp(
        self, u: Array, sums_bar: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:  # numpydoc ignore=GL08
        return _power_sums_vjp(u, sums_bar, xp)


# The dataclass makes __init__ from the fields, which the docstring's Parameters describe.
@dataclass(frozen=True)
class Moments(_PowerSums):  # numpydoc ignore=PR02
    """The misfit of the first ``order`` raw moments of each column from those of N(0, 1).

    ``N sum_k (m_k - mu_k)^2 / (mu_2k - mu_k^2)`` with ``m_k = mean(x^k)`` and
    ``mu_k = E[X^k]`` for X ~ N(0, 1) (0 for odd k, ``(k-1)!!`` for even k). Each weight is
    the inverse of ``Var(X^k)``, so every term has mean exactly 1 under the null (the
    statistic's null mean is ``order``) and no moment drowns the others. The per-slice score of
    :func:`sigreg.sigreg` is the statistic; a function of sums, it supports ``all_reduce``.

    Parameters
    ----------
    order : int, default 4
        How many moments, 2 to 8 (the first alone would not see the spread: a cloud
        collapsed to a point at the origin would score 0).

    Raises
    ------
    TypeError, ValueError
        If ``order`` is not an integer in 2..8 (checked at construction).

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import Moments, moments
    >>> x = np.random.default_rng(0).standard_normal(5000)
    >>> bool(moments(x, order=2) < 15), bool(moments(x + 0.5, order=2) > 1000)
    (True, True)
    >>> Moments(order=2).has_sums
    True
    """

    name: ClassVar[str] = "moments"
    order: int = 4

    def __post_init__(self) -> None:
        order = checks.integer("order", self.order, 1)
        if not MIN_ORDER <= order <= MAX_ORDER:
            raise ValueError(
                f"order must be in {MIN_ORDER}..{MAX_ORDER}, got {order} (the first moment alone does not "
                "see the spread: a cloud collapsed to a point at the origin would score 0, the best)"
            )
        object.__setattr__(self, "order", order)

    @property
    def powers(self) -> int:  # numpydoc ignore=GL08
        return self.order

    def _targets(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        ks = range(1, self.order + 1)
        means = tuple(_normal_moment(k) for k in ks)
        variances = tuple(_normal_moment(2 * k) - _normal_moment(k) ** 2 for k in ks)
        return means, variances

    def from_sums(self, sums: Array, n: Any, xp: Any) -> Array:  # numpydoc ignore=GL08
        means, variances = self._targets()
        total = 0.0
        for k in range(self.order):
            gap = sums[..., k] / n - means[k]
            total = total + gap * gap / variances[k]
        return n * total

    def from_sums_vjp(self, sums: Array, n: Any, cotangent: Array, xp: Any) -> Array:  # numpydoc ignore=GL08
        means, variances = self._targets()
        return _stack_last(
            [cotangent * 2.0 * (sums[..., k] / n - means[k]) / variances[k] for k in range(self.order)], xp
        )


@dataclass(frozen=True)
class JarqueBera(_PowerSums):
    """Jarque-Bera's statistic of each column.

    ``JB = N/6 (S^2 + (K - 3)^2 / 4)`` with the biased sample skewness ``S`` and kurtosis ``K``,
    as ``scipy.stats.jarque_bera(x).statistic``: free of location and scale, a test of
    normality, not of N(0, 1). The per-slice score of :func:`sigreg.sigreg` is the statistic; a
    function of sums, it supports ``all_reduce``.

    Blind to scale: as a SIGReg loss it does not see a cloud that shrinks, or that
    collapses onto a line with a Gaussian profile (every projection is then a scaled
    Gaussian). Pair it with a statistic of N(0, 1) itself, such as ``"epps_pulley"``
    or ``"moments"``. A constant column has no skewness or kurtosis: NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import JarqueBera, jarque_bera
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> bool(jarque_bera(x) < 10), bool(jarque_bera(x**3) > 100)
    (True, True)
    >>> JarqueBera().has_sums
    True
    """

    name: ClassVar[str] = "jarque_bera"
    min_samples: ClassVar[int] = 2  # fewer have no variance
    # Blind to scale: a cloud collapsed onto a line with a Gaussian profile passes (documented).
    scale_free: ClassVar[bool] = True
    # Reduced sums are power sums of the columns moved to an agreed shift and scale (sigreg._core.frame).
    needs_frame: ClassVar[bool] = True

    @property
    def powers(self) -> int:  # numpydoc ignore=GL08
        return 4  # skewness and kurtosis

    def local_form(self) -> _CentredJarqueBera:
        """The same statistic computed about each column's own mean and scale (no sums to reduce).

        Returns
        -------
        Statistic
            A statistic with the same values and gradients, exact in float32 at any location
            and scale; the dispatch layer uses it whenever nothing is all-reduced.

        Examples
        --------
        >>> from sigreg.stats import JarqueBera
        >>> JarqueBera().local_form().has_sums
        False
        """
        return _CentredJarqueBera()

    @staticmethod
    def _central(sums: Array, n: Any) -> tuple[Array, ...]:
        e1, e2, e3, e4 = (sums[..., k] / n for k in range(4))
        m2 = e2 - e1 * e1
        m3 = e3 - 3.0 * e1 * e2 + 2.0 * e1**3
        m4 = e4 - 4.0 * e1 * e3 + 6.0 * e1 * e1 * e2 - 3.0 * e1**4
        return e1, e2, e3, m2, m3, m4

    def from_sums(self, sums: Array, n: Any, xp: Any) -> Array:  # numpydoc ignore=GL08
        _, _, _, m2, m3, m4 = self._central(sums, n)
        excess = m4 / (m2 * m2) - 3.0
        return n / 6.0 * (m3 * m3 / m2**3 + excess * excess / 4.0)

    def from_sums_vjp(self, sums: Array, n: Any, cotangent: Array, xp: Any) -> Array:  # numpydoc ignore=GL08
        e1, e2, e3, m2, m3, m4 = self._central(sums, n)
        excess = m4 / (m2 * m2) - 3.0
        scale = cotangent * n / 6.0
        d_m3 = scale * 2.0 * m3 / m2**3
        d_m4 = scale * excess / (2.0 * m2 * m2)
        d_m2 = scale * (-3.0 * m3 * m3 / m2**4 - excess * m4 / m2**3)
        # Chain rule through the central moments to the raw ones e_k = S_k / n.
        d_e1 = (
            d_m2 * (-2.0 * e1)
            + d_m3 * (-3.0 * e2 + 6.0 * e1 * e1)
            + d_m4 * (-4.0 * e3 + 12.0 * e1 * e2 - 12.0 * e1**3)
        )
        d_e2 = d_m2 + d_m3 * (-3.0 * e1) + d_m4 * (6.0 * e1 * e1)
        d_e3 = d_m3 + d_m4 * (-4.0 * e1)
        return _stack_last([d_e1 / n, d_e2 / n, d_e3 / n, d_m4 / n], xp)


@dataclass(frozen=True)
class _CentredJarqueBera(Statistic):
    """Jarque-Bera of each column shifted by its mean and divided by its largest deviation.

    The statistic is free of location and scale, so this is the same function of ``u``;
    the powers are then taken of numbers at most 1 in size, with no cancellation and no
    overflow. Its gradient is that of the scaled column divided by the scale: the shift
    and the scale depend on ``u``, but the statistic does not depend on them.
    A constant column (no deviation) gives 0/0: NaN.
    """

    name: ClassVar[str] = "jarque_bera"
    # No sums: its sums are about this column's own mean, not to be added to another worker's.

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        y, scale = rank_based.centred_and_scaled(u, xp)
        sums = _power_sums(y, 4, xp)
        n = u.shape[-2]
        # A constant column (all y = 0) has no skewness or kurtosis: NaN, written out (no 0/0).
        spread = sums[..., 1] > 0.0
        safe = xp.where(spread[..., None], sums, xp.ones_like(sums))
        values = JarqueBera().from_sums(safe, n, xp)
        return xp.where(spread, values, xp.full_like(values, math.nan)), (sums, scale)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        sums, scale = residuals
        y, _ = rank_based.centred_and_scaled(u, xp)
        sums_bar = JarqueBera().from_sums_vjp(sums, u.shape[-2], cotangent, xp)
        return _power_sums_vjp(y, sums_bar, xp) / scale
