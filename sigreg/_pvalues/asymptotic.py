"""Asymptotic null laws, computed on the host with NumPy (they depend on no data).

A statistic of the form ``N * sum_j w_j |ecf(t_j) - phi(t_j)|^2`` (Epps-Pulley, on
any quadrature) is, for N(0, 1) samples and large N, a weighted sum of chi-square(1)
variables ``sum_i lambda_i chi2_1``: ``sqrt(N) (c_j - phi_j)`` and ``sqrt(N) s_j`` (the
sample means of ``cos(t_j X)`` and ``sin(t_j X)``) are asymptotically Gaussian with

    Cov[cos tX, cos sX] = (phi(t - s) + phi(t + s)) / 2 - phi(t) phi(s)
    Cov[sin tX, sin sX] = (phi(t - s) - phi(t + s)) / 2,   cos and sin uncorrelated,

so the ``lambda_i`` are the eigenvalues of ``W^1/2 C W^1/2`` for both covariances. Their
sum is the exact null mean at every N (1.0525 on the default grid). Tail
probabilities come from Imhof's (1961) inversion of the characteristic function,

    P(Q > q) = 1/2 + (1/pi) int_0^inf sin(theta(u)) / (u rho(u)) du,
    theta(u) = sum_i arctan(lambda_i u) / 2 - q u / 2,  rho(u) = prod_i (1 + lambda_i^2 u^2)^(1/4),

by the midpoint rule with step 0.02 up to u = 500 (the integrand then is below 1e-7
and oscillates), tabulated once per statistic on a grid of q, all at once by one FFT (on the
grid ``q_k = k * 4 pi / (L * 0.02)`` the rule's sum over u is a discrete Fourier transform of
length L); beyond the table
``log P`` is extrapolated linearly with the exact slope ``-1 / (2 lambda_max)``.
Against 2 million Monte Carlo draws the table is within 1e-4 (tests/pvalues/test_sliced.py).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._core.arrays import device

Array = Any

_STEP_U = 0.02
_MAX_U = 500.0
_FFT_SIZE = 1 << 16  # the table's step in q: 4 pi / (2^16 * 0.02) = 0.0096
_SMALLEST_TABLED = 1e-9  # survival probabilities below this are extrapolated


def chi2_weights(knots: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The ``lambda_i`` of ``N sum_j w_j |ecf(t_j) - phi(t_j)|^2`` under the null, largest first."""
    t, s = np.meshgrid(knots, knots, indexing="ij")

    def phi(x: np.ndarray) -> np.ndarray:
        out: np.ndarray = np.exp(-0.5 * x * x)
        return out

    cos_cov = (phi(t - s) + phi(t + s)) / 2 - phi(t) * phi(s)
    sin_cov = (phi(t - s) - phi(t + s)) / 2
    root = np.sqrt(weights)
    lambdas = np.concatenate(
        [np.linalg.eigvalsh(root[:, None] * cov * root[None, :]) for cov in (cos_cov, sin_cov)]
    )
    lambdas = np.sort(np.clip(lambdas, 0.0, None))[::-1]
    kept: np.ndarray = lambdas[lambdas > 1e-14 * lambdas[0]]
    return kept


def imhof_survival(q: np.ndarray, lambdas: np.ndarray) -> np.ndarray:
    """``P(sum_i lambda_i chi2_1 > q)`` for each ``q``, by Imhof's integral."""
    u = (np.arange(int(_MAX_U / _STEP_U)) + 0.5) * _STEP_U  # midpoints: no 1/u at 0
    half_arctan = 0.5 * np.sum(np.arctan(np.outer(u, lambdas)), axis=1)
    log_rho = 0.25 * np.sum(np.log1p(np.outer(u, lambdas) ** 2), axis=1)
    scale = np.exp(-log_rho) / u
    out = np.empty(len(q))
    for start in range(0, len(q), 128):  # bounded memory: 25,000 x 128 at a time
        qs = q[start : start + 128]
        theta = half_arctan[:, None] - 0.5 * np.outer(u, qs)
        out[start : start + len(qs)] = 0.5 + _STEP_U * (scale @ np.sin(theta)) / math.pi
    return np.clip(out, 0.0, 1.0)


@dataclass(frozen=True)
class SurvivalTable:
    """``log P(Q > q)`` on ``q = 0, step, 2 step, ...``, and the slope of its tail."""

    step: float
    log_sf: tuple[float, ...]
    tail_slope: float


def imhof_survival_grid(count: int, lambdas: np.ndarray) -> tuple[float, np.ndarray]:
    """``imhof_survival`` at ``q = 0, step, ..., (count - 1) step``: the step, and the values.

    The same midpoint sum, ``sum_m c_m sin(theta_0(u_m) - q_k u_m / 2)`` with ``u_m = (m + 1/2) h``:
    for ``q_k = k * 4 pi / (L h)`` it is the imaginary part of
    ``exp(-i pi k / L) * FFT_L(c e^(i theta_0))[k]``.
    """
    if count > _FFT_SIZE // 2:
        raise ValueError(f"at most {_FFT_SIZE // 2} points of q, got {count}")
    u = (np.arange(int(_MAX_U / _STEP_U)) + 0.5) * _STEP_U
    half_arctan = 0.5 * np.sum(np.arctan(np.outer(u, lambdas)), axis=1)
    log_rho = 0.25 * np.sum(np.log1p(np.outer(u, lambdas) ** 2), axis=1)
    spectrum = np.fft.fft(np.exp(1j * half_arctan - log_rho) / u, _FFT_SIZE)[:count]
    k = np.arange(count)
    sf = 0.5 + _STEP_U * np.imag(np.exp(-1j * math.pi * k / _FFT_SIZE) * spectrum) / math.pi
    return 4.0 * math.pi / (_FFT_SIZE * _STEP_U), np.clip(sf, 0.0, 1.0)


@functools.cache
def survival_table(lambdas: tuple[float, ...]) -> SurvivalTable:
    lam = np.asarray(lambdas)
    # The tail is that of lambda_max chi2: P ~ C q^(r/2 - 1) exp(-q / (2 lambda_max)).
    q_max = float(np.sum(lam)) - 2.0 * lam[0] * math.log(_SMALLEST_TABLED)
    step = 4.0 * math.pi / (_FFT_SIZE * _STEP_U)
    step, sf = imhof_survival_grid(int(q_max / step) + 2, lam)
    sf[0] = 1.0
    last = int(np.nonzero(sf > _SMALLEST_TABLED)[0][-1])
    log_sf = np.log(np.maximum(sf[: last + 1], 1e-300))
    return SurvivalTable(step, tuple(log_sf.tolist()), -0.5 / float(lam[0]))


def survival(values: Array, table: SurvivalTable, xp: Any) -> Array:
    """``P(Q > value)`` for an array of statistic values, on their device (no host sync)."""
    log_sf = xp.asarray(table.log_sf, dtype=values.dtype, device=device(values))
    # A NaN value reads the table at 0 (a cast of NaN to an integer is undefined: an index out
    # of range on some libraries), and its p-value is NaN again at the end.
    nan = xp.isnan(values)
    position = xp.clip(xp.where(nan, xp.zeros_like(values), values), 0.0, None) / table.step
    last = len(table.log_sf) - 1
    index = xp.astype(xp.clip(xp.floor(position), 0, last - 1), xp.int32)
    frac = position - xp.astype(index, values.dtype)
    below = xp.take(log_sf, xp.reshape(index, (-1,)))
    above = xp.take(log_sf, xp.reshape(index + 1, (-1,)))
    inside = xp.reshape(below + (above - below) * xp.reshape(frac, (-1,)), values.shape)
    beyond = table.log_sf[-1] + table.tail_slope * (position - last) * table.step
    pvalue = xp.exp(xp.where(position > last, beyond, inside))
    return xp.where(nan, xp.full_like(pvalue, math.nan), pvalue)
