"""JAX adapter: ``jax.custom_vjp`` on the array-API core, and the named-axis all-reduce.

The options are static (part of the cache key of the custom_vjp function), so
everything traces cleanly under ``jit``, ``grad``, ``value_and_grad`` and ``vmap``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp

from . import _core, _directions
from ._ecf import statistic_from_sums
from ._grid import Grid, trapezoid_grid

__all__ = ["all_reduce"]


@functools.cache
def _exact_fn(opts: _core.Options) -> Any:
    """The closed form with its analytic gradient (no all-reduce: it needs all pairs)."""

    @jax.custom_vjp
    def statistics(z: jax.Array, directions: jax.Array) -> jax.Array:
        return _core.forward(z, directions, opts, jnp)[0]

    def fwd(z: jax.Array, directions: jax.Array) -> Any:
        ep, res = _core.forward(z, directions, opts, jnp)
        return ep, (res, directions)

    def bwd(saved: Any, ep_bar: jax.Array) -> tuple[jax.Array, jax.Array]:
        res, directions = saved
        # Directions are constants: their cotangent is zero.
        return _core.backward(res, directions, ep_bar, opts, jnp), jnp.zeros_like(directions)

    statistics.defvjp(fwd, bwd)
    return statistics


# The knot loop of ``sigreg._ecf`` as ``lax.scan``: the same arithmetic in the same
# order, but XLA sees one loop body instead of an unrolled chain. Unrolled, XLA
# fuses each knot's reduction with its own copy of the rotations before it
# (quadratic work in the knots) and compiles in time that grows with them.
def _scan_sums(u: jax.Array, grid: Grid) -> tuple[jax.Array, jax.Array]:
    """``ecf_sums`` on JAX: sums over axis -2 of cos/sin(t_j u), shape (..., K, P-1)."""
    c1, s1 = jnp.cos(grid.dt * u), jnp.sin(grid.dt * u)

    def knot(carry: Any, _: Any) -> Any:
        c, s = carry
        return (c * c1 - s * s1, s * c1 + c * s1), (jnp.sum(c, axis=-2), jnp.sum(s, axis=-2))

    _, (cos_sum, sin_sum) = jax.lax.scan(knot, (c1, s1), None, length=len(grid.t))
    return jnp.moveaxis(cos_sum, 0, -1), jnp.moveaxis(sin_sum, 0, -1)


def _scan_sums_vjp(u: jax.Array, cos_bar: jax.Array, sin_bar: jax.Array, grid: Grid) -> jax.Array:
    """``ecf_sums_vjp`` on JAX: ``sum_j t_j [sin_bar_j cos(t_j u) - cos_bar_j sin(t_j u)]``."""
    t = jnp.asarray(grid.t, dtype=u.dtype)
    cos_coef = jnp.moveaxis(t * sin_bar, -1, 0)[..., None, :]  # (P-1, ..., 1, K)
    sin_coef = jnp.moveaxis(-t * cos_bar, -1, 0)[..., None, :]
    c1, s1 = jnp.cos(grid.dt * u), jnp.sin(grid.dt * u)

    def knot(carry: Any, coef: Any) -> Any:
        c, s, g = carry
        g = g + coef[0] * c + coef[1] * s
        return (c * c1 - s * s1, s * c1 + c * s1, g), None

    (_, _, grad_u), _ = jax.lax.scan(knot, (c1, s1, jnp.zeros_like(u)), (cos_coef, sin_coef))
    return grad_u


def _row_blocks(u: jax.Array, rows: int) -> tuple[jax.Array, jax.Array]:
    """``u`` (..., N, K) as full blocks (B, ..., rows, K) and the remaining rows (..., N % rows, K)."""
    n = u.shape[-2]
    count = n // rows
    blocks = u[..., : count * rows, :].reshape(*u.shape[:-2], count, rows, u.shape[-1])
    return jnp.moveaxis(blocks, -3, 0), u[..., count * rows :, :]


def _blocked_sums(u: jax.Array, grid: Grid, rows: int | None) -> tuple[jax.Array, jax.Array]:
    """:func:`_scan_sums` over blocks of rows (so the loop's arrays stay in cache), in order."""
    if rows is None or rows >= u.shape[-2]:
        return _scan_sums(u, grid)
    blocks, rest = _row_blocks(u, rows)

    def add(total: Any, block: jax.Array) -> Any:
        cos_sum, sin_sum = _scan_sums(block, grid)
        return (total[0] + cos_sum, total[1] + sin_sum), None

    zero = jnp.zeros((*u.shape[:-2], u.shape[-1], len(grid.t)), dtype=u.dtype)
    (cos_sum, sin_sum), _ = jax.lax.scan(add, (zero, zero), blocks)
    if rest.shape[-2]:
        rest_cos, rest_sin = _scan_sums(rest, grid)
        cos_sum, sin_sum = cos_sum + rest_cos, sin_sum + rest_sin
    return cos_sum, sin_sum


def _blocked_sums_vjp(
    u: jax.Array, cos_bar: jax.Array, sin_bar: jax.Array, grid: Grid, rows: int | None
) -> jax.Array:
    if rows is None or rows >= u.shape[-2]:
        return _scan_sums_vjp(u, cos_bar, sin_bar, grid)
    blocks, rest = _row_blocks(u, rows)
    grads = jax.lax.map(lambda block: _scan_sums_vjp(block, cos_bar, sin_bar, grid), blocks)
    grads = jnp.moveaxis(grads, 0, -3).reshape(*u.shape[:-2], -1, u.shape[-1])
    if rest.shape[-2]:
        grads = jnp.concatenate([grads, _scan_sums_vjp(rest, cos_bar, sin_bar, grid)], axis=-2)
    return grads


@functools.cache
def _sums_fn(grid: Grid, rows: int | None) -> Any:
    """Sums of cos/sin(t_j z @ A) over the local samples, with the analytic gradient.

    Only the sums get a custom VJP; the all-reduce and the statistic on top of them
    are plain JAX operations, so JAX differentiates ``psum`` itself, which gives
    the right gradient inside ``shard_map`` with replication checking on or off.
    """

    @jax.custom_vjp
    def sums(z: jax.Array, directions: jax.Array) -> tuple[jax.Array, jax.Array]:
        return _blocked_sums(z @ directions, grid, rows)

    def fwd(z: jax.Array, directions: jax.Array) -> Any:
        u = z @ directions
        return _blocked_sums(u, grid, rows), (u, directions)

    def bwd(saved: Any, cotangents: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        u, directions = saved
        grad_u = _blocked_sums_vjp(u, *cotangents, grid, rows)
        # Directions are constants: their cotangent is zero.
        return grad_u @ directions.T, jnp.zeros_like(directions)

    sums.defvjp(fwd, bwd)
    return sums


# Eager callers get one compiled kernel instead of a dispatch per array operation;
# inside a caller's jit these are inlined.
@functools.partial(jax.jit, static_argnums=2)
def slice_statistics(z: jax.Array, directions: jax.Array, opts: _core.Options) -> jax.Array:
    if opts.integration == "exact":
        return _exact_fn(opts)(z, directions)
    grid = trapezoid_grid(opts.t_max, opts.num_points)
    cos_sum, sin_sum = _sums_fn(grid, opts.block_rows)(z, directions)
    n: Any = z.shape[-2]
    if opts.all_reduce is not None:
        cos_sum, sin_sum, n, _ = _core.global_sums(cos_sum, sin_sum, n, opts.all_reduce, jnp)
    return statistic_from_sums(cos_sum, sin_sum, n, grid, jnp)


@functools.partial(jax.jit, static_argnums=1)
def statistics(u: jax.Array, opts: _core.Options) -> jax.Array:
    """Statistics along axis -2 of ``u``, differentiable by JAX (for ``epps_pulley``)."""
    if opts.integration == "exact":
        return _core.statistics(u, opts, jnp)[0]
    grid = trapezoid_grid(opts.t_max, opts.num_points)
    return statistic_from_sums(*_scan_sums(u, grid), u.shape[-2], grid, jnp)


def directions(dim: int, num_slices: int, keys: list[Any], device: Any, dtype: Any) -> jax.Array:
    keys = [jnp.asarray(k, dtype=jnp.int32) for k in keys]
    out = _directions_jit(dim, num_slices, keys, jnp.dtype(dtype))
    return out if device is None else jax.device_put(out, device)


@functools.partial(jax.jit, static_argnums=(0, 1, 3))
def _directions_jit(dim: int, num_slices: int, keys: list[jax.Array], dtype: Any) -> jax.Array:
    return _directions.from_keys(dim, num_slices, keys, jnp, None, dtype)


def constant(z: jax.Array) -> jax.Array:
    return jax.lax.stop_gradient(z)


@dataclass(frozen=True)
class _AxisSum:
    axis_name: Any

    def __call__(self, x: jax.Array) -> jax.Array:
        return jax.lax.psum(x, self.axis_name)


def all_reduce(axis_name: Any) -> _AxisSum:
    """The ``all_reduce=`` callable of :func:`sigreg.sigreg` over a named axis.

    Sums with ``jax.lax.psum`` over ``axis_name``, inside ``shard_map`` or ``pmap``.
    """
    return _AxisSum(axis_name)
