"""How a statistic is executed: row blocks, the loop primitive, fused kernels.

A :class:`Plan` never changes a result beyond float rounding; it only decides
how the work is laid out for the device. ``sigreg._backend.dispatch.plan`` picks one per
array: blocks of rows on CPUs (the per-knot loop then works in cache), all rows
at once on accelerators (fewest kernel launches), a fused kernel where one is
available, and ``lax.scan`` as the loop under JAX (one loop body for XLA
instead of an unrolled chain).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import arrays

Array = Any


def python_scan(
    body: Callable[[Any, Any], tuple[Any, Any]], carry: Any, xs: Any = None, length: int | None = None
) -> tuple[Any, Any]:
    """``jax.lax.scan`` semantics as a Python loop, for eager array libraries.

    ``xs`` is None, an array or a (nested) tuple of arrays, scanned along axis 0;
    the outputs of ``body`` (None, an array or a tuple of arrays) are stacked
    along a new axis 0.
    """
    steps = length if xs is None else _leading(xs)
    outputs = []
    for i in range(steps or 0):
        carry, y = body(carry, None if xs is None else _index(xs, i))
        outputs.append(y)
    return carry, _stack(outputs)


def _leading(xs: Any) -> int:
    return _leading(xs[0]) if isinstance(xs, tuple) else int(xs.shape[0])


def _index(xs: Any, i: int) -> Any:
    return tuple(_index(x, i) for x in xs) if isinstance(xs, tuple) else xs[i, ...]


def _stack(outputs: list[Any]) -> Any:
    if not outputs or outputs[0] is None:
        return None
    if isinstance(outputs[0], tuple):
        return tuple(_stack([o[i] for o in outputs]) for i in range(len(outputs[0])))
    xp: Any = arrays.namespace(outputs[0])
    return xp.stack(outputs, axis=0)


@dataclass(frozen=True)
class Plan:
    """The execution plan of one evaluation (hashable: part of a jit cache key).

    Attributes
    ----------
    block_rows : int or None
        Rows of the sample axis per block of the knot loop; None: all at once.
    scan : callable
        The loop primitive, with ``jax.lax.scan``'s signature.
    kernel : object or None
        Fused kernels with ``ecf_sums(u, dt, num_knots)`` and
        ``ecf_sums_vjp(u, sums_bar, dt, num_knots)``, or None for the array-API code.
    real_pairs : bool
        Complex numbers as pairs of real arrays instead of complex arrays: for
        compilers that generate no code for complex operations (TorchInductor).
    fused_knots : bool
        The cosine and sine of every knot evaluated directly, in one broadcast (J, ..., N, K)
        expression per sum, for compilers that fuse it into one reduction without
        materialising it (TorchInductor): the recurrence's chains of dependent operations
        take inductor minutes to schedule (docs/design.md, "Plans", has the measured times).
    """

    block_rows: int | None = None
    scan: Callable[..., tuple[Any, Any]] = python_scan
    kernel: Any = None
    real_pairs: bool = False
    fused_knots: bool = False


DEFAULT = Plan()


def row_slices(n: int, rows: int) -> list[slice]:
    """Slices of ``rows`` rows (at least 1) covering ``range(n)``, the last one shorter: the row
    blocks of the pairwise statistics, which keep a block of pairs near a fixed size."""
    rows = max(1, rows)
    return [slice(start, min(start + rows, n)) for start in range(0, n, rows)]
