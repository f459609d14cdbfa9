"""PyTorch adapter: one ``torch.autograd.Function`` for every Statistic.

The forward and the gradient are the slicing layer's (:mod:`sigreg._core.slicing`);
this module only wires them into autograd (setup_context style, so
``torch.func.grad`` and ``torch.compile`` work), saving the projections and the
statistic's O(K*S) residuals instead of the N x K x P tensors autograd would.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from typing import Any

import torch
from array_api_compat import torch as _xp

from ..._core import slicing
from ..._core.plan import Plan
from ..._core.statistic import Statistic


class _ColumnStatistics(torch.autograd.Function):
    @staticmethod
    def forward(
        u: torch.Tensor, statistic: Statistic, plan: Plan, all_reduce: Any, target_cf: Any = None
    ) -> Any:
        bound = slicing.with_target_cf(statistic, target_cf)
        values, residuals = slicing.forward(u, bound, _xp, plan, all_reduce)
        return (values, *residuals)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Any, ...]) -> None:
        u, ctx.statistic, ctx.plan, ctx.all_reduce, target_cf = inputs
        residuals = output[1:]
        tensors = [r if isinstance(r, torch.Tensor) else None for r in residuals]
        # Python numbers and None (sample counts, no workers) are kept aside: only tensors are saved.
        ctx.numbers = [None if isinstance(r, torch.Tensor) else r for r in residuals]
        ctx.mark_non_differentiable(*(t for t in tensors if t is not None))
        ctx.save_for_backward(u, target_cf, *tensors)

    @staticmethod
    def backward(ctx: Any, values_bar: torch.Tensor, *_: Any) -> tuple[Any, ...]:
        u, target_cf, *tensors = ctx.saved_tensors
        statistic = slicing.with_target_cf(ctx.statistic, target_cf)
        if torch.is_grad_enabled():
            return _differentiable_backward(ctx, statistic, u, values_bar), None, None, None, None
        residuals = tuple(t if t is not None else n for t, n in zip(tensors, ctx.numbers, strict=True))
        grad = slicing.backward(u, residuals, values_bar, statistic, _xp, ctx.plan)
        return grad, None, None, None, None


def _differentiable_backward(
    ctx: Any, statistic: Statistic, u: torch.Tensor, values_bar: torch.Tensor
) -> torch.Tensor:
    """The gradient as differentiable operations, for higher-order autodiff (``create_graph=True``).

    The saved residuals are constants to autograd, so they are recomputed from ``u``
    with grad mode on; the fused kernels have no derivative of their own, so the
    array-API plan serves. This keeps O(N*K*P) values for the second backward.
    """
    if ctx.all_reduce is not None:
        raise RuntimeError(
            "sigreg: second derivatives with all_reduce are not supported (the all-reduce of the "
            "sums has no derivative across workers); compute them without all_reduce"
        )
    plan = dataclasses.replace(ctx.plan, kernel=None)
    _, residuals = slicing.forward(u, statistic, _xp, plan, None)
    grad: torch.Tensor = slicing.backward(u, residuals, values_bar, statistic, _xp, plan)
    return grad


def column_statistics(
    u: torch.Tensor,
    statistic: Statistic,
    plan: Plan,
    all_reduce: Callable[[Any], Any] | None,
    target_cf: torch.Tensor | None = None,
) -> torch.Tensor:
    outputs: Any = _ColumnStatistics.apply(u, statistic, plan, all_reduce, target_cf)  # type: ignore[no-untyped-call]
    return typing.cast(torch.Tensor, outputs[0])


def constant(x: torch.Tensor) -> torch.Tensor:
    return x.detach()


def compiling() -> bool:
    """Under torch.compile: complex arithmetic as real pairs (Inductor has no complex codegen)."""
    return torch.compiler.is_compiling()


def on_cpu(u: torch.Tensor) -> bool:
    return u.device.type == "cpu"


def kernel_for(u: torch.Tensor) -> Any | None:
    """Fused kernels: Triton's for CUDA tensors, Numba's for CPU tensors in eager mode; else None."""
    from ..kernels import numba_kernels, triton_kernels

    if u.device.type == "cpu" and not torch.compiler.is_compiling():
        return numba_kernels()
    return triton_kernels() if u.device.type == "cuda" else None
