"""Statistics of the sorted sample: Shapiro-Wilk, Vasicek's entropy, Wasserstein.

Rank-based (:mod:`sigreg._statistics.rank_based`): no sums, no ``all_reduce``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._core import checks, draws, normal_cdf
from .._core.arrays import device as _device
from .._core.plan import DEFAULT, Plan
from .._core.statistic import Statistic
from . import rank_based, target_quantiles, targets

Array = Any


def _memoized(function: Any) -> Any:
    """A per-``n`` cache as a plain dict: torch.compile traces dict lookups, and warns on lru_cache."""
    cache: dict[int, tuple[float, ...]] = {}

    def lookup(n: int) -> tuple[float, ...]:
        if n not in cache:
            cache[n] = function(n)
        return cache[n]

    lookup.__doc__ = function.__doc__
    return lookup


@_memoized
def _shapiro_wilk_coefficients(n: int) -> tuple[float, ...]:
    """Royston's (1995, AS R94) coefficients of the sorted sample, centred, for ``n >= 3``.

    The expected normal order statistics come from AS 111's ``ppnd``, as in
    AS R94 and ``scipy.stats.shapiro`` (W then agrees to rounding).
    """
    half = n // 2
    if n == 3:
        a = [math.sqrt(0.5)]
    else:
        m = [_ppnd((i + 1 - 0.375) / (n + 0.25)) for i in range(half)]
        summ2 = 2.0 * sum(v * v for v in m)
        root = math.sqrt(summ2)
        rsn = 1.0 / math.sqrt(n)
        a1 = _poly((0.0, 0.221157, -0.147981, -2.07119, 4.434685, -2.706056), rsn) - m[0] / root
        if n > 5:
            a2 = -m[1] / root + _poly((0.0, 0.042981, -0.293762, -1.752461, 5.682633, -3.582633), rsn)
            fac = math.sqrt((summ2 - 2 * m[0] ** 2 - 2 * m[1] ** 2) / (1 - 2 * a1**2 - 2 * a2**2))
            a = [a1, a2] + [-v / fac for v in m[2:]]
        else:
            fac = math.sqrt((summ2 - 2 * m[0] ** 2) / (1 - 2 * a1**2))
            a = [a1] + [-v / fac for v in m[1:]]
    # The lowest samples get -a, the highest +a, the middle one (odd n) 0.
    full = [-v for v in a] + [0.0] * (n % 2) + a[::-1]
    mean = sum(full) / n
    return tuple(v - mean for v in full)


def _squared_norm(n: int) -> float:
    coefficients: tuple[float, ...] = _shapiro_wilk_coefficients(n)
    return math.fsum([c * c for c in coefficients])


def _poly(c: tuple[float, ...], x: float) -> float:
    return sum(ci * x**k for k, ci in enumerate(c))


def _ppnd(p: float) -> float:
    # AS 111 (Beasley and Springer, 1977), the normal quantile of AS R94.
    q = p - 0.5
    if abs(q) <= 0.42:
        r = q * q
        num = q * (((-25.44106049637 * r + 41.39119773534) * r - 18.61500062529) * r + 2.50662823884)
        den = (((3.13082909833 * r - 21.06224101826) * r + 23.08336743743) * r - 8.47351093090) * r + 1.0
        return num / den
    r = math.sqrt(-math.log(1 - p if q > 0 else p))
    value = (((2.32121276858 * r + 4.85014127135) * r - 2.29796479134) * r - 2.78718931138) / (
        (1.63706781897 * r + 3.54388924762) * r + 1.0
    )
    return value if q > 0 else -value


@dataclass(frozen=True)
class ShapiroWilk(rank_based.OrderStatistic):
    """Shapiro-Wilk's misfit ``1 - W`` of each column (0 for a perfect fit).

    ``W = (sum_i a_i x_(i))^2 / sum_i (x_i - mean x)^2`` with the coefficients of Royston
    (1995, AS R94); scipy's W is one expression away, ``W = 1 - shapiro_wilk(x)`` (it is
    ``scipy.stats.shapiro(x).statistic``). W lies in [0, 1] and is free of location and scale:
    it tests normality, not N(0, 1). A constant column gives NaN.

    Blind to scale: as a SIGReg loss it does not see a cloud that shrinks, or that
    collapses onto a line with a Gaussian profile (every projection is then a scaled
    Gaussian). Pair it with a statistic of N(0, 1) itself, such as ``"epps_pulley"``
    or ``"moments"``.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> from sigreg.stats import shapiro_wilk
    >>> x = np.random.default_rng(0).standard_normal(500)
    >>> bool(shapiro_wilk(x) < 0.01), bool(shapiro_wilk(np.exp(x)) > 0.2)  # W > 0.99, W < 0.8
    (True, True)
    >>> z = np.random.default_rng(0).standard_normal((256, 8))
    >>> bool(sigreg.sigreg(z, statistic="shapiro_wilk", num_slices=16) < 0.02)
    True
    """

    name: ClassVar[str] = "shapiro_wilk"
    min_samples: ClassVar[int] = 3
    scale_free: ClassVar[bool] = True  # blind to scale (documented above)

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        n = u.shape[-2]
        table = rank_based.table(_shapiro_wilk_coefficients(n), u, xp)
        coefficient = rank_based.at_ranks(table, rank_based.ranks(u, xp), xp)
        centred, scale = rank_based.centred_and_scaled(u, xp)
        linear = xp.sum(coefficient * centred, axis=-2, keepdims=True)
        squares = xp.sum(centred * centred, axis=-2, keepdims=True)
        # 1 - W = |y - (a.y / |a|^2) a|^2 / |y|^2 (Pythagoras): the part of y off the coefficients,
        # summed as such. As 1 - (a.y)^2 / (|a|^2 |y|^2) it would cancel to a misfit of size 1/N,
        # float32's error growing like N. In [0, 1]; a constant column has no W: NaN.
        spread = squares > 0.0
        residual = centred - (linear / _squared_norm(n)) * coefficient
        misfit = xp.sum(residual * residual, axis=-2, keepdims=True) / xp.where(
            spread, squares, xp.ones_like(squares)
        )
        misfit = xp.where(spread, xp.clip(misfit, max=1.0), xp.full_like(misfit, math.nan))
        return misfit[..., 0, :], (coefficient, linear, squares, scale)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        # W is free of location and scale: its gradient is that of the scaled column over the scale.
        coefficient, linear, squares, scale = residuals
        norm = _squared_norm(u.shape[-2])
        centred, _ = rank_based.centred_and_scaled(u, xp)
        grad_w = 2.0 * linear * (coefficient * squares - linear * centred) / (norm * squares * squares)
        return -rank_based.expand_cotangent(cotangent) * grad_w / scale


# The dataclass makes __init__ from the fields, which the docstring's Parameters describe.
@dataclass(frozen=True)
class Entropy(rank_based.OrderStatistic):  # numpydoc ignore=PR02
    """The Kullback-Leibler misfit of each column from N(0, 1), by Vasicek's entropy estimate.

    ``mean(x^2)/2 + log(2 pi)/2 - H``, the estimated Kullback-Leibler divergence from N(0, 1):
    0 for a perfect fit and near 0 under the null (either sign: Vasicek's estimate is biased low,
    the sample's energy ``mean(x^2)/2`` varies about 1/2).
    ``H = 1/N sum_i log(N / (2m) (x_(i+m) - x_(i-m)))``, with order statistics clamped at the
    ends, is ``scipy.stats.differential_entropy(x, method="vasicek")``, one expression away:
    ``H = mean(x**2)/2 + log(2 pi)/2 - entropy(x)`` (exact to rounding while ``mean(x**2)`` is
    of order H; at large scale the energy swamps H). Tied samples spanning a whole window give
    ``+inf``.

    Parameters
    ----------
    window_length : int, optional
        The spacing m, at least 1 and below N/2; default ``floor(sqrt(N) + 1/2)``.

    Raises
    ------
    TypeError, ValueError
        If ``window_length`` is not an integer of at least 1 (checked at construction).

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import Entropy, entropy
    >>> x = np.random.default_rng(0).standard_normal(5000)
    >>> misfit = float(entropy(x))
    >>> bool(abs(misfit) < 0.01), round(float(np.mean(x**2) / 2 + np.log(2 * np.pi) / 2 - misfit), 1)  # H
    (True, 1.4)
    >>> Entropy(window_length=3)
    Entropy(window_length=3)
    """

    name: ClassVar[str] = "entropy"
    min_samples: ClassVar[int] = 3
    window_length: int | None = None

    def __post_init__(self) -> None:
        if self.window_length is not None:
            object.__setattr__(self, "window_length", checks.integer("window_length", self.window_length, 1))

    def _window(self, n: int) -> int:
        # scipy's default: floor(sqrt(n) + 1/2).
        return self.window_length or math.floor(math.sqrt(n) + 0.5)

    def check_samples(self, n: int, name: str) -> None:  # numpydoc ignore=GL08
        super().check_samples(n, name)
        m = self._window(n)
        if not 2 * m < n:
            raise ValueError(
                f"window_length must be below half the number of samples of {name} ({n}), got {m}"
            )

    def _spacings(self, u: Array, xp: Any) -> tuple[Array, int]:
        n = u.shape[-2]
        m = self._window(n)
        s = xp.sort(u, axis=-2)
        first = xp.broadcast_to(s[..., :1, :], (*s.shape[:-2], m, s.shape[-1]))
        last = xp.broadcast_to(s[..., -1:, :], first.shape)
        padded = xp.concat([first, s, last], axis=-2)
        return padded[..., 2 * m :, :] - padded[..., :n, :], m

    def _entropy(self, u: Array, xp: Any) -> Array:
        # Vasicek's estimate per column, as scipy.stats.differential_entropy; the constant
        # log(n / 2m) added after the logs, so that no spacing near the largest float overflows.
        spacings, m = self._spacings(u, xp)
        n = u.shape[-2]
        # A zero spacing (tied samples spanning a window) has log -inf, written out: no warning.
        positive = spacings > 0.0
        logs = xp.where(positive, xp.log(xp.where(positive, spacings, xp.ones_like(spacings))), -math.inf)
        return xp.mean(logs, axis=-2) + math.log(n / (2.0 * m))

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        energy = 0.5 * xp.mean(u * u, axis=-2) + normal_cdf.LOG_2PI_HALF
        return energy - self._entropy(u, xp), ()

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        grad_entropy = self._grad_entropy(u, xp)
        return rank_based.expand_cotangent(cotangent) * (u / u.shape[-2] - grad_entropy)

    def _grad_entropy(self, u: Array, xp: Any) -> Array:
        n = u.shape[-2]
        spacings, m = self._spacings(u, xp)
        inverse = 1.0 / spacings  # d H / d (spacing i) = inverse_i / n
        # Spacing i is s[min(i+m, n-1)] - s[max(i-m, 0)]: scatter +inverse to the upper
        # index and -inverse to the lower one, the clamped ends collecting several terms.
        zeros = xp.zeros_like(inverse[..., :m, :])
        top = xp.sum(inverse[..., n - 1 - m :, :], axis=-2, keepdims=True)
        bottom = xp.sum(inverse[..., : m + 1, :], axis=-2, keepdims=True)
        upper = xp.concat([zeros, inverse[..., : n - 1 - m, :], top], axis=-2)
        lower = xp.concat([bottom, inverse[..., m + 1 :, :], zeros], axis=-2)
        return rank_based.from_sorted((upper - lower) / n, rank_based.ranks(u, xp), xp)


@_memoized
def _midpoint_quantiles(n: int) -> tuple[float, ...]:
    """``Phi^-1((i - 1/2) / n)`` for ``i = 1..n``: the quantile each order statistic is paired with."""
    return normal_cdf.quantiles((i + 0.5) / n for i in range(n))


# The dataclass makes __init__ from the fields, which the docstring's Parameters describe.
@dataclass(frozen=True)
class Wasserstein(rank_based.OrderStatistic):  # numpydoc ignore=PR02
    """The p-th power of the p-Wasserstein distance of each column to N(0, 1).

    ``W_p^p = mean_i |x_(i) - Phi^-1((i - 1/2) / N)|^p``: the i-th order statistic is paired
    with the normal quantile at the middle of its probability cell (the midpoint quantile rule),
    whose error against the exact coupling of the empirical law vanishes as N grows. The
    distance itself is ``wasserstein(x, p=p) ** (1 / p)``. Unlike the distance, the p-th power's
    gradient does not vanish when the samples collapse.

    Parameters
    ----------
    p : float, default 2.0
        The order, at least 1 and finite.
    target : str or sigreg.targets.Target, default "normal"
        The law of the embeddings (:mod:`sigreg.targets`), for :func:`sigreg.sigreg`: other than
        N(0, 1), each slice's order statistics are paired with those of N points drawn from the
        target (counter-based, from the directions' seed), projected and sorted, as RDMReg does.

    Raises
    ------
    TypeError, ValueError
        If ``p`` is not a real number of at least 1 (checked at construction).

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import Wasserstein, wasserstein
    >>> x = np.random.default_rng(0).standard_normal(5000)
    >>> bool(wasserstein(x) < 0.0025), round(float(wasserstein(x + 1.0)), 1)  # W_2^2 of a shift by 1
    (True, 1.0)
    >>> Wasserstein(p=1)
    Wasserstein(p=1.0)
    """

    name: ClassVar[str] = "wasserstein"
    p: float = 2.0
    target: Any = field(default="normal", repr=False)

    def __post_init__(self) -> None:
        p = checks.positive_finite("p", self.p)
        if p < 1:
            raise ValueError(f"p must be >= 1, got {p}")
        object.__setattr__(self, "p", p)
        object.__setattr__(self, "target", targets.resolve("target", self.target))

    def __repr__(self) -> str:  # numpydoc ignore=GL08
        shown = "" if targets.is_normal(self.target) else f", target={self.target!r}"
        return f"Wasserstein(p={self.p!r}{shown})"

    def check_along_axis(self) -> None:  # numpydoc ignore=GL08
        if not targets.is_normal(self.target):
            raise ValueError(
                f"target={self.target!r} is drawn from a seed per call: use "
                "sigreg.sigreg(z, statistic='wasserstein', target=...), not the statistic along an axis"
            )

    def constants(  # numpydoc ignore=GL08
        self, directions: Array, xp: Any, n: int, seed: Any
    ) -> Array | None:
        # The target's reference order statistics (N, K): sorted projections of N draws of it.
        if targets.is_normal(self.target):
            return None
        # The seed was not checked where directions were given: checked here, where it is used.
        keys = draws.seed_keys(checks.seed(seed, xp), xp, _device(directions))
        return target_quantiles.reference(self.target, n, directions, keys, xp)

    def bind(self, constants: Array | None) -> Statistic:  # numpydoc ignore=GL08
        return self if constants is None else target_quantiles.WassersteinAgainst(self, constants)

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        n = u.shape[-2]
        target = rank_based.at_ranks(
            rank_based.table(_midpoint_quantiles(n), u, xp), rank_based.ranks(u, xp), xp
        )
        gap = u - target
        return xp.mean(xp.abs(gap) ** self.p, axis=-2), (gap,)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        (gap,) = residuals
        grad = self.p * xp.abs(gap) ** (self.p - 1.0) * xp.sign(gap) / u.shape[-2]
        return rank_based.expand_cotangent(cotangent) * grad
