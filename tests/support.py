"""Test helpers in the style of scipy's array-API tests.

``xp_assert_close`` checks namespace, dtype and shape as well as values.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import array_api_compat
import numpy as np

from sigreg._core.backends import (
    BY_NAME as BACKENDS,  # the backend table (private: shared with `sigreg check`)
)

DEVICE = os.environ.get("SIGREG_TEST_DEVICE", "cpu")
ROOT = Path(__file__).parents[1]  # the repository


def cuda_available() -> bool:
    """CuPy sees a CUDA device."""
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device, or no cupy
        return False


@contextlib.contextmanager
def backend(name: str) -> Iterator[Any]:
    """The array-API namespace of backend ``name``, with JAX's x64 flag set for it."""
    row = BACKENDS[name]
    if row.module == "jax":
        import jax

        previous = jax.config.jax_enable_x64
        jax.config.update("jax_enable_x64", row.x64)
        try:
            yield importlib.import_module(row.namespace)
        finally:
            jax.config.update("jax_enable_x64", previous)
        return
    if row.module == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    yield importlib.import_module(row.namespace)


def is_jax(xp: Any) -> bool:
    return array_api_compat.is_jax_namespace(xp)


def has_float64(xp: Any) -> bool:
    if is_jax(xp):
        import jax

        return bool(jax.config.jax_enable_x64)
    return True


def float_dtypes(xp: Any) -> list[Any]:
    return [xp.float32, xp.float64] if has_float64(xp) else [xp.float32]


def device(xp: Any) -> Any:
    if array_api_compat.is_torch_namespace(xp):
        return DEVICE
    return None


def asarray(xp: Any, x: Any, dtype: Any = None) -> Any:
    """A NumPy array (or nested list) as an array of ``xp`` on the test device."""
    x = np.asarray(x)
    if dtype is None:
        dtype = xp.float64 if x.dtype == np.float64 and has_float64(xp) else None
    if dtype is None and x.dtype.kind == "f":
        dtype = xp.float32
    return xp.asarray(x, dtype=dtype, device=device(xp))


def to_numpy(x: Any) -> np.ndarray:
    if array_api_compat.is_torch_array(x):
        import torch

        x = x.detach().cpu()
        return (x.float() if x.dtype in (torch.bfloat16, torch.float16) else x).numpy()
    if array_api_compat.is_cupy_array(x):
        return x.get()
    if array_api_compat.is_jax_array(x) or array_api_compat.is_numpy_array(x):
        return np.asarray(x)
    return np.from_dlpack(x)


def xp_assert_close(
    actual: Any, desired: Any, *, xp: Any, rtol: float, atol: float = 0.0, dtype: Any = None
) -> None:
    """``actual`` is an array of ``xp`` of ``desired``'s shape (and ``dtype``) close to it."""
    assert array_api_compat.array_namespace(actual) is array_api_compat.array_namespace(xp.empty(0)), (
        f"result is not an array of {xp.__name__}: {type(actual)}"
    )
    if dtype is not None:
        assert actual.dtype == dtype, f"dtype {actual.dtype}, expected {dtype}"
    desired = np.asarray(desired)
    assert tuple(actual.shape) == desired.shape, f"shape {tuple(actual.shape)}, expected {desired.shape}"
    np.testing.assert_allclose(to_numpy(actual).astype(np.float64), desired, rtol=rtol, atol=atol)


def max_rel(actual: Any, desired: Any) -> float:
    a = to_numpy(actual).astype(np.float64)
    d = np.asarray(desired, dtype=np.float64)
    return float(np.max(np.abs(a - d)) / np.max(np.abs(d)))


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m sigreg ARGS`` in a fresh process, from the repository, on the CPU."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-m", "sigreg", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


class Terminal:
    """A stderr that says it is a terminal, and keeps what is written (for progress bars)."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True
