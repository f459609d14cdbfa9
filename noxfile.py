"""The backend matrix. ``nox`` runs the default sessions (README's test command).

Sessions are built from ``backends/*.toml``: one file per backend and device
saying what to install and which environment variables to set.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox
import tomllib

ROOT = Path(__file__).parent
BACKENDS = {p.stem: tomllib.loads(p.read_text()) for p in sorted((ROOT / "backends").glob("*.toml"))}
CPU_BACKENDS = [name for name, spec in BACKENDS.items() if spec["device"] == "cpu"]
GPU_BACKENDS = [name for name, spec in BACKENDS.items() if spec["device"] == "cuda"]
PYPROJECT = nox.project.load_toml("pyproject.toml")

nox.options.sessions = ["lint", "typecheck", "tests", "cross_checks", "docs"]
# Run by the docs session, with every framework installed and the site built.
DOCS_TESTS = ["tests/test_docs.py", "tests/test_site.py", "tests/test_story.py"]
DOCS_IGNORED = [f"--ignore={path}" for path in DOCS_TESTS]
EXAMPLE_PACKAGES = ["scikit-learn>=1.3", "tqdm>=4.60", "optax>=0.2"]
nox.options.error_on_missing_interpreters = True


def _install_backends(session: nox.Session, names: list[str]) -> None:
    packages = sorted({pkg for name in names for pkg in BACKENDS[name]["install"]})
    session.install(".", *nox.project.dependency_groups(PYPROJECT, "test"), *packages)


@nox.session
@nox.parametrize("backend", CPU_BACKENDS, ids=CPU_BACKENDS)
def tests(session: nox.Session, backend: str) -> None:
    """The whole suite on one CPU backend (or the files its toml's ``tests`` names), in a virtualenv
    that holds only that backend."""
    _install_backends(session, [backend])
    paths = BACKENDS[backend].get("tests", [])
    session.run("pytest", *paths, *DOCS_IGNORED, *session.posargs, env=BACKENDS[backend]["env"])


def _run_doctests(session: nox.Session) -> None:
    session.run("pytest", "--doctest-modules", "sigreg", "--ignore=sigreg/_kernels", *session.posargs)


def _run_agreement(session: nox.Session) -> None:
    session.run("pytest", "tests/test_agreement.py", *session.posargs)
    session.run("sigreg", "check")


def _run_examples_smoke(session: nox.Session) -> None:
    session.run("pytest", "tests/test_examples.py", "tests/test_example_report.py", *session.posargs)


@nox.session
def cross_checks(session: nox.Session) -> None:
    """Every CPU backend in one environment (one install, not three): cross-backend agreement and
    `sigreg check`, the docstring examples, and a few steps of each LeJEPA digits example."""
    _install_backends(session, CPU_BACKENDS)
    session.install(*EXAMPLE_PACKAGES)
    _run_agreement(session)
    _run_doctests(session)
    _run_examples_smoke(session)


@nox.session(default=False)
def doctests(session: nox.Session) -> None:
    """The Examples sections of every public docstring, run as doctests."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    _run_doctests(session)


@nox.session(default=False)
def agreement(session: nox.Session) -> None:
    """Every CPU backend in one environment: cross-backend agreement and `sigreg check`."""
    _install_backends(session, CPU_BACKENDS)
    _run_agreement(session)


@nox.session(venv_backend="none")
def gpu(session: nox.Session) -> None:
    """GPU backends with the frameworks already installed on the machine; installs nothing."""
    if not cuda_available():
        session.skip("no CUDA device (nvidia-smi found none): GPU sessions skipped")
    env = {"PYTHONPATH": str(ROOT)}
    for name in GPU_BACKENDS:
        spec = BACKENDS[name]
        probe = subprocess.run(["python", "-c", f"import {spec['module']}"], capture_output=True)
        if probe.returncode != 0:
            session.log(f"{name}: {spec['module']} is not installed, skipped")
            continue
        pytest = ["python", "-m", "pytest", "-m", "not slow", *DOCS_IGNORED, *session.posargs]
        session.run(*pytest, env={**env, **spec["env"]})
    session.run("python", "-m", "sigreg", "check", env={**env, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"})


@nox.session(default=False)
def examples_smoke(session: nox.Session) -> None:
    """A few steps of each LeJEPA digits example (tests/test_examples.py)."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    session.install(*EXAMPLE_PACKAGES)
    _run_examples_smoke(session)


@nox.session(default=False)
def examples(session: nox.Session) -> None:
    """The full LeJEPA digits runs and their results table (docs/data/examples.md)."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    session.install(*EXAMPLE_PACKAGES)
    session.run("python", "examples/results.py", *(session.posargs or ["--output", "docs/data/examples.md"]))


# The browser tests of the docs drive Debian's Chromium; without it the docs session
# fails, unless this variable is 1 (then they skip and say so).
CHROMIUM = Path("/usr/bin/chromium")
SKIP_BROWSER = "SIGREG_SKIP_BROWSER"


@nox.session
def docs(session: nox.Session) -> None:
    """The site (Sphinx, warnings as errors), its examples, and the story page in headless Chromium."""
    skip_browser = os.environ.get(SKIP_BROWSER) == "1"
    if not CHROMIUM.exists() and not skip_browser:
        session.error(
            f"{CHROMIUM} is missing: the browser tests of the docs need Debian's chromium "
            f"(apt-get install chromium). To build the site and skip them, set {SKIP_BROWSER}=1"
        )
    _install_backends(session, ["torch-cpu", "jax-cpu", "array-api-strict", "dask"])
    session.install(*nox.project.dependency_groups(PYPROJECT, "docs"))
    build = ROOT / "docs" / "_build"
    shutil.rmtree(build, ignore_errors=True)
    session.run("sphinx-build", "-W", "--keep-going", "-q", "-b", "html", "docs", str(build / "html"))
    env = {
        "SIGREG_DOCS_SITE": str(build / "html"),
        "SIGREG_SCREENSHOTS": str(build / "screenshots"),
        # a browser test that cannot start fails, unless the browser was explicitly opted out
        "SIGREG_REQUIRE_BROWSER": "0" if skip_browser else "1",
    }
    session.run("pytest", *DOCS_TESTS, *session.posargs, env=env)
    session.log(f"site: {build / 'html' / 'index.html'}; screenshots: {build / 'screenshots'}")


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Time and peak memory against the naive implementation, and of every normality statistic
    against Epps-Pulley (not a test; prints ratios)."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    session.run("python", "benchmarks/bench.py", *(session.posargs or ["--output", "docs/data/benchmark.md"]))
    if not session.posargs:
        output = "docs/data/benchmark-statistics.md"
        session.run("python", "benchmarks/bench_statistics.py", "--output", output)


# The modules that hold public names: their docstrings are validated by numpydoc.
PUBLIC_MODULES = [f"sigreg/{name}.py" for name in ("__init__", "_api", "stats", "torch", "jax", "demo")] + [
    "sigreg/_epps_pulley.py",
    "sigreg/_statistic.py",
    "sigreg/_hypothesis.py",
    "sigreg/_normality.py",
    "sigreg/_order.py",
    "sigreg/_moments.py",
    "sigreg/_bhep.py",
    "sigreg/_accumulate.py",
    "sigreg/lightning.py",
    "sigreg/equinox.py",
]


@nox.session
def lint(session: nox.Session) -> None:
    """ruff, ruff format, and numpydoc validation of the public docstrings."""
    session.install(*nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("numpydoc", "lint", *PUBLIC_MODULES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict (pyproject.toml) with the frameworks installed, so their types are checked too."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    session.install(*nox.project.dependency_groups(PYPROJECT, "typecheck"))
    session.run("mypy", "sigreg")


def cuda_available() -> bool:
    """A CUDA device is present, asked of nvidia-smi (no framework needed)."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout
