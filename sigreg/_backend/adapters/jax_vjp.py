"""JAX adapter: the statistic's own VJP and a JVP for every Statistic, and ``lax.scan`` as the loop.

The derivatives are wired by the primitives of :mod:`.jax_linear` (reverse mode runs the
statistic's VJP on its saved residuals, the same numbers as a ``jax.custom_vjp``; forward mode
linearises the array-API formula), so ``grad``, ``jvp``, ``jacfwd``, ``jacrev``, ``hessian``
and ``vmap`` all compose. Statistics that are functions of sums get them on the sums alone:
the all-reduce (``psum``) and the statistic on top of the sums are plain JAX operations, so
JAX differentiates ``psum`` itself, which gives the right gradient inside ``shard_map`` with
replication checking on or off. The statistic and plan are static (part of the cache key), so
everything traces cleanly under ``jit``.
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp

from ..._core import draws, slicing
from ..._core.all_reduce import AllReduce
from ..._core.plan import Plan
from ..._core.statistic import Statistic
from . import jax_linear

Array = Any  # a jax.Array; Any because jax.numpy functions are typed as returning Any

# The knot and row-block loops as lax.scan: XLA sees one loop body, not an unrolled
# chain (which it fuses into each knot's reduction with its own copy of the recurrence
# before it, so that compile time grows with the knots).
scan = jax.lax.scan


def on_cpu(u: jax.Array) -> bool:
    devices = getattr(u, "devices", None)
    if devices is not None and not isinstance(u, jax.core.Tracer):
        return all(d.platform == "cpu" for d in devices())
    return jax.default_backend() == "cpu"


def _varies_over_mapped_axes(u: jax.Array) -> bool:
    """Inside shard_map (with checking on) the data varies over mapped axes, which a host
    callback's result cannot declare on every JAX version: the array-API plan serves there."""
    aval = jax.typeof(u)
    manual = getattr(aval, "manual_axis_type", None)
    return bool(getattr(manual, "varying", None) or getattr(aval, "vma", None))


def _devices(u: jax.Array) -> list[Any]:
    """The devices ``u`` lives on; for a tracer, the default device (where jit runs it)."""
    devices = getattr(u, "devices", None)
    if devices is not None and not isinstance(u, jax.core.Tracer):
        return list(devices())
    return jax.devices()[:1]


def _is_cuda(device: Any) -> bool:
    # NVIDIA and AMD GPUs both report platform "gpu"; the client's version names the runtime.
    if device.platform not in ("gpu", "cuda"):
        return False
    version = str(getattr(getattr(device, "client", None), "platform_version", "")).lower()
    return "rocm" not in version and "hip" not in version


def on_cuda(u: jax.Array) -> bool:
    found = _devices(u)
    return bool(found) and all(_is_cuda(d) for d in found)


def kernel_for(u: jax.Array) -> Any | None:
    """Fused kernels for ``u``, or None (XLA then fuses the array-API loops itself).

    CPU: Numba's, as host callbacks, when Numba is installed. CUDA: the Pallas kernels
    (Triton under Pallas), when ``jax.experimental.pallas`` imports. Elsewhere (TPU, ROCm) and
    inside ``shard_map`` with varying data: None.
    """
    if _varies_over_mapped_axes(u):
        return None
    if not on_cpu(u):
        from ..kernels import pallas_kernels

        return pallas_kernels() if on_cuda(u) else None
    from ..kernels import numba_kernels

    if numba_kernels() is None:
        return None
    from ..kernels import numba_jax

    return numba_jax


def column_statistics(
    u: jax.Array, statistic: Statistic, plan: Plan, all_reduce: AllReduce | None, constants: Any
) -> Array:
    if all_reduce is not None and all_reduce.holds_arrays:  # never a static jit argument
        return _column_statistics(u, statistic, plan, all_reduce, constants)
    return _column_statistics_jit(u, statistic, plan, all_reduce, constants)


def _column_statistics(
    u: jax.Array, statistic: Statistic, plan: Plan, all_reduce: AllReduce | None, constants: Any
) -> Array:
    if not statistic.has_sums:
        # The constants (Wasserstein's reference order statistics) may be traced: an operand.
        bound = constants is not None
        linearised = jax_linear.Linearised(statistic, plan, sums=False, bound=bound)
        return jax_linear.apply(linearised, u, *((constants,) if bound else ()))
    sums = jax_linear.apply(jax_linear.Linearised(statistic, plan, sums=True), u)
    n: Any = u.shape[-2]
    if all_reduce is not None:
        sums, n, _ = slicing.global_sums(sums, n, all_reduce, jnp)
    # The sums' VJP is the statistic's own; JAX differentiates from_sums (the constants are constant).
    bound_statistic: Any = statistic.bind(constants)
    return bound_statistic.from_sums(sums, n, jnp)


# Eager callers get one compiled kernel instead of a dispatch per array operation;
# inside a caller's jit this is inlined.
_column_statistics_jit = functools.partial(jax.jit, static_argnums=(1, 2, 3))(_column_statistics)


def value_and_grad(
    u: jax.Array, statistic: Any, plan: Plan, all_reduce: AllReduce | None, reduction: str, constants: Any
) -> tuple[Array, Array]:
    """The explicit analytic gradient of :func:`sigreg.value_and_grad`, compiled once per shape
    (unless ``all_reduce`` holds arrays, as in :func:`column_statistics`)."""
    if all_reduce is not None and all_reduce.holds_arrays:
        return slicing.value_and_grad(u, statistic.bind(constants), jnp, plan, all_reduce, reduction)
    value, grad = _value_and_grad_jit(u, statistic, plan, all_reduce, reduction, constants)
    return value, grad


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _value_and_grad_jit(
    u: jax.Array, statistic: Any, plan: Plan, all_reduce: AllReduce | None, reduction: str, constants: Any
) -> tuple[Array, Array]:
    return slicing.value_and_grad(u, statistic.bind(constants), jnp, plan, all_reduce, reduction)


def directions(dim: int, num_slices: int, keys: list[Any], device: Any, dtype: Any) -> Array:
    keys = [jnp.asarray(k, dtype=jnp.int32) for k in keys]
    out = _directions_jit(dim, num_slices, keys, jnp.dtype(dtype))
    return out if device is None else jax.device_put(out, device)


@functools.partial(jax.jit, static_argnums=(0, 1, 3))
def _directions_jit(dim: int, num_slices: int, keys: list[jax.Array], dtype: Any) -> Array:
    return draws.from_keys(dim, num_slices, keys, jnp, None, dtype)


def constant(x: jax.Array) -> Array:
    return jax.lax.stop_gradient(x)
