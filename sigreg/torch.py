"""PyTorch adapter: autograd, the ``SIGReg`` module and the torch.distributed all-reduce.

The forward and the gradient are the array-API core (``sigreg._core``); this
module only wires them into ``torch.autograd.Function`` (setup_context style,
so ``torch.func.grad`` and ``torch.compile`` work), and saves O(N*K + K*P)
values for the backward pass instead of the N x K x P tensors autograd would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from array_api_compat import torch as _xp

from . import _api, _core, _validate

__all__ = ["SIGReg", "all_reduce"]


class _SliceStatistics(torch.autograd.Function):
    @staticmethod
    def forward(z: torch.Tensor, directions: torch.Tensor, opts: _core.Options) -> Any:
        ep, res = _core.forward(z, directions, opts, _xp)
        return (ep, *res)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple, output: tuple) -> None:
        _, directions, opts = inputs
        ctx.opts = opts
        residuals = output[1:]
        tensors = [r if isinstance(r, torch.Tensor) else None for r in residuals]
        # Python numbers (the local sample count) are kept aside: only tensors are saved.
        ctx.numbers = [None if isinstance(r, torch.Tensor) else r for r in residuals]
        ctx.mark_non_differentiable(*(t for t in tensors if t is not None))
        ctx.save_for_backward(directions, *tensors)

    @staticmethod
    def backward(ctx: Any, ep_bar: torch.Tensor, *_: Any) -> tuple:
        directions, *tensors = ctx.saved_tensors
        res = _core.Residuals(*(t if t is not None else n for t, n in zip(tensors, ctx.numbers, strict=True)))
        return _core.backward(res, directions, ep_bar, ctx.opts, _xp), None, None


def slice_statistics(z: torch.Tensor, directions: torch.Tensor, opts: _core.Options) -> torch.Tensor:
    return _SliceStatistics.apply(z, directions, opts)[0]


def constant(z: torch.Tensor) -> torch.Tensor:
    return z.detach()


@dataclass(frozen=True)
class _ProcessGroupSum:
    group: Any = None

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        total = x.clone()
        torch.distributed.all_reduce(total, op=torch.distributed.ReduceOp.SUM, group=self.group)
        return total


def all_reduce(group: Any = None) -> _ProcessGroupSum:
    """The ``all_reduce=`` callable of :func:`sigreg.sigreg` over a torch.distributed group.

    It sums an array over the workers of ``group`` (default: the world) with
    ``torch.distributed.all_reduce``. With it, every worker gets the statistic of
    the global batch, and its gradient is scaled so that DDP's gradient average
    equals the single-process gradient on the concatenated batch.
    """
    return _ProcessGroupSum(group)


class SIGReg(torch.nn.Module):
    """SIGReg as a module, with fresh slice directions at every training step.

    The seed of the directions is the ``step`` buffer (an int64 tensor, moved and
    saved with the module), as in the LeJEPA paper; it is incremented in place
    after each call in training mode, with no host sync. In eval mode the
    directions stay fixed. When a torch.distributed process group is initialised,
    the statistic is that of the global batch (``distributed=False`` turns this
    off); all workers draw the same directions without communication.

    Other keyword arguments are those of :func:`sigreg.sigreg`.
    """

    step: torch.Tensor

    def __init__(
        self,
        num_slices: int = 1024,
        *,
        t_max: float = 3.0,
        num_points: int = 17,
        integration: str = "trapezoid",
        reduction: str = "mean",
        distributed: bool = True,
        group: Any = None,
    ) -> None:
        super().__init__()
        self.options: dict[str, Any] = dict(
            num_slices=num_slices,
            t_max=t_max,
            num_points=num_points,
            integration=integration,
            reduction=reduction,
        )
        # Check the options now rather than at the first step.
        _validate.integer("num_slices", num_slices, 1)
        _api.check_options(t_max, num_points, integration, reduction, None)
        self.distributed = distributed
        self.group = group
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        reduce = None
        if self.distributed and torch.distributed.is_available() and torch.distributed.is_initialized():
            reduce = all_reduce(self.group)
        out = _api.sigreg(z, seed=self.step.to(z.device), all_reduce=reduce, **self.options)
        if self.training:
            self.step.add_(1)
        return out

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.options.items())
