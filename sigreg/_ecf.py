"""Empirical characteristic function sums and their vector-Jacobian product.

Array-agnostic: every function takes the namespace ``xp`` explicitly and uses
only the array API standard. Nothing of size N x K x P is ever built: the
knots are visited one at a time, and ``cos(t_j u)``, ``sin(t_j u)`` follow from
``cos(dt u)``, ``sin(dt u)`` by angle addition (notes section 3), so only two
transcendental evaluations are made per projected value. The sample axis is
processed in blocks of ``block_rows`` rows so that the working set of the
per-knot loop stays in cache on CPUs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ._grid import Grid
from ._xp import device as _device

Array = Any


def _row_blocks(n: int, block_rows: int | None) -> Iterator[slice]:
    step = n if block_rows is None else max(1, block_rows)
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def _rotations(u: Array, grid: Grid, xp: Any) -> Iterator[tuple[Array, Array]]:
    """Yield ``(cos(t_j u), sin(t_j u))`` for the knots ``t_1 .. t_{P-1}``."""
    c1 = xp.cos(grid.dt * u)
    s1 = xp.sin(grid.dt * u)
    c, s = c1, s1
    yield c, s
    for _ in range(len(grid.t) - 1):
        c, s = c * c1 - s * s1, s * c1 + c * s1
        yield c, s


def ecf_sums(u: Array, grid: Grid, xp: Any, block_rows: int | None) -> tuple[Array, Array]:
    """Sums over the sample axis ``-2`` of ``cos(t_j u)`` and ``sin(t_j u)``.

    ``u`` has shape ``(..., N, K)``; both results have shape ``(..., K, P-1)``.
    """
    cos_sums: list[Array] = []
    sin_sums: list[Array] = []
    for rows in _row_blocks(u.shape[-2], block_rows):
        for j, (c, s) in enumerate(_rotations(u[..., rows, :], grid, xp)):
            c_sum = xp.sum(c, axis=-2)
            s_sum = xp.sum(s, axis=-2)
            if j < len(cos_sums):
                cos_sums[j] = cos_sums[j] + c_sum
                sin_sums[j] = sin_sums[j] + s_sum
            else:
                cos_sums.append(c_sum)
                sin_sums.append(s_sum)
    return xp.stack(cos_sums, axis=-1), xp.stack(sin_sums, axis=-1)


def _knot_constants(grid: Grid, like: Array, xp: Any) -> tuple[Array, Array, Array]:
    def const(values: tuple[float, ...]) -> Array:
        return xp.asarray(values, dtype=like.dtype, device=_device(like))

    return const(grid.t), const(grid.phi), const(grid.weight)


def statistic_from_sums(cos_sum: Array, sin_sum: Array, n: Any, grid: Grid, xp: Any) -> Array:
    """``EP_k = n * sum_j W_j ((C_kj - phi_j)^2 + S_kj^2)`` with ``C = cos_sum / n``; shape (..., K)."""
    _, phi, weight = _knot_constants(grid, cos_sum, xp)
    err = (cos_sum / n - phi) ** 2 + (sin_sum / n) ** 2
    return n * xp.sum(err * weight, axis=-1)


def statistic_sums_vjp(
    cos_sum: Array, sin_sum: Array, n: Any, ep_bar: Array, grid: Grid, xp: Any
) -> tuple[Array, Array]:
    """Gradient of :func:`statistic_from_sums` with respect to the two sums."""
    _, phi, weight = _knot_constants(grid, cos_sum, xp)
    scale = 2.0 * weight * ep_bar[..., None]
    return scale * (cos_sum / n - phi), scale * (sin_sum / n)


def ecf_sums_vjp(
    u: Array, cos_bar: Array, sin_bar: Array, grid: Grid, xp: Any, block_rows: int | None
) -> Array:
    """Gradient with respect to ``u`` (..., N, K) of the sums, given their cotangents (..., K, P-1).

    ``d/du_nk = sum_j t_j [sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk)]``: with the
    cotangents of the statistic this is notes section 3's
    ``2 sum_j W_j t_j [S_kj cos(t_j u_nk) - (C_kj - phi_j) sin(t_j u_nk)]``. It needs only the
    sample's own projection, so it is evaluated block by block like the sums.
    """
    t, _, _ = _knot_constants(grid, cos_bar, xp)
    cos_coef, sin_coef = t * sin_bar, -t * cos_bar
    cos_coefs = [cos_coef[..., None, :, j] for j in range(len(grid.t))]
    sin_coefs = [sin_coef[..., None, :, j] for j in range(len(grid.t))]
    blocks = []
    for rows in _row_blocks(u.shape[-2], block_rows):
        g = None
        for j, (c, s) in enumerate(_rotations(u[..., rows, :], grid, xp)):
            term = cos_coefs[j] * c + sin_coefs[j] * s
            g = term if g is None else g + term
        blocks.append(g)
    return blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=-2)
