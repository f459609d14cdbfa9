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

from collections.abc import Callable
from typing import Any

from .._core.arrays import constant as _constant
from .._core.plan import Plan
from .quadrature import Grid

Array = Any

# Knots between direct evaluations: enough that the default grid (16 knots) is
# one chunk with no extra work, few enough that float32 drift stays below the
# error of direct evaluation.
ANCHOR_EVERY = 16


def _complex_dtype(xp: Any, dtype: Any) -> Any:
    return xp.complex128 if dtype == xp.float64 else xp.complex64


class _ComplexArrays:
    """Complex numbers as complex arrays: one array operation per complex operation."""

    def __init__(self, xp: Any) -> None:
        self.xp = xp

    def phase(self, angle: Array) -> Array:
        """``exp(i angle)`` from a real cosine and sine: libraries evaluate complex ``exp``
        elementwise without vector instructions (NumPy 30x, PyTorch 4x slower)."""
        return self.combine(self.xp.cos(angle), self.xp.sin(angle))

    def combine(self, re: Array, im: Array) -> Array:
        cdtype = _complex_dtype(self.xp, re.dtype)
        return self.xp.astype(re, cdtype) + self.xp.astype(im, cdtype) * 1j

    def parts(self, a: Array) -> tuple[Array, Array]:
        return self.xp.real(a), self.xp.imag(a)

    def each(self, a: Array, f: Callable[[Array], Array]) -> Array:
        return f(a)

    def mul(self, a: Array, b: Array) -> Array:
        return a * b

    def muladd(self, a: Array, b: Array, c: Array) -> Array:
        return a * b + c

    def add(self, a: Array, b: Array) -> Array:
        return a + b

    def real_of_mul(self, a: Array, b: Array) -> Array:
        return self.xp.real(a * b)

    def zeros_like(self, like: Array) -> Array:
        # From ``like``, not from a shape: inside shard_map the zeros then vary
        # over the mapped axis like ``like``, as a scan carry must.
        return self.xp.zeros_like(like, dtype=_complex_dtype(self.xp, like.dtype))


class _RealPairs(_ComplexArrays):
    """Complex numbers as (real, imaginary) pairs of real arrays, for compilers that
    generate no code for complex operations (TorchInductor): more operations, all fusable."""

    def combine(self, re: Array, im: Array) -> Any:
        return re, im

    def parts(self, a: Any) -> tuple[Array, Array]:
        re, im = a
        return re, im

    def each(self, a: Any, f: Callable[[Array], Array]) -> Any:
        return f(a[0]), f(a[1])

    def mul(self, a: Any, b: Any) -> Any:
        return a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]

    def muladd(self, a: Any, b: Any, c: Any) -> Any:
        re, im = self.mul(a, b)
        return re + c[0], im + c[1]

    def add(self, a: Any, b: Any) -> Any:
        return a[0] + b[0], a[1] + b[1]

    def real_of_mul(self, a: Any, b: Any) -> Array:
        return a[0] * b[0] - a[1] * b[1]

    def zeros_like(self, like: Array) -> Any:
        zero = self.xp.zeros_like(like)
        return zero, zero


def _arithmetic(xp: Any, plan: Plan) -> _ComplexArrays:
    return _RealPairs(xp) if plan.real_pairs else _ComplexArrays(xp)


def _chunks(grid: Grid) -> tuple[int, int, int]:
    """Knots in the first chunk (anchored by ``w`` itself), full chunks after it, knots left over."""
    first = min(ANCHOR_EVERY, len(grid.t))
    middle, rest = divmod(len(grid.t) - first, ANCHOR_EVERY)
    return first, middle, rest


def _anchors(grid: Grid, starts: range, like: Array, xp: Any) -> Array:
    """The first knot ``t_j`` of each chunk in ``starts``, real like ``like``."""
    return _constant(tuple(grid.t[j] for j in starts), like, xp)


def _block_sums(u: Array, grid: Grid, c: _ComplexArrays, plan: Plan) -> Any:
    """``sum_n exp(i t_j u_nk)`` for one block of rows: complex, shape (J, ..., K)."""
    xp = c.xp
    w = c.phase(grid.dt * u)

    def knots(p: Any, length: int) -> Any:
        def step(p: Any, _: Any) -> tuple[Any, Any]:
            return c.mul(p, w), c.each(p, lambda a: xp.sum(a, axis=-2))

        return plan.scan(step, p, None, length)[1]

    def chunk(carry: Any, anchor: Array) -> tuple[Any, Any]:
        return carry, knots(c.phase(anchor * u), ANCHOR_EVERY)

    first, middle, rest = _chunks(grid)
    parts = [knots(w, first)]
    if middle:
        starts = range(first, first + middle * ANCHOR_EVERY, ANCHOR_EVERY)
        _, sums = plan.scan(chunk, None, _anchors(grid, starts, u, xp))
        parts.append(c.each(sums, lambda a: xp.reshape(a, (middle * ANCHOR_EVERY, *a.shape[2:]))))
    if rest:
        parts.append(knots(c.phase(grid.t[-rest] * u), rest))
    if len(parts) == 1:
        return parts[0]
    return c.combine(*(xp.concat(list(p), axis=0) for p in zip(*(c.parts(q) for q in parts), strict=True)))


def _scan_blocks(u: Array, rows: int, xp: Any) -> tuple[Array, Array]:
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
    if not grid.uniform:
        return _direct_sums(u, grid.t, xp)
    if plan.kernel is not None:
        return plan.kernel.ecf_sums(u, grid.dt, len(grid.t))
    if plan.fused_knots:
        return _fused_sums(u, grid, xp)
    c = _arithmetic(xp, plan)
    rows = _block_rows(u, plan)
    if rows is None:
        sums = _block_sums(u, grid, c, plan)
    else:
        blocks, rest = _scan_blocks(u, rows, xp)

        def add(total: Any, block: Array) -> tuple[Any, None]:
            return c.add(total, _block_sums(block, grid, c, plan)), None

        # The first block starts the total (not zeros: under shard_map a scan's
        # carry must vary over the mapped axis as the data does).
        sums, _ = plan.scan(add, _block_sums(blocks[0, ...], grid, c, plan), blocks[1:, ...])
        if rest.shape[-2]:
            sums = c.add(sums, _block_sums(rest, grid, c, plan))
    return xp.concat([xp.moveaxis(part, 0, -1) for part in c.parts(sums)], axis=-1)


def _block_vjp(u: Array, coef: Any, grid: Grid, c: _ComplexArrays, plan: Plan) -> Array:
    """``Re sum_j coef_j exp(i t_j u)`` for one block of rows; ``coef`` is (J, ..., 1, K).

    Each chunk of knots is a polynomial in ``w = exp(i dt u)``, evaluated by
    Horner's rule (a multiply and an add per knot) and rotated by its anchor.
    """
    xp = c.xp
    w = c.phase(grid.dt * u)

    def horner(coefs: Any) -> Any:
        def step(h: Any, a: Any) -> tuple[Any, None]:
            return c.muladd(h, w, a), None

        return plan.scan(step, c.zeros_like(u), c.each(coefs, lambda a: xp.flip(a, axis=0)))[0]

    def chunk(total: Array, x: tuple[Array, Any]) -> tuple[Array, None]:
        anchor, coefs = x
        return total + c.real_of_mul(horner(coefs), c.phase(anchor * u)), None

    first, middle, rest = _chunks(grid)
    total = c.real_of_mul(horner(c.each(coef, lambda a: a[:first, ...])), w)
    if middle:
        stop = first + middle * ANCHOR_EVERY
        coefs = c.each(coef, lambda a: xp.reshape(a[first:stop, ...], (middle, ANCHOR_EVERY, *a.shape[1:])))
        anchors = _anchors(grid, range(first, stop, ANCHOR_EVERY), u, xp)
        total, _ = plan.scan(chunk, total, (anchors, coefs))
    if rest:
        last = horner(c.each(coef, lambda a: a[-rest:, ...]))
        total = total + c.real_of_mul(last, c.phase(grid.t[-rest] * u))
    return total


def ecf_sums_vjp(u: Array, sums_bar: Array, grid: Grid, xp: Any, plan: Plan) -> Array:
    """Gradient with respect to ``u`` (..., N, K) of :func:`ecf_sums`, given its cotangent (..., K, 2J).

    ``d/du_nk = sum_j t_j [sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk)]``
    ``= Re sum_j t_j (sin_bar_kj + i cos_bar_kj) exp(i t_j u_nk)``: it needs only the
    sample's own projection, so it is evaluated block by block like the sums.
    """
    num_knots = len(grid.t)
    if not grid.uniform:
        return _direct_sums_vjp(u, sums_bar, grid.t, xp)
    if plan.kernel is not None:
        return plan.kernel.ecf_sums_vjp(u, sums_bar, grid.dt, num_knots)
    if plan.fused_knots:
        return _fused_sums_vjp(u, sums_bar, grid, xp)
    c = _arithmetic(xp, plan)
    t = _constant(grid.t, u, xp)
    cos_bar, sin_bar = sums_bar[..., :num_knots] * t, sums_bar[..., num_knots:] * t
    coef = c.each(
        c.combine(sin_bar, cos_bar), lambda a: xp.moveaxis(a, -1, 0)[..., None, :]
    )  # (J, ..., 1, K)
    rows = _block_rows(u, plan)
    if rows is None:
        return _block_vjp(u, coef, grid, c, plan)
    blocks, rest = _scan_blocks(u, rows, xp)
    _, grads = plan.scan(lambda _, block: (None, _block_vjp(block, coef, grid, c, plan)), None, blocks)
    *batch, rows, k = blocks.shape[1:]
    grad = xp.reshape(xp.moveaxis(grads, 0, -3), (*batch, blocks.shape[0] * rows, k))
    if rest.shape[-2]:
        grad = xp.concat([grad, _block_vjp(rest, coef, grid, c, plan)], axis=-2)
    return grad


def statistic_from_sums(sums: Array, n: Any, grid: Grid, xp: Any, unbiased: bool = False) -> Array:
    """``EP_k = n * sum_j W_j ((C_kj - phi_j)^2 + S_kj^2)`` with ``C = cos_sum / n``; shape (..., K).

    ``unbiased``: ``C^2 + S^2`` (which holds the ``i = j`` pairs, each 1) becomes the
    U-statistic ``(n (C^2 + S^2) - 1) / (n - 1)``, so the value has mean 0 under N(0, 1).
    """
    phi, weight = _knot_constants(grid, sums, xp)
    j = len(grid.t)
    c, s = sums[..., :j] / n, sums[..., j:] / n
    err = (c - phi) ** 2 + s**2
    if unbiased:
        # (n |ecf|^2 - 1) / (n - 1) - 2 phi C + phi^2, written without the cancellation of
        # its O(1) terms down to an O(1/n) result (float32 would lose log10(n) digits).
        err = err + (c * c + s * s - 1.0) / (n - 1.0)
    return n * xp.sum(err * weight, axis=-1)


def statistic_from_sums_vjp(
    sums: Array, n: Any, values_bar: Array, grid: Grid, xp: Any, unbiased: bool = False
) -> Array:
    """Gradient of :func:`statistic_from_sums` with respect to the sums, shape (..., K, 2J)."""
    phi, weight = _knot_constants(grid, sums, xp)
    j = len(grid.t)
    scale = 2.0 * weight * values_bar[..., None]
    c, s = sums[..., :j] / n, sums[..., j:] / n
    if unbiased:
        # The derivative of (C^2 + S^2 - 1) / (n - 1) added to that of the plain form.
        return xp.concat([scale * (c - phi + c / (n - 1.0)), scale * (s + s / (n - 1.0))], axis=-1)
    return xp.concat([scale * (c - phi), scale * s], axis=-1)


def _knot_constants(grid: Grid, like: Array, xp: Any) -> tuple[Array, Array]:
    # Made once per device, not copied from the host at every call (no stream sync).
    return _constant(grid.phi, like, xp), _constant(grid.weight, like, xp)


def direct_ecf(x: Array, t: tuple[float, ...], xp: Any) -> tuple[Array, Array]:
    """Means over axis -2 of ``cos(t x)`` and ``sin(t x)`` for each knot in ``t``: (..., K, len(t)).

    Direct evaluation at arbitrary knots (no recurrence), one knot at a time.
    """
    n = x.shape[-2]
    cos = [xp.sum(xp.cos(tj * x), axis=-2) / n for tj in t]
    sin = [xp.sum(xp.sin(tj * x), axis=-2) / n for tj in t]
    return xp.stack(cos, axis=-1), xp.stack(sin, axis=-1)


def _direct_sums(u: Array, t: tuple[float, ...], xp: Any) -> Array:
    """:func:`ecf_sums` at arbitrary (non-uniform) knots: one cosine and sine per knot, O(N*K)
    memory per knot. Quadratures with few nodes (Gauss-Hermite) need no recurrence."""
    cos = [xp.sum(xp.cos(tj * u), axis=-2) for tj in t]
    sin = [xp.sum(xp.sin(tj * u), axis=-2) for tj in t]
    return xp.stack(cos + sin, axis=-1)


def _knot_axis(grid: Grid, u: Array, xp: Any) -> Array:
    """The knots as a (J, 1, ..., 1) array that broadcasts against ``u[None]``."""
    return xp.reshape(_constant(grid.t, u, xp), (len(grid.t),) + (1,) * u.ndim)


def _fused_sums(u: Array, grid: Grid, xp: Any) -> Array:
    """:func:`ecf_sums` as two reductions over the sample axis of a (J, ..., N, K) expression,
    which a fusing compiler evaluates without materialising it (``Plan.fused_knots``)."""
    angles = _knot_axis(grid, u, xp) * u[None, ...]
    cos, sin = xp.sum(xp.cos(angles), axis=-2), xp.sum(xp.sin(angles), axis=-2)
    return xp.concat([xp.moveaxis(cos, 0, -1), xp.moveaxis(sin, 0, -1)], axis=-1)


def _fused_sums_vjp(u: Array, sums_bar: Array, grid: Grid, xp: Any) -> Array:
    """:func:`ecf_sums_vjp` as one reduction over the knot axis (``Plan.fused_knots``)."""
    j = len(grid.t)
    t = _knot_axis(grid, u, xp)
    cos_bar = xp.moveaxis(sums_bar[..., :j], -1, 0)[..., None, :]  # (J, ..., 1, K)
    sin_bar = xp.moveaxis(sums_bar[..., j:], -1, 0)[..., None, :]
    angles = t * u[None, ...]
    return xp.sum(t * (sin_bar * xp.cos(angles) - cos_bar * xp.sin(angles)), axis=0)


def _direct_sums_vjp(u: Array, sums_bar: Array, t: tuple[float, ...], xp: Any) -> Array:
    """:func:`ecf_sums_vjp` at arbitrary knots:
    ``sum_j t_j [sin_bar_j cos(t_j u) - cos_bar_j sin(t_j u)]``."""
    j = len(t)
    grad = xp.zeros_like(u)
    for i, tj in enumerate(t):
        cos_bar, sin_bar = sums_bar[..., None, :, i], sums_bar[..., None, :, j + i]
        grad = grad + tj * (sin_bar * xp.cos(tj * u) - cos_bar * xp.sin(tj * u))
    return grad


def target_statistic_from_sums(
    sums: Array, n: Any, weight: Array, cf: Array, xp: Any, unbiased: bool = False
) -> Array:
    """``EP_k = n * sum_j W_j ((C_kj - Re psi_kj)^2 + (S_kj - Im psi_kj)^2)`` against a target CF.

    ``cf`` (..., K or 1, 2J) holds the target's CF at the knots, real parts then imaginary parts,
    per column (a product target's ``psi_a`` depends on the direction) or shared (broadcast).
    ``unbiased``: ``C^2 + S^2`` becomes ``(n (C^2 + S^2) - 1) / (n - 1)``, as against N(0, 1).
    """
    j = weight.shape[-1]
    c, s = sums[..., :j] / n, sums[..., j:] / n
    err = (c - cf[..., :j]) ** 2 + (s - cf[..., j:]) ** 2
    if unbiased:
        err = err + (c * c + s * s - 1.0) / (n - 1.0)
    return n * xp.sum(err * weight, axis=-1)


def target_statistic_from_sums_vjp(
    sums: Array, n: Any, values_bar: Array, weight: Array, cf: Array, xp: Any, unbiased: bool = False
) -> Array:
    """Gradient of :func:`target_statistic_from_sums` with respect to the sums (the CF is a constant)."""
    j = weight.shape[-1]
    scale = 2.0 * weight * values_bar[..., None]
    c, s = sums[..., :j] / n, sums[..., j:] / n
    dc, ds = c - cf[..., :j], s - cf[..., j:]
    if unbiased:
        dc, ds = dc + c / (n - 1.0), ds + s / (n - 1.0)
    return xp.concat([scale * dc, scale * ds], axis=-1)


def knot_weights(grid: Grid, like: Array, xp: Any) -> Array:
    """The quadrature weights (window included) on ``like``'s device and dtype."""
    return _constant(grid.weight, like, xp)
