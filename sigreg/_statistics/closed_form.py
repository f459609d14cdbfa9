"""Closed form of the Epps-Pulley statistic over the whole real line (docs/numbers.md).

``T = sqrt(2 pi) [ (1/N) sum_{j,k} exp(-(x_j-x_k)^2/2) - sqrt(2) sum_j exp(-x_j^2/4) + N/sqrt(3) ]``

No truncation and no quadrature, but O(N^2) work per slice: for validation and
small N. It is a difference of O(N) terms with an O(1) result, so it loses about
``log10(N)`` digits to cancellation: in float32 prefer the trapezoid rule.
"""

from __future__ import annotations

import math
from typing import Any

from .._core.plan import row_slices

Array = Any

_SQRT_2PI = math.sqrt(2.0 * math.pi)
# Rows of the first sample index per block, so that a block of pairwise
# differences (rows x N x K) stays near this many elements.
_PAIR_BLOCK_ELEMENTS = 1 << 22


def _pair_block_rows(u: Array) -> int:
    n, k = u.shape[-2], u.shape[-1]
    return max(1, _PAIR_BLOCK_ELEMENTS // max(1, int(n) * int(k)))


def exact_statistic(u: Array, xp: Any, unbiased: bool = False) -> Array:
    """The closed form for each slice of ``u`` (..., N, K); result (..., K).

    ``unbiased``: the pair sum without its ``N`` diagonal terms (each 1), over ``N - 1``.
    """
    n = u.shape[-2]
    pair = None
    for rows in row_slices(n, _pair_block_rows(u)):
        d = u[..., rows, None, :] - u[..., None, :, :]
        part = xp.sum(xp.exp(-0.5 * d * d), axis=(-3, -2))
        pair = part if pair is None else pair + part
    single = xp.sum(xp.exp(-0.25 * u * u), axis=-2)
    pairs = (pair - n) / (n - 1) if unbiased else pair / n
    return _SQRT_2PI * (pairs - math.sqrt(2.0) * single + n / math.sqrt(3.0))


def exact_vjp(u: Array, ep_bar: Array, xp: Any, unbiased: bool = False) -> Array:
    """Gradient of the closed form with respect to ``u``, times ``ep_bar`` (..., K).

    ``dT/dx_m = sqrt(2 pi) [ -(2/N) sum_l d_ml exp(-d_ml^2/2) + (x_m/sqrt 2) exp(-x_m^2/4) ]``
    with ``d_ml = x_m - x_l`` (``N - 1`` for ``N`` in the first term when ``unbiased``: the
    diagonal terms are constants).
    """
    n = u.shape[-2]
    blocks = []
    for rows in row_slices(n, _pair_block_rows(u)):
        d = u[..., rows, None, :] - u[..., None, :, :]
        blocks.append(xp.sum(d * xp.exp(-0.5 * d * d), axis=-2))
    pair = blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=-2)
    single = u * xp.exp(-0.25 * u * u) / math.sqrt(2.0)
    pairs = n - 1 if unbiased else n
    return (_SQRT_2PI * ep_bar[..., None, :]) * (-2.0 / pairs * pair + single)
