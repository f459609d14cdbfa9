"""The package's floors: the one table that tests/test_layering.py enforces and noxfile.py reads.

A module belongs to the floor whose prefix it starts with (the longest prefix wins, so
``sigreg`` itself and the public modules are the top floor). A module may import its own
floor and the floors below it, never one above; the framework-free floors import no array
library or kernel compiler, lazily or not. A new module is checked from the day it exists.
"""

from __future__ import annotations

# Lowest first.
FLOORS = (
    ("sigreg._core", "the framework-free base: protocol, slicing, plans, directions, checks, lookup"),
    ("sigreg._statistics", "the registry and the statistics, one family per module"),
    ("sigreg._backend", "dispatch, Dask, the autodiff adapters and the fused kernels"),
    ("sigreg._api", "the bodies of the public functions"),
    ("sigreg._pvalues", "sigreg.test and its null laws"),
    ("sigreg._cli", "the subcommands of the command line"),
    ("sigreg", "the public modules"),
)
FRAMEWORK_FREE = ("sigreg._core", "sigreg._statistics")
FRAMEWORKS = frozenset({"torch", "jax", "jaxlib", "cupy", "numpy", "triton", "numba", "array_api_strict"})
# The namespace lookup reads array types only: it names no adapter.
LOOKUP = ("sigreg._core.arrays", "sigreg._core.backends")
# The files where public names are defined: numpydoc validates their docstrings (nox -s lint);
# tests/test_layering.py checks that every public name is defined in one of them.
DOCUMENTED = (
    "sigreg/__init__.py",
    "sigreg/stats.py",
    "sigreg/torch.py",
    "sigreg/jax.py",
    "sigreg/demo.py",
    "sigreg/lightning.py",
    "sigreg/equinox.py",
    "sigreg/_api/*.py",
    "sigreg/_backend/kernels/warning.py",
    "sigreg/_pvalues/sliced.py",
    "sigreg/_statistics/epps_pulley.py",
    "sigreg/_statistics/edf.py",
    "sigreg/_statistics/order.py",
    "sigreg/_statistics/moments.py",
    "sigreg/_statistics/bhep.py",
    "sigreg/_statistics/targets.py",
    "sigreg/targets.py",
    "sigreg/_core/statistic.py",
)


def floor_of(module: str) -> int:
    """The index in FLOORS of ``module``'s floor."""
    matches = [
        i for i, (prefix, _) in enumerate(FLOORS) if module == prefix or module.startswith(prefix + ".")
    ]
    return max(matches, key=lambda i: len(FLOORS[i][0]))


def is_under(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)
