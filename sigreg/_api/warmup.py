"""``sigreg.warmup``: compile the fused CPU kernels ahead of time (``python -m sigreg warmup``)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

__all__ = ["warmup"]

# The compute dtypes: float16 and bfloat16 inputs compute in float32, long double in float64.
COMPUTE_DTYPES = ("float32", "float64")


def _dtype_names(dtype: Any) -> tuple[str, ...]:
    """The compute dtype names that ``dtype`` asks for, checked before any work."""
    if dtype is None:
        return COMPUTE_DTYPES
    requested = [dtype] if isinstance(dtype, str) or not isinstance(dtype, Sequence) else list(dtype)
    names = []
    for item in requested:
        name = item if isinstance(item, str) else getattr(item, "__name__", None) or str(item)
        if name not in COMPUTE_DTYPES:
            raise ValueError(
                f"dtype must be 'float32' or 'float64' (or a sequence of them; float16 and bfloat16 "
                f"compute in float32), got {item!r}"
            )
        names.append(name)
    if not names:
        raise ValueError("dtype must name at least one of 'float32', 'float64', got an empty sequence")
    return tuple(dict.fromkeys(names))


def warmup(dtype: str | Sequence[str] | None = None, *, check: bool = False) -> dict[str, str]:
    """Compile the fused CPU kernels now, rather than in the first ``sigreg`` call.

    With the ``numba`` extra installed, NumPy arrays, eager PyTorch CPU tensors and JAX CPU
    arrays in float64 (when ``jax_enable_x64`` is on) run fused Numba kernels, compiled on
    first use for each compute dtype: several seconds each. The compiled kernels are kept on
    disk (``NUMBA_CACHE_DIR`` when set, else ``~/.cache/sigreg/numba``) and later processes
    load them in about a second, also processes that may read the folder but not write it (a
    container's non-root user, a cluster's shared install). Call this where a pause is cheap
    and a cache can be kept: a Docker image build (``RUN python -m sigreg warmup``), or the
    start of a job, before the workers or data-parallel ranks start. Numba keys the kernels by
    the CPU they were compiled for: set ``NUMBA_CPU_NAME`` alike where the cache is filled and
    where it is used to share it between CPUs (docs/deploying.md), and ``check=True`` says
    whether it serves this machine. Without Numba there is nothing to compile.

    Parameters
    ----------
    dtype : str or sequence of str, optional
        The compute dtypes to compile for: ``"float32"``, ``"float64"`` or both (the
        default). float16 and bfloat16 inputs compute in float32.
    check : bool, optional
        Compile nothing and write nothing: only look up whether the disk cache holds the
        kernels for this CPU (``python -m sigreg warmup --check``).

    Returns
    -------
    dict of str to str
        For each dtype, how its kernels became ready: ``"compiled"`` (and saved to the disk
        cache, when it can be written), ``"loaded"`` (from the disk cache), ``"ready"``
        (already in this process), ``"failed"`` (they did not compile or run here: a
        ``sigreg.KernelWarning`` said why, and the array-API code serves), ``"disabled"``
        (``SIGREG_KERNELS`` leaves Numba out) or ``"unavailable"`` (Numba is not installed).
        With ``check``: ``"cached"`` or ``"missing"`` instead of the first four.

    Raises
    ------
    ValueError
        If ``dtype`` names anything but float32 and float64.

    Examples
    --------
    >>> import sigreg
    >>> status = sigreg.warmup("float64")
    >>> status["float64"] in {"compiled", "loaded", "ready", "unavailable", "disabled"}
    True
    >>> sigreg.warmup("float64", check=True)["float64"] in {"cached", "missing", "unavailable", "disabled"}
    True
    """
    names = _dtype_names(dtype)
    from .._backend.kernels import fallback, numba_ecf

    if not fallback.allowed("numba"):
        return dict.fromkeys(names, "disabled")
    if not numba_ecf.available():
        return dict.fromkeys(names, "unavailable")
    import numpy as np

    if check:
        return {name: "cached" if numba_ecf.cached(np.dtype(name)) else "missing" for name in names}
    status = {}
    for name in names:
        dtype_ = np.dtype(name)
        kernels = numba_ecf.compiled_kernels(dtype_)
        before = [len(kernel.signatures) for kernel in kernels]
        fallback.guard("numba", functools.partial(numba_ecf.compile_ahead, dtype_), lambda: None)
        if not fallback.usable("numba"):
            status[name] = "failed"
        elif before == [len(kernel.signatures) for kernel in kernels]:
            status[name] = "ready"
        elif any(sum(kernel.stats.cache_misses.values()) for kernel in kernels):
            status[name] = "compiled"
        else:
            status[name] = "loaded"
    return status
