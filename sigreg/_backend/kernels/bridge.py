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

    def ecf_sums(self, u: Array, dt: float, num_knots: int) -> Array:
        return self._back(u, self.kernels.ecf_sums(self.view(u), dt, num_knots))

    def ecf_sums_vjp(self, u: Array, sums_bar: Array, dt: float, num_knots: int) -> Array:
        return self._back(u, self.kernels.ecf_sums_vjp(self.view(u), self.view(sums_bar), dt, num_knots))

    @staticmethod
    def _back(like: Array, out: Any) -> Array:
        xp: Any = arrays.namespace(like)
        return xp.from_dlpack(out)


def host_view(a: Array) -> Any:
    """A NumPy view of a CPU array of any library."""
    import numpy as np

    # A tensor that requires grad refuses to export itself; the kernel needs only its values.
    return np.from_dlpack(a.detach() if hasattr(a, "detach") else a)
