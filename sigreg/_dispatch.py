"""Which framework adapter serves an array namespace; adapters load lazily.

``sigreg.torch`` and ``sigreg.jax`` are imported only when their arrays show up,
so ``import sigreg`` imports no framework.
"""

from __future__ import annotations

from typing import Any

from . import _core, _directions, _xp

Array = Any

# Elements of one (rows x K) block of the per-knot loop: the dozen arrays it
# touches then fit in a CPU's L2 cache (measured best on NumPy, PyTorch and JAX).
_BLOCK_ELEMENTS = 1 << 17

_ADAPTERS = {"array_api_compat.torch": "sigreg.torch", "jax.numpy": "sigreg.jax"}


def adapter(xp: Any) -> Any | None:
    """The framework module for ``xp`` (``sigreg.torch``, ``sigreg.jax``) or None."""
    module = _ADAPTERS.get(xp.__name__)
    return None if module is None else _xp.load(module)


def block_rows(xp: Any, num_slices: int) -> int | None:
    return max(8, _BLOCK_ELEMENTS // num_slices)


def slice_statistics(z: Array, directions: Array, opts: _core.Options, xp: Any) -> Array:
    """Per-slice statistics, differentiable in the framework's own autodiff."""
    module = adapter(xp)
    if module is not None:
        return module.slice_statistics(z, directions, opts)
    return _core.forward(z, directions, opts, xp)[0]


def constant(z: Array, xp: Any) -> Array:
    """``z`` cut off from the framework's autodiff graph (for explicit gradients)."""
    module = adapter(xp)
    return z if module is None else module.constant(z)


def statistics(u: Array, opts: _core.Options, xp: Any) -> Array:
    """Per-column statistics of projections ``u`` (..., N, K), differentiable as plain ops."""
    module = adapter(xp)
    if module is not None and hasattr(module, "statistics"):
        return module.statistics(u, opts)
    return _core.statistics(u, opts, xp)[0]


def directions(dim: int, num_slices: int, seed: Any, xp: Any, device: Any, dtype: Any) -> Array:
    keys = _directions.seed_keys(seed, xp, device)
    module = adapter(xp)
    if module is not None and hasattr(module, "directions"):
        return module.directions(dim, num_slices, keys, device, dtype)
    return _directions.from_keys(dim, num_slices, keys, xp, device, dtype)
