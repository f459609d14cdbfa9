"""The Triton kernels for arrays of other libraries (CuPy), shared with torch through DLPack.

No copy is made: the array is viewed as a torch tensor, the kernel runs, and
the result is viewed back as an array of the input's library.
"""

from __future__ import annotations

from typing import Any

from torch.utils.dlpack import from_dlpack

from ..._core import arrays
from . import triton_ecf

Array = Any


def ecf_sums(u: Array, dt: float, num_knots: int) -> Array:
    out = triton_ecf.ecf_sums(from_dlpack(u), dt, num_knots)
    xp: Any = arrays.namespace(u)
    return xp.from_dlpack(out)


def ecf_sums_vjp(u: Array, sums_bar: Array, dt: float, num_knots: int) -> Array:
    out = triton_ecf.ecf_sums_vjp(from_dlpack(u), from_dlpack(sums_bar), dt, num_knots)
    xp: Any = arrays.namespace(u)
    return xp.from_dlpack(out)
