"""``SIGREG_KERNELS`` and the fallback when a kernel family fails (``sigreg._backend.kernels.fallback``).

Failures are injected: a compiler entry that raises (Numba's kernel builder, Triton's launch,
Pallas's ``pallas_call``), a Pallas kernel that fails only when it runs (the case a probe must
catch under ``jit``), a library that breaks on import. Each time the value and gradient must be
those of the array-API plan (the kernels turned off) and exactly one ``sigreg.KernelWarning``
must name the family and ``SIGREG_KERNELS``. Fresh processes (slower) only where the process
matters: what ``SIGREG_KERNELS=none`` imports, and an unloadable Numba threading layer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import sigreg
from sigreg._backend import kernels
from sigreg._backend.kernels import fallback

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(monkeypatch):
    """This process's kernel switches as if nothing had been read, loaded or given up yet."""
    monkeypatch.setattr(fallback, "_allowed", None)
    monkeypatch.setattr(fallback, "_failed", {})
    monkeypatch.setattr(kernels, "_LOADED", {})
    monkeypatch.delenv("SIGREG_KERNELS", raising=False)
    monkeypatch.delenv("SIGREG_PALLAS", raising=False)
    return monkeypatch


def _kernels_off(monkeypatch) -> None:
    monkeypatch.setattr(fallback, "_allowed", frozenset())


def _kernels_on(monkeypatch) -> None:
    monkeypatch.setattr(fallback, "_allowed", None)


def _caught(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, sigreg.KernelWarning)]


@pytest.mark.parametrize(
    ("value", "pallas", "families"),
    [
        ("auto", None, {"numba", "triton", "pallas"}),
        ("", None, {"numba", "triton", "pallas"}),
        ("none", None, set()),
        ("NONE", None, set()),
        ("numba", None, {"numba"}),
        (" numba , pallas ", None, {"numba", "pallas"}),
        ("auto", "0", {"numba", "triton"}),
        ("triton,pallas", "0", {"triton"}),
        ("auto", "1", {"numba", "triton", "pallas"}),
    ],
)
def test_the_switch_reads_families(value, pallas, families):
    assert fallback._parse(value, pallas) == families


@pytest.mark.parametrize("value", ["numbaa", "cuda", "numba;triton", ",", "all"])
def test_a_wrong_switch_names_the_variable(fresh, value):
    fresh.setenv("SIGREG_KERNELS", value)
    with pytest.raises(ValueError, match="SIGREG_KERNELS must be 'auto', 'none' or a comma list"):
        fallback.allowed("numba")


def test_the_switch_is_read_once(fresh):
    fresh.setenv("SIGREG_KERNELS", "none")
    assert not fallback.allowed("numba") and kernels.numba_kernels() is None
    fresh.setenv("SIGREG_KERNELS", "auto")
    assert not fallback.allowed("numba") and kernels.pallas_kernels() is None


def test_a_family_left_out_is_not_loaded(fresh):
    fresh.setenv("SIGREG_KERNELS", "triton,pallas")
    fresh.setattr(kernels, "_numba_through_dlpack", lambda: pytest.fail("numba was loaded"))
    assert kernels.numba_kernels() is None


def test_out_of_memory_is_not_a_kernel_failure(fresh):
    def run():
        raise MemoryError("out of host memory")

    with pytest.raises(MemoryError):
        fallback.guard("numba", run, lambda: pytest.fail("fell back"))
    assert fallback.usable("numba")


def test_one_warning_per_family_naming_the_error_and_the_switch(fresh):
    def broken():
        raise RuntimeError("LLVM ERROR: out of registers\nsecond line")

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        assert [fallback.guard("triton", broken, lambda i=i: i) for i in range(3)] == [0, 1, 2]
        assert fallback.guard("numba", lambda: "kernel", lambda: "plan") == "kernel"
    (message,) = _caught(record)
    assert "triton kernels failed (RuntimeError: LLVM ERROR: out of registers)" in message
    assert "second line" not in message
    assert "SIGREG_KERNELS=numba,pallas" in message
    assert not fallback.usable("triton") and fallback.usable("numba")


def test_a_library_that_breaks_on_import_is_given_up(fresh):
    def importer():
        raise OSError("libcuda.so.1: cannot open shared object file")

    fresh.setattr(kernels, "_triton", importer)
    with pytest.warns(sigreg.KernelWarning, match="triton kernels failed .OSError: libcuda"):
        assert kernels.triton_kernels() is None
    assert kernels.triton_kernels() is None  # no second warning: pytest.warns would not see it here


# --- Numba ---------------------------------------------------------------------------------


def _numpy_and_torch_values(z: np.ndarray) -> list[np.ndarray]:
    """Value and gradient of a NumPy array and of a torch CPU tensor (when torch is installed)."""
    value, grad = sigreg.value_and_grad(z, num_slices=24, seed=5)
    results = [np.asarray(value), grad]
    try:
        import torch
    except ImportError:
        return results
    t = torch.tensor(z, requires_grad=True)
    loss = sigreg.sigreg(t, num_slices=24, seed=5)
    loss.backward()
    return [*results, loss.detach().numpy(), t.grad.numpy()]


def test_a_failing_numba_compile_falls_back_with_one_warning(fresh):
    pytest.importorskip("numba", reason="the Numba kernels need numba, which is not installed")
    from sigreg._backend.kernels import numba_ecf

    z = np.random.default_rng(3).standard_normal((300, 7)) * 1.3 + 0.2
    _kernels_off(fresh)
    want = _numpy_and_torch_values(z)
    _kernels_on(fresh)

    def compile_error(dtype):
        raise RuntimeError("Failed in nopython mode pipeline (step: native lowering): injected")

    fresh.setattr(numba_ecf, "compiled_kernels", compile_error)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        got = _numpy_and_torch_values(z)  # the first call fails in the kernel and falls back
        again = _numpy_and_torch_values(z)  # later calls take the array-API plan from the start
    (message,) = _caught(record)
    assert "numba kernels failed (RuntimeError: Failed in nopython mode" in message
    assert kernels.numba_kernels() is None
    for g, a, w in zip(got, again, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12 * float(np.abs(w).max()))
        np.testing.assert_array_equal(a, w)


# A fresh process prints its values as JSON: SIGREG_KERNELS and NUMBA_THREADING_LAYER are read once.
VALUES = """
import json, sys, warnings
import numpy as np
import sigreg
warnings.simplefilter("error", sigreg.KernelWarning)
z = np.random.default_rng(3).standard_normal((300, 7)) * 1.3 + 0.2
value, grad = sigreg.value_and_grad(z, num_slices=24, seed=5)
out = {"numpy": [float(value), grad.tolist()]}
try:
    import torch
except ImportError:
    torch = None
if torch is not None:
    t = torch.tensor(z, requires_grad=True)
    loss = sigreg.sigreg(t, num_slices=24, seed=5)
    loss.backward()
    out["torch"] = [loss.item(), t.grad.tolist()]
from sigreg._backend.kernels import numba_ecf
out["kernels_ran"] = "numba" in sys.modules and any(
    k.signatures for k in numba_ecf.compiled_kernels(np.dtype("float64")))
out["imported"] = sorted(m for m in ("numba", "triton", "jax.experimental.pallas") if m in sys.modules)
print(json.dumps(out))
"""


def _values_in_a_fresh_process(**env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in ("SIGREG_KERNELS", "NUMBA_THREADING_LAYER")}
    full |= {"PYTHONPATH": str(ROOT), **env}
    out = subprocess.run(
        [sys.executable, "-c", VALUES], capture_output=True, text=True, env=full, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _assert_same_values(got: dict, want: dict) -> None:
    for name in ("numpy", "torch"):
        if name not in want:
            continue
        (gv, gg), (wv, wg) = got[name], want[name]
        np.testing.assert_allclose(gv, wv, rtol=1e-12)
        np.testing.assert_allclose(gg, wg, rtol=1e-12, atol=1e-12 * float(np.abs(wg).max()))


def test_kernels_none_imports_no_kernel_library_and_an_unloadable_threading_layer_is_harmless():
    """``SIGREG_KERNELS=none``: the array-API plan, and neither numba nor triton nor Pallas imported.

    With Numba's threading layer unloadable (``NUMBA_THREADING_LAYER=tbb`` without TBB, which
    made every kernel call raise "No threading layer could be loaded"), the kernels run on
    their own threads (``cpu_threads``) and never load a threading layer: the same values, no
    warning (the process turns KernelWarning into an error).
    """
    numba = pytest.importorskip("numba", reason="the Numba kernels need numba, which is not installed")
    try:
        from numba.np.ufunc import tbbpool  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("TBB is installed here: NUMBA_THREADING_LAYER=tbb would load")
    off = _values_in_a_fresh_process(SIGREG_KERNELS="none")
    assert off["imported"] == [] and not off["kernels_ran"]
    broken_layer = _values_in_a_fresh_process(NUMBA_THREADING_LAYER="tbb")
    assert broken_layer["kernels_ran"]
    _assert_same_values(broken_layer, off)
    assert numba.config.THREADING_LAYER  # (numba itself imports with the variable set)


# --- Triton (its interpreter runs the kernels on CPU tensors) ---------------------------------


def _triton_module():
    torch = pytest.importorskip("torch", reason="the Triton kernels are torch custom ops")
    pytest.importorskip("triton", reason="triton is not installed")
    if not (os.environ.get("TRITON_INTERPRET") == "1" or torch.cuda.is_available()):
        pytest.skip("Triton kernels need a CUDA device or TRITON_INTERPRET=1 set before the run")
    from sigreg._backend.kernels import triton_ecf

    return torch, triton_ecf


class _FailingLaunch:
    """A Triton kernel whose launch fails as a compile error would (``kernel[grid](...)``)."""

    def __getitem__(self, grid):
        raise RuntimeError("PassManager::run failed (injected)")


def test_a_failing_triton_kernel_falls_back_even_inside_a_compiled_graph(fresh):
    torch, triton_ecf = _triton_module()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    gen = torch.Generator().manual_seed(4)
    u = torch.randn((2, 37, 9), generator=gen, dtype=torch.float64).to(device)
    bar = torch.randn((2, 9, 2 * 16), generator=gen, dtype=torch.float64).to(device)
    dt = 3.0 / 16

    def step(u, bar):
        return triton_ecf.ecf_sums(u, dt, 16), triton_ecf.ecf_sums_vjp(u, bar, dt, 16)

    torch._dynamo.reset()
    compiled = torch.compile(step, fullgraph=True)
    want = step(u, bar)  # the kernels, eager
    torch.testing.assert_close(compiled(u, bar), want, rtol=1e-12, atol=1e-12)
    # The kernels now fail at launch, inside the graph compiled above (no new trace).
    fresh.setattr(triton_ecf, "_ecf_sums_kernel", _FailingLaunch())
    fresh.setattr(triton_ecf, "_ecf_sums_vjp_kernel", _FailingLaunch())
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        got = compiled(u, bar)
        again = step(u, bar)
    (message,) = _caught(record)
    assert "triton kernels failed (RuntimeError: PassManager::run failed (injected))" in message
    for g in (*got, *again):
        assert g.dtype == torch.float64 and g.device.type == device
    for g, a, w in zip(got, again, want, strict=True):
        scale = float(w.abs().max())
        torch.testing.assert_close(g, w, rtol=0, atol=1e-12 * scale)
        torch.testing.assert_close(a, g, rtol=0, atol=0)


# --- Pallas (its interpreter runs the kernels on the CPU) -------------------------------------


def _pallas(fresh):
    jax = pytest.importorskip("jax")
    try:
        from sigreg._backend.kernels import pallas_ecf
    except ImportError as error:
        pytest.skip(f"jax.experimental.pallas does not import: {error}")
    from sigreg._backend import dispatch
    from sigreg._core.plan import Plan

    fresh.setattr(pallas_ecf, "_PROBED", set())
    x64 = jax.config.jax_enable_x64
    dtype = np.float64 if x64 else np.float32

    def value_and_grad(kernel):
        fresh.setattr(dispatch, "plan", lambda u, xp: Plan(kernel=kernel, scan=jax.lax.scan))
        z = jax.numpy.asarray(np.random.default_rng(6).standard_normal((11, 5)).astype(dtype))
        step = jax.jit(jax.value_and_grad(lambda z: sigreg.sigreg(z, num_slices=7, seed=2)))
        return [np.asarray(a) for a in step(z)]

    return jax, pallas_ecf, value_and_grad, (1e-12 if x64 else 1e-5)


def _assert_close(got, want, rtol):
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=rtol * float(np.abs(w).max()))


def test_a_failing_pallas_compile_falls_back_at_trace_time(fresh):
    _, pallas_ecf, value_and_grad, rtol = _pallas(fresh)
    want = value_and_grad(None)

    def compile_error(*args, **kwargs):
        raise RuntimeError("Mosaic/Triton lowering failed (injected)")

    fresh.setattr(pallas_ecf.pl, "pallas_call", compile_error)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        got = value_and_grad(pallas_ecf.interpreted)
    (message,) = _caught(record)
    assert "pallas kernels failed (RuntimeError: Mosaic/Triton lowering failed (injected))" in message
    _assert_close(got, want, rtol)


def test_a_pallas_kernel_that_fails_only_when_it_runs_is_caught_by_the_probe(fresh):
    """Under jit, a kernel that traces and compiles but fails when launched would escape the
    caller's program: the probe runs the kernels once while the trace is built."""
    jax, pallas_ecf, value_and_grad, rtol = _pallas(fresh)
    want = value_and_grad(None)

    def launch_error(x):
        raise RuntimeError("CUDA_ERROR_ILLEGAL_ADDRESS (injected)")

    def fails_when_run(u, dt, num_knots, interpret):
        shape = jax.ShapeDtypeStruct((*u.shape[:-2], u.shape[-1], 2 * num_knots), u.dtype)
        return jax.pure_callback(launch_error, shape, u)

    fresh.setattr(pallas_ecf, "_sums", fails_when_run)
    pallas_ecf._differentiable.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            got = value_and_grad(pallas_ecf.interpreted)
    finally:
        pallas_ecf._differentiable.cache_clear()
    (message,) = _caught(record)
    assert "pallas kernels failed" in message and "CUDA_ERROR_ILLEGAL_ADDRESS" in message
    _assert_close(got, want, rtol)
