"""``sigreg.warmup`` and ``python -m sigreg warmup``: the CPU kernels compiled ahead of time."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import sigreg

ROOT = Path(__file__).parents[2]


def _cli(*args: str, code: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "sigreg", *args]
    full = {k: v for k, v in os.environ.items() if k not in ("SIGREG_KERNELS", "NUMBA_CPU_NAME")}
    full |= {"PYTHONPATH": str(ROOT), **env}
    return subprocess.run(command, capture_output=True, text=True, env=full)


@pytest.mark.parametrize("bad", ["float16", "int32", ["float32", "bfloat16"], [], 3])
def test_bad_dtype_is_refused_before_any_work(bad):
    with pytest.raises(ValueError, match="dtype"):
        sigreg.warmup(bad)


def test_cli_refuses_a_dtype_it_has_no_kernels_for():
    out = _cli("warmup", "--dtype", "float16")
    assert out.returncode == 2 and "--dtype" in out.stderr


def test_without_numba_there_is_nothing_to_compile():
    code = "import sys; sys.modules['numba'] = None\nimport sigreg\nprint(sigreg.warmup())"
    out = _cli(code=code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "{'float32': 'unavailable', 'float64': 'unavailable'}"
    out = _cli(
        code="import sys; sys.modules['numba'] = None\nfrom sigreg.__main__ import main\nmain(['warmup'])"
    )
    assert out.returncode == 0 and "Numba is not installed" in out.stdout, out.stderr


def test_kernels_turned_off_leave_nothing_to_compile():
    out = _cli("warmup", SIGREG_KERNELS="none")
    assert out.returncode == 0 and "SIGREG_KERNELS leaves Numba out" in out.stdout, out.stderr


def test_check_on_an_empty_cache_says_missing_and_fails(tmp_path):
    pytest.importorskip("numba", reason="the kernels need numba, which is not installed")
    out = _cli("warmup", "--check", NUMBA_CACHE_DIR=str(tmp_path / "numba"))
    assert out.returncode == 1, out.stderr
    assert out.stdout.splitlines()[:2] == ["float32: missing", "float64: missing"]
    assert "python -m sigreg warmup` with the same NUMBA_CACHE_DIR and NUMBA_CPU_NAME" in out.stdout
    assert not (tmp_path / "numba").exists()  # a check writes nothing


def test_import_sigreg_compiles_and_imports_nothing():
    out = _cli(code="import sys, sigreg; print(sorted(m for m in ('numba', 'numpy') if m in sys.modules))")
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


@pytest.mark.slow
def test_warmup_compiles_what_the_first_call_needs():
    numba_ecf = pytest.importorskip("sigreg._backend.kernels.numba_ecf")
    pytest.importorskip("numba", reason="the kernels need numba, which is not installed")
    status = sigreg.warmup(np.float64)
    assert status["float64"] in {"compiled", "loaded", "ready"}
    kernels = numba_ecf.compiled_kernels(np.dtype(np.float64))
    compiled = [list(kernel.signatures) for kernel in kernels]
    assert all(len(signatures) == 1 for signatures in compiled)
    assert sigreg.warmup("float64") == {"float64": "ready"}  # the second time: nothing to do
    # The first real calls (value, then value and gradient) need no new signature.
    z = np.random.default_rng(0).standard_normal((40, 6))
    value, grad = sigreg.value_and_grad(z, num_slices=16, seed=0)
    assert grad.shape == z.shape and np.isfinite(grad).all()
    np.testing.assert_allclose(sigreg.sigreg(z, num_slices=16, seed=0), value, rtol=1e-12)
    assert [list(kernel.signatures) for kernel in kernels] == compiled
    # This process saved (or found) them on disk: a new process loads them, compiling nothing.
    assert sigreg.warmup("float64", check=True) == {"float64": "cached"}
    out = _cli("warmup", "--dtype", "float64", "--check")
    assert out.returncode == 0 and out.stdout.splitlines()[0] == "float64: cached", out.stdout + out.stderr
    out = _cli("warmup", "--dtype", "float64")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0] == "float64: loaded"
