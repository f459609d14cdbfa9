"""``sigreg.KernelWarning``: a fused kernel family failed, and the array-API code serves instead."""

from __future__ import annotations

__all__ = ["KernelWarning"]


class KernelWarning(RuntimeWarning):
    """A fused kernel family (Numba, Triton or Pallas) failed to compile, load or launch.

    sigreg warns once per family and process, names the family and the error, and computes
    with its array-API code from then on: the same value and gradient, more slowly. The
    message says how to turn the family off (``SIGREG_KERNELS``, docs/deploying.md), which
    also silences the warning. Filter it like any warning:
    ``warnings.filterwarnings("ignore", category=sigreg.KernelWarning)``.

    Examples
    --------
    >>> import warnings
    >>> import sigreg
    >>> issubclass(sigreg.KernelWarning, RuntimeWarning)
    True
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", sigreg.KernelWarning)  # make a failing kernel an error
    """
