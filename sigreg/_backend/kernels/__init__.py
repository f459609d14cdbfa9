"""Fused kernels: Triton's on CUDA (``triton_ecf``; ``pallas_ecf`` for JAX), Numba's on CPUs (``numba_ecf``).

Each has an eager reference, the array-API code of ``sigreg._statistics.ecf``, and tests that
compare the two on many shapes. The loaders below import a kernel module on first
use and remember the answer; None means the array-API plan serves: the family's library is
missing (no error), ``SIGREG_KERNELS`` leaves the family out (nothing is imported), or the
family failed in this process (``fallback``: one ``sigreg.KernelWarning``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import fallback

_LOADED: dict[str, Any] = {}


def _load(key: str, family: str, importer: Callable[[], Any]) -> Any | None:
    # Plain import statements inside the importers: torch.compile traces them (a compiled
    # function may be the first caller), and refuses importlib.
    if not fallback.usable(family):
        return None
    if key not in _LOADED:
        try:
            _LOADED[key] = importer()
        except ImportError:
            _LOADED[key] = None
        except Exception as error:  # a library that is there but breaks on import (a driver, say)
            _LOADED[key] = None
            fallback.give_up(family, error)
    return _LOADED[key]


def _triton() -> Any:
    from . import triton_ecf

    return triton_ecf


def _triton_through_dlpack() -> Any:
    from torch.utils.dlpack import from_dlpack

    from . import bridge, triton_ecf

    return bridge.Bridge(triton_ecf, from_dlpack, bridge.record_on_cupy_stream)


def _numba_through_dlpack() -> Any:
    from . import bridge, numba_ecf

    return bridge.Bridge(numba_ecf, bridge.host_view) if numba_ecf.available() else None


def _pallas() -> Any:
    from . import pallas_ecf

    return pallas_ecf


def pallas_kernels() -> Any | None:
    """The Pallas kernels for JAX arrays on CUDA, when ``jax.experimental.pallas`` imports; else None.

    ``SIGREG_PALLAS=0`` (an alias of leaving ``pallas`` out of ``SIGREG_KERNELS``) also gives None.
    """
    return _load("pallas", "pallas", _pallas)


def triton_kernels() -> Any | None:
    """The Triton kernels for CUDA tensors, when Triton imports; else None."""
    return _load("triton", "triton", _triton)


def triton_dlpack_kernels() -> Any | None:
    """The Triton kernels for CuPy arrays through DLPack, when torch and Triton import; else None."""
    return _load("dlpack", "triton", _triton_through_dlpack)


def numba_kernels() -> Any | None:
    """The Numba CPU kernels through DLPack when Numba imports; else None."""
    from . import openmp

    openmp.calm()  # PyTorch's idle OpenMP threads, which share the CPUs with the kernels' (cheap once done)
    return _load("numba", "numba", _numba_through_dlpack)
