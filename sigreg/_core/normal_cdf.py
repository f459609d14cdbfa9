"""The standard normal law in array-API operations: CDF, log-CDF and quantiles.

The array API has no ``erf``, and NumPy has none either, so the CDF is built
here from W. J. Cody's rational Chebyshev approximations of ``erfc`` (Math.
Comp. 23, 1969; the ``calerf`` of SPECFUN), accurate to about 1e-16 relative
in float64. The tails are computed in the log domain (``erfc(y) = exp(-y^2)
erfcx(y)``), so ``log_ndtr`` stays finite and accurate far into the tails,
where ``log(ndtr(x))`` would give ``-inf``. Every branch is evaluated and one
is selected with ``where``: no branch on array values (JAX traces it).

Quantiles are only needed at constant probabilities (i/N and the like): they
are computed on the host with the standard library (:class:`statistics.NormalDist`).
"""

from __future__ import annotations

import math
from typing import Any

Array = Any

LOG_2PI_HALF = 0.5 * math.log(2.0 * math.pi)
_SQRT_HALF = math.sqrt(0.5)
_ONE_OVER_SQRT_PI = 1.0 / math.sqrt(math.pi)
_REGION_1 = 0.46875  # erf's own rational below this, erfcx's above (Cody)
_REGION_3 = 4.0  # the asymptotic rational in 1/y^2 above this

# Cody's coefficients: A/B for erf on [0, 0.46875], C/D for erfcx on [0.46875, 4],
# P/Q for the asymptotic erfcx on (4, inf).
_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
      3.20937758913846947e03, 1.85777706184603153e-1)  # fmt: skip
_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
      2.84423683343917062e03)  # fmt: skip
_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
      2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
      2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)  # fmt: skip
_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
      1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
      3.43936767414372164e03, 1.23033935480374942e03)  # fmt: skip
_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
      1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)  # fmt: skip
_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
      6.05183413124413191e-2, 2.33520497626869185e-3)  # fmt: skip


def _erf_small(y: Array) -> Array:
    # erf(y) for |y| <= 0.46875.
    z = y * y
    num, den = _A[4] * z, z
    for a, b in zip(_A[:3], _B[:3], strict=True):
        num, den = (num + a) * z, (den + b) * z
    return y * (num + _A[3]) / (den + _B[3])


def _erfcx(y: Array, xp: Any) -> Array:
    # exp(y^2) erfc(y) for y >= 0.46875 (values below are ignored by the callers).
    num, den = _C[8] * y, y
    for c, d in zip(_C[:7], _D[:7], strict=True):
        num, den = (num + c) * y, (den + d) * y
    middle = (num + _C[7]) / (den + _D[7])
    z = 1.0 / (y * y)
    num, den = _P[5] * z, z
    for p, q in zip(_P[:4], _Q[:4], strict=True):
        num, den = (num + p) * z, (den + q) * z
    tail = (_ONE_OVER_SQRT_PI - z * (num + _P[4]) / (den + _Q[4])) / y
    return xp.where(y <= _REGION_3, middle, tail)


def _erfc_and_log(y: Array, xp: Any) -> tuple[Array, Array]:
    """``erfc(y)`` and ``log(erfc(y))`` for ``y >= 0``, the log accurate where ``erfc`` underflows."""
    # Each branch sees only its own range (clamped), so the unused one is never NaN or inf.
    small = 1.0 - _erf_small(xp.clip(y, max=_REGION_1))
    large = _erfcx(xp.clip(y, min=_REGION_1), xp)
    in_small = y < _REGION_1
    erfc = xp.where(in_small, small, xp.exp(-(y * y)) * large)
    return erfc, xp.where(in_small, xp.log(small), -(y * y) + xp.log(large))


def ndtr(x: Array, xp: Any) -> Array:
    """The standard normal CDF, ``Phi(x)``, with full relative accuracy in the lower tail."""
    half_tail = 0.5 * _erfc_and_log(xp.abs(x) * _SQRT_HALF, xp)[0]
    return xp.where(x < 0, half_tail, 1.0 - half_tail)


def log_ndtr_pair(x: Array, xp: Any) -> tuple[Array, Array]:
    """``(log(Phi(x)), log(Phi(-x)))`` from one evaluation of the smaller tail, both finite
    for every finite ``x`` (``-x^2/2 - log(|x|) - ...`` in the far tail)."""
    erfc, log_erfc = _erfc_and_log(xp.abs(x) * _SQRT_HALF, xp)
    log_small = math.log(0.5) + log_erfc  # log(Phi(-|x|)) = log(erfc(|x| / sqrt 2) / 2)
    log_large = xp.log1p(-0.5 * erfc)  # log(Phi(|x|)) = log(1 - Phi(-|x|))
    negative = x < 0
    return xp.where(negative, log_small, log_large), xp.where(negative, log_large, log_small)


def log_ndtr(x: Array, xp: Any) -> Array:
    """``log(Phi(x))``, finite for every finite ``x``."""
    return log_ndtr_pair(x, xp)[0]


def log_pdf(x: Array) -> Array:
    """``log(phi(x))``."""
    return -0.5 * (x * x) - LOG_2PI_HALF


def pdf(x: Array, xp: Any) -> Array:
    """``phi(x)``."""
    return xp.exp(log_pdf(x))


def quantiles(probabilities: Any) -> tuple[float, ...]:
    """``Phi^-1(p)`` for each of the constant ``probabilities`` in (0, 1), on the host."""
    from statistics import NormalDist

    inverse = NormalDist().inv_cdf
    return tuple(inverse(float(p)) for p in probabilities)
