"""The on-disk cache of the Numba kernels (``sigreg._backend.kernels.numba_cache``).

Counted, not timed: Numba's per-dispatcher statistics say whether a signature was loaded
from disk (a hit) or compiled (a miss). The kernels themselves go through two fresh
processes; the failure cases (corrupt, stale, foreign, unwritable) use a small closure
kernel built the same way, in this process, so that each recompile costs milliseconds.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

numba = pytest.importorskip("numba", reason="the kernel cache needs numba, which is not installed")

from sigreg._backend.kernels import numba_cache  # noqa: E402

ROOT = Path(__file__).parents[2]

# One kernel signature (float64 sums) in a fresh process: the results and the counts.
KERNEL_RUN = """
import json, sys
import numpy as np
from sigreg._backend.kernels import numba_ecf
u = np.random.default_rng(0).standard_normal((70, 9))
sums = numba_ecf.ecf_sums(u, 0.25, 5)
kernel = numba_ecf.compiled_kernels(np.dtype(np.float64))[0]
stats = kernel.stats
import os
print(json.dumps({"hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values()),
                  "path": stats.cache_path, "sums": sums.tolist(),
                  "writable": os.access(stats.cache_path, os.W_OK)}))
"""


def _run_kernel(env: dict[str, str], root: Path = ROOT, prefix: tuple[str, ...] = ()) -> dict:
    full = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}  # a run-wide one, say
    full |= {"PYTHONPATH": str(root), **env}
    command = [*prefix, sys.executable, "-c", KERNEL_RUN]
    out = subprocess.run(command, capture_output=True, text=True, env=full)
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _snapshot(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and folder below ``folder``: size, modification time, mode."""
    return {
        str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns, p.stat().st_mode)
        for p in sorted([folder, *folder.rglob("*")])
    }


def _set_writable(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | 0o200 if writable else mode & ~0o222)


def _without_write_rights() -> tuple[str, ...]:
    """The prefix of a command whose process may not write a folder without write bits: as root,
    ``setpriv`` drops the capabilities that override permissions (root ignores them otherwise)."""
    if os.geteuid() != 0:
        return ()
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv (util-linux): no way to drop CAP_DAC_OVERRIDE")
    return (setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", "--")


@pytest.mark.slow
def test_a_read_only_warm_cache_serves_a_process_that_cannot_write_it(tmp_path):
    """A cache filled ahead of time (an image build, a shared install) and then read by a process
    without write rights (a non-root container user): loaded, not compiled, the folder untouched."""
    cache = tmp_path / "numba"
    first = _run_kernel({"NUMBA_CACHE_DIR": str(cache)})
    assert (first["hits"], first["misses"]) == (0, 1)
    _set_writable(cache, False)
    before = _snapshot(cache)
    try:
        second = _run_kernel({"NUMBA_CACHE_DIR": str(cache)}, prefix=_without_write_rights())
        after = _snapshot(cache)
    finally:
        _set_writable(cache, True)  # so that pytest can remove tmp_path
    assert not second["writable"]  # the process could not have written there
    assert (second["hits"], second["misses"]) == (1, 0)
    assert second["sums"] == first["sums"]
    assert after == before


@pytest.mark.slow
def test_second_process_loads_the_kernel_from_the_user_cache(tmp_path):
    # No NUMBA_CACHE_DIR: the user cache directory (XDG_CACHE_HOME here) holds the kernels. The
    # second process imports another copy of sigreg (another virtualenv, say): same source, same
    # cache entry.
    env = {"XDG_CACHE_HOME": str(tmp_path)}
    first = _run_kernel(env)
    copy = tmp_path / "copy"
    shutil.copytree(ROOT / "sigreg", copy / "sigreg", ignore=shutil.ignore_patterns("__pycache__"))
    second = _run_kernel(env, root=copy)
    assert (first["hits"], first["misses"]) == (0, 1)  # an empty cache: compiled, then saved
    assert (second["hits"], second["misses"]) == (1, 0)  # loaded: nothing compiled
    assert Path(first["path"]).is_relative_to(tmp_path / "sigreg" / "numba")
    assert sorted(p.suffix for p in Path(first["path"]).iterdir()) == [".nbc", ".nbi"]
    # The loaded kernel computes what the compiled one did, and what float64 NumPy does.
    u = np.random.default_rng(0).standard_normal((70, 9))
    x = u[..., None] * (np.arange(1, 6) * 0.25)
    want = np.concatenate([np.cos(x).sum(0), np.sin(x).sum(0)], axis=-1)
    np.testing.assert_array_equal(second["sums"], first["sums"])
    np.testing.assert_allclose(second["sums"], want, rtol=0, atol=1e-12 * np.abs(want).max())


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "numba"))
    assert numba_cache.cache_dir() == tmp_path / "numba"
    monkeypatch.delenv("NUMBA_CACHE_DIR")
    if sys.platform.startswith("linux"):
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
        assert numba_cache.cache_dir() == tmp_path / "xdg" / "sigreg" / "numba"
        monkeypatch.delenv("XDG_CACHE_HOME")
        monkeypatch.setenv("HOME", str(tmp_path / "home"))
        assert numba_cache.cache_dir() == tmp_path / "home" / ".cache" / "sigreg" / "numba"


def _build(scale: float):
    """A cached closure kernel over another jitted closure, as the real kernels are built."""

    @numba_cache.jit()
    def term(x: float) -> float:
        return scale * np.cos(x)

    @numba_cache.jit(cache=True)
    def total(u):
        s = 0.0
        for value in u:
            s += term(value)
        return s

    return total


U = np.linspace(-2.0, 2.0, 11)


def _call(scale: float) -> tuple[float, int, int]:
    kernel = _build(scale)
    value = kernel(U)
    stats = kernel.stats
    return value, sum(stats.cache_hits.values()), sum(stats.cache_misses.values())


def _files(tmp_path: Path, suffix: str) -> list[Path]:
    found = sorted(tmp_path.rglob(f"*_build.locals.total-*{suffix}"))
    assert found, f"no {suffix} file under {tmp_path}"
    return found


@pytest.fixture
def cache(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    return tmp_path


def _want(scale: float) -> float:
    return float(scale * np.cos(U).sum())


def test_new_dispatchers_hit_the_cache_and_cells_are_keyed(cache):
    # Fresh dispatcher objects (as in a new process) find the saved code; a different closure
    # value (as float32 against float64 kernels) is a different entry, never the other's code.
    assert _call(2.0) == pytest.approx((_want(2.0), 0, 1))
    assert _call(2.0) == pytest.approx((_want(2.0), 1, 0))
    assert _call(3.0) == pytest.approx((_want(3.0), 0, 1))
    assert _call(3.0) == pytest.approx((_want(3.0), 1, 0))
    assert len(_files(cache, ".nbc")) == 2


@pytest.mark.parametrize("damage", ["garbage index", "truncated index", "garbage data", "missing data"])
def test_a_corrupt_cache_is_rebuilt_with_correct_results(cache, damage):
    _call(2.0)
    index, data = _files(cache, ".nbi")[0], _files(cache, ".nbc")[0]
    if damage == "garbage index":
        index.write_bytes(b"\x80\x05not a pickle at all")
    elif damage == "truncated index":
        index.write_bytes(index.read_bytes()[: len(index.read_bytes()) // 2])
    elif damage == "garbage data":
        data.write_bytes(os.urandom(64))
    else:
        data.unlink()
    assert _call(2.0) == pytest.approx((_want(2.0), 0, 1))  # compiled again, no exception
    assert _call(2.0) == pytest.approx((_want(2.0), 1, 0))  # and saved again


def _rewrite_index(index: Path, version=None, key=None) -> None:
    with open(index, "rb") as f:
        saved_version = pickle.load(f)
        stamp, overloads = pickle.loads(f.read())
    if key is not None:
        overloads = {key(k): v for k, v in overloads.items()}
    with open(index, "wb") as f:
        pickle.dump(version or saved_version, f)
        f.write(pickle.dumps((stamp, overloads)))


def test_entries_of_another_numba_version_or_cpu_are_not_loaded(cache):
    _call(2.0)
    index = _files(cache, ".nbi")[0]
    _rewrite_index(index, version="0.1.0")  # written by another Numba
    assert _call(2.0) == pytest.approx((_want(2.0), 0, 1))

    def other_cpu(key):
        sig, (triple, _cpu, features), code = key
        return sig, (triple, "another-cpu", features), code

    _rewrite_index(index, key=other_cpu)  # the only entry is another CPU's
    assert _call(2.0) == pytest.approx((_want(2.0), 0, 1))
    assert _call(2.0) == pytest.approx((_want(2.0), 1, 0))  # ours was added next to it


def test_a_folder_this_process_cannot_write_is_still_read(cache, monkeypatch):
    # Numba's own locator wrote a probe file into the folder and dropped the cache when it could
    # not. Root may write anywhere, so the refusals are made here: the probe and every write.
    import tempfile

    from numba.core import caching

    _call(2.0)  # compiled and saved while the folder could be written
    before = _snapshot(cache)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    monkeypatch.setattr(caching.IndexDataCacheFile, "_open_for_write", refuse)
    assert _call(2.0) == pytest.approx((_want(2.0), 1, 0))  # loaded
    assert _call(3.0) == pytest.approx((_want(3.0), 0, 1))  # not there: compiled, not saved, no error
    assert _call(3.0) == pytest.approx((_want(3.0), 0, 1))
    assert _snapshot(cache) == before


def test_an_unusable_cache_directory_compiles_in_memory(monkeypatch, tmp_path):
    # A cache path below a regular file cannot be created (not even by root): no error, no cache.
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "numba"))
    assert _call(2.0) == pytest.approx((_want(2.0), 0, 1))
    assert _call(2.0) == pytest.approx((_want(2.0), 0, 1))  # compiled again: nothing was kept
    assert list(tmp_path.iterdir()) == [blocker]


def test_an_x86_64_level_this_cpu_lacks_is_named(monkeypatch):
    import llvmlite.binding as llvm

    have = {f[1:] for f in llvm.get_host_cpu_features().flatten().split(",") if f.startswith("+")}
    monkeypatch.delenv("NUMBA_CPU_NAME", raising=False)
    assert numba_cache.missing_features() == []  # the host's own CPU
    for level, needs in [("x86-64-v3", {"avx2", "fma"}), ("x86-64-v4", {"avx2", "avx512f", "avx512vl"})]:
        monkeypatch.setenv("NUMBA_CPU_NAME", level)
        lacking = set(numba_cache.missing_features())
        assert needs - have <= lacking  # every feature asked for and absent is named
        assert not lacking & have
