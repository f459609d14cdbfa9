"""What the rank-based statistics share: ranks, reads at ranks, and the base class.

The statistics of :mod:`sigreg._statistics.edf` and :mod:`sigreg._statistics.order` test
the columns of ``u`` (..., N, K) along axis -2 against N(0, 1) and are written with the
*ranks* of the samples (0-based, from a stable double ``argsort``) instead of the sorted
samples: a sum over sorted samples ``sum_i c_i x_(i)`` is ``sum_j c[rank_j] x_j``, so the
values and their gradients are elementwise in the original order, and only Vasicek's
entropy, whose terms mix neighbours, gathers back from the sorted order. Gradients exist
almost everywhere (where no two samples tie).

These statistics are not functions of sums over samples: no ``all_reduce``.
Their per-slice *scores* (what :func:`sigreg.sigreg` averages) are 0 for a
perfect fit and grow with misfit; see each class.
"""

from __future__ import annotations

from typing import Any

from .._core.arrays import device as _device
from .._core.statistic import Statistic

Array = Any


def ranks(u: Array, xp: Any) -> Array:
    """The 0-based rank of each sample of ``u`` (..., N, K) along axis -2 (default index dtype)."""
    order = xp.argsort(u, axis=-2, stable=True)
    return xp.astype(xp.argsort(order, axis=-2, stable=True), index_dtype(xp))


def index_dtype(xp: Any) -> Any:
    # int64, or int32 where that is the default (JAX without x64).
    return xp.__array_namespace_info__().default_dtypes()["indexing"]


def table(values: tuple[float, ...], like: Array, xp: Any) -> Array:
    return xp.asarray(values, dtype=like.dtype, device=_device(like))


def at_ranks(table: Array, rank: Array, xp: Any) -> Array:
    """``table[rank]`` elementwise: a 1-D table read at each (integer) index of ``rank``."""
    return xp.reshape(xp.take(table, xp.reshape(rank, (-1,)), axis=0), rank.shape)


def from_sorted(values: Array, rank: Array, xp: Any) -> Array:
    """``values`` (..., N, K) in sorted order, read back at each sample's rank (a gather)."""
    n, k = values.shape[-2], values.shape[-1]
    columns = xp.reshape(xp.moveaxis(values, -1, -2), (-1, n))  # (B, N): one row per column
    offsets = xp.arange(columns.shape[0], dtype=rank.dtype, device=_device(rank)) * n
    index = xp.reshape(xp.moveaxis(rank, -1, -2), (-1, n)) + xp.reshape(offsets, (-1, 1))
    flat = at_ranks(xp.reshape(columns, (-1,)), index, xp)
    return xp.moveaxis(xp.reshape(flat, (*values.shape[:-2], k, n)), -1, -2)


def float_ranks(u: Array, xp: Any) -> Array:
    return xp.astype(ranks(u, xp), u.dtype)


def nonfinite_marker(u: Array, xp: Any) -> Array:
    """0 per column, NaN where a sample is not finite: added to values whose formula would
    map an infinite sample to a finite number (Phi(inf) = 1)."""
    return xp.sum(u - u, axis=-2)


def centred_and_scaled(u: Array, xp: Any) -> tuple[Array, Array]:
    """Each column of ``u`` (..., N, K) minus its mean, over its largest deviation; and that scale.

    For statistics free of location and scale: the powers and products are then of numbers
    at most 1, whatever the column's offset or scale. A constant column keeps a scale of 1
    (its centred values are 0). The column is first divided by the power of two at or below
    its largest entry (exactly), so that its mean cannot overflow even near the largest float.
    """
    largest = xp.max(xp.abs(u), axis=-2, keepdims=True)
    spread = largest > 0.0  # a column of zeros keeps a power of 1 (and no log of 0 is taken)
    power = xp.where(
        spread,
        2.0 ** xp.floor(xp.log2(xp.where(spread, largest, xp.ones_like(largest)))),
        xp.ones_like(largest),
    )
    u = u / power
    mean = xp.mean(u, axis=-2, keepdims=True)
    mean = mean + xp.mean(u - mean, axis=-2, keepdims=True)  # a second pass: exact to rounding
    deviation = u - mean
    scale = xp.max(xp.abs(deviation), axis=-2, keepdims=True)
    scale = xp.where(scale > 0.0, scale, xp.ones_like(scale))
    return deviation / scale, scale * power


def expand_cotangent(cotangent: Array) -> Array:
    return cotangent[..., None, :]


class OrderStatistic(Statistic):
    """Shared by the rank-based statistics: no sums (so no ``all_reduce``)."""
