"""The backend matrix. ``nox`` runs the default sessions (README's test command).

Sessions are built from ``backends/*.toml``: one file per backend and device
saying what to install and which environment variables to set.
"""

from __future__ import annotations

import atexit
import functools
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nox
import tomllib

ROOT = Path(__file__).parent
BACKENDS = {p.stem: tomllib.loads(p.read_text()) for p in sorted((ROOT / "backends").glob("*.toml"))}
CPU_BACKENDS = [name for name, spec in BACKENDS.items() if spec["device"] == "cpu"]
GPU_BACKENDS = [name for name, spec in BACKENDS.items() if spec["device"] == "cuda"]
PYPROJECT = nox.project.load_toml("pyproject.toml")

nox.options.sessions = ["lint", "tests", "cross_checks"]
# Run by the docs and cross_checks sessions, with every framework installed and the site built.
DOCS_TESTS = [
    "tests/project/test_docs.py",
    "tests/project/test_site.py",
    "tests/project/test_story.py",
    "tests/project/test_collapse_page.py",
]
DOCS_IGNORED = [f"--ignore={path}" for path in DOCS_TESTS]
# Peer libraries that tests compare with, pinned exactly, installed without their dependencies:
# lightly's torchvision would replace the CPU build of torch (its PyPI wheel is built for CUDA).
PEERS = ["lightly==1.6.0"]
PEER_TESTS = ["tests/project/test_lightly_lewm.py"]  # run with AGREEMENT_TESTS only
PEERS_IGNORED = [f"--ignore={path}" for path in PEER_TESTS]
EXAMPLE_PACKAGES = ["scikit-learn>=1.3", "tqdm>=4.60", "optax>=0.2"]
nox.options.error_on_missing_interpreters = True
# uv builds each session's virtualenv and installs into it in seconds, where pip takes one to two
# minutes a session (torch, Triton and JAX unpacked again each time): about 6 of the matrix's
# minutes. Without uv (README installs it with nox), virtualenv and pip.
nox.options.default_venv_backend = "uv|virtualenv"
# Test workers per session (pytest-xdist): the tests are independent; the distributed ones pick
# free ports. The slowest tests are listed, so that CI's log says where a session's time went.
WORKERS = ["-n", "2", "--dist", "worksteal", "--durations=12"]


def _run_wide_caches() -> Path:
    """Compile caches shared by the sessions of one nox run (each session is its own virtualenv and
    processes): Numba's kernels and JAX's programs compile once per run, not once per session or
    docs example. ``SIGREG_NOX_CACHES`` keeps them in a folder of your choice, across runs;
    ``NUMBA_CACHE_DIR`` and ``JAX_COMPILATION_CACHE_DIR``, when set, win."""
    chosen = os.environ.get("SIGREG_NOX_CACHES")
    if chosen:
        return Path(chosen)
    made = Path(tempfile.mkdtemp(prefix="sigreg-nox-caches-"))
    atexit.register(shutil.rmtree, made, ignore_errors=True)
    return made


def _pip_settings(name: str) -> list[str]:
    """What pip is configured with for ``name`` (``find-links``, ``constraint``): its environment
    variable, else its configuration files, as ``pip config list`` reports them."""
    from_env = os.environ.get(f"PIP_{name.upper().replace('-', '_')}")
    return from_env.split() if from_env else _listed_values(_pip_config_listing(), name)


@functools.cache  # asked once, for all the settings read from it
def _pip_config_listing() -> str:
    try:
        command = [sys.executable, "-m", "pip", "config", "list"]
        return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""  # no pip here (uv's virtualenvs have none): no settings


def _listed_values(listing: str, name: str) -> list[str]:
    """The values of ``name`` in the lines of ``pip config list`` (``global.find-links='/a /b'``,
    ``:env:.find-links='/a'``), each once."""
    values = [
        line.split("=", 1)[1].strip("'\"")
        for line in listing.splitlines()
        if line.split("=", 1)[0].endswith(f".{name}")
    ]
    return list(dict.fromkeys(value for line in values for value in line.split()))


def _uv_installs_what_pip_would() -> None:
    """uv reads neither pip's configuration nor its environment: hand it pip's find-links and
    constraints, so a session installs the same wheels pip would. On a machine whose pip finds
    torch's CPU build in a local folder, uv otherwise takes PyPI's CUDA build (several GB)."""
    find_links = _pip_settings("find-links")
    if find_links and "UV_FIND_LINKS" not in os.environ:
        os.environ["UV_FIND_LINKS"] = ",".join(find_links)
    constraints = _pip_settings("constraint")
    if constraints and "UV_CONSTRAINT" not in os.environ:
        os.environ["UV_CONSTRAINT"] = " ".join(constraints)


_uv_installs_what_pip_would()
# pip compiles every module it installs to bytecode; uv only when asked. Without .pyc files, and
# with PYTHONDONTWRITEBYTECODE set (as on CI), every process compiles what it imports again:
# `import jax, scipy.stats, numba` takes 8 s instead of 3.5, in each test worker and subprocess.
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
CACHES = _run_wide_caches()
os.environ.setdefault("NUMBA_CACHE_DIR", str(CACHES / "numba"))
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(CACHES / "jax"))
# JAX keeps only programs that took a second to compile by default; the tests' take less.
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
# `.ci/run` sets this: each session appends its name and wall time to it (a JSON line). A nox
# started inside a session (tests/project/test_matrix.py runs `nox -s gpu`) records nothing.
SESSION_TIMES = None if "NOX_CURRENT_SESSION" in os.environ else os.environ.get("SIGREG_SESSION_TIMES")
# `.ci/run` sets this too: each session's virtualenv is deleted when the session ends, so the run
# needs the disk of its largest session (cross_checks, about 3.6 GB: torch, Triton, JAX and Sphinx),
# not of all eight at once (about 12 GB summed by session, each counting the files it shares with
# the others through uv's hard links; `du -sh .nox` measured 4.4 GB; CI once ran out of disk).
DISCARD_VIRTUALENVS = os.environ.get("SIGREG_NOX_DISCARD_VIRTUALENVS") == "1"


def _gigabytes(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e9


def _timed(function: Callable[..., None]) -> Callable[..., None]:
    """The session, its time, virtualenv size and the free disk appended to
    ``SIGREG_SESSION_TIMES`` (whether it passes or not); then its virtualenv deleted, when
    ``SIGREG_NOX_DISCARD_VIRTUALENVS=1``."""

    @functools.wraps(function)
    def run(session: nox.Session, **kwargs: Any) -> None:
        start = time.perf_counter()
        try:
            function(session, **kwargs)
        finally:
            seconds = round(time.perf_counter() - start, 1)
            location = getattr(session.virtualenv, "location", None)  # None: venv_backend="none"
            venv = Path(location) if location and Path(location).is_dir() else None
            if SESSION_TIMES:
                record = {
                    "session": session.name,
                    "seconds": seconds,
                    "virtualenv_gb": round(_gigabytes(venv), 2) if venv else 0.0,
                    "free_disk_gb": round(shutil.disk_usage(ROOT).free / 1e9, 1),
                }
                with open(SESSION_TIMES, "a") as f:
                    f.write(json.dumps(record) + "\n")
            if DISCARD_VIRTUALENVS and venv:
                shutil.rmtree(venv, ignore_errors=True)

    return run


# Exact versions: every session installs under one lock, backends/lock.txt, so a release upstream
# (a JAX, NumPy or Numba that reorders a sum) changes nothing here until the lock is made again
# (`nox -s lock`). One resolution for all sessions, not one per backend: each session's set is part
# of cross_checks', and one resolution gives every session the same NumPy, SciPy and frameworks (the
# golden values of each backend are recorded under it). `nox -s latest` installs the newest releases.
LOCK = ROOT / "backends" / "lock.txt"
LOCK_PYTHON = "3.11"  # CI's Python; uv resolves for it whatever Python runs nox


def _install(session: nox.Session, *requirements: str, locked: bool = True) -> None:
    """``session.install`` under the lock (as constraints: only ``requirements`` are installed)."""
    session.install(*(["-c", str(LOCK)] if locked else []), *requirements)


def _install_backends(session: nox.Session, names: list[str], locked: bool = True) -> None:
    packages = sorted({pkg for name in names for pkg in BACKENDS[name]["install"]})
    _install(session, ".", *nox.project.dependency_groups(PYPROJECT, "test"), *packages, locked=locked)


@nox.session
@nox.parametrize("backend", CPU_BACKENDS, ids=CPU_BACKENDS)
@_timed
def tests(session: nox.Session, backend: str) -> None:
    """The whole suite on one CPU backend (or the files its toml's ``tests`` names), in a virtualenv
    that holds only that backend."""
    _install_backends(session, [backend])
    paths = BACKENDS[backend].get("tests", [])
    ignored = [*DOCS_IGNORED, *PEERS_IGNORED]
    session.run("pytest", *WORKERS, *paths, *ignored, *session.posargs, env=BACKENDS[backend]["env"])


DOCTESTS = ["--doctest-modules", "sigreg", "--ignore=sigreg/_backend/kernels"]
# test_pallas_aot needs JAX, Triton and torch together: only the environments of all backends have them.
AGREEMENT_TESTS = ["tests/project/test_agreement.py", "tests/backend/test_pallas_aot.py", *PEER_TESTS]
EXAMPLE_TESTS = [
    "tests/project/test_examples.py",
    "tests/project/test_example_report.py",
    "tests/project/test_world_models.py",
]


def _run_doctests(session: nox.Session) -> None:
    session.run("pytest", *WORKERS, *DOCTESTS, *session.posargs)


def _run_agreement(session: nox.Session) -> None:
    session.run("pytest", *WORKERS, *AGREEMENT_TESTS, *session.posargs)
    session.run("sigreg", "check")


def _run_examples_smoke(session: nox.Session) -> None:
    session.run("pytest", *WORKERS, *EXAMPLE_TESTS, *session.posargs)


@nox.session
@_timed
def cross_checks(session: nox.Session) -> None:
    """Every CPU backend in one environment (one install of torch, Triton and JAX, not five):
    mypy --strict with every framework's types, cross-backend agreement, lightly's LeWM loss and
    `sigreg check`, the Pallas kernels' compile for sm_90, the docstring examples, a few steps of
    each LeJEPA digits and LeWorldModel room example, and the docs session's site and browser tests."""
    _require_browser(session)  # before the long install
    _install_backends(session, CPU_BACKENDS)
    _install(session, *EXAMPLE_PACKAGES, *nox.project.dependency_groups(PYPROJECT, "typecheck", "docs"))
    _install(session, "--no-deps", *PEERS)
    _run_typecheck(session)
    docs_env = _build_docs(session)
    # One pytest for all: its two workers import every framework once, not four times, and share
    # one pool of tests (four runs each ended with a worker idle while the other finished).
    tests = [*AGREEMENT_TESTS, *EXAMPLE_TESTS, *DOCS_TESTS, *DOCTESTS]
    session.run("pytest", *WORKERS, *tests, *session.posargs, env=docs_env)
    session.run("sigreg", "check")
    _log_site(session)


@nox.session(default=False)
@_timed
def doctests(session: nox.Session) -> None:
    """The Examples sections of every public docstring, run as doctests."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    _run_doctests(session)


@nox.session(default=False)
@_timed
def agreement(session: nox.Session) -> None:
    """Every CPU backend in one environment: cross-backend agreement, lightly's LeWM and `sigreg check`."""
    _install_backends(session, CPU_BACKENDS)
    _install(session, "--no-deps", *PEERS)
    _run_agreement(session)


@nox.session(venv_backend="none")
@_timed
def gpu(session: nox.Session) -> None:
    """The device check (benchmarks/gpu_check.py: kernel tests, accuracy, Table 6 timings, syncs,
    registers; writes docs/data/benchmark-gpu.md), then `sigreg check`; installs nothing.
    ``nox -s gpu -- all`` also runs the whole suite for each GPU backend installed."""
    if not cuda_available():
        session.skip("no CUDA device (nvidia-smi found none): GPU sessions skipped")
    env = {"PYTHONPATH": str(ROOT)}
    session.run("python", "benchmarks/gpu_check.py", env={**env, "SIGREG_TEST_BACKENDS": "torch"})
    whole_suite = session.posargs[:1] == ["all"]
    for name in GPU_BACKENDS if whole_suite else []:
        spec = BACKENDS[name]
        probe = subprocess.run(["python", "-c", f"import {spec['module']}"], capture_output=True)
        if probe.returncode != 0:
            session.log(f"{name}: {spec['module']} is not installed, skipped")
            continue
        pytest = ["python", "-m", "pytest", "-m", "not slow", *DOCS_IGNORED, *session.posargs[1:]]
        session.run(*pytest, env={**env, **spec["env"]})
    session.run("python", "-m", "sigreg", "check", env={**env, "XLA_PYTHON_CLIENT_PREALLOCATE": "false"})


@nox.session(default=False)
@_timed
def examples_smoke(session: nox.Session) -> None:
    """A few steps of each LeJEPA digits and LeWorldModel room example (tests/project/test_examples.py,
    tests/project/test_world_models.py)."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    _install(session, *EXAMPLE_PACKAGES)
    _run_examples_smoke(session)


@nox.session(default=False)
@_timed
def examples(session: nox.Session) -> None:
    """The full LeJEPA digits runs and their results table (docs/data/examples.md)."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    _install(session, *EXAMPLE_PACKAGES)
    session.run("python", "examples/results.py", *(session.posargs or ["--output", "docs/data/examples.md"]))


@nox.session(default=False)
@_timed
def world_models(session: nox.Session) -> None:
    """The full LeWorldModel room runs and their results table (docs/data/world-models.md)."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    _install(session, *EXAMPLE_PACKAGES)
    output = ["--output", "docs/data/world-models.md"]
    session.run("python", "examples/world_models.py", *(session.posargs or output))


# The browser tests of the docs drive Debian's Chromium; without it the docs session
# fails, unless this variable is 1 (then they skip and say so).
CHROMIUM = Path("/usr/bin/chromium")
SKIP_BROWSER = "SIGREG_SKIP_BROWSER"


def _require_browser(session: nox.Session) -> None:
    if not CHROMIUM.exists() and os.environ.get(SKIP_BROWSER) != "1":
        session.error(
            f"{CHROMIUM} is missing: the browser tests of the docs need Debian's chromium "
            f"(apt-get install chromium). To build the site and skip them, set {SKIP_BROWSER}=1"
        )


DOCS_BUILD = ROOT / "docs" / "_build"


def _build_docs(session: nox.Session) -> dict[str, str]:
    """The site, built by Sphinx (warnings as errors); returns the environment of its tests."""
    shutil.rmtree(DOCS_BUILD, ignore_errors=True)
    session.run("sphinx-build", "-W", "--keep-going", "-q", "-b", "html", "docs", str(DOCS_BUILD / "html"))
    return {
        "SIGREG_DOCS_SITE": str(DOCS_BUILD / "html"),
        "SIGREG_SCREENSHOTS": str(DOCS_BUILD / "screenshots"),
        # a browser test that cannot start fails, unless the browser was explicitly opted out
        "SIGREG_REQUIRE_BROWSER": "0" if os.environ.get(SKIP_BROWSER) == "1" else "1",
    }


def _log_site(session: nox.Session) -> None:
    session.log(f"site: {DOCS_BUILD / 'html' / 'index.html'}; screenshots: {DOCS_BUILD / 'screenshots'}")


def _run_docs(session: nox.Session) -> None:
    session.run("pytest", *WORKERS, *DOCS_TESTS, *session.posargs, env=_build_docs(session))
    _log_site(session)


@nox.session(default=False)
@_timed
def docs(session: nox.Session) -> None:
    """The site (Sphinx, warnings as errors), its examples, and the story page in headless Chromium
    (the default run does this in cross_checks)."""
    _require_browser(session)
    _install_backends(session, ["torch-cpu", "jax-cpu", "array-api-strict", "dask"])
    _install(session, *nox.project.dependency_groups(PYPROJECT, "docs"))
    _run_docs(session)


@nox.session(default=False)
@_timed
def bench(session: nox.Session) -> None:
    """Time and peak memory against the naive implementation, and of every normality statistic
    against Epps-Pulley (not a test; prints ratios)."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    session.run("python", "benchmarks/bench.py", *(session.posargs or ["--output", "docs/data/benchmark.md"]))
    if not session.posargs:
        output = "docs/data/benchmark-statistics.md"
        session.run("python", "benchmarks/bench_statistics.py", "--output", output)


def _layers() -> Any:
    """tests/layers.py, the table of the package's floors (read by tests/project/test_layering.py too)."""
    spec = importlib.util.spec_from_file_location("sigreg_layers", ROOT / "tests" / "layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The files that define public names: their docstrings are validated by numpydoc.
PUBLIC_MODULES = sorted({str(p.relative_to(ROOT)) for g in _layers().DOCUMENTED for p in ROOT.glob(g)})


@nox.session
@_timed
def lint(session: nox.Session) -> None:
    """ruff, ruff format, and numpydoc validation of the public docstrings."""
    _install(session, *nox.project.dependency_groups(PYPROJECT, "lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("numpydoc", "lint", *PUBLIC_MODULES)


def _run_typecheck(session: nox.Session) -> None:
    session.run("mypy", "sigreg")


@nox.session(default=False)
@_timed
def typecheck(session: nox.Session) -> None:
    """mypy --strict (pyproject.toml) with the frameworks installed, so their types are checked too
    (the default run does this in cross_checks, which installs them anyway)."""
    _install_backends(session, ["torch-cpu", "jax-cpu"])
    _install(session, *nox.project.dependency_groups(PYPROJECT, "typecheck"))
    _run_typecheck(session)


def cuda_available() -> bool:
    """A CUDA device is present, asked of nvidia-smi (no framework needed)."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def locked_requirements() -> list[str]:
    """Everything the sessions install, as requirements: the package's own, its dependency groups,
    every CPU backend's packages and the examples' (the lock resolves them together)."""
    groups = nox.project.dependency_groups(PYPROJECT, "test", "lint", "typecheck", "docs")
    backends = [pkg for name in CPU_BACKENDS for pkg in BACKENDS[name]["install"]]
    return sorted({*PYPROJECT["project"]["dependencies"], *groups, *backends, *EXAMPLE_PACKAGES})


@nox.session(venv_backend="none", default=False)
def lock(session: nox.Session) -> None:
    """Resolve backends/lock.txt again (uv, for CI's Python, with pip's find-links and constraints):
    after a change of requirements, or to move to newer releases (see `nox -s latest` first)."""
    with tempfile.TemporaryDirectory() as folder:
        requirements = Path(folder) / "requirements.in"
        requirements.write_text("\n".join(locked_requirements()) + "\n")
        uv = [sys.executable, "-m", "uv", "pip", "compile", str(requirements), "-o", str(LOCK)]
        options = ["--python-version", LOCK_PYTHON, "--custom-compile-command", "nox -s lock", "--quiet"]
        session.run(*uv, *options, external=True)


@nox.session(default=False)
@_timed
def latest(session: nox.Session) -> None:
    """The newest releases (under pip's constraints only): every CPU backend in one environment, what
    moved from the lock printed, then the suite on every backend. A failure here that the default
    run does not have is a release upstream: fix or pin, then `nox -s lock`."""
    _install_backends(session, CPU_BACKENDS, locked=False)
    _install(session, *EXAMPLE_PACKAGES, locked=False)
    listing = "import json, importlib.metadata as m; print(json.dumps({d.name: d.version for d in m.distributions()}))"  # noqa: E501
    installed = json.loads(session.run("python", "-c", listing, silent=True).strip().splitlines()[-1])
    moved = _moved_from_the_lock(installed, LOCK.read_text())
    session.log("moved from backends/lock.txt: " + (", ".join(moved) if moved else "nothing"))
    session.run("pytest", *WORKERS, *DOCS_IGNORED, *session.posargs, env={"TRITON_INTERPRET": "1"})


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _moved_from_the_lock(installed: dict[str, str], lock_text: str) -> list[str]:
    """``name lock -> installed`` for each locked package whose installed version differs, and
    ``name (new) version`` for each one the lock does not hold."""
    pinned = dict(
        line.split("==", 1) for line in lock_text.splitlines() if "==" in line and not line.startswith("#")
    )
    pinned = {_canonical(name): version.strip() for name, version in pinned.items()}
    moved = []
    for name, version in sorted(installed.items(), key=lambda item: _canonical(item[0])):
        was = pinned.get(_canonical(name))
        if was is None:
            moved.append(f"{name} (new) {version}")
        elif was != version:
            moved.append(f"{name} {was} -> {version}")
    return moved
