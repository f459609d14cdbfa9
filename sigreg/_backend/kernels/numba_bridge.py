"""The Numba CPU kernels for CPU arrays of any library (PyTorch, NumPy), through DLPack.

No copy is made: the array is viewed as a NumPy array, the kernel runs, and the
result is viewed back as an array of the input's library.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..._core import arrays
from . import numba_ecf

Array = Any


def _host(a: Array) -> Any:
    # A tensor that requires grad refuses to export itself; the kernel needs only its values.
    return np.from_dlpack(a.detach() if hasattr(a, "detach") else a)


def ecf_sums(u: Array, dt: float, num_knots: int) -> Array:
    out = numba_ecf.ecf_sums(_host(u), dt, num_knots)
    xp: Any = arrays.namespace(u)
    return xp.from_dlpack(out)


def ecf_sums_vjp(u: Array, sums_bar: Array, dt: float, num_knots: int) -> Array:
    out = numba_ecf.ecf_sums_vjp(_host(u), _host(sums_bar), dt, num_knots)
    xp: Any = arrays.namespace(u)
    return xp.from_dlpack(out)
