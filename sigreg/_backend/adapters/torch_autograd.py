"""PyTorch adapter: one ``torch.autograd.Function`` for every Statistic.

The forward and the gradient are the slicing layer's (:mod:`sigreg._core.slicing`);
this module only wires them into autograd (setup_context style, so
``torch.func.grad`` and ``torch.compile`` work), saving the projections and the
statistic's O(K*S) residuals instead of the N x K x P tensors autograd would.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

import torch
from array_api_compat import torch as _xp

from ..._core import slicing
from ..._core.all_reduce import AllReduce
from ..._core.plan import Plan
from ..._core.statistic import Statistic
from .torch_directions import directions as directions  # the adapter's direction draw


def _wrapped(*tensors: Any) -> bool:
    """Whether torch.func transforms (vmap, grad, jvp) wrap any of these tensors (never under
    torch.compile, which traces plain tensors and cannot trace this query)."""
    if torch.compiler.is_compiling():
        return False
    return any(
        isinstance(t, torch.Tensor) and torch._C._functorch.is_functorch_wrapped_tensor(t) for t in tensors
    )


# aten::moveaxis has no vmap batching rule (torch 2.13) while its twin movedim has one: the
# differentiable formula that serves torch.func transforms sees array_api_compat.torch with
# moveaxis as movedim (a copy of the module, so the same functions and the same __name__).
_func_xp = types.ModuleType(_xp.__name__)
_func_xp.__dict__.update(vars(_xp))
_func_xp.moveaxis = torch.movedim  # type: ignore[attr-defined]


def _sign(x: torch.Tensor, /) -> torch.Tensor:
    # array_api_compat's sign puts back NaNs by boolean-mask assignment, which vmap refuses.
    return torch.where(torch.isnan(x), x, torch.sign(x))


_func_xp.sign = _sign  # type: ignore[attr-defined]


# The inputs of both Functions: u, statistic, plan, all_reduce and the statistic's constants
# (None, or a tensor without gradient); backward answers one gradient per input.
NUM_INPUTS = 5


def _save(ctx: Any, inputs: tuple[Any, ...], residuals: tuple[Any, ...]) -> list[torch.Tensor | None]:
    """Keep what backward needs on ``ctx``; the residuals' tensors (None for the numbers)."""
    u, ctx.statistic, ctx.plan, ctx.all_reduce, constants = inputs
    tensors = [r if isinstance(r, torch.Tensor) else None for r in residuals]
    # Python numbers and None (sample counts, no workers) are kept aside: only tensors are saved.
    ctx.numbers = [None if isinstance(r, torch.Tensor) else r for r in residuals]
    # The constants (None or a constant tensor) are saved too: backward and jvp bind them again.
    ctx.save_for_backward(u, constants, *tensors)
    return tensors


def _backward(ctx: Any, values_bar: torch.Tensor) -> tuple[Any, ...]:
    u, constants, *tensors = ctx.saved_tensors
    statistic = ctx.statistic.bind(constants)
    if torch.is_grad_enabled() or _wrapped(u, values_bar, *tensors):
        # Higher-order autodiff, or torch.func transforms (vmap of the backward in jacrev and
        # per-sample gradients, jvp of it in hessian): the gradient as differentiable operations.
        grad = _differentiable_backward(ctx, statistic, u, values_bar)
        return (grad, *(None,) * (NUM_INPUTS - 1))
    residuals = tuple(t if t is not None else n for t, n in zip(tensors, ctx.numbers, strict=True))
    grad = slicing.backward(u, residuals, values_bar, statistic, _xp, ctx.plan)
    return (grad, *(None,) * (NUM_INPUTS - 1))


class _CompiledColumnStatistics(torch.autograd.Function):
    """The form torch.compile traces: only the values are outputs, the residuals stay on ``ctx``.

    Dynamo refuses autograd.Functions with a custom ``jvp``, and with dynamic shapes (a second
    batch size) it refuses Python numbers among the outputs, which the sample counts are."""

    @staticmethod
    def forward(
        ctx: Any, u: torch.Tensor, statistic: Statistic, plan: Plan, all_reduce: Any, constants: Any
    ) -> torch.Tensor:
        values, residuals = slicing.forward(u, statistic.bind(constants), _xp, plan, all_reduce)
        # Cloned: dynamo refuses a saved intermediate that aliases another tensor of the graph
        # (Shapiro-Wilk's coefficients, a view of a gathered table).
        residuals = tuple(r.clone() if isinstance(r, torch.Tensor) else r for r in residuals)
        _save(ctx, (u, statistic, plan, all_reduce, constants), residuals)
        return typing.cast(torch.Tensor, values)

    @staticmethod
    def backward(ctx: Any, values_bar: torch.Tensor) -> tuple[Any, ...]:
        return _backward(ctx, values_bar)


class _TransformableColumnStatistics(torch.autograd.Function):
    """With forward mode (``jvp``) and a ``vmap`` rule, for torch.func (eager calls)."""

    @staticmethod
    def forward(u: torch.Tensor, statistic: Statistic, plan: Plan, all_reduce: Any, constants: Any) -> Any:
        values, residuals = slicing.forward(u, statistic.bind(constants), _xp, plan, all_reduce)
        return (values, *residuals)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Any, ...]) -> None:
        tensors = _save(ctx, inputs, output[1:])
        ctx.mark_non_differentiable(*(t for t in tensors if t is not None))
        ctx.save_for_forward(inputs[0], inputs[4], *(t for t in tensors if t is not None))

    @staticmethod
    def backward(ctx: Any, values_bar: torch.Tensor, *_: Any) -> tuple[Any, ...]:
        return _backward(ctx, values_bar)

    @staticmethod
    def jvp(ctx: Any, u_dot: torch.Tensor, *_: Any) -> tuple[Any, ...]:
        """Forward mode: the statistic's formula linearised at ``u`` by torch.func.jvp (exact).

        For statistics of sums the tangent of the sums is pushed through the all-reduce (a
        sum, so linear) and then through ``from_sums``; the residual outputs have no tangent.
        The statistic's constants are constants: their tangent, if any, is ignored.
        """
        u, constants, *tensors = ctx.saved_tensors
        plan = dataclasses.replace(ctx.plan, kernel=None)
        statistic: Any = ctx.statistic.bind(constants)
        if ctx.all_reduce is None:
            values_dot = torch.func.jvp(lambda x: statistic.forward(x, _func_xp, plan)[0], (u,), (u_dot,))[1]
        else:
            sums_dot = torch.func.jvp(lambda x: statistic.local_sums(x, _func_xp, plan), (u,), (u_dot,))[1]
            sums_dot = ctx.all_reduce(sums_dot)
            _, sums, n = tensors  # (workers, sums, n): all tensors after an all-reduce
            values_dot = torch.func.jvp(lambda s: statistic.from_sums(s, n, _func_xp), (sums,), (sums_dot,))[
                1
            ]
        return (values_dot, *(None for _ in ctx.numbers))

    @staticmethod
    def vmap(
        info: Any,
        in_dims: tuple[Any, ...],
        u: torch.Tensor,
        statistic: Any,
        plan: Plan,
        all_reduce: Any,
        constants: Any,
    ) -> Any:
        """vmap: the mapped axis becomes a leading batch axis of ``u`` (..., N, K), which every
        statistic supports; one call then serves the whole batch, fused kernels included.

        The statistic's constants (a target's CF per column) depend on the directions only, which
        no transform maps: they are passed on unbatched."""
        if in_dims[4] is not None:
            raise NotImplementedError(
                "sigreg: vmap over the statistic's constants (a target's CF) is not supported; "
                "the directions, and so the constants, must be the same for every mapped element"
            )
        u_dim = in_dims[0]
        if u_dim is None:
            outputs = _TransformableColumnStatistics.apply(u, statistic, plan, all_reduce, constants)  # type: ignore[no-untyped-call]
            return outputs, tuple(None for _ in outputs)
        outputs = _TransformableColumnStatistics.apply(  # type: ignore[no-untyped-call]
            torch.movedim(u, u_dim, 0), statistic, plan, all_reduce, constants
        )
        # The values carry the batch axis first. The residuals only serve this rule's own
        # backward and jvp, which work from u under transforms: they are passed on unmapped
        # except the sums of a statistic of sums (the all-reduce case needs them).
        out_dims = [0] + [None] * (len(outputs) - 1)
        if statistic.has_sums:
            out_dims[2] = 0  # (values, workers, sums, n)
        return outputs, tuple(out_dims)


def _differentiable_backward(
    ctx: Any, statistic: Statistic, u: torch.Tensor, values_bar: torch.Tensor
) -> torch.Tensor:
    """The gradient as differentiable operations, for higher-order autodiff (``create_graph=True``)
    and torch.func transforms of the backward.

    The saved residuals are constants to autograd, so they are recomputed from ``u``
    with grad mode on; the fused kernels have no derivative (nor batching rule) of their
    own, so the array-API plan serves. This keeps O(N*K*P) values for the second backward.
    """
    if ctx.all_reduce is not None:
        raise RuntimeError(
            "sigreg: second derivatives with all_reduce are not supported (the all-reduce of the "
            "sums has no derivative across workers); compute them without all_reduce"
        )
    plan = dataclasses.replace(ctx.plan, kernel=None)
    _, residuals = slicing.forward(u, statistic, _func_xp, plan, None)
    grad: torch.Tensor = slicing.backward(u, residuals, values_bar, statistic, _func_xp, plan)
    return grad


def column_statistics(
    u: torch.Tensor,
    statistic: Statistic,
    plan: Plan,
    all_reduce: AllReduce | None,
    constants: torch.Tensor | None,
) -> torch.Tensor:
    if torch.compiler.is_compiling():
        values: Any = _CompiledColumnStatistics.apply(u, statistic, plan, all_reduce, constants)  # type: ignore[no-untyped-call]
        return typing.cast(torch.Tensor, values)
    outputs: Any = _TransformableColumnStatistics.apply(u, statistic, plan, all_reduce, constants)  # type: ignore[no-untyped-call]
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
