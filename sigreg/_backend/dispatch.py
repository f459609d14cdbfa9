"""Which adapter and which execution plan serve an array; adapters load lazily.

The framework adapters (``sigreg._backend.adapters``) are imported only when their
arrays show up, so ``import sigreg`` imports no framework. The plan is chosen
per array: see :class:`sigreg._core.plan.Plan`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .._core import draws, frame, slicing
from .._core.all_reduce import AllReduce
from .._core.arrays import device as _device
from .._core.plan import Plan
from .._core.statistic import AsColumns, EmbeddingStatistic, Statistic

Array = Any

# Elements of one (rows x K) block of the knot loop on CPUs: the arrays it
# touches then stay in cache (measured best on NumPy, PyTorch and JAX).
BLOCK_ELEMENTS = 1 << 16


def adapter(xp: Any) -> Any | None:
    """The autodiff adapter module for namespace ``xp``, or None (NumPy, CuPy, array-api-strict)."""
    # Import statements, not importlib: torch.compile traces these on a first call.
    if xp.__name__ == "array_api_compat.torch":
        from .adapters import torch_autograd

        return torch_autograd
    if xp.__name__ == "jax.numpy":
        from .adapters import jax_vjp

        return jax_vjp
    return None


def plan(u: Array, xp: Any) -> Plan:
    """The plan for projections like ``u`` (..., N, K): fused kernels where available, else the
    array-API code, blocked on CPUs and whole on accelerators."""
    module = adapter(xp)
    on_cpu = module.on_cpu(u) if module is not None else not _is_cupy(xp)
    block_rows = max(8, BLOCK_ELEMENTS // u.shape[-1]) if on_cpu else None
    kernel = kernel_for(u, xp)
    real_pairs = bool(getattr(module, "compiling", lambda: False)())
    # Under torch.compile (real pairs) inductor fuses the direct form of the knot loop.
    plan = Plan(block_rows, kernel=kernel, real_pairs=real_pairs, fused_knots=real_pairs)
    scan = getattr(module, "scan", None)
    return plan if scan is None else dataclasses.replace(plan, scan=scan)


def kernel_for(u: Array, xp: Any) -> Any | None:
    """Fused kernels for ``u``, or None: the array-API code then runs.

    CUDA: Triton's (torch tensors, and CuPy arrays through DLPack), and for JAX arrays the
    same recurrence as Pallas kernels. CPU: Numba's, when installed (the ``numba`` extra), for
    NumPy arrays, eager torch tensors and JAX (as host callbacks); JAX on other accelerators
    (TPU, ROCm) has XLA's fusion, and array-api-strict stays the proof that the array-API code
    suffices.
    """
    module = adapter(xp)
    if module is not None:
        return getattr(module, "kernel_for", lambda _: None)(u)
    from .kernels import numba_kernels, triton_dlpack_kernels

    if _is_cupy(xp):
        return triton_dlpack_kernels()
    if xp.__name__ == "array_api_compat.numpy":
        return numba_kernels()
    return None


def _is_cupy(xp: Any) -> bool:
    return "cupy" in xp.__name__


def agreed_frame(u: Array, statistic: Statistic, all_reduce: AllReduce | None, xp: Any) -> tuple[Array, Any]:
    """``u`` moved to the frame every worker agrees on, and the scale (..., 1, K); or ``(u, None)``.

    For a statistic with ``needs_frame`` under ``all_reduce`` (sigreg._core.frame): its frame sums
    are reduced first (one more all-reduce of K * 2 + 1 numbers per batch index, through the
    all-reduce's ``agree``, which the Accumulator's hooks override). The frame is a constant, so the
    framework's autodiff divides the gradient by the scale; explicit gradients divide by it.
    """
    if all_reduce is None or not statistic.needs_frame:
        return u, None
    local = constant(frame.frame_sums(u, xp), xp)  # the frame is a constant: no gradient flows through it
    count = xp.arange(1, dtype=local.dtype, device=_device(local)) + float(u.shape[-2])  # made on the device
    total = constant(all_reduce.agree(xp.concat([xp.reshape(local, (-1,)), count])), xp)
    shift, scale = frame.from_totals(xp.reshape(total[:-1], local.shape), total[-1], xp)
    return frame.move(u, shift, scale), scale


def column_statistics(
    u: Array, statistic: Statistic, plan: Plan, all_reduce: AllReduce | None, xp: Any, constants: Any = None
) -> Array:
    """Per-column values of ``u`` (..., N, K), differentiable in the framework's own autodiff.

    ``constants``: the statistic's constants for this call (``statistic.constants(...)``), or None.
    """
    statistic = statistic.local_form() if all_reduce is None else statistic
    u, _ = agreed_frame(u, statistic, all_reduce, xp)
    module = adapter(xp)
    if module is not None:
        return module.column_statistics(u, statistic, plan, all_reduce, constants)
    return slicing.forward(u, statistic.bind(constants), xp, plan, all_reduce)[0]


def embedding_statistic(z: Array, statistic: EmbeddingStatistic, xp: Any) -> Array:
    """Values (...,) of a whole-embedding statistic of ``z`` (..., N, D), differentiable like
    :func:`column_statistics`."""
    return column_statistics(z, AsColumns(statistic), plan(z, xp), None, xp)


def value_and_grad(
    u: Array,
    statistic: Statistic,
    plan: Plan,
    all_reduce: AllReduce | None,
    reduction: str,
    xp: Any,
    constants: Any = None,
) -> tuple[Array, Array]:
    """The reduced value and its analytic gradient with respect to ``u``, outside any autodiff."""
    statistic = statistic.local_form() if all_reduce is None else statistic
    u, scale = agreed_frame(u, statistic, all_reduce, xp)
    module = adapter(xp)
    if module is not None and hasattr(module, "value_and_grad"):
        value, grad = module.value_and_grad(u, statistic, plan, all_reduce, reduction, constants)
    else:
        value, grad = slicing.value_and_grad(u, statistic.bind(constants), xp, plan, all_reduce, reduction)
    return value, (grad if scale is None else grad / scale)


def differentiates_all_reduce(xp: Any) -> bool:
    """Whether ``xp``'s autodiff differentiates an all-reduce itself (JAX's ``psum``): its result then
    stays in the graph; elsewhere (torch.distributed, explicit gradients) it enters as a constant."""
    return bool(xp.__name__ == "jax.numpy")


def constant(x: Array, xp: Any) -> Array:
    """``x`` cut off from the framework's autodiff graph (for explicit gradients)."""
    module = adapter(xp)
    return x if module is None else module.constant(x)


def directions(dim: int, num_slices: int, seed: Any, xp: Any, device: Any, dtype: Any) -> Array:
    keys = draws.seed_keys(seed, xp, device)
    module = adapter(xp)
    if module is not None and hasattr(module, "directions"):
        return module.directions(dim, num_slices, keys, device, dtype)
    return draws.from_keys(dim, num_slices, keys, xp, device, dtype)
