"""Which fused kernel families may run (``SIGREG_KERNELS``), and what serves when one fails.

``SIGREG_KERNELS`` is read once, at the first kernel lookup of the process:

* ``auto`` (the default): every family whose library imports (Numba on CPUs; Triton for torch
  and CuPy on CUDA; Pallas for JAX on CUDA).
* ``none``: the array-API plan everywhere; Numba, Triton and Pallas are not even imported.
* a comma list of the families to allow, e.g. ``numba,pallas``.

``SIGREG_PALLAS=0`` (the older switch) takes Pallas off the list.

A family that fails to compile, load or launch is given up for the rest of the process: one
:class:`~sigreg.KernelWarning` per family, and the failed call and every later one compute with
the array-API code of ``sigreg._statistics.ecf`` (the same values). Kernels see only arrays
that sigreg's own checks accepted, so any exception from them is a failure of the kernel's
machinery (a compiler, driver, threading or resource error), with one exception: running out of
memory propagates, since the array-API code would need more of it, not less.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from ..._core.plan import Plan
from ..._statistics import ecf
from ..._statistics.quadrature import Grid
from .warning import KernelWarning

__all__ = ["FAMILIES", "allowed", "array_api_sums", "array_api_sums_vjp", "give_up", "guard", "usable"]

FAMILIES = ("numba", "triton", "pallas")
# Rows per block of the array-API code on CPUs, as sigreg._backend.dispatch chooses them.
_CPU_BLOCK_ELEMENTS = 1 << 16

_T = TypeVar("_T")
_allowed: frozenset[str] | None = None
_failed: dict[str, str] = {}
_lock = threading.Lock()


def _parse(value: str, pallas: str | None) -> frozenset[str]:
    text = value.strip().lower()
    if text in ("", "auto"):
        families = set(FAMILIES)
    elif text == "none":
        families = set()
    else:
        families = {name.strip() for name in text.split(",") if name.strip()}
        if not families or not families <= set(FAMILIES):
            raise ValueError(
                f"SIGREG_KERNELS must be 'auto', 'none' or a comma list of {', '.join(FAMILIES)}; "
                f"got {value!r}"
            )
    if pallas == "0":
        families.discard("pallas")
    return frozenset(families)


def allowed(family: str) -> bool:
    """Whether ``SIGREG_KERNELS`` (read on the first call) lets ``family`` run."""
    global _allowed
    if _allowed is None:
        _allowed = _parse(os.environ.get("SIGREG_KERNELS", "auto"), os.environ.get("SIGREG_PALLAS"))
    return family in _allowed


def usable(family: str) -> bool:
    """Allowed, and not given up after a failure in this process."""
    return allowed(family) and family not in _failed


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    if not lines:
        return type(error).__name__
    # A runtime's error that carries a Python traceback (XLA's, of a callback) ends with its cause.
    if "Traceback (most recent call last)" in str(error) and len(lines) > 1:
        return f"{type(error).__name__}: {_shorten(lines[0], 100)} ... {_shorten(lines[-1], 140)}"
    return f"{type(error).__name__}: {_shorten(lines[0], 240)}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def give_up(family: str, error: BaseException) -> None:
    """Turn ``family`` off for the rest of the process; the first time, warn."""
    with _lock:
        if family in _failed:
            return
        _failed[family] = _one_line(error)
    others = [name for name in FAMILIES if name != family and allowed(name)]
    switch = f"SIGREG_KERNELS={','.join(others)}" if others else "SIGREG_KERNELS=none"
    warnings.warn(
        f"sigreg's {family} kernels failed ({_failed[family]}); the array-API code computes the "
        f"same values from now on in this process, more slowly. {switch} leaves them out from "
        "the start (docs/deploying.md).",
        KernelWarning,
        stacklevel=3,
    )


def _out_of_memory(error: BaseException) -> bool:
    # torch.OutOfMemoryError is a RuntimeError, CuPy's a MemoryError; neither module is imported here.
    return isinstance(error, MemoryError) or "OutOfMemory" in type(error).__name__


def guard(family: str, run: Callable[[], _T], fallback: Callable[[], _T]) -> _T:
    """``run()``, or ``fallback()`` once ``family`` has failed (here or before)."""
    if family in _failed:
        return fallback()
    try:
        return run()
    except Exception as error:
        if _out_of_memory(error):
            raise
        give_up(family, error)
    return fallback()


def grid(dt: float, num_knots: int) -> Grid:
    """The knots ``t_j = j dt``, ``j = 1 .. num_knots``: all the ECF sums need of a grid."""
    return Grid(dt=dt, t=tuple(j * dt for j in range(1, num_knots + 1)), phi=(), weight=())


def _plan(u: Any, plan: Plan | None, on_cpu: bool) -> Plan:
    if plan is not None:
        return plan
    return Plan(max(8, _CPU_BLOCK_ELEMENTS // max(1, u.shape[-1]))) if on_cpu else Plan()


def array_api_sums(
    u: Any, dt: float, num_knots: int, xp: Any, plan: Plan | None = None, on_cpu: bool = True
) -> Any:
    """What the kernels' ``ecf_sums(u, dt, num_knots)`` computes, by the array-API code."""
    return ecf.ecf_sums(u, grid(dt, num_knots), xp, _plan(u, plan, on_cpu))


def array_api_sums_vjp(
    u: Any, sums_bar: Any, dt: float, num_knots: int, xp: Any, plan: Plan | None = None, on_cpu: bool = True
) -> Any:
    """What the kernels' ``ecf_sums_vjp(u, sums_bar, dt, num_knots)`` computes, by the array-API code."""
    return ecf.ecf_sums_vjp(u, sums_bar, grid(dt, num_knots), xp, _plan(u, plan, on_cpu))
