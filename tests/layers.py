"""The package's floors: the one table that tests/project/test_layering.py enforces and noxfile.py reads.

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
# tests/project/test_layering.py checks that every public name is defined in one of them.
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


# Where each module's tests are: a module ``sigreg/<floor>/.../<name>.py`` is tested by
# ``tests/<folder>/test_<name>.py`` (or ``test_<name>_<aspect>.py``), the folder named here by floor;
# a package's ``__init__.py`` by ``test_<package>.py``, the public modules by ``tests/public/``,
# ``sigreg/__main__.py`` by ``tests/cli/test_main.py``. tests/project/test_layering.py checks that each
# module has its file, or is named below: modules whose tests are their family's.
TEST_FOLDERS = {
    "sigreg._core": "core",
    "sigreg._statistics": "statistics",
    "sigreg._backend": "backend",
    "sigreg._api": "api",
    "sigreg._pvalues": "pvalues",
    "sigreg._cli": "cli",
    "sigreg": "public",
}
TESTED_WITH = {
    # the framework-free base, through what it serves
    "sigreg._core.backends": "tests/project/test_matrix.py",  # the table every session reads
    "sigreg._core.checks": "tests/api/test_regulariser.py",  # bad input, named, before any work
    "sigreg._core.dtypes": "tests/api/test_regulariser.py",  # the compute dtype of every input dtype
    "sigreg._core.public": "tests/public/test_public_names.py",
    "sigreg._core.quasi_random": "tests/core/test_draws.py",  # the structured directions
    "sigreg._core.slicing": "tests/core/test_statistic.py",  # every statistic through it
    # statistics tested with their family
    "sigreg._statistics.registry": "tests/core/test_statistic.py",  # the contract of every registered one
    "sigreg._statistics.closed_form": "tests/statistics/test_epps_pulley.py",
    "sigreg._statistics.ecf": "tests/statistics/test_epps_pulley.py",
    "sigreg._statistics.rank_based": "tests/api/test_normality.py",
    "sigreg._statistics.order": "tests/api/test_normality.py",
    "sigreg._statistics.target_tables": "tests/statistics/test_targets.py",
    "sigreg._statistics.targeted": "tests/statistics/test_targets.py",
    "sigreg._statistics.target_quantiles": "tests/statistics/test_targets.py",
    "sigreg._statistics.visreg_shape": "tests/api/test_visreg.py",
    # dispatch, adapters and kernels
    "sigreg._backend.dispatch": "tests/core/test_plan.py",  # which plan serves which array
    "sigreg._backend.adapters.jax_linear": "tests/backend/test_jax_vjp.py",
    "sigreg._backend.adapters.torch_directions": "tests/backend/test_torch_autograd.py",
    "sigreg._backend.kernels": "tests/backend/test_fallback.py",  # SIGREG_KERNELS, the families' switch
    "sigreg._backend.kernels.warning": "tests/backend/test_fallback.py",
    "sigreg._backend.kernels.bridge": "tests/backend/test_numba_ecf.py",
    "sigreg._backend.kernels.numba_jax": "tests/backend/test_numba_ecf.py",
    "sigreg._backend.kernels.sincos": "tests/backend/test_triton_ecf.py",
    # public modules that re-export or wrap
    "sigreg.jax": "tests/backend/test_distributed.py",  # the all-reduce callables
    "sigreg.stats": "tests/api/test_normality.py",
    "sigreg.targets": "tests/statistics/test_targets.py",
}


def tests_named_after(module: str) -> str:
    """The glob of the test files named after ``module`` (``sigreg._statistics.bhep`` ->
    ``tests/statistics/test_bhep*.py``)."""
    parts = module.split(".")
    if module == "sigreg.__main__":
        return "tests/cli/test_main*.py"
    folder = TEST_FOLDERS[FLOORS[floor_of(module)][0]]
    return f"tests/{folder}/test_{parts[-1]}*.py"
