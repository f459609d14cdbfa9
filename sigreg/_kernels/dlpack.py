"""The Triton kernels for arrays of other libraries (CuPy), shared with torch through DLPack.

No copy is made: the array is viewed as a torch tensor, the kernel runs, and
the result is viewed back as an array of the input's library.
"""

from __future__ import annotations

from typing import Any

from torch.utils.dlpack import from_dlpack

from .. import _xp
from . import triton_ecf

Array = Any


def _to_library(out: Any, like: Array) -> Array:
    """``out`` (a torch tensor) as an array of ``like``'s library, kept alive for its stream.

    The array shares torch's memory. CuPy may go on using it on its own current stream after
    torch has freed ``out`` and handed the block to another tensor, so the block is marked
    as in use by that stream (``record_stream``): torch's caching allocator then reuses it
    only once the work queued on CuPy's stream so far has finished.
    """
    xp: Any = _xp.namespace(like)
    if out.is_cuda and "cupy" in type(like).__module__:
        import cupy
        import torch

        stream = cupy.cuda.get_current_stream()
        out.record_stream(torch.cuda.ExternalStream(stream.ptr, device=out.device))  # type: ignore[no-untyped-call]
    return xp.from_dlpack(out)


def ecf_sums(u: Array, dt: float, num_knots: int) -> Array:
    return _to_library(triton_ecf.ecf_sums(from_dlpack(u), dt, num_knots), u)


def ecf_sums_vjp(u: Array, sums_bar: Array, dt: float, num_knots: int) -> Array:
    return _to_library(triton_ecf.ecf_sums_vjp(from_dlpack(u), from_dlpack(sums_bar), dt, num_knots), u)
