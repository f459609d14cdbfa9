"""Empirical characteristic function sums and their vector-Jacobian product.

Array-agnostic: every function takes the namespace ``xp`` and a :class:`Plan`
explicitly and uses only the array API standard. For projections ``u`` of
shape (..., N, K) and knots ``t_j = j dt`` (j = 1 .. J) the sums over the sample
axis of ``exp(i t_j u)`` are computed in complex arithmetic: the phase
``w = exp(i dt u)`` is evaluated once and ``exp(i t_j u)`` follows by one complex
multiplication per knot, so a knot costs two array operations (multiply, sum)
and nothing of size N x K x J is ever built.

Each multiplication adds a rounding error of order eps, so after many knots
the recurrence drifts from direct evaluation; it is re-anchored with a direct
``exp(i t_j u)`` every :data:`ANCHOR_EVERY` knots, which keeps float32 at the
accuracy of direct evaluation for any number of knots (docs/design.md).
"""

from __future__ import annotations

from typing import Any

from ._grid import Grid
from ._plan import Plan
from ._xp import device as _device

Array = Any

# Knots between direct evaluations: enough that the default grid (16 knots) is
# one chunk with no extra work, few enough that float32 drift stays below the
# error of direct evaluation.
ANCHOR_EVERY = 16


def _complex_dtype(xp: Any, dtype: Any) -> Any:
    return xp.complex128 if dtype == xp.float64 else xp.complex64


def _chunks(grid: Grid) -> tuple[int, int, int]:
    """Knots in the first chunk (anchored by ``w`` itself), full chunks after it, knots left over."""
    first = min(ANCHOR_EVERY, len(grid.t))
    middle, rest = divmod(len(grid.t) - first, ANCHOR_EVERY)
    return first, middle, rest


def _anchors(grid: Grid, starts: range, like: Array, xp: Any) -> Array:
    """The first knot ``t_j`` of each chunk in ``starts``, real like ``like``."""
    return xp.asarray([grid.t[j] for j in starts], dtype=like.dtype, device=_device(like))


def _phase(angle: Array, xp: Any) -> Array:
    """``exp(i angle)`` from a real cosine and sine: libraries evaluate complex ``exp``
    elementwise without vector instructions (NumPy 30x, PyTorch 4x slower)."""
    cdtype = _complex_dtype(xp, angle.dtype)
    return xp.astype(xp.cos(angle), cdtype) + xp.astype(xp.sin(angle), cdtype) * 1j


def _block_sums(u: Array, grid: Grid, xp: Any, plan: Plan) -> Array:
    """``sum_n exp(i t_j u_nk)`` for one block of rows: complex, shape (J, ..., K)."""
    w = _phase(grid.dt * u, xp)

    def knots(p: Array, length: int) -> Array:
        def step(p: Array, _: Any) -> tuple[Array, Array]:
            return p * w, xp.sum(p, axis=-2)

        return plan.scan(step, p, None, length)[1]

    def chunk(carry: Any, anchor: Array) -> tuple[Any, Array]:
        return carry, knots(_phase(anchor * u, xp), ANCHOR_EVERY)

    first, middle, rest = _chunks(grid)
    parts = [knots(w, first)]
    if middle:
        starts = range(first, first + middle * ANCHOR_EVERY, ANCHOR_EVERY)
        _, sums = plan.scan(chunk, None, _anchors(grid, starts, u, xp))
        parts.append(xp.reshape(sums, (middle * ANCHOR_EVERY, *sums.shape[2:])))
    if rest:
        parts.append(knots(_phase(grid.t[-rest] * u, xp), rest))
    return parts[0] if len(parts) == 1 else xp.concat(parts, axis=0)


def _row_blocks(u: Array, rows: int, xp: Any) -> tuple[Array, Array]:
    """``u`` (..., N, K) as full blocks (B, ..., rows, K) and the remaining rows (..., N % rows, K)."""
    *batch, n, k = u.shape
    count = n // rows
    blocks = xp.reshape(u[..., : count * rows, :], (*batch, count, rows, k))
    return xp.moveaxis(blocks, -3, 0), u[..., count * rows :, :]


def _block_rows(u: Array, plan: Plan) -> int | None:
    """Rows per block, or None when the plan processes all rows of ``u`` at once."""
    rows = plan.block_rows
    return rows if rows is not None and rows < u.shape[-2] else None


def ecf_sums(u: Array, grid: Grid, xp: Any, plan: Plan) -> Array:
    """Sums over the sample axis ``-2`` of ``cos(t_j u)`` and ``sin(t_j u)``.

    ``u`` has shape ``(..., N, K)``; the result has shape ``(..., K, 2J)``: the
    cosine sums of knots ``1 .. J``, then the sine sums.
    """
    if plan.kernel is not None:
        return plan.kernel.ecf_sums(u, grid.dt, len(grid.t))
    rows = _block_rows(u, plan)
    if rows is None:
        sums = _block_sums(u, grid, xp, plan)
    else:
        blocks, rest = _row_blocks(u, rows, xp)

        def add(total: Array, block: Array) -> tuple[Array, None]:
            return total + _block_sums(block, grid, xp, plan), None

        shape = (len(grid.t), *u.shape[:-2], u.shape[-1])
        zero = xp.zeros(shape, dtype=_complex_dtype(xp, u.dtype), device=_device(u))
        sums, _ = plan.scan(add, zero, blocks)
        if rest.shape[-2]:
            sums = sums + _block_sums(rest, grid, xp, plan)
    sums = xp.moveaxis(sums, 0, -1)
    return xp.concat([xp.real(sums), xp.imag(sums)], axis=-1)


def _block_vjp(u: Array, coef: Array, grid: Grid, xp: Any, plan: Plan) -> Array:
    """``Re sum_j coef_j exp(i t_j u)`` for one block of rows; ``coef`` is (J, ..., 1, K).

    Each chunk of knots is a polynomial in ``w = exp(i dt u)``, evaluated by
    Horner's rule (a multiply and an add per knot) and rotated by its anchor.
    """
    w = _phase(grid.dt * u, xp)

    def horner(coefs: Array) -> Array:
        def step(h: Array, c: Array) -> tuple[Array, None]:
            return h * w + c, None

        return plan.scan(step, xp.zeros_like(w), xp.flip(coefs, axis=0))[0]

    def chunk(total: Array, x: tuple[Array, Array]) -> tuple[Array, None]:
        anchor, coefs = x
        return total + xp.real(horner(coefs) * _phase(anchor * u, xp)), None

    first, middle, rest = _chunks(grid)
    total = xp.real(horner(coef[:first, ...]) * w)
    if middle:
        stop = first + middle * ANCHOR_EVERY
        coefs = xp.reshape(coef[first:stop, ...], (middle, ANCHOR_EVERY, *coef.shape[1:]))
        anchors = _anchors(grid, range(first, stop, ANCHOR_EVERY), u, xp)
        total, _ = plan.scan(chunk, total, (anchors, coefs))
    if rest:
        total = total + xp.real(horner(coef[-rest:, ...]) * _phase(grid.t[-rest] * u, xp))
    return total


def ecf_sums_vjp(u: Array, sums_bar: Array, grid: Grid, xp: Any, plan: Plan) -> Array:
    """Gradient with respect to ``u`` (..., N, K) of :func:`ecf_sums`, given its cotangent (..., K, 2J).

    ``d/du_nk = sum_j t_j [sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk)]``
    ``= Re sum_j t_j (sin_bar_kj + i cos_bar_kj) exp(i t_j u_nk)``: it needs only the
    sample's own projection, so it is evaluated block by block like the sums.
    """
    num_knots = len(grid.t)
    if plan.kernel is not None:
        return plan.kernel.ecf_sums_vjp(u, sums_bar, grid.dt, num_knots)
    cdtype = _complex_dtype(xp, u.dtype)
    t = xp.asarray(grid.t, dtype=u.dtype, device=_device(u))
    cos_bar, sin_bar = sums_bar[..., :num_knots] * t, sums_bar[..., num_knots:] * t
    coef = xp.astype(sin_bar, cdtype) + xp.astype(cos_bar, cdtype) * 1j  # (..., K, J)
    coef = xp.moveaxis(coef, -1, 0)[..., None, :]  # (J, ..., 1, K)
    rows = _block_rows(u, plan)
    if rows is None:
        return _block_vjp(u, coef, grid, xp, plan)
    blocks, rest = _row_blocks(u, rows, xp)
    _, grads = plan.scan(lambda _, block: (None, _block_vjp(block, coef, grid, xp, plan)), None, blocks)
    *batch, rows, k = blocks.shape[1:]
    grad = xp.reshape(xp.moveaxis(grads, 0, -3), (*batch, blocks.shape[0] * rows, k))
    if rest.shape[-2]:
        grad = xp.concat([grad, _block_vjp(rest, coef, grid, xp, plan)], axis=-2)
    return grad


def statistic_from_sums(sums: Array, n: Any, grid: Grid, xp: Any) -> Array:
    """``EP_k = n * sum_j W_j ((C_kj - phi_j)^2 + S_kj^2)`` with ``C = cos_sum / n``; shape (..., K)."""
    phi, weight = _knot_constants(grid, sums, xp)
    j = len(grid.t)
    err = (sums[..., :j] / n - phi) ** 2 + (sums[..., j:] / n) ** 2
    return n * xp.sum(err * weight, axis=-1)


def statistic_from_sums_vjp(sums: Array, n: Any, values_bar: Array, grid: Grid, xp: Any) -> Array:
    """Gradient of :func:`statistic_from_sums` with respect to the sums, shape (..., K, 2J)."""
    phi, weight = _knot_constants(grid, sums, xp)
    j = len(grid.t)
    scale = 2.0 * weight * values_bar[..., None]
    return xp.concat([scale * (sums[..., :j] / n - phi), scale * (sums[..., j:] / n)], axis=-1)


def _knot_constants(grid: Grid, like: Array, xp: Any) -> tuple[Array, Array]:
    def const(values: tuple[float, ...]) -> Array:
        return xp.asarray(values, dtype=like.dtype, device=_device(like))

    return const(grid.phi), const(grid.weight)


def direct_ecf(x: Array, t: tuple[float, ...], xp: Any) -> tuple[Array, Array]:
    """Means over axis -2 of ``cos(t x)`` and ``sin(t x)`` for each knot in ``t``: (..., K, len(t)).

    Direct evaluation at arbitrary knots (no recurrence), one knot at a time.
    """
    n = x.shape[-2]
    cos = [xp.sum(xp.cos(tj * x), axis=-2) / n for tj in t]
    sin = [xp.sum(xp.sin(tj * x), axis=-2) / n for tj in t]
    return xp.stack(cos, axis=-1), xp.stack(sin, axis=-1)
