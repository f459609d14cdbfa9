"""JAX extras: the named-axis all-reduce for ``shard_map`` and ``pmap``.

Plain ``sigreg.sigreg`` already works on JAX arrays (``jit``, ``grad``,
``vmap``); the ``custom_vjp`` adapter lives in ``sigreg._backend.adapters.jax_vjp``.
"""

from dataclasses import dataclass as _dataclass
from typing import Any as _Any

import jax as _jax

from ._core.all_reduce import AllReduce as _AllReduce

__all__ = ["all_reduce"]


@_dataclass(frozen=True)
class _AxisSum(_AllReduce):
    axis_name: _Any

    def __call__(self, x: _jax.Array) -> _jax.Array:
        total: _jax.Array = _jax.lax.psum(x, self.axis_name)  # type: ignore[no-untyped-call]
        return total


def all_reduce(axis_name: _Any) -> _AxisSum:
    """The ``all_reduce=`` callable of :func:`sigreg.sigreg` over a named axis.

    Parameters
    ----------
    axis_name : hashable
        The mapped axis of ``shard_map`` or ``pmap`` to sum over.

    Returns
    -------
    callable
        Sums an array with ``jax.lax.psum`` over ``axis_name``. JAX differentiates
        the sum itself, so gradients inside ``shard_map`` are those of the global batch.

    Examples
    --------
    >>> import sigreg.jax
    >>> sigreg.jax.all_reduce("data")
    _AxisSum(axis_name='data')
    """
    return _AxisSum(axis_name)
