"""Per-slice SIGReg statistics of ``z @ A`` and their gradient: the array-API core.

Every function takes the namespace ``xp`` explicitly; framework adapters
(``sigreg.torch``, ``sigreg.jax``) wrap :func:`forward` and :func:`backward`
into their autodiff systems, and :func:`sigreg.value_and_grad` calls them
directly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ._ecf import ecf_sums, ecf_sums_vjp, statistic_from_sums, statistic_sums_vjp
from ._exact import exact_statistic, exact_vjp
from ._grid import trapezoid_grid
from ._xp import device as _device

Array = Any


@dataclass(frozen=True)
class Options:
    """The static options of one SIGReg evaluation (hashable: a jit cache key)."""

    t_max: float = 3.0
    num_points: int = 17
    integration: str = "trapezoid"
    all_reduce: Callable[[Array], Array] | None = None
    block_rows: int | None = None


class Residuals(NamedTuple):
    """What the backward pass needs: O(N*K + K*P), never N x K x P."""

    u: Array  # projections z @ A, (..., N, K)
    cos_sum: Array | None  # sums over the (global) batch, (..., K, P-1); None if exact
    sin_sum: Array | None
    n: Array | None  # number of samples in the (global) batch
    grad_scale: Array | None  # number of workers when all-reduced, else None


def forward(z: Array, directions: Array, opts: Options, xp: Any) -> tuple[Array, Residuals]:
    """Per-slice statistics ``EP`` of shape ``(..., K)`` for ``z`` (..., N, D)."""
    return statistics(z @ directions, opts, xp)


def statistics(u: Array, opts: Options, xp: Any) -> tuple[Array, Residuals]:
    """Per-slice statistics of projections ``u`` (..., N, K) along the sample axis ``-2``."""
    if opts.integration == "exact":
        return exact_statistic(u, xp), Residuals(u, None, None, None, None)
    grid = trapezoid_grid(opts.t_max, opts.num_points)
    cos_sum, sin_sum = ecf_sums(u, grid, xp, opts.block_rows)
    n: Any = u.shape[-2]
    grad_scale = None
    if opts.all_reduce is not None:
        cos_sum, sin_sum, n, grad_scale = global_sums(cos_sum, sin_sum, n, opts.all_reduce, xp)
    ep = statistic_from_sums(cos_sum, sin_sum, n, grid, xp)
    return ep, Residuals(u, cos_sum, sin_sum, n, grad_scale)


def backward(res: Residuals, directions: Array, ep_bar: Array, opts: Options, xp: Any) -> Array:
    """Gradient with respect to ``z`` given the upstream gradient ``ep_bar`` (..., K).

    Directions are constants. With an all-reduce the gradient of this worker's
    samples is multiplied by the number of workers, so that the gradient
    average that data-parallel frameworks take (DDP) equals the single-process
    gradient on the concatenated batch (notes section 4).
    """
    if opts.integration == "exact":
        grad_u = exact_vjp(res.u, ep_bar, xp)
    else:
        if res.grad_scale is not None:
            ep_bar = ep_bar * res.grad_scale
        grid = trapezoid_grid(opts.t_max, opts.num_points)
        cos_bar, sin_bar = statistic_sums_vjp(res.cos_sum, res.sin_sum, res.n, ep_bar, grid, xp)
        grad_u = ecf_sums_vjp(res.u, cos_bar, sin_bar, grid, xp, opts.block_rows)
    return grad_u @ directions.T


def global_sums(cos_sum: Array, sin_sum: Array, n: int, all_reduce: Callable, xp: Any):
    """One all-reduce of the local sums, the local sample count and a worker count."""
    shape = cos_sum.shape
    counts = xp.asarray([float(n), 1.0], dtype=cos_sum.dtype, device=_device(cos_sum))
    packed = xp.concat([xp.reshape(cos_sum, (-1,)), xp.reshape(sin_sum, (-1,)), counts])
    packed = all_reduce(packed)
    size = math.prod(shape)
    total_cos = xp.reshape(packed[:size], shape)
    total_sin = xp.reshape(packed[size : 2 * size], shape)
    return total_cos, total_sin, packed[2 * size], packed[2 * size + 1]
