"""The compute dtype: the floating dtype that a computation on an input dtype runs in.

Written once here for every path (the array API, Dask chunks, files on disk): dtypes
with float64 precision or more (float64 in either byte order, long double) run in
float64; the others (float32, bfloat16, float16) in float32.
"""

from __future__ import annotations

from typing import Any

Array = Any


def compute_dtype(dtype: Any, xp: Any) -> Any:
    """The compute dtype of ``dtype`` in namespace ``xp`` (NumPy itself works too)."""
    return xp.float64 if xp.finfo(dtype).bits >= 64 else xp.float32


def cast(x: Array, dtype: Any, xp: Any) -> Array:
    """``x`` in ``dtype``, itself when it already is (no copy, autograd state kept)."""
    return x if x.dtype == dtype else xp.astype(x, dtype)


def as_compute_dtype(x: Array, xp: Any) -> Array:
    return cast(x, compute_dtype(x.dtype, xp), xp)
