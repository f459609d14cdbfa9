"""The multivariate BHEP statistic and Henze-Zirkler's test, in O(N * block) memory.

``T = N * integral |ecf(t) - exp(-|t|^2/2)|^2 phi_beta(t) dt`` over R^D with the
N(0, beta^2 I) weight ``phi_beta`` has the closed form

    T = 1/N sum_jk exp(-beta^2/2 D_jk) - 2 (1 + beta^2)^(-D/2) sum_j exp(-beta^2 / (2 (1 + beta^2)) D_j)
        + N (1 + 2 beta^2)^(-D/2)

with ``D_jk = |y_j - y_k|^2`` and ``D_j = |y_j|^2`` (Baringhaus and Henze 1988,
Henze and Zirkler 1990). ``y`` is ``z`` itself, or, with ``standardize``, ``z``
whitened by its sample mean and (biased) covariance, so that the distances are
Mahalanobis distances. The pairs are visited in blocks of rows, forward and
backward alike, so no N x N array is ever held. The gradient is analytic,
through the mean and the inverse covariance when standardising.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._core import checks
from .._core.arrays import device as _device
from .._core.plan import DEFAULT, Plan, row_slices
from .._core.statistic import EmbeddingStatistic

Array = Any

# Elements of one (rows x N) block of pairs.
BLOCK_ELEMENTS = 1 << 20


def _henze_zirkler_beta(n: int, d: int) -> float:
    """Henze and Zirkler's smoothing parameter for ``n`` samples in ``d`` dimensions."""
    return float(((2 * d + 1) / 4) ** (1 / (d + 4)) * n ** (1 / (d + 4)) / math.sqrt(2.0))


def _precision_or_nan(covariance: Array, xp: Any) -> Array:
    """The inverse of ``covariance`` (..., D, D), or NaN everywhere where it is singular.

    Singular: an eigenvalue at most ``D * eps`` times the largest (collinear or collapsed
    samples, as ``numpy.linalg.matrix_rank`` decides), or an entry that is not finite. Decided
    by ``where`` on the device, with no host sync, so every library gives the same NaN
    instead of LinAlgError on one and a meaningless number on another.
    """
    d = covariance.shape[-1]
    finite = xp.all(xp.isfinite(covariance), axis=(-2, -1), keepdims=True)
    cleaned = xp.where(finite, covariance, xp.zeros_like(covariance))
    eigenvalues = xp.linalg.eigvalsh(cleaned)
    largest = xp.max(xp.abs(eigenvalues), axis=-1, keepdims=True)[..., None]
    smallest = xp.min(eigenvalues, axis=-1, keepdims=True)[..., None]
    tolerance = max(d, 1) * float(xp.finfo(covariance.dtype).eps)
    regular = finite & (smallest > tolerance * largest)
    identity = xp.eye(d, dtype=covariance.dtype, device=_device(covariance))
    inverse = xp.linalg.inv(xp.where(regular, cleaned, identity))  # never singular
    return xp.where(regular, inverse, xp.full_like(inverse, math.nan))


def centred(z: Array, xp: Any) -> Array:  # numpydoc ignore=PR01,RT01,EX01,SS06,GL02
    """``z`` less its mean over the samples (axis -2), in two passes: the first mean is off by
    about eps |mean|, and subtracting it is exact where the samples sit far from 0, so the
    second mean (of numbers of the samples' own size) takes the rest out."""
    x = z - xp.mean(z, axis=-2, keepdims=True)
    return x - xp.mean(x, axis=-2, keepdims=True)


@dataclass(frozen=True)
class _Geometry:
    """The samples as the closed form sees them (see ``BHEP._geometry``)."""

    x: Array  # centred samples, scaled (plain: by c; whitened: each column by its largest entry)
    y: Array  # x P (whitened) or x: the distances are q_j + q_k - 2 y_j . x_k
    precision: Array | None  # P (whitened)
    c: Array | None  # plain: the pair distances are c^2 times those of x
    singles_q: Array  # the squared norms in the singles' term: |z_j|^2 (plain), x_j P x_j (whitened)
    column_scale: Array | None  # whitened: the largest entry of each column of z - mean


def _blocks(n: int) -> list[slice]:
    return row_slices(n, BLOCK_ELEMENTS // n)  # read at call time: the tests shrink the blocks


# The dataclass makes __init__ from the fields, which the docstring's Parameters describe.
@dataclass(frozen=True)
class BHEP(EmbeddingStatistic):  # numpydoc ignore=PR02
    """The BHEP statistic of samples (..., N, D) against N(0, I), as :func:`sigreg.stats.bhep`.

    Parameters
    ----------
    beta : float, default 1.0
        The scale of the Gaussian weight: positive and finite.
    standardize : bool, default False
        Whiten the samples by their mean and covariance first.

    Raises
    ------
    TypeError, ValueError
        If an option has the wrong type or value (checked at construction).

    Examples
    --------
    >>> from sigreg.stats import BHEP
    >>> BHEP(beta=0.5)
    BHEP(beta=0.5, standardize=False)
    """

    name: ClassVar[str] = "bhep"
    beta: float = 1.0
    standardize: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", checks.positive_finite("beta", self.beta))
        self._check_standardize()

    def _check_standardize(self) -> None:
        if not isinstance(self.standardize, bool):
            raise TypeError(f"standardize must be True or False, got {self.standardize!r}")

    def _beta_for(self, n: int, d: int) -> float:
        return self.beta

    def check_sizes(self, n: int, d: int, name: str) -> None:  # numpydoc ignore=GL08
        # Standardising needs an invertible covariance.
        if self.standardize and n <= d:
            raise ValueError(
                f"{name} must have more samples than dimensions to be standardized "
                f"(its covariance is singular otherwise), got N={n}, D={d}"
            )

    def _constants(self, n: int, d: int) -> tuple[float, float, float, float]:
        beta2 = self._beta_for(n, d) ** 2
        pair, single = beta2 / 2.0, beta2 / (2.0 * (1.0 + beta2))
        return pair, single, 2.0 * (1.0 + beta2) ** (-d / 2.0), (1.0 + 2.0 * beta2) ** (-d / 2.0)

    def singles(self, y: Array, xp: Any) -> Array:  # numpydoc ignore=PR01,RT01,EX01,SS06,GL02
        """The terms (..., N) of the statistic of samples ``y`` (..., N, k) that are not functions of
        their differences, ``-2 (1 + beta^2)^(-k/2) exp(-beta^2 |y_j|^2 / (2 (1 + beta^2)))``
        (without standardising; the statistic adds them up), as array operations.

        The subspace form takes them from the raw projections and the rest from centred ones, whose
        differences float32 keeps at any location (``sigreg._api.normality``)."""
        _, single, c_single, _ = self._constants(y.shape[-2], y.shape[-1])
        return -c_single * xp.exp(-single * xp.sum(y * y, axis=-1))

    def _geometry(self, z: Array, xp: Any) -> _Geometry:
        x = centred(z, xp)
        if not self.standardize:
            # Pairs from the centred samples over their largest entry (the distances are
            # c^2 |x_j - x_k|^2: no cancellation at any location, no overflow at any scale);
            # the singles from z itself, which they depend on.
            c = xp.max(xp.abs(x), axis=(-2, -1), keepdims=True)
            c = xp.where(c > 0.0, c, xp.ones_like(c))
            return _Geometry(x / c, x / c, None, c, xp.sum(z * z, axis=-1), None)
        # Whitened: the statistic is free of location and of the scale of each column, so they are
        # taken out before the covariance is formed (which would overflow or underflow otherwise).
        s = xp.max(xp.abs(x), axis=-2, keepdims=True)
        s = xp.where(s > 0.0, s, xp.ones_like(s))
        x = x / s
        precision = _precision_or_nan(xp.matrix_transpose(x) @ x / z.shape[-2], xp)
        y = x @ precision
        return _Geometry(x, y, precision, None, xp.sum(y * x, axis=-1), s)

    @staticmethod
    def _pair_block(g: _Geometry, q: Array, rows: slice, pair: float, xp: Any) -> Array:
        x, y = g.x, g.y
        distances = q[..., rows, None] + q[..., None, :] - 2.0 * (y[..., rows, :] @ xp.matrix_transpose(x))
        # Rounding can make a distance -0.0001; a sample's distance to itself is exactly 0.
        n, device = x.shape[-2], _device(x)
        own = xp.arange(rows.start, rows.stop, device=device)[:, None] == xp.arange(n, device=device)[None, :]
        distances = xp.where(own, xp.zeros_like(distances), xp.clip(distances, min=0.0))
        if g.c is None:
            return xp.exp(-pair * distances)
        # c^2 may overflow to inf: the exponent is then -inf, or 0 at a distance of 0.
        scaled = xp.where(distances > 0.0, (pair * g.c * g.c) * distances, xp.zeros_like(distances))
        return xp.exp(-scaled)

    # The EmbeddingStatistic methods, on samples z (..., N, D) and values of shape (...,).

    def forward_embeddings(  # numpydoc ignore=GL08
        self, z: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        n, d = z.shape[-2], z.shape[-1]
        pair, single, c_single, c_const = self._constants(n, d)
        g = self._geometry(z, xp)
        q = xp.sum(g.y * g.x, axis=-1)
        e = xp.exp(-single * g.singles_q)

        # T = 1/N sum_jk (E_jk - c (e_j + e_k) / 2 + c_const): terms of mean about 0 under the
        # null, so that float32 sums them without the O(N) cancellation of the three sums apart.
        def block(rows: slice) -> Array:  # numpydoc ignore=GL08
            kernel = self._pair_block(g, q, rows, pair, xp)
            terms = kernel - (0.5 * c_single) * (e[..., rows, None] + e[..., None, :]) + c_const
            return xp.sum(terms, axis=(-2, -1))

        return sum(block(rows) for rows in _blocks(n)) / n, ()

    def backward_embeddings(  # numpydoc ignore=GL08
        self, z: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        n, d = z.shape[-2], z.shape[-1]
        pair, single, c_single, _ = self._constants(n, d)
        g = self._geometry(z, xp)
        x, precision = g.x, g.precision
        q = xp.sum(g.y * x, axis=-1)
        weights, pulled = [], []  # row sums r_j of the pair kernel E, and (E x)_j
        for rows in _blocks(n):
            kernel = self._pair_block(g, q, rows, pair, xp)
            weights.append(xp.sum(kernel, axis=-1))
            pulled.append(kernel @ x)
        r, ex = xp.concat(weights, axis=-1)[..., None], xp.concat(pulled, axis=-2)
        if precision is None:
            # Pairs in x = (z - mean) / c, singles in z: d T / d z_j.
            e = xp.exp(-single * g.singles_q)[..., None]
            grad = -(4.0 * pair / n) * g.c * (r * x - ex) + 2.0 * c_single * single * e * z
            return cotangent[..., None, None] * grad
        e = xp.exp(-single * q)[..., None]
        # d T / d x_j in the whitened frame, with the precision and the mean held fixed (x P below).
        grad = -(4.0 * pair / n) * (r * x - ex) + 2.0 * c_single * single * e * x
        # The mean: every sample moves it by 1/N.
        grad = grad - (2.0 * c_single * single / n) * xp.sum(e * x, axis=-2, keepdims=True)
        # The precision P = S^-1: dT/dP = Q, dT/dS = -P Q P, dS/dx = 2 x / N.
        xt = xp.matrix_transpose(x)
        q_matrix = -(2.0 * pair / n) * (xt @ (r * x) - xt @ ex) + c_single * single * (xt @ (e * x))
        grad = grad @ precision - (2.0 / n) * (x @ (precision @ q_matrix @ precision))
        # x = (z - mean) / s column by column, and T does not depend on s.
        return cotangent[..., None, None] * (grad / g.column_scale)


@dataclass(frozen=True)
class HenzeZirkler(BHEP):  # numpydoc ignore=PR02
    """BHEP with Henze and Zirkler's ``beta(N, D)``, as :func:`sigreg.stats.henze_zirkler`.

    Parameters
    ----------
    standardize : bool, default True
        Whiten the samples by their mean and covariance first (their test).

    Raises
    ------
    TypeError
        If ``standardize`` is not a bool.

    Examples
    --------
    >>> from sigreg.stats import HenzeZirkler
    >>> HenzeZirkler()
    HenzeZirkler(standardize=True)
    """

    name: ClassVar[str] = "henze_zirkler"
    beta: float = field(default=1.0, init=False, repr=False, compare=False)  # see _beta_for
    standardize: bool = True

    def __post_init__(self) -> None:
        self._check_standardize()

    def _beta_for(self, n: int, d: int) -> float:
        return _henze_zirkler_beta(n, d)
