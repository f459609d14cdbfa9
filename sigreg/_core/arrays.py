"""Namespace and device of an array, found from its type.

Equivalent to ``array_api_compat.array_namespace`` and ``device`` for the
libraries in :mod:`sigreg._core.backends`, but without their cached helpers, which
``torch.compile`` warns about when it traces them.
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat

from .backends import NAMESPACE_OF_LIBRARY


def load(module: str) -> Any:
    """``importlib.import_module`` that ``torch.compile`` can trace."""
    # torch.compile (dynamo) refuses to trace importlib.import_module but does trace import
    # statements: a compiled function may be the first to see a tensor. Torch's goes first:
    # looking it up in sys.modules made dynamo guard on len(sys.modules), so any later import
    # anywhere (inductor's own, after the first compile) recompiled the caller's step.
    if module == "array_api_compat.torch":
        import array_api_compat.torch as torch_namespace

        return torch_namespace
    # Not sys.modules.get: while one thread imports the namespace, another would find it
    # there half-initialised (threads making their first call together); import_module waits.
    return importlib.import_module(module)


def library(x: Any) -> str:
    return type(x).__module__.partition(".")[0]


def namespace(x: Any) -> Any | None:
    """The array-API namespace of array ``x``, or None if ``x`` is no array."""
    name = NAMESPACE_OF_LIBRARY.get(library(x))
    if name is not None:
        if name == "array_api_compat.numpy" and not hasattr(x, "dtype"):
            return None
        return load(name)
    if library(x) == "builtins" or not array_api_compat.is_array_api_obj(x):
        return None
    return array_api_compat.array_namespace(x)


def device(x: Any) -> Any:
    if library(x) == "torch":
        return x.device
    return array_api_compat.device(x)


# Device copies of small constant tuples, per (values, device, dtype): see :func:`constant`.
_CONSTANTS: dict[tuple[Any, ...], Any] = {}


def constant(values: tuple[float, ...], like: Any, xp: Any) -> Any:
    """``xp.asarray(values)`` on the device and in the dtype of ``like``, made once per device.

    Building a tensor from a Python sequence on an accelerator is a host-to-device copy from
    pageable memory, which synchronises the stream (and cannot be captured in a CUDA graph).
    Eager PyTorch on a device other than the CPU therefore gets a copy cached per (values,
    device, dtype); the first call on a device makes it. Under ``torch.compile`` the values
    become a constant of the compiled graph instead, and other libraries get ``xp.asarray``
    (JAX embeds it in the compiled program; NumPy-like hosts copy nothing).
    """
    dev = device(like)
    if library(like) != "torch" or dev.type == "cpu":
        return xp.asarray(values, dtype=like.dtype, device=dev)
    torch = load("torch")  # loaded already, ``like`` is one of its tensors (and _core imports no framework)
    if torch.compiler.is_compiling():
        return xp.asarray(values, dtype=like.dtype, device=dev)
    key = (values, str(dev), like.dtype)
    cached = _CONSTANTS.get(key)
    if cached is None:
        # Made outside inference mode: an inference tensor made by a first call under
        # torch.inference_mode() could not be saved for a later backward.
        with torch.inference_mode(False), torch.no_grad():
            cached = _CONSTANTS[key] = xp.asarray(values, dtype=like.dtype, device=dev)
    return cached
