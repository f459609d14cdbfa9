"""The Numba CPU kernels for JAX arrays on the CPU, as ``jax.pure_callback``s.

XLA fuses the array-API knot loop on its own, but on CPUs the fused Numba kernels
are twice as fast. The callbacks run inside ``jit``; the JAX adapter calls them
from its custom VJP (forward sums, and their VJP in the backward pass). A callback
has no derivative, so each carries a ``custom_jvp`` whose rule is that of the
array-API code: higher-order derivatives (Hessian-vector products) stay exact.
Batched by ``vmap`` as whole arrays: the kernels take any leading axes.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import numpy as np

from ..._core.plan import Plan
from ..._statistics import ecf
from . import fallback, numba_ecf

Array = Any

_ARRAY_API = Plan(scan=jax.lax.scan)


@functools.cache
def _sums(dt: float, num_knots: int) -> Any:
    grid = fallback.grid(dt, num_knots)

    def host(x: Any) -> Any:
        return numba_ecf.ecf_sums(np.asarray(x), dt, num_knots)

    @jax.custom_jvp
    def sums(u: Array) -> Array:
        shape = jax.ShapeDtypeStruct((*u.shape[:-2], u.shape[-1], 2 * num_knots), u.dtype)  # type: ignore[no-untyped-call]
        return jax.pure_callback(host, shape, u, vmap_method="broadcast_all")

    @sums.defjvp
    def _(primals: Any, tangents: Any) -> Any:
        return jax.jvp(lambda u: ecf.ecf_sums(u, grid, jax.numpy, _ARRAY_API), primals, tangents)

    return sums


@functools.cache
def _sums_vjp(dt: float, num_knots: int) -> Any:
    grid = fallback.grid(dt, num_knots)

    def host(x: Any, bar: Any) -> Any:
        return numba_ecf.ecf_sums_vjp(np.asarray(x), np.asarray(bar), dt, num_knots)

    @jax.custom_jvp
    def vjp(u: Array, sums_bar: Array) -> Array:
        shape = jax.ShapeDtypeStruct(u.shape, u.dtype)  # type: ignore[no-untyped-call]
        return jax.pure_callback(host, shape, u, sums_bar, vmap_method="broadcast_all")

    @vjp.defjvp
    def _(primals: Any, tangents: Any) -> Any:
        def reference(u: Array, bar: Array) -> Array:
            return ecf.ecf_sums_vjp(u, bar, grid, jax.numpy, _ARRAY_API)

        return jax.jvp(reference, primals, tangents)

    return vjp


def ecf_sums(u: Array, dt: float, num_knots: int) -> Array:
    return _sums(dt, num_knots)(u)


def ecf_sums_vjp(u: Array, sums_bar: Array, dt: float, num_knots: int) -> Array:
    return _sums_vjp(dt, num_knots)(u, sums_bar)
