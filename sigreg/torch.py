"""PyTorch extras: the ``SIGReg`` module and the torch.distributed all-reduce.

Plain ``sigreg.sigreg`` already works on tensors (autograd, ``torch.func``,
``torch.compile``); the autograd adapter itself lives in
``sigreg._backend.adapters.torch_autograd``.
"""

import typing as _typing
from dataclasses import dataclass as _dataclass
from typing import Any as _Any

import torch as _torch

from ._api import lewm as _lewm
from ._api import regulariser as _regulariser
from ._core import checks as _checks
from ._core.all_reduce import AllReduce as _AllReduce
from ._core.statistic import Statistic as _Statistic
from ._statistics import registry as _registry

__all__ = ["LeWMLoss", "SIGReg", "all_reduce"]


@_dataclass(frozen=True)
class _ProcessGroupSum(_AllReduce):
    group: _Any = None

    def __call__(self, x: _torch.Tensor) -> _torch.Tensor:
        total = x.clone()
        _torch.distributed.all_reduce(total, op=_torch.distributed.ReduceOp.SUM, group=self.group)
        return total


def all_reduce(group: _Any = None) -> _ProcessGroupSum:
    """The ``all_reduce=`` callable of :func:`sigreg.sigreg` over a torch.distributed group.

    Parameters
    ----------
    group : ProcessGroup, optional
        The workers to sum over; default: the world.

    Returns
    -------
    callable
        Sums a tensor over the workers of ``group`` with
        ``torch.distributed.all_reduce`` (on a copy). With it, every worker gets the
        statistic of the global batch, and its gradient is scaled so that DDP's
        gradient average equals the single-process gradient on the concatenated batch.

    Examples
    --------
    >>> import sigreg.torch
    >>> reduce = sigreg.torch.all_reduce()  # then sigreg.sigreg(z, all_reduce=reduce)
    >>> callable(reduce)
    True
    """
    return _ProcessGroupSum(group)


class SIGReg(_torch.nn.Module):
    """SIGReg as a module, with fresh slice directions at every training step.

    The seed of the directions is the ``step`` buffer (an int64 tensor, moved and
    saved with the module), as in the LeJEPA paper; it is incremented in place
    after each call in training mode, with no host sync. In eval mode the
    directions stay fixed. When a torch.distributed process group is
    initialised, the statistic is that of the global batch (``distributed=False``
    turns this off); all workers draw the same directions without communication.

    Parameters
    ----------
    num_slices : int, default 1024
        Directions per step.
    statistic : str or Statistic, default "epps_pulley"
        As in :func:`sigreg.sigreg`; checked now, with ``options``.
    reduction : {"mean", "sum", "none"}, default "mean"
        As in :func:`sigreg.sigreg`.
    distributed : bool, default True
        Reduce over the process group when one is initialised.
    group : ProcessGroup, optional
        The process group; default: the world.
    **options
        Options of the statistic (Epps-Pulley: ``t_max``, ``num_points``, ``integration``, ``unbiased``).

    Raises
    ------
    TypeError, ValueError
        If an option is invalid (checked at construction, not at the first step).

    Examples
    --------
    >>> import torch
    >>> import sigreg.torch
    >>> regulariser = sigreg.torch.SIGReg(num_slices=64)
    >>> z = torch.randn(128, 16, requires_grad=True)
    >>> regulariser(z).backward()
    >>> int(regulariser.step), z.grad.shape
    (1, torch.Size([128, 16]))
    """

    step: _torch.Tensor

    def __init__(
        self,
        num_slices: int = 1024,
        *,
        statistic: str | _Statistic = "epps_pulley",
        reduction: str = "mean",
        distributed: bool = True,
        group: _Any = None,
        **options: _Any,
    ) -> None:
        super().__init__()
        self.num_slices = _checks.integer("num_slices", num_slices, 1)
        self.statistic = _registry.resolve(statistic, options)
        self.reduction = _checks.choice("reduction", reduction, _checks.REDUCTIONS)
        self.distributed = distributed
        self.group = group
        self.register_buffer("step", _torch.zeros((), dtype=_torch.int64))

    def forward(self, z: _torch.Tensor) -> _torch.Tensor:
        """SIGReg of ``z`` with the directions of the current step.

        Parameters
        ----------
        z : torch.Tensor of shape (..., N, D)
            The embeddings.

        Returns
        -------
        torch.Tensor
            As :func:`sigreg.sigreg` returns it; in training mode ``step`` then grows by one.

        Examples
        --------
        >>> import torch
        >>> import sigreg.torch
        >>> regulariser = sigreg.torch.SIGReg(num_slices=16).eval()  # fixed directions
        >>> z = torch.randn(64, 8)
        >>> bool(regulariser(z) == regulariser(z))
        True
        """
        reduce = None
        if self.distributed and _torch.distributed.is_available() and _torch.distributed.is_initialized():
            reduce = all_reduce(self.group)
        out = _regulariser.sigreg(
            z,
            statistic=self.statistic,
            num_slices=self.num_slices,
            seed=self.step.to(z.device),
            reduction=self.reduction,
            all_reduce=reduce,
        )
        if self.training:
            self.step.add_(1)
        return _typing.cast(_torch.Tensor, out)

    def extra_repr(self) -> str:
        return f"num_slices={self.num_slices}, statistic={self.statistic!r}, reduction={self.reduction!r}"


class LeWMLoss(_torch.nn.Module):
    """The LeWorldModel objective (:func:`sigreg.lewm_loss`) as a module, fresh directions every step.

    The seed of the directions is the ``step`` buffer, as in :class:`SIGReg`: incremented in place
    after each call in training mode, with no host sync; fixed in eval mode. When a
    torch.distributed process group is initialised, SIGReg is that of the global batch
    (``distributed=False`` turns this off).

    Parameters
    ----------
    lam : float, default 0.1
        Weight of SIGReg (the paper's value), finite and >= 0.
    num_slices : int, default 1024
        Directions per step.
    time_axis : {1, 0}, default 1
        1 for clips of shape ``(B, T, D)`` (batch first), 0 for ``(T, B, D)``.
    normalize : bool, default False
        Layer-normalise both sides of the prediction term (lightly's ``normalize=True``).
    detach_target : bool, default False
        No gradient into the target through the prediction term (lightly 1.6's choice; the
        paper's default is False).
    statistic : str or Statistic, default "epps_pulley"
        As in :func:`sigreg.sigreg`; checked now, with ``options``.
    distributed : bool, default True
        Reduce over the process group when one is initialised.
    group : ProcessGroup, optional
        The process group; default: the world.
    **options
        Options of the statistic (Epps-Pulley: ``t_max``, ``num_points``, ``integration``,
        ``unbiased``, ``target``).

    Raises
    ------
    TypeError, ValueError
        If an argument is invalid (checked at construction, not at the first step).

    Examples
    --------
    >>> import torch
    >>> import sigreg.torch
    >>> criterion = sigreg.torch.LeWMLoss(num_slices=64)
    >>> emb = torch.randn(32, 4, 16, requires_grad=True)  # (B, T, D) frame embeddings
    >>> predicted = emb[:, :-1] + 0.1  # a predictor's guesses of frames 1..3
    >>> criterion(predicted, emb[:, 1:], emb).backward()
    >>> int(criterion.step), emb.grad.shape
    (1, torch.Size([32, 4, 16]))
    """

    step: _torch.Tensor

    def __init__(
        self,
        lam: float = 0.1,
        num_slices: int = 1024,
        *,
        time_axis: int = 1,
        normalize: bool = False,
        detach_target: bool = False,
        statistic: str | _Statistic = "epps_pulley",
        distributed: bool = True,
        group: _Any = None,
        **options: _Any,
    ) -> None:
        super().__init__()
        settings = _lewm.checked_settings(lam, time_axis, normalize, detach_target)
        self.lam, self.time_axis, self.normalize, self.detach_target = settings
        self.num_slices = _checks.integer("num_slices", num_slices, 1)
        self.statistic = _registry.resolve(statistic, options)
        self.distributed = distributed
        self.group = group
        self.register_buffer("step", _torch.zeros((), dtype=_torch.int64))

    def forward(
        self, predicted: _torch.Tensor, target: _torch.Tensor, embeddings: _torch.Tensor
    ) -> _torch.Tensor:
        """The loss of one batch of clips with the directions of the current step.

        Parameters
        ----------
        predicted : torch.Tensor of shape (B, T', D)
            The predictor's next-frame embeddings (``(T', B, D)`` with ``time_axis=0``).
        target : torch.Tensor of shape (B, T', D)
            The observed next-frame embeddings.
        embeddings : torch.Tensor of shape (B, T, D)
            All frame embeddings: SIGReg's input.

        Returns
        -------
        torch.Tensor
            As :func:`sigreg.lewm_loss` returns it; in training mode ``step`` then grows by one.

        Examples
        --------
        >>> import torch
        >>> import sigreg.torch
        >>> criterion = sigreg.torch.LeWMLoss(num_slices=16).eval()  # fixed directions
        >>> emb = torch.randn(8, 3, 4)
        >>> bool(criterion(emb[:, 1:], emb[:, 1:], emb) == criterion(emb[:, 1:], emb[:, 1:], emb))
        True
        """
        reduce = None
        if self.distributed and _torch.distributed.is_available() and _torch.distributed.is_initialized():
            reduce = all_reduce(self.group)
        out = _lewm.lewm_loss(
            predicted,
            target,
            embeddings,
            lam=self.lam,
            time_axis=self.time_axis,
            normalize=self.normalize,
            detach_target=self.detach_target,
            statistic=self.statistic,
            num_slices=self.num_slices,
            seed=self.step.to(embeddings.device),
            all_reduce=reduce,
        )
        if self.training:
            self.step.add_(1)
        return _typing.cast(_torch.Tensor, out)

    def extra_repr(self) -> str:
        return (
            f"lam={self.lam}, num_slices={self.num_slices}, time_axis={self.time_axis}, "
            f"normalize={self.normalize}, detach_target={self.detach_target}, statistic={self.statistic!r}"
        )
