"""The slicing layer: projections, batch axes, reductions and the all-reduce of sums.

It names no particular statistic. ``forward`` and ``backward`` evaluate any
:class:`~sigreg._core.statistic.Statistic` on projections ``u = z @ A`` (..., N, K);
with ``all_reduce`` the statistic's sums over samples are packed with the
sample count and a worker count into one array and reduced in one call, so
every worker gets the statistic of the global batch.
"""

from __future__ import annotations

import math
from typing import Any

from .all_reduce import AllReduce
from .arrays import device as _device
from .plan import Plan
from .statistic import Statistic

Array = Any


def clamp_to_projectable(z: Array, xp: Any) -> Array:
    """Finite float32 ``z`` clamped so that projections and ``t * u`` stay finite.

    A projection onto a unit direction is at most ``sqrt(D) * max|z|``; the
    knots are multiplied in after. Without the clamp, float32 entries near 3e38
    overflow to inf and the cosines to NaN. NaN and infinite entries are kept
    (their result is not finite, by design). float64 needs no clamp in practice.
    """
    if z.dtype != xp.float32:
        return z
    limit = float(xp.finfo(xp.float32).max) / (2.0**16 * math.sqrt(z.shape[-1]))
    # z - z is 0, or NaN where z is not finite: clip alone would make infinities finite.
    return xp.clip(z, -limit, limit) + (z - z)


def forward(
    u: Array, statistic: Statistic, xp: Any, plan: Plan, all_reduce: AllReduce | None = None
) -> tuple[Array, tuple[Any, ...]]:
    """Per-column values (..., K) and the residuals ``(workers, *statistic residuals)``."""
    if all_reduce is None:
        values, residuals = statistic.forward(u, xp, plan)
        return values, (None, *residuals)
    stat: Any = statistic  # a SumsStatistic: checked by the public layer
    sums, n, workers = global_sums(stat.local_sums(u, xp, plan), u.shape[-2], all_reduce, xp)
    return stat.from_sums(sums, n, xp), (workers, sums, n)


def backward(
    u: Array, residuals: tuple[Any, ...], cotangent: Array, statistic: Statistic, xp: Any, plan: Plan
) -> Array:
    """The gradient with respect to ``u`` given the cotangent (..., K) of :func:`forward`'s values.

    With an all-reduce, the gradient of this worker's samples is multiplied by
    the number of workers, so that the gradient average that data-parallel
    frameworks take (DDP) equals the single-process gradient on the
    concatenated batch.
    """
    workers, *rest = residuals
    if workers is not None:
        cotangent = cotangent * workers
    return statistic.backward(u, tuple(rest), cotangent, xp, plan)


def value_and_grad(
    u: Array,
    statistic: Statistic,
    xp: Any,
    plan: Plan,
    all_reduce: AllReduce | None,
    reduction: str,
) -> tuple[Array, Array]:
    """The reduced value and its gradient with respect to ``u``, by the analytic gradient."""
    values, residuals = forward(u, statistic, xp, plan, all_reduce)
    grad_u = backward(u, residuals, cotangent_of(values, reduction, xp), statistic, xp, plan)
    return reduce(values, reduction, xp), grad_u


def global_sums(sums: Array, n: int, all_reduce: AllReduce, xp: Any) -> tuple[Array, Array, Array]:
    """One all-reduce of the local sums, the local sample count and a worker count."""
    # [n, 1] made on the device from scalars: a Python list would be a host-to-device copy,
    # which synchronises the stream.
    counts = xp.arange(2, dtype=sums.dtype, device=_device(sums)) * (1.0 - float(n)) + float(n)
    packed = all_reduce(xp.concat([xp.reshape(sums, (-1,)), counts]))
    size = math.prod(sums.shape)
    return xp.reshape(packed[:size], sums.shape), packed[size], packed[size + 1]


def reduce(values: Array, reduction: str, xp: Any) -> Array:
    """Mean or sum over slices and batch axes, or the values themselves (``"none"``)."""
    if reduction == "mean":
        return xp.mean(values)
    if reduction == "sum":
        return xp.sum(values)
    return values


def cotangent_of(values: Array, reduction: str, xp: Any) -> Array:
    """The gradient of :func:`reduce` (``"mean"`` or ``"sum"``) with respect to the values."""
    weight = 1.0 / math.prod(values.shape) if reduction == "mean" else 1.0
    return xp.full(values.shape, weight, dtype=values.dtype, device=_device(values))
