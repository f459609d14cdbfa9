"""Which adapter and which execution plan serve an array; adapters load lazily.

The framework adapters (``sigreg._backend.adapters``) are imported only when their
arrays show up, so ``import sigreg`` imports no framework. The plan is chosen
per array: see :class:`sigreg._core.plan.Plan`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from .._core import draws, slicing
from .._core.arrays import device as _device
from .._core.plan import Plan
from .._core.statistic import EmbeddingStatistic, Statistic

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


def agreed_frame(
    u: Array, statistic: Statistic, all_reduce: Callable[[Array], Array] | None, xp: Any
) -> tuple[Array, Array | None]:
    """``(u - shift) / scale`` and the scale (..., 1, K), or ``(u, None)``: the first round of a reduction.

    A statistic free of location and scale with ``frame_sums`` (Jarque-Bera) would lose its
    digits to cancellation in raw power sums at a large mean. With ``all_reduce``, its frame
    sums are reduced first (one more all-reduce of K * 2 + 1 numbers per batch index), so that
    every worker moves and scales its columns by the same constants; the statistic of the
    moved columns is the same function of ``u``, so its gradient is that of the moved columns
    divided by the scale (the framework's autodiff does this; explicit gradients divide).
    An all-reduce with an ``agree`` method (the ``Accumulator``'s) decides the frame itself.
    """
    make = getattr(statistic, "frame_sums", None)
    if all_reduce is None or make is None:
        return u, None
    local = constant(make(u, xp), xp)  # the frame is a constant: no gradient flows through it
    n = u.shape[-2]
    count = xp.arange(1, dtype=local.dtype, device=_device(local)) + float(n)  # made on the device
    packed = xp.concat([xp.reshape(local, (-1,)), count])
    agree = getattr(all_reduce, "agree", all_reduce)
    total = constant(agree(packed), xp)
    frame = xp.reshape(total[:-1], local.shape) / total[-1]
    shift, scale = frame[..., None, :, 0], frame[..., None, :, 1]
    # A column constant on every worker keeps a scale of 1 (its moved values are 0: NaN, as unreduced).
    scale = xp.where(scale > 0.0, scale, xp.ones_like(scale))
    return (u - shift) / scale, scale


def column_statistics(
    u: Array,
    statistic: Statistic,
    plan: Plan,
    all_reduce: Callable[[Array], Array] | None,
    xp: Any,
    target_cf: Array | None = None,
) -> Array:
    """Per-column values of ``u`` (..., N, K), differentiable in the framework's own autodiff.

    ``target_cf``: the target's CF per column (``statistic.target_cf(directions)``), a constant.
    """
    statistic = local_form(statistic, all_reduce)
    u, _ = agreed_frame(u, statistic, all_reduce, xp)
    module = adapter(xp)
    if module is not None:
        if target_cf is None:
            return module.column_statistics(u, statistic, plan, all_reduce)
        return module.column_statistics(u, statistic, plan, all_reduce, target_cf)
    return slicing.forward(u, slicing.with_target_cf(statistic, target_cf), xp, plan, all_reduce)[0]


def local_form(statistic: Statistic, all_reduce: Callable[[Array], Array] | None) -> Statistic:
    """The statistic's more precise form when its sums are not reduced (``local_form()``), else itself.

    Sums that are added across workers must share one shift; a statistic whose values need each
    column's own shift for precision (Jarque-Bera) offers a form computed about it.
    """
    make = getattr(statistic, "local_form", None)
    if all_reduce is None and make is not None:
        form: Statistic = make()
        return form
    return statistic


class _AsColumnsStatistic:
    """An EmbeddingStatistic seen through the Statistic protocol (its ``forward`` and
    ``backward`` on one array), so that each adapter's one differentiable call serves both."""

    def __init__(self, statistic: EmbeddingStatistic) -> None:
        self.statistic = statistic
        self.name = statistic.name
        self.has_sums = False

    def __eq__(self, other: object) -> bool:  # a static argument of JAX's cached jit
        return isinstance(other, _AsColumnsStatistic) and other.statistic == self.statistic

    def __hash__(self) -> int:
        return hash((_AsColumnsStatistic, self.statistic))

    def forward(self, z: Array, xp: Any, plan: Plan) -> tuple[Array, tuple[Any, ...]]:
        return self.statistic.forward_embeddings(z, xp, plan)

    def backward(self, z: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan) -> Array:
        return self.statistic.backward_embeddings(z, residuals, cotangent, xp, plan)


def embedding_statistic(z: Array, statistic: EmbeddingStatistic, xp: Any) -> Array:
    """Values (...,) of a whole-embedding statistic of ``z`` (..., N, D), differentiable like
    :func:`column_statistics`."""
    return column_statistics(z, _AsColumnsStatistic(statistic), plan(z, xp), None, xp)  # type: ignore[arg-type]


def value_and_grad(
    u: Array,
    statistic: Statistic,
    plan: Plan,
    all_reduce: Callable[[Array], Array] | None,
    reduction: str,
    xp: Any,
    target_cf: Array | None = None,
) -> tuple[Array, Array]:
    """The reduced value and its analytic gradient with respect to ``u``, outside any autodiff."""
    statistic = local_form(statistic, all_reduce)
    u, scale = agreed_frame(u, statistic, all_reduce, xp)
    module = adapter(xp)
    if module is not None and hasattr(module, "value_and_grad"):
        if target_cf is None:
            value, grad = module.value_and_grad(u, statistic, plan, all_reduce, reduction)
        else:
            value, grad = module.value_and_grad(u, statistic, plan, all_reduce, reduction, target_cf)
    else:
        bound = slicing.with_target_cf(statistic, target_cf)
        value, grad = slicing.value_and_grad(u, bound, xp, plan, all_reduce, reduction)
    return value, (grad if scale is None else grad / scale)


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
