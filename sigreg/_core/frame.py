"""The agreed frame: one shift and scale per column that every worker, micro-batch and chunk shares.

A statistic free of location and scale (``needs_frame``: Jarque-Bera) is computed from power sums,
which lose their digits to cancellation at a large mean and overflow at a large scale. When its
sums are added across workers (``all_reduce``), micro-batches (the ``Accumulator``), or chunks
(Dask, ``sigreg test PATH``), they are taken of ``(u - shift) / scale`` instead: numbers of order 1
whose mean is small against their spread. The statistic is the same function of the moved
columns, so its value is unchanged, and its gradient is that of the moved columns divided by the
scale. The frame comes from a first round of sums: per column, ``n`` times the mean and ``n``
times the largest deviation from it, added over the parts and divided by the total count.
This module is the one place of that rule; dispatch, Dask, the CLI and the Accumulator call it.
"""

from __future__ import annotations

from typing import Any

Array = Any


def column_sums(u: Array, xp: Any, dtype: Any = None) -> Array:
    """The first pass over ``u`` (..., n, K): the sum of each column (..., K), accumulated in ``dtype``."""
    return xp.sum(u, axis=-2, dtype=dtype)


def column_spread(u: Array, mean: Array, xp: Any) -> Array:
    """The second pass: each column's largest deviation from ``mean`` (..., 1, K), shape (..., K)."""
    return xp.max(xp.abs(u - mean), axis=-2)


def frame_sums(u: Array, xp: Any) -> Array:
    """Per column of ``u`` (..., n, K): ``n`` times its mean and ``n`` times its largest deviation,
    shape (..., K, 2); sums of several parts add up to the frame sums of their union."""
    n = float(u.shape[-2])
    mean = xp.mean(u, axis=-2, keepdims=True)
    mean = mean + xp.mean(u - mean, axis=-2, keepdims=True)  # a second pass: exact to rounding
    return xp.stack([mean[..., 0, :] * n, column_spread(u, mean, xp) * n], axis=-1)


def from_totals(totals: Array, count: Any, xp: Any) -> tuple[Array, Array]:
    """The shift and scale (..., 1, K) from frame sums (..., K, 2) added over ``count`` samples.

    A column constant everywhere keeps a scale of 1 (its moved values are 0: NaN, as unreduced).
    """
    frame = totals / count
    shift, scale = frame[..., None, :, 0], frame[..., None, :, 1]
    return shift, xp.where(scale > 0.0, scale, xp.ones_like(scale))


def move(u: Array, shift: Array, scale: Array) -> Array:
    """The columns of ``u`` in the agreed frame."""
    return (u - shift) / scale
