"""The backend table: every array library and mode that sigreg serves and tests.

Read by the namespace lookup (:mod:`sigreg._xp`), by ``sigreg check`` and by
the test suite; ``backends/*.toml`` says how nox installs each one.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    """One row of the table.

    Attributes
    ----------
    name : str
        The name in ``SIGREG_TEST_BACKENDS`` and in ``sigreg check``'s table.
    module : str
        The library's top-level module (also the module of its array type).
    namespace : str
        The module of its array-API namespace.
    x64 : bool
        JAX only: 64-bit types enabled (``jax_enable_x64``).
    needs_gpu : bool
        Arrays of this library live on a CUDA device only.
    """

    name: str
    module: str
    namespace: str
    x64: bool = False
    needs_gpu: bool = False


BACKENDS = (
    Backend("numpy", "numpy", "array_api_compat.numpy"),
    Backend("array_api_strict", "array_api_strict", "array_api_strict"),
    Backend("torch", "torch", "array_api_compat.torch"),
    Backend("jax", "jax", "jax.numpy"),
    Backend("jax_x64", "jax", "jax.numpy", x64=True),
    Backend("cupy", "cupy", "array_api_compat.cupy", needs_gpu=True),
)

BY_NAME = {b.name: b for b in BACKENDS}

# Array type module -> namespace module (jax arrays are jaxlib types).
NAMESPACE_OF_LIBRARY = {b.module: b.namespace for b in BACKENDS} | {"jaxlib": "jax.numpy"}
