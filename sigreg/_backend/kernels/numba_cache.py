"""The on-disk cache of the Numba kernels: compile once per machine, not once per process.

Where
-----
``NUMBA_CACHE_DIR`` when it is set (Numba's own variable), else the user's cache directory:
``$XDG_CACHE_HOME/sigreg/numba`` (default ``~/.cache/sigreg/numba``), ``~/Library/Caches`` on
macOS, ``%LOCALAPPDATA%`` on Windows. Nothing is written next to the installed sources, so a
read-only site-packages is fine. The directory is created when the first kernel is saved;
when it cannot be created or written, the kernels are compiled in memory, with no error. A
folder that can be read but not written (filled ahead of time by ``python -m sigreg warmup``,
then used by a non-root container user or from a cluster's shared install) serves the kernels
it holds and is never changed.

Why not plain ``cache=True``
----------------------------
Numba keys a cached function by its bytecode and, for a closure, by the pickled contents of
its cells. The kernels are closures over other jitted functions (one set per dtype), and a
pickled dispatcher carries a random per-process id: every process would miss the cache and
add another entry. The key here describes those cells by what determines the compiled code
(the callee's name, bytecode and own cells; plain values by ``repr``). Everything a kernel
calls lives in ``numba_ecf.py``, whose content hash Numba already keeps in the index, and
which names the cache's folder (``numba_ecf-<hash>``): installs of the same source share one
folder, an edit of that file starts another.

What keeps it correct
---------------------
Numba keys each entry by the signature, the CPU (target triple, CPU name and features) and
the Numba version (entries of another version are ignored), and by the source hash above.
A cache filled on one CPU therefore misses on another, unless both processes set the same
``NUMBA_CPU_NAME`` (``generic``, or an x86-64 level such as ``x86-64-v3`` with
``NUMBA_CPU_FEATURES=""``: :func:`target`); code for a level the CPU lacks is never run
(:func:`missing_features`).
A cache that cannot be read (a truncated or corrupt file) is reset and the kernel compiled
again; a cache that cannot be written is skipped. Neither raises.

The cache uses Numba's caching classes (``numba.core.caching``), which are not public API:
when they are missing or changed, the kernels fall back to compiling in memory.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

__all__ = ["cache_dir", "holds", "jit", "missing_features", "target"]

_F = TypeVar("_F", bound=Callable[..., Any])


def cache_dir() -> Path:
    """The directory that holds the compiled kernels (it may not exist yet)."""
    configured = os.environ.get("NUMBA_CACHE_DIR")
    if configured:
        return Path(configured)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "sigreg" / "numba"


def _describe(value: Any) -> Any:
    """A description of a closure cell that is the same in every process for the same code."""
    from numba.core.dispatcher import Dispatcher

    # A callee's options (inline, parallel) are written in the source file, which the index's
    # content hash covers; its code and cells are what a closure's cell adds.
    if isinstance(value, Dispatcher):
        return ("jit", _describe(value.py_func))
    if isinstance(value, types.FunctionType):
        code = hashlib.sha256(value.__code__.co_code).hexdigest()
        cells = tuple(_describe(cell.cell_contents) for cell in value.__closure__ or ())
        return ("function", value.__qualname__, code, cells)
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    return ("value", type(value).__qualname__, repr(value))


def _content_subpath(py_file: str) -> str:
    """The cache folder of a source file, named by its content, not its path: every virtualenv
    that installs the same sigreg shares the compiled kernels (Numba's own folder hashes the
    path, so each install, and each nox session, would compile again)."""
    digest = hashlib.sha256(Path(py_file).read_bytes()).hexdigest()[:24]
    return f"{Path(py_file).stem}-{digest}"


@functools.cache
def _cache_class() -> Any:
    """The Numba cache class for the kernels (built on first use: it imports Numba)."""
    import importlib

    # Numba's caching module has no type annotations to check against.
    caching: Any = importlib.import_module("numba.core.caching")

    class Locator(caching._SourceFileBackedLocatorMixin, caching._CacheLocator):  # type: ignore[misc]
        def __init__(self, py_func: Any, py_file: str) -> None:
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = str(cache_dir() / _content_subpath(py_file))

        def get_cache_path(self) -> str:
            return self._cache_path

        @classmethod
        def from_function(cls, py_func: Any, py_file: str) -> Any:
            # Numba's locators create the folder and write a probe file into it, and drop the
            # cache when they cannot: a read-only folder filled ahead of time (a container image,
            # a cluster's shared install) never served. Here nothing is written until a kernel
            # is saved (save_overload creates the folder then, and fails quietly if it cannot).
            return cls(py_func, py_file)

    class Impl(caching.CompileResultCacheImpl):  # type: ignore[misc]
        _locator_classes: ClassVar[list[type]] = [Locator]

    class KernelCache(caching.FunctionCache):  # type: ignore[misc]
        _impl_class = Impl

        def _index_key(self, sig: Any, codegen: Any) -> Any:
            description = repr(_describe(self._py_func)).encode()
            return (sig, codegen.magic_tuple(), hashlib.sha256(description).hexdigest())

        def load_overload(self, sig: Any, target_context: Any) -> Any:
            try:
                return super().load_overload(sig, target_context)
            except Exception:
                # Unreadable (truncated, corrupt, foreign): start this function's index afresh,
                # so that the compiled kernel can be saved, and compile. (A folder this process
                # cannot write stays as it is.)
                try:
                    self.flush()
                except Exception:
                    pass
                return None

        def holds(self, sig: Any, codegen: Any) -> bool:
            """Whether the index has an entry for ``sig`` on this CPU (nothing loaded or written)."""
            try:
                name = self._cache_file._load_index().get(self._index_key(sig, codegen))
            except Exception:
                return False
            return name is not None and os.path.isfile(os.path.join(self._cache_path, name))

        def save_overload(self, sig: Any, data: Any) -> None:
            try:
                super().save_overload(sig, data)
            except Exception:
                pass  # a full disk or a directory made read-only: the kernel still runs

    return KernelCache


def holds(dispatcher: Any, args: tuple[Any, ...]) -> bool:
    """Whether the disk cache holds ``dispatcher``'s code for ``args`` and this CPU."""
    import numba

    cache = getattr(dispatcher, "_cache", None)
    if not isinstance(cache, _cache_class()):
        return False
    typeof: Any = numba.typeof  # untyped
    signature = tuple(typeof(arg) for arg in args)
    return bool(cache.holds(signature, dispatcher.targetctx.codegen()))


def target() -> tuple[str, str, str]:
    """The (triple, CPU name, features) that Numba keys cached code by in this process.

    ``NUMBA_CPU_NAME`` (and ``NUMBA_CPU_FEATURES``) replace the host's: ``generic`` for code that
    runs on any CPU of the architecture, ``x86-64-v3`` with ``NUMBA_CPU_FEATURES=""`` for x86-64
    CPUs with AVX2 and FMA (2015 on). A cache filled under one target serves only that target.
    """
    from numba.core.registry import cpu_target

    triple, name, features = cpu_target.target_context.codegen().magic_tuple()
    return str(triple), str(name), str(features)


# The x86-64 microarchitecture levels (psABI): the features a CPU needs to run code compiled for them.
_LEVELS = {
    "x86-64-v2": ("cx16", "popcnt", "sse4.1", "sse4.2", "ssse3"),
    "x86-64-v3": ("avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave"),
    "x86-64-v4": ("avx512bw", "avx512cd", "avx512dq", "avx512f", "avx512vl"),
}


def missing_features() -> list[str]:
    """The CPU features that ``NUMBA_CPU_NAME`` (an x86-64 level) asks for and this CPU lacks.

    Code compiled for a level the CPU does not have stops the process with an illegal
    instruction; the kernels are not run then (``fallback``).
    """
    name = os.environ.get("NUMBA_CPU_NAME", "")
    if name not in _LEVELS:
        return []
    import llvmlite.binding as llvm

    have = {f[1:] for f in llvm.get_host_cpu_features().flatten().split(",") if f.startswith("+")}
    levels = list(_LEVELS)
    needed = [f for level in levels[: levels.index(name) + 1] for f in _LEVELS[level]]
    return [f for f in needed if f not in have]


def jit(*, cache: bool = False, **options: Any) -> Callable[[_F], _F]:
    """``numba.njit(**options)``; with ``cache=True`` the compiled code is kept in :func:`cache_dir`."""
    import numba

    def decorate(function: _F) -> _F:
        dispatcher = numba.njit(cache=False, **options)(function)
        if cache:
            try:
                dispatcher._cache = _cache_class()(dispatcher.py_func)
            except Exception:
                pass  # no usable cache directory, or Numba's caching classes changed: compile in memory
        result: _F = dispatcher
        return result

    return decorate
