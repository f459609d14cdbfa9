"""The ``xp`` fixture: every test runs on every installed backend.

Backends: numpy, array_api_strict, torch, jax (float32 only, JAX's default),
jax_x64 (``jax_enable_x64`` on) and cupy. ``SIGREG_TEST_BACKENDS`` (a comma list)
restricts them, as the nox sessions do; ``SIGREG_TEST_DEVICE=cuda`` puts torch
tensors on the GPU. Skips are declared here, once, with their reason.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from . import support

ALL_BACKENDS = ("numpy", "array_api_strict", "torch", "jax", "jax_x64", "cupy")
_MODULE = {"array_api_strict": "array_api_strict", "jax_x64": "jax"}


def _requested() -> tuple[str, ...]:
    names = os.environ.get("SIGREG_TEST_BACKENDS")
    if not names:
        return ALL_BACKENDS
    chosen = tuple(n.strip() for n in names.split(",") if n.strip())
    unknown = set(chosen) - set(ALL_BACKENDS)
    if unknown:
        raise pytest.UsageError(f"SIGREG_TEST_BACKENDS: unknown backends {sorted(unknown)}")
    return chosen


def _skip_reason(name: str) -> str | None:
    module = _MODULE.get(name, name)
    if importlib.util.find_spec(module) is None:
        return f"{module} is not installed"
    if name == "cupy" and not support.cuda_available():
        return "no CUDA device"
    return None


BACKENDS = [
    pytest.param(name, marks=pytest.mark.skip(reason=reason)) if (reason := _skip_reason(name)) else name
    for name in _requested()
]


@pytest.fixture(params=BACKENDS)
def xp(request):
    with support.backend(request.param) as namespace:
        yield namespace
