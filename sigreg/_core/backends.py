"""The backend table: every array library and mode that sigreg serves and tests.

Read by the namespace lookup (:mod:`sigreg._core.arrays`), by ``sigreg check`` and by
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
    devices : tuple of str
        The kinds of device its arrays live on (``"cpu"``, ``"cuda"``).
    x64 : bool
        JAX only: 64-bit types enabled (``jax_enable_x64``).
    """

    name: str
    module: str
    namespace: str
    devices: tuple[str, ...]
    x64: bool = False

    @property
    def needs_gpu(self) -> bool:
        return "cpu" not in self.devices


BACKENDS = (
    Backend("numpy", "numpy", "array_api_compat.numpy", ("cpu",)),
    Backend("array_api_strict", "array_api_strict", "array_api_strict", ("cpu",)),
    Backend("torch", "torch", "array_api_compat.torch", ("cpu", "cuda")),
    Backend("jax", "jax", "jax.numpy", ("cpu", "cuda")),
    Backend("jax_x64", "jax", "jax.numpy", ("cpu", "cuda"), x64=True),
    Backend("cupy", "cupy", "array_api_compat.cupy", ("cuda",)),
)

BY_NAME = {b.name: b for b in BACKENDS}

# Array type module -> namespace module (jax arrays are jaxlib types).
NAMESPACE_OF_LIBRARY = {b.module: b.namespace for b in BACKENDS} | {"jaxlib": "jax.numpy"}
