"""Namespace and device of an array, found from its type.

Equivalent to ``array_api_compat.array_namespace`` and ``device`` for the
libraries we serve, but without their cached helpers, which ``torch.compile``
warns about when it traces them.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import array_api_compat

_NAMESPACES = {
    "numpy": "array_api_compat.numpy",
    "torch": "array_api_compat.torch",
    "cupy": "array_api_compat.cupy",
    "jax": "jax.numpy",
    "jaxlib": "jax.numpy",
    "array_api_strict": "array_api_strict",
}


def load(module: str) -> Any:
    """``importlib.import_module`` that ``torch.compile`` can trace."""
    return sys.modules.get(module) or _import(module)


def _import(module: str) -> Any:
    # torch.compile (dynamo) refuses to trace importlib.import_module but does
    # trace import statements: a compiled function may be the first to see a tensor.
    loaded: Any
    if module == "array_api_compat.torch":
        import array_api_compat.torch as loaded
    elif module == "sigreg.torch":
        from . import torch as loaded
    else:
        loaded = importlib.import_module(module)
    return loaded


def library(x: Any) -> str:
    return type(x).__module__.partition(".")[0]


def namespace(x: Any) -> Any | None:
    """The array-API namespace of array ``x``, or None if ``x`` is no array."""
    name = _NAMESPACES.get(library(x))
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
