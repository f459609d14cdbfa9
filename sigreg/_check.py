"""``sigreg check``: the same SIGReg value and gradient on every installed backend.

Each backend and device computes ``value_and_grad`` for one fixed input and
seed; the table gives its deviation from NumPy float64. Frameworks are
imported only here, when the check runs.
"""

from __future__ import annotations

import importlib.util
import math
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ._api import value_and_grad

# Deviation allowed from the NumPy float64 reference, by dtype.
TOLERANCE = {"float64": 1e-10, "float32": 1e-4}
SHAPE = (256, 16)  # N samples of dimension D
NUM_SLICES = 64
SEED = 0


@dataclass
class Row:
    backend: str
    device: str
    dtype: str
    value: float
    grad_norm: float
    max_rel_dev: float
    time_ms: float
    ok: bool


def fixed_input() -> np.ndarray:
    """A slightly non-Gaussian cloud, so that value and gradient are far from zero."""
    rng = np.random.default_rng(2025)
    z = rng.standard_normal(SHAPE)
    return z * np.linspace(0.5, 1.5, SHAPE[1]) + 0.1


def _installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def candidates() -> Iterator[tuple[str, str, str, Any, Any]]:
    """(backend, device, dtype, namespace, device object) for every installed backend."""
    from array_api_compat import numpy as np_xp

    for dtype in ("float64", "float32"):
        yield "numpy", "cpu", dtype, np_xp, None
    if _installed("array_api_strict"):
        import array_api_strict

        for dtype in ("float64", "float32"):
            yield "array-api-strict", "cpu", dtype, array_api_strict, None
    if _installed("torch"):
        import torch
        from array_api_compat import torch as torch_xp

        torch.backends.cuda.matmul.allow_tf32 = False
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        for dev in devices:
            for dtype in ("float64", "float32"):
                yield "torch", dev, dtype, torch_xp, torch.device(dev)
    if _installed("jax"):
        import jax

        jax.config.update("jax_enable_x64", True)  # float64 rows; float32 stays float32
        import jax.numpy as jnp

        platforms = sorted({d.platform for d in jax.devices()} | {"cpu"})
        for platform in platforms:
            dev = jax.devices(platform)[0]
            for dtype in ("float64", "float32"):
                yield "jax", str(dev), dtype, jnp, dev
    if _installed("cupy"):
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
        except Exception:  # no CUDA driver or device: nothing to check
            return
        from array_api_compat import cupy as cupy_xp

        for dtype in ("float64", "float32"):
            yield "cupy", "cuda:0", dtype, cupy_xp, None


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "get"):  # cupy
        return x.get()
    if hasattr(x, "detach"):  # torch
        return x.detach().cpu().numpy()
    if type(x).__module__.startswith("array_api_strict"):
        return np.from_dlpack(x)
    return np.asarray(x)


def _put(xp: Any, z: np.ndarray, dtype: str, device: Any) -> Any:
    if "jax" in xp.__name__:
        import jax

        arr = xp.asarray(z, dtype=getattr(xp, dtype))
        return arr if device is None else jax.device_put(arr, device)
    return xp.asarray(z, dtype=getattr(xp, dtype), device=device)


def _sync(x: Any) -> None:
    """Wait for the device, so that the time is the computation's."""
    if hasattr(x, "block_until_ready"):
        x.block_until_ready()
    else:
        _to_numpy(x)


def run(repeats: int = 3) -> list[Row]:
    z = fixed_input()
    options: dict[str, Any] = dict(num_slices=NUM_SLICES, seed=SEED)
    ref_value, ref_grad = value_and_grad(z, **options)
    ref_value = float(ref_value)
    rows = []
    for backend, device, dtype, xp, dev in candidates():
        zx = _put(xp, z, dtype, dev)
        value, grad = value_and_grad(zx, **options)  # warm-up (compiles JAX)
        _sync(grad)
        start = time.perf_counter()
        for _ in range(repeats):
            value, grad = value_and_grad(zx, **options)
            _sync(grad)
        elapsed = (time.perf_counter() - start) / repeats
        v, g = float(_to_numpy(value)), _to_numpy(grad).astype(np.float64)
        deviation = max(
            abs(v - ref_value) / abs(ref_value),
            float(np.max(np.abs(g - ref_grad)) / np.max(np.abs(ref_grad))),
        )
        ok = math.isfinite(deviation) and deviation <= TOLERANCE[dtype]
        rows.append(Row(backend, device, dtype, v, float(np.linalg.norm(g)), deviation, 1e3 * elapsed, ok))
    return rows


def format_table(rows: list[Row]) -> str:
    header = ("backend", "device", "dtype", "value", "grad norm", "max rel dev", "time [ms]", "")
    lines = [
        (
            r.backend,
            r.device,
            r.dtype,
            f"{r.value:.12g}",
            f"{r.grad_norm:.6g}",
            f"{r.max_rel_dev:.2e}",
            f"{r.time_ms:.2f}",
            "ok" if r.ok else "FAIL",
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *lines, strict=True)]
    out = [
        "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *lines]
    ]
    out.insert(1, "  ".join("-" * w for w in widths).rstrip())
    return "\n".join(out)


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
