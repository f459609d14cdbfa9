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
from ._ecf import ecf_sums, ecf_sums_vjp, statistic_from_sums
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


@functools.cache
def _sums_fn(grid: Grid) -> Any:
    """Sums of cos/sin(t_j z @ A) over the local samples, with the analytic gradient.

    Only the sums get a custom VJP; the all-reduce and the statistic on top of them
    are plain JAX operations, so JAX differentiates ``psum`` itself, which gives
    the right gradient inside ``shard_map`` with replication checking on or off.
    """

    @jax.custom_vjp
    def sums(z: jax.Array, directions: jax.Array) -> tuple[jax.Array, jax.Array]:
        return ecf_sums(z @ directions, grid, jnp, None)

    def fwd(z: jax.Array, directions: jax.Array) -> Any:
        u = z @ directions
        return ecf_sums(u, grid, jnp, None), (u, directions)

    def bwd(saved: Any, cotangents: tuple[jax.Array, jax.Array]) -> tuple[jax.Array, jax.Array]:
        u, directions = saved
        grad_u = ecf_sums_vjp(u, *cotangents, grid, jnp, None)
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
    cos_sum, sin_sum = _sums_fn(grid)(z, directions)
    n: Any = z.shape[-2]
    if opts.all_reduce is not None:
        cos_sum, sin_sum, n, _ = _core.global_sums(cos_sum, sin_sum, n, opts.all_reduce, jnp)
    return statistic_from_sums(cos_sum, sin_sum, n, grid, jnp)


@functools.partial(jax.jit, static_argnums=1)
def statistics(u: jax.Array, opts: _core.Options) -> jax.Array:
    return _core.statistics(u, opts, jnp)[0]


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
