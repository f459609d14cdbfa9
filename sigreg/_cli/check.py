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

from .._api.regulariser import value_and_grad
from .._core.backends import BACKENDS, Backend

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


# How to install each library of the table that may be missing.
INSTALL = {
    "array_api_strict": "pip install array-api-strict",
    "torch": 'pip install "sigreg[torch]"',
    "jax": 'pip install "sigreg[jax]"',
    "cupy": 'pip install "sigreg[cupy]", CUDA only',
}


def missing() -> list[tuple[str, str]]:
    """(library, how to install it) for each library of the table that is not installed."""
    modules = dict.fromkeys(row.module for row in BACKENDS)
    return [
        (module, INSTALL.get(module, f"pip install {module}")) for module in modules if not _installed(module)
    ]


def _devices(row: Backend) -> list[tuple[str, Any]]:
    """(name, device object) of each device of ``row``'s library present on this machine."""
    if row.module == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        names = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
        return [(name, torch.device(name)) for name in names]
    if row.module == "jax":
        import jax

        platforms = sorted({d.platform for d in jax.devices()} | {"cpu"})
        return [(str(jax.devices(p)[0]), jax.devices(p)[0]) for p in platforms]
    if row.module == "cupy":
        try:
            import cupy

            cupy.cuda.runtime.getDeviceCount()
        except Exception:  # no CUDA driver or device: nothing to check
            return []
        return [("cuda:0", None)]
    return [("cpu", None)]


def candidates() -> Iterator[tuple[str, str, str, Any, Any]]:
    """(backend, device, dtype, namespace, device object) for every installed backend of the table."""
    for row in BACKENDS:
        # One JAX row: x64 is switched on here, so float32 and float64 are both checked.
        if not _installed(row.module) or (row.module == "jax" and not row.x64):
            continue
        if row.module == "jax":
            import jax

            jax.config.update("jax_enable_x64", True)  # type: ignore[no-untyped-call]
        xp = importlib.import_module(row.namespace)
        name = "jax" if row.module == "jax" else row.name
        for device, dev in _devices(row):
            for dtype in ("float64", "float32"):
                yield name, device, dtype, xp, dev


def _to_numpy(x: Any) -> np.ndarray:
    if hasattr(x, "get"):  # cupy
        return np.asarray(x.get())
    if hasattr(x, "detach"):  # torch
        return np.asarray(x.detach().cpu().numpy())
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


HEADER = ("backend", "device", "dtype", "value", "grad norm", "max rel dev", "time [ms]", "status")


def legend(repeats: int = 3) -> str:
    """What each column of :func:`format_table` holds, one line each."""
    meaning = {
        "backend": "the array library",
        "device": "where it ran",
        "dtype": "the input's dtype",
        "value": "SIGReg of the fixed input",
        "grad norm": "the norm of its gradient with respect to the input",
        "max rel dev": "the largest deviation of value or gradient from NumPy float64, relative",
        "time [ms]": f"one value-and-gradient call, mean of {repeats} after a warm-up (not timed)",
        "status": f"FAIL when not within {tolerance_text()}, else ok",
    }
    width = max(len(name) for name in HEADER)
    return "\n".join(f"  {name.ljust(width)}  {meaning[name]}" for name in HEADER)


def format_table(rows: list[Row]) -> str:
    header = HEADER
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


def tolerance_text() -> str:
    """The tolerances in words: ``max rel dev <= 1e-10 in float64, 1e-04 in float32``."""
    parts = [f"{bound:.0e} in {dtype}" for dtype, bound in TOLERANCE.items()]
    return "max rel dev <= " + ", ".join(parts)


def as_json(rows: list[Row]) -> list[dict[str, Any]]:
    return [asdict(r) for r in rows]
