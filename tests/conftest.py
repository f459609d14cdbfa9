"""The ``xp`` fixture: every test runs on every installed backend.

Backends: the rows of ``sigreg._core.backends.BACKENDS`` (numpy, array_api_strict,
torch, jax with float32 only, jax_x64 with ``jax_enable_x64`` on, and cupy), the
one table that ``sigreg check`` reads too. ``SIGREG_TEST_BACKENDS`` (a comma list)
restricts them, as the nox sessions do; ``SIGREG_TEST_DEVICE=cuda`` puts torch
tensors on the GPU. Skips are declared here, once, with their reason.
"""

from __future__ import annotations

import importlib.util
import os

import pytest

from . import support

ALL_BACKENDS = tuple(support.BACKENDS)


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
    row = support.BACKENDS[name]
    if importlib.util.find_spec(row.module) is None:
        return f"{row.module} is not installed"
    if row.needs_gpu and not support.cuda_available():
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
