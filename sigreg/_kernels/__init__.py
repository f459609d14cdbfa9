"""Fused kernels: Triton's on CUDA (``triton_ecf``), Numba's on CPUs (``numba_ecf``).

Each has an eager reference, the array-API code of ``sigreg._ecf``, and tests that
compare the two on many shapes.
"""

from __future__ import annotations

from typing import Any

_LOADED: dict[str, Any] = {}


def numba_kernels() -> Any | None:
    """The Numba CPU kernels through DLPack when Numba imports (looked up once); else None."""
    if "numba" not in _LOADED:
        from . import numba_bridge, numba_ecf

        _LOADED["numba"] = numba_bridge if numba_ecf.available() else None
    return _LOADED["numba"]
