"""JAX adapter: the statistic's own VJP and a JVP for every Statistic, and ``lax.scan`` as the loop.

The derivatives are wired by the primitives of :mod:`.jax_linear` (reverse mode runs the
statistic's VJP on its saved residuals, bit for bit as ``jax.custom_vjp`` did; forward mode
linearises the array-API formula), so ``grad``, ``jvp``, ``jacfwd``, ``jacrev``, ``hessian``
and ``vmap`` all compose. Statistics that are functions of sums get them on the sums alone:
the all-reduce (``psum``) and the statistic on top of the sums are plain JAX operations, so
JAX differentiates ``psum`` itself, which gives the right gradient inside ``shard_map`` with
replication checking on or off. The statistic and plan are static (part of the cache key), so
everything traces cleanly under ``jit``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from ..._core import draws, slicing
from ..._core.plan import Plan
from ..._core.statistic import Statistic
from . import jax_linear

Array = Any  # a jax.Array; Any because jax.numpy functions are typed as returning Any

# The knot and row-block loops as lax.scan: XLA sees one loop body instead of an
# unrolled chain (unrolled, it fused each knot's reduction with its own copy of
# the recurrence before it, and compile time grew with the knots).
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
    u: jax.Array,
    statistic: Statistic,
    plan: Plan,
    all_reduce: Callable[[Any], Any] | None,
    target_cf: jax.Array | None = None,
) -> Array:
    if getattr(all_reduce, "holds_arrays", False):
        # An all-reduce that holds arrays (sigreg.Accumulator's) cannot be a static jit
        # argument: it would be baked in as a constant, or leak an outer trace's values.
        return _column_statistics(u, statistic, plan, all_reduce, target_cf)
    return _column_statistics_jit(u, statistic, plan, all_reduce, target_cf)


def _column_statistics(
    u: jax.Array,
    statistic: Statistic,
    plan: Plan,
    all_reduce: Callable[[Any], Any] | None,
    target_cf: jax.Array | None = None,
) -> Array:
    stat: Any = statistic  # hashable: a frozen dataclass
    if not stat.has_sums:
        if target_cf is None:
            return jax_linear.apply(jax_linear.Linearised(stat, plan, sums=False), u)
        # The target's constants (Wasserstein's reference order statistics) may be traced: an operand.
        return jax_linear.apply(jax_linear.Linearised(stat, plan, sums=False, bound=True), u, target_cf)
    sums = jax_linear.apply(jax_linear.Linearised(stat, plan, sums=True), u)
    n: Any = u.shape[-2]
    if all_reduce is not None:
        sums, n, _ = slicing.global_sums(sums, n, all_reduce, jnp)
    # The sums' VJP is the statistic's own; JAX differentiates from_sums (the CF is a constant).
    bound: Any = slicing.with_target_cf(stat, target_cf)
    return bound.from_sums(sums, n, jnp)


# Eager callers get one compiled kernel instead of a dispatch per array operation;
# inside a caller's jit this is inlined.
_column_statistics_jit = functools.partial(jax.jit, static_argnums=(1, 2, 3))(_column_statistics)


def value_and_grad(
    u: jax.Array,
    statistic: Any,
    plan: Plan,
    all_reduce: Callable[[Any], Any] | None,
    reduction: str,
    target_cf: jax.Array | None = None,
) -> tuple[Array, Array]:
    """The explicit analytic gradient of :func:`sigreg.value_and_grad`, compiled once per shape
    (unless ``all_reduce`` holds arrays, as in :func:`column_statistics`)."""
    if getattr(all_reduce, "holds_arrays", False):
        bound = slicing.with_target_cf(statistic, target_cf)
        return slicing.value_and_grad(u, bound, jnp, plan, all_reduce, reduction)
    value, grad = _value_and_grad_jit(u, statistic, plan, all_reduce, reduction, target_cf)
    return value, grad


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _value_and_grad_jit(
    u: jax.Array,
    statistic: Any,
    plan: Plan,
    all_reduce: Callable[[Any], Any] | None,
    reduction: str,
    target_cf: jax.Array | None = None,
) -> tuple[Array, Array]:
    bound = slicing.with_target_cf(statistic, target_cf)
    return slicing.value_and_grad(u, bound, jnp, plan, all_reduce, reduction)


def directions(dim: int, num_slices: int, keys: list[Any], device: Any, dtype: Any) -> Array:
    keys = [jnp.asarray(k, dtype=jnp.int32) for k in keys]
    out = _directions_jit(dim, num_slices, keys, jnp.dtype(dtype))
    return out if device is None else jax.device_put(out, device)


@functools.partial(jax.jit, static_argnums=(0, 1, 3))
def _directions_jit(dim: int, num_slices: int, keys: list[jax.Array], dtype: Any) -> Array:
    return draws.from_keys(dim, num_slices, keys, jnp, None, dtype)


def constant(x: jax.Array) -> Array:
    return jax.lax.stop_gradient(x)
