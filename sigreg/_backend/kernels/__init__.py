"""Fused kernels: Triton's on CUDA (``triton_ecf``), Numba's on CPUs (``numba_ecf``).

Each has an eager reference, the array-API code of ``sigreg._statistics.ecf``, and tests that
compare the two on many shapes. The loaders below import a kernel module on first
use and remember the answer; None means its library is missing, and the array-API
plan then serves, with no error.
"""

from __future__ import annotations

from typing import Any

_LOADED: dict[str, Any] = {}


def triton_kernels() -> Any | None:
    """The Triton kernels for CUDA tensors, when Triton imports; else None."""
    if "triton" not in _LOADED:
        try:
            from . import triton_ecf
        except ImportError:
            triton_ecf = None  # type: ignore[assignment]
        _LOADED["triton"] = triton_ecf
    return _LOADED["triton"]


def triton_dlpack_kernels() -> Any | None:
    """The Triton kernels for CuPy arrays through DLPack, when torch and Triton import; else None."""
    if "dlpack" not in _LOADED:
        try:
            from . import dlpack
        except ImportError:
            dlpack = None  # type: ignore[assignment]
        _LOADED["dlpack"] = dlpack
    return _LOADED["dlpack"]


def numba_kernels() -> Any | None:
    """The Numba CPU kernels through DLPack when Numba imports; else None."""
    if "numba" not in _LOADED:
        from . import numba_bridge, numba_ecf

        _LOADED["numba"] = numba_bridge if numba_ecf.available() else None
    return _LOADED["numba"]
