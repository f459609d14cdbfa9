"""Fused Pallas kernels for the empirical characteristic function (ECF) sums and their VJP (JAX on CUDA).

With knots ``t_j = j * dt`` for ``j = 1 .. J`` and projections ``u`` of shape ``(..., N, K)``
(a JAX array, float32 or float64, any leading batch axes):

* :func:`ecf_sums` returns ``(..., K, 2J)`` in the dtype of ``u``: ``sum_n cos(t_j u_nk)`` in
  the first ``J`` columns, ``sum_n sin(t_j u_nk)`` in the last ``J``.
* :func:`ecf_sums_vjp` takes the cotangent of those sums, ``(..., K, 2J)``, and returns the
  gradient with respect to ``u``, ``(..., N, K)``:
  ``sum_j t_j (sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk))``.

The interface is that of ``numba_jax`` and ``triton_ecf``: the JAX adapter calls these from its
VJP on CUDA, where the array-API plan would leave the knot loop to XLA's fusion. Both are pure
JAX (``pallas_call``): they trace under ``jit`` and ``vmap`` and never sync with the host. Each
carries a ``custom_jvp`` whose rule is that of the array-API code, as ``numba_jax``'s do.

The recurrence in registers
---------------------------
Each program owns a block of ``32 * num_warps`` directions (one per thread) and a range of
rows, which it walks ``_ROWS`` at a time as separate row vectors (independent recurrences for
instruction-level parallelism; all tensors are one-dimensional along the directions, so no
reduction ever crosses threads, whatever layout Triton picks). For each element it evaluates
``(cos, sin)(dt u)`` (the step) and ``(cos, sin)(t_a u)`` at the first knot of its run of 16
(the anchor; for the first run the step itself) directly; the other knots follow by angle
addition, ``(c, s) <- (c c1 - s s1, s c1 + c s1)``. Re-anchoring every 16 knots bounds the
drift of the rotation to a few roundings for any ``J``, as in ``numba_ecf`` and ``triton_ecf``.
The run of 16 knots is a grid axis of the sums (one program per run) and a loop of the VJP
(whose programs keep each row's gradient in registers across all runs).

The direct evaluations are this module's ``_sincos``: one Cody-Waite reduction by pi/2
shared by cosine and sine, then minimax polynomials (cephes' for float32, fdlibm's for
float64). JAX has no fused multiply-add, so float32 reduces by a three-part pi/2 whose
first two parts have 8 and 11 significant bits (cephes'): ``n * part`` is exact with or
without contraction for ``|t u| < 8192``; float64 uses fdlibm's parts of 33 bits, exact for
``|t u| < 2**19``. The float32 angle is the rounded product ``float32(t) * u``, the angle a
direct float32 evaluation takes (the Triton kernel carries the product's rounding error too;
without a fused multiply-add that costs a split of ``u``). A program that meets a larger
angle (or an infinity) computes its whole result again with ``jnp.cos``/``jnp.sin`` of each
knot (libdevice's Payne-Hanek reduction on CUDA), inside the kernel (``pl.when``: no host
round trip); NaN propagates through both paths.

Layout, padding and accumulation
--------------------------------
Pallas's Triton lowering masks nothing by itself (a block past the array's end reads past
it), and its loads and stores must be powers of two: every load of ``u`` is one row vector
of ``BLOCK_K`` (a power of two) masked by row and column, the VJP's stores are masked too,
and the small arrays this module makes itself (the partial sums, the VJP's coefficients) are
padded to whole blocks and sliced by XLA. ``u`` is never copied. The sums of a row split
(at most 4096 rows, added ``_ROWS`` at a time in registers) accumulate in the dtype of
``u``; XLA adds the splits. Grids and splits are chosen from the shape alone (never from the
device), so results do not depend on the GPU. Shapes are static under JAX: each new ``N``
compiles again, as any XLA program does.

``interpret=True`` runs the same kernels through Pallas's interpreter (any backend, CPU
included: the tests); the compiled path needs a CUDA device (``pallas_call`` lowers for the
``cuda`` platform without one, so the Triton IR can be checked ahead of time).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.experimental import pallas as pl
from jax.experimental.pallas import triton as pltriton

from ..._core.plan import Plan
from ..._statistics import ecf
from . import fallback, sincos

__all__ = ["Kernels", "ecf_sums", "ecf_sums_vjp", "interpreted"]

Array = Any

# Knots per run between direct evaluations (the sums' knot block, the VJP's knot loop step).
_ANCHOR = 16
# Rows each program takes per step of its row loop: independent recurrences, added in
# registers before they reach the running total.
_ROWS = 4
# Under the interpreter (the CPU tests) every unrolled row costs XLA compile time: two rows
# per step still exercise the grouping and its masks. Only the constant differs.
_INTERPRETER_ROWS = 2
_MAX_WARPS = 4
# Programs to aim for (from the shape alone): a few per SM on current GPUs.
_TARGET_PROGRAMS = 1024
# A split of the sums' sample axis gets at least this many rows (its partial sums stay small
# next to its work) and at most this many (bounds the rounding of its running total).
_MIN_ROWS_PER_SPLIT = 64
_MAX_ROWS_PER_SPLIT = 4096
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

# Reduction by pi/2. float32: cephes' parts (8 and 11 significant bits, then the rest);
# float64: fdlibm's parts of 33 bits.
_TWO_OVER_PI = sincos.TWO_OVER_PI
_F32_PIO2 = (1.5703125, 4.837512969970703125e-4, 7.549789954891882e-8)
_F64_PIO2 = sincos.F64_PIO2
# Largest |t u| the fast reduction takes exactly; larger angles go to jnp.cos/jnp.sin.
_F32_LIMIT = 8192.0
_F64_LIMIT = 2.0**19
# cephes sinf/cosf, fdlibm __kernel_sin/__kernel_cos, on [-pi/4, pi/4].
_F32_SIN, _F32_COS = sincos.F32_SIN, sincos.F32_COS
_F64_SIN, _F64_COS = sincos.F64_SIN, sincos.F64_COS


def _horner(z: Array, coefficients: tuple[float, ...]) -> Array:
    acc = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        acc = c + z * acc
    return acc


def _sincos(angle: Array, is_f64: bool) -> tuple[Array, Array]:
    """``(cos, sin)(angle)``, elementwise: one reduction by pi/2 and two polynomials."""
    p1, p2, p3 = _F64_PIO2 if is_f64 else _F32_PIO2
    n = jnp.floor(angle * _TWO_OVER_PI + 0.5)
    r = ((angle - n * p1) - n * p2) - n * p3
    z = r * r
    sp = r + (r * z) * _horner(z, _F64_SIN if is_f64 else _F32_SIN)
    cp = (1.0 - 0.5 * z) + (z * z) * _horner(z, _F64_COS if is_f64 else _F32_COS)
    q = n.astype(jnp.int32)  # the quadrant is q mod 4 (two's complement: negative q too)
    odd = (q & 1) != 0
    c = jnp.where(odd, sp, cp)
    s = jnp.where(odd, cp, sp)
    c = jnp.where(((q + 1) & 2) != 0, -c, c)
    s = jnp.where((q & 2) != 0, -s, s)
    return c, s


def _knot(index: Array, dt: float, dtype: Any) -> Array:
    """The knot ``index * dt`` (``index`` an int32 scalar) in ``dtype``, rounded about once.

    float32 has no float64 to round from (JAX without x64): ``dt = hi + lo`` with ``hi`` of
    12 significant bits, so ``index * hi`` is exact for ``index < 2**12`` and only the sum rounds.
    """
    if dtype == jnp.float64:
        return index.astype(dtype) * dt
    mantissa, exponent = math.frexp(dt)
    hi = math.ldexp(round(mantissa * 2**12), exponent - 12)
    lo = float(np.float32(dt - hi))
    i = index.astype(jnp.float32)
    return i * np.float32(hi) + i * np.float32(lo)


@dataclasses.dataclass(frozen=True)
class _Layout:
    """The static configuration of one launch (hashable: a cache key of the compiled kernels)."""

    batch: int
    n: int
    k: int
    num_knots: int
    dt: float
    dtype: Any
    block_k: int
    rows: int  # rows per program (sums: per split; VJP: per row group), a multiple of step_rows
    step_rows: int  # rows per step of a program's row loop

    @property
    def num_warps(self) -> int:
        return self.block_k // 32

    @property
    def k_blocks(self) -> int:
        return -(-self.k // self.block_k)

    @property
    def row_blocks(self) -> int:
        return -(-self.n // self.rows)

    @property
    def knot_blocks(self) -> int:
        return -(-self.num_knots // _ANCHOR)

    @property
    def block_j(self) -> int:
        """Knots per run: all of them when there is one run (no padding), else 16."""
        return min(self.num_knots, _ANCHOR)

    @property
    def is_f64(self) -> bool:
        return bool(self.dtype == jnp.float64)

    @property
    def limit(self) -> float:
        return _F64_LIMIT if self.is_f64 else _F32_LIMIT


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def _block_k(k: int) -> int:
    """Directions per program: one per thread, 32 to 128 (1 to 4 warps)."""
    warps = min(_MAX_WARPS, pl.next_power_of_2(max(1, -(-k // 32))))
    return 32 * warps


def _split_rows(n: int, programs: int, step: int) -> int:
    """Rows per split of the sums' sample axis (a multiple of ``_ROWS``): enough splits for
    ``_TARGET_PROGRAMS`` programs, none shorter than ``_MIN_ROWS_PER_SPLIT`` rows unless there
    is only one, none longer than ``_MAX_ROWS_PER_SPLIT``."""
    splits = 1
    if programs < _TARGET_PROGRAMS:
        splits = max(1, min(-(-_TARGET_PROGRAMS // programs), n // _MIN_ROWS_PER_SPLIT))
    splits = max(splits, -(-n // _MAX_ROWS_PER_SPLIT))
    return _cdiv(_cdiv(n, splits), step) * step


def _vjp_rows(n: int, programs: int, step: int) -> int:
    """Rows per VJP program (a multiple of ``_ROWS``): enough row groups for ``_TARGET_PROGRAMS``."""
    groups = max(1, min(-(-n // step), -(-_TARGET_PROGRAMS // programs)))
    return _cdiv(_cdiv(n, groups), step) * step


def _row(u_ref: Any, r: Array, row_ok: Array, col_ok: Array) -> Array:
    """Row ``r`` of the program's block, zero where masked (a masked load reads nothing)."""
    return pltriton.load(u_ref.at[r, :], mask=col_ok & row_ok, other=0.0)


def _sums_kernel(u_ref: Any, out_ref: Any, *, layout: _Layout) -> None:
    """One program: (batch item, block of directions, split of the rows, run of knots).

    ``u_ref``: (rows, BLOCK_K) of one batch item; ``out_ref``: (2, block_j, BLOCK_K) partial
    sums of the split (cosines, then sines).
    """
    kb, split, jb = pl.program_id(1), pl.program_id(2), pl.program_id(3)
    dtype = layout.dtype
    cols = kb * layout.block_k + jax.lax.broadcasted_iota(jnp.int32, (layout.block_k,), 0)
    col_ok = cols < layout.k
    first_row = split * layout.rows
    step = jnp.asarray(layout.dt, dtype)
    anchor = _knot(jb * _ANCHOR + 1, layout.dt, dtype)
    zero = jnp.zeros((layout.block_k,), dtype)

    def group(g: Array, carry: tuple[Any, ...]) -> tuple[Any, ...]:
        cos_acc, sin_acc, largest = carry
        states = []
        for i in range(layout.step_rows):
            r = g * layout.step_rows + i
            row_ok = first_row + r < layout.n
            x = _row(u_ref, r, row_ok, col_ok)
            largest = jnp.maximum(largest, jnp.abs(x))
            c1, s1 = _sincos(x * step, layout.is_f64)
            if layout.knot_blocks == 1:
                c, s = c1, s1
            else:
                c, s = _sincos(x * anchor, layout.is_f64)
            # Masked rows read 0: cos 0 = 1 would count them. A zero state stays zero.
            states.append((jnp.where(row_ok, c, 0.0), s, c1, s1))
        cos_acc, sin_acc = list(cos_acc), list(sin_acc)
        for m in range(layout.block_j):
            if m:
                states = [(c * c1 - s * s1, s * c1 + c * s1, c1, s1) for c, s, c1, s1 in states]
            cos_acc[m] = cos_acc[m] + functools.reduce(jnp.add, [st[0] for st in states])
            sin_acc[m] = sin_acc[m] + functools.reduce(jnp.add, [st[1] for st in states])
        return tuple(cos_acc), tuple(sin_acc), largest

    init = ((zero,) * layout.block_j, (zero,) * layout.block_j, zero)
    cos_acc, sin_acc, largest = jax.lax.fori_loop(0, layout.rows // layout.step_rows, group, init)
    for m in range(layout.block_j):
        out_ref[0, m, :] = cos_acc[m]
        out_ref[1, m, :] = sin_acc[m]

    t_last = _knot(jb * _ANCHOR + layout.block_j, layout.dt, dtype)

    @pl.when(jnp.max(largest) * t_last >= layout.limit)
    def _() -> None:
        # Huge angles (or infinities): every knot again, directly (loops, not unrolled: this
        # path is rare, and short code compiles fast).
        def knot(m: Array, _: Any) -> Any:
            t = _knot(jb * _ANCHOR + m + 1, layout.dt, dtype)

            def direct(r: Array, carry: tuple[Array, Array]) -> tuple[Array, Array]:
                row_ok = first_row + r < layout.n
                x = _row(u_ref, r, row_ok, col_ok)
                return carry[0] + jnp.where(row_ok, jnp.cos(x * t), 0.0), carry[1] + jnp.sin(x * t)

            cos, sin = jax.lax.fori_loop(0, layout.rows, direct, (zero, zero))
            out_ref[0, m, :] = cos
            out_ref[1, m, :] = sin
            return _

        jax.lax.fori_loop(0, layout.block_j, knot, jnp.int32(0))


def _vjp_kernel(u_ref: Any, coef_ref: Any, grad_ref: Any, *, layout: _Layout) -> None:
    """One program: (batch item, block of directions, group of rows).

    ``coef_ref``: (2, knot_blocks * block_j, BLOCK_K): ``t_j sin_bar`` (multiplies the cosine)
    and ``t_j cos_bar`` (multiplies the sine), zero past ``J`` and ``K``; ``grad_ref``: (rows, BLOCK_K).
    """
    kb, rg = pl.program_id(1), pl.program_id(2)
    dtype = layout.dtype
    cols = kb * layout.block_k + jax.lax.broadcasted_iota(jnp.int32, (layout.block_k,), 0)
    col_ok = cols < layout.k
    first_row = rg * layout.rows
    step = jnp.asarray(layout.dt, dtype)
    bj = layout.block_j

    def coefficients(jb: Any) -> tuple[list[Array], list[Array]]:
        base = jb * bj
        return [coef_ref[0, base + m, :] for m in range(bj)], [coef_ref[1, base + m, :] for m in range(bj)]

    def run(
        xs: list[Array], steps: list[tuple[Array, Array]], grads: list[Array], jb: Any, coefs: Any
    ) -> Any:
        """``grads + sum over one run of knots of cos_coef cos(t x) - sin_coef sin(t x)``."""
        cos_coef, sin_coef = coefs
        if layout.knot_blocks == 1:
            states = [(c1, s1) for c1, s1 in steps]
        else:
            anchor = _knot(jb * _ANCHOR + 1, layout.dt, dtype)
            states = [_sincos(x * anchor, layout.is_f64) for x in xs]
        grads = list(grads)
        for m in range(bj):
            if m:
                states = [
                    (c * c1 - s * s1, s * c1 + c * s1) for (c, s), (c1, s1) in zip(states, steps, strict=True)
                ]
            grads = [g + (cos_coef[m] * c - sin_coef[m] * s) for g, (c, s) in zip(grads, states, strict=True)]
        return grads

    # One run of knots: its coefficients stay in registers for all rows.
    invariant = coefficients(0) if layout.knot_blocks == 1 else None

    def group(g: Array, largest: Array) -> Array:
        rows = [g * layout.step_rows + i for i in range(layout.step_rows)]
        oks = [first_row + r < layout.n for r in rows]
        xs = [_row(u_ref, r, ok, col_ok) for r, ok in zip(rows, oks, strict=True)]
        for x in xs:
            largest = jnp.maximum(largest, jnp.abs(x))
        steps = [_sincos(x * step, layout.is_f64) for x in xs]
        grads = [jnp.zeros((layout.block_k,), dtype) for _ in xs]
        if invariant is not None:
            grads = run(xs, steps, grads, 0, invariant)
        else:

            def knots(jb: Array, grads: Any) -> Any:
                return tuple(run(xs, steps, list(grads), jb, coefficients(jb)))

            grads = list(jax.lax.fori_loop(0, layout.knot_blocks, knots, tuple(grads)))
        for r, ok, grad in zip(rows, oks, grads, strict=True):
            pltriton.store(grad_ref.at[r, :], grad, mask=col_ok & ok)
        return largest

    steps_per_program = layout.rows // layout.step_rows
    largest = jax.lax.fori_loop(0, steps_per_program, group, jnp.zeros((layout.block_k,), dtype))
    t_last = _knot(jnp.int32(layout.num_knots), layout.dt, dtype)

    @pl.when(jnp.max(largest) * t_last >= layout.limit)
    def _() -> None:
        # Huge angles (or infinities): every row again, each knot directly.
        def direct(r: Array, _: Any) -> Any:
            row_ok = first_row + r < layout.n
            x = _row(u_ref, r, row_ok, col_ok)

            def knot(j: Array, grad: Array) -> Array:
                t = _knot(j + 1, layout.dt, dtype)
                return grad + (coef_ref[0, j, :] * jnp.cos(x * t) - coef_ref[1, j, :] * jnp.sin(x * t))

            grad = jax.lax.fori_loop(0, layout.num_knots, knot, jnp.zeros((layout.block_k,), dtype))
            pltriton.store(grad_ref.at[r, :], grad, mask=col_ok & row_ok)
            return _

        jax.lax.fori_loop(0, layout.rows, direct, jnp.int32(0))


def _step_rows(interpret: bool) -> int:
    return _INTERPRETER_ROWS if interpret else _ROWS


def _compiler_params(layout: _Layout) -> Any:
    return pltriton.CompilerParams(num_warps=layout.num_warps)


def _check(u: Array, num_knots: int, sums_bar: Array | None = None) -> None:
    if u.ndim < 2:
        raise ValueError(f"u must have shape (..., N, K), got {u.shape}")
    if np.dtype(u.dtype) not in _FLOAT_DTYPES:
        raise TypeError(f"u must be float32 or float64, got {u.dtype}")
    if num_knots < 0:
        raise ValueError(f"num_knots must be non-negative, got {num_knots}")
    if sums_bar is None:
        return
    expected = (*u.shape[:-2], u.shape[-1], 2 * num_knots)
    if tuple(sums_bar.shape) != expected:
        raise ValueError(f"sums_bar must have shape {expected}, got {tuple(sums_bar.shape)}")
    if sums_bar.dtype != u.dtype:
        raise TypeError(f"sums_bar has dtype {sums_bar.dtype}, u has {u.dtype}")


# Compiled once per shape (eager callers too); inside a caller's jit, inlined.
@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _sums(u: Array, dt: float, num_knots: int, interpret: bool) -> Array:
    *batch_shape, n, k = u.shape
    batch = math.prod(batch_shape)
    if batch == 0 or n == 0 or k == 0 or num_knots == 0:
        return jnp.zeros((*batch_shape, k, 2 * num_knots), u.dtype)
    block_k, step = _block_k(k), _step_rows(interpret)
    knot_blocks = -(-num_knots // _ANCHOR)
    rows = _split_rows(n, batch * -(-k // block_k) * knot_blocks, step)
    layout = _Layout(batch, n, k, num_knots, float(dt), jnp.dtype(u.dtype), block_k, rows, step)
    bj = layout.block_j
    shape = (layout.row_blocks, batch, 2, knot_blocks * bj, layout.k_blocks * block_k)
    partial = pl.pallas_call(
        functools.partial(_sums_kernel, layout=layout),
        out_shape=jax.ShapeDtypeStruct(shape, u.dtype),  # type: ignore[no-untyped-call]
        grid=(batch, layout.k_blocks, layout.row_blocks, knot_blocks),
        in_specs=[pl.BlockSpec((None, rows, block_k), lambda b, kb, s, jb: (b, s, kb))],
        out_specs=pl.BlockSpec((None, None, 2, bj, block_k), lambda b, kb, s, jb: (s, b, 0, jb, kb)),
        compiler_params=_compiler_params(layout),
        interpret=interpret,
        name="sigreg_ecf_sums",
    )(u.reshape(batch, n, k))
    sums = jnp.sum(partial, axis=0)[..., :num_knots, :k]  # (B, 2, J, K)
    return jnp.moveaxis(sums, -1, -3).reshape(*batch_shape, k, 2 * num_knots)


@functools.partial(jax.jit, static_argnums=(2, 3, 4))
def _sums_vjp(u: Array, sums_bar: Array, dt: float, num_knots: int, interpret: bool) -> Array:
    *batch_shape, n, k = u.shape
    batch = math.prod(batch_shape)
    if batch == 0 or n == 0 or k == 0 or num_knots == 0:
        return jnp.zeros(u.shape, u.dtype)
    block_k, step = _block_k(k), _step_rows(interpret)
    rows = _vjp_rows(n, batch * -(-k // block_k), step)
    layout = _Layout(batch, n, k, num_knots, float(dt), jnp.dtype(u.dtype), block_k, rows, step)
    bj = layout.block_j
    # t_j rounded once from float64, then the product once to u's dtype (as numba_ecf does).
    t = jnp.asarray(np.arange(1, num_knots + 1) * float(dt), u.dtype)
    bar = sums_bar.reshape(batch, k, 2, num_knots)
    coef = jnp.stack([bar[:, :, 1] * t, bar[:, :, 0] * t], axis=1)  # (B, 2, K, J): sin_bar t, cos_bar t
    pad_j, pad_k = layout.knot_blocks * bj - num_knots, layout.k_blocks * block_k - k
    coef = jnp.pad(jnp.swapaxes(coef, -1, -2), ((0, 0), (0, 0), (0, pad_j), (0, pad_k)))
    grad = pl.pallas_call(
        functools.partial(_vjp_kernel, layout=layout),
        out_shape=jax.ShapeDtypeStruct((batch, n, k), u.dtype),  # type: ignore[no-untyped-call]
        grid=(batch, layout.k_blocks, layout.row_blocks),
        in_specs=[
            pl.BlockSpec((None, rows, block_k), lambda b, kb, rg: (b, rg, kb)),
            pl.BlockSpec((None, 2, coef.shape[2], block_k), lambda b, kb, rg: (b, 0, 0, kb)),
        ],
        out_specs=pl.BlockSpec((None, rows, block_k), lambda b, kb, rg: (b, rg, kb)),
        compiler_params=_compiler_params(layout),
        interpret=interpret,
        name="sigreg_ecf_sums_vjp",
    )(u.reshape(batch, n, k), coef)
    return grad.reshape(u.shape)


_ARRAY_API = Plan(scan=jax.lax.scan)


@functools.cache
def _differentiable(dt: float, num_knots: int, interpret: bool) -> tuple[Any, Any]:
    """The two kernels with the array-API code's JVP (a pallas_call has no derivative)."""
    grid = fallback.grid(dt, num_knots)

    @jax.custom_jvp
    def sums(u: Array) -> Array:
        return _sums(u, dt, num_knots, interpret)

    @sums.defjvp
    def _(primals: Any, tangents: Any) -> Any:
        return jax.jvp(lambda u: ecf.ecf_sums(u, grid, jnp, _ARRAY_API), primals, tangents)

    @jax.custom_jvp
    def vjp(u: Array, sums_bar: Array) -> Array:
        return _sums_vjp(u, sums_bar, dt, num_knots, interpret)

    @vjp.defjvp
    def _(primals: Any, tangents: Any) -> Any:
        def reference(u: Array, bar: Array) -> Array:
            return ecf.ecf_sums_vjp(u, bar, grid, jnp, _ARRAY_API)

        return jax.jvp(reference, primals, tangents)

    return sums, vjp


# (dtype, interpret) pairs whose kernels compiled and ran once in this process.
_PROBED: set[tuple[str, bool]] = set()
# The probe's shape: rows after a row step, directions after a block.
_PROBE_SHAPE = (1, 9, 33)


def _probe(dtype: Any, dt: float, num_knots: int, interpret: bool) -> None:
    """Compile and run both kernels once, now, for this dtype (raises what they raise).

    Under ``jit`` a ``pallas_call`` compiles after the trace, when XLA compiles the program, and
    runs later still: a failure there would escape the caller's program. This runs the two
    kernels while the trace is being built, as a program of their own, on a small
    input on the default device, once per dtype and process, so that a failing kernel is
    caught where the array-API code can still take its place (``fallback``). Where the default
    device is no GPU (lowering for CUDA ahead of time on a CPU host), nothing can run: no probe.
    """
    key = (np.dtype(dtype).name, interpret)
    if key in _PROBED or not (interpret or jax.default_backend() == "gpu"):
        return

    def both(u: Array) -> tuple[Array, Array]:
        sums = _sums(u, dt, num_knots, interpret)
        return sums, _sums_vjp(u, jnp.zeros_like(sums), dt, num_knots, interpret)

    # A program of its own, compiled and run now: a compiled executable runs at once when called,
    # also while an outer function is being traced.
    shape = jax.ShapeDtypeStruct(_PROBE_SHAPE, dtype)  # type: ignore[no-untyped-call]
    program = jax.jit(both).lower(shape).compile()
    jax.block_until_ready(program(np.zeros(_PROBE_SHAPE, dtype)))  # type: ignore[no-untyped-call]
    _PROBED.add(key)


def ecf_sums(u: Array, dt: float, num_knots: int, interpret: bool = False) -> Array:
    """Sums over the sample axis of ``cos(t_j u)`` and ``sin(t_j u)``, ``t_j = j * dt``, ``j = 1..J``.

    ``u`` has shape ``(..., N, K)``, float32 or float64. The result has shape ``(..., K, 2J)``
    and the dtype of ``u``: the cosine sums in ``[..., :J]``, the sine sums in ``[..., J:]``.
    ``interpret``: run through Pallas's interpreter (any device) instead of compiling for CUDA.
    Should the kernels fail (``fallback``), the array-API code computes them.
    """
    num_knots, dt = int(num_knots), float(dt)
    _check(u, num_knots)

    def kernel() -> Array:
        _probe(u.dtype, dt, num_knots, bool(interpret))
        return _differentiable(dt, num_knots, bool(interpret))[0](u)

    return fallback.guard(
        "pallas", kernel, lambda: fallback.array_api_sums(u, dt, num_knots, jnp, _ARRAY_API)
    )


def ecf_sums_vjp(u: Array, sums_bar: Array, dt: float, num_knots: int, interpret: bool = False) -> Array:
    """Gradient with respect to ``u`` of ``sum(sums_bar * ecf_sums(u, dt, num_knots))``.

    ``sums_bar`` has shape ``(..., K, 2J)`` and the dtype of ``u`` (cotangents of the cosine
    sums, then of the sine sums); the result has the shape and dtype of ``u``:
    ``grad_nk = sum_j t_j (sin_bar_kj cos(t_j u_nk) - cos_bar_kj sin(t_j u_nk))``.
    Should the kernels fail (``fallback``), the array-API code computes it.
    """
    num_knots, dt = int(num_knots), float(dt)
    _check(u, num_knots, sums_bar)

    def kernel() -> Array:
        _probe(u.dtype, dt, num_knots, bool(interpret))
        return _differentiable(dt, num_knots, bool(interpret))[1](u, sums_bar)

    return fallback.guard(
        "pallas",
        kernel,
        lambda: fallback.array_api_sums_vjp(u, sums_bar, dt, num_knots, jnp, _ARRAY_API),
    )


@dataclasses.dataclass(frozen=True)
class Kernels:
    """This module's two kernels with ``interpret`` fixed: the object a :class:`Plan` holds."""

    interpret: bool

    def ecf_sums(self, u: Array, dt: float, num_knots: int) -> Array:
        return ecf_sums(u, dt, num_knots, self.interpret)

    def ecf_sums_vjp(self, u: Array, sums_bar: Array, dt: float, num_knots: int) -> Array:
        return ecf_sums_vjp(u, sums_bar, dt, num_knots, self.interpret)


# The kernels under Pallas's interpreter (CPU tests); the module itself is the compiled form.
interpreted = Kernels(interpret=True)
