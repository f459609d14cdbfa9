"""Fused kernels for arrays of other libraries, through DLPack: Triton's for CuPy, Numba's for
NumPy and PyTorch CPU tensors.

No copy is made: each array is viewed in the kernels' library, the kernel runs, and the
result is viewed back as an array of the input's library.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..._core import arrays

Array = Any


@dataclass(frozen=True)
class Bridge:
    """``kernels`` (a module with ``ecf_sums``, ``ecf_sums_vjp``) for arrays of any library."""

    kernels: Any
    view: Callable[[Array], Any]  # a zero-copy view of an array in the kernels' library
    hold: Callable[[Any, Array], None] | None = None  # keeps a result's memory alive for ``like``

    def ecf_sums(self, u: Array, dt: float, num_knots: int) -> Array:
        return self._back(u, self.kernels.ecf_sums(self.view(u), dt, num_knots))

    def ecf_sums_vjp(self, u: Array, sums_bar: Array, dt: float, num_knots: int) -> Array:
        return self._back(u, self.kernels.ecf_sums_vjp(self.view(u), self.view(sums_bar), dt, num_knots))

    def _back(self, like: Array, out: Any) -> Array:
        if self.hold is not None:
            self.hold(out, like)
        xp: Any = arrays.namespace(like)
        return xp.from_dlpack(out)


def host_view(a: Array) -> Any:
    """A NumPy view of a CPU array of any library."""
    import numpy as np

    # A tensor that requires grad refuses to export itself; the kernel needs only its values.
    return np.from_dlpack(a.detach() if hasattr(a, "detach") else a)


def record_on_cupy_stream(out: Any, like: Array) -> None:
    """Mark torch's ``out`` as in use by CuPy's current stream when ``like`` is a CuPy array.

    The CuPy view shares torch's memory. CuPy may go on using it on its own current stream after
    torch has freed ``out`` and handed the block to another tensor, so the block is marked as in
    use by that stream (``record_stream``): torch's caching allocator then reuses it only once
    the work queued on CuPy's stream so far has finished.
    """
    if out.is_cuda and "cupy" in type(like).__module__:
        import cupy
        import torch

        stream = cupy.cuda.get_current_stream()
        out.record_stream(torch.cuda.ExternalStream(stream.ptr, device=out.device))  # type: ignore[no-untyped-call]
