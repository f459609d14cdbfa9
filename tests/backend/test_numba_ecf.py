"""The fused Numba ECF kernels (``sigreg._backend.kernels.numba_ecf``) against a float64 NumPy oracle.

The oracle evaluates ``cos`` and ``sin`` of the whole ``N x K x J`` tensor of angles directly
in float64, so it shares neither the rotation, nor the re-anchoring, nor the kernel's own
``sincos``. Shapes leave remainders after the kernel's blocks (128 directions, 4 rows per
group, 64 rows per VJP task, runs of 16 and blocks of 64 knots).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

numba = pytest.importorskip("numba", reason="the fused CPU kernels need numba, which is not installed")

from sigreg._backend.kernels import numba_ecf  # noqa: E402

DT = 3.0 / 16  # the default grid: t_max = 3, 17 points
# Agreement with the oracle, relative to the largest magnitude of the result.
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
DTYPES = (np.float32, np.float64)


def _random(shape: tuple[int, ...], dtype: type, seed: int, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _angles(u: np.ndarray, dt: float, num_knots: int) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(1, num_knots + 1) * dt
    return t, u.astype(np.float64)[..., None] * t  # (..., N, K, J)


def oracle_sums(u: np.ndarray, dt: float, num_knots: int) -> np.ndarray:
    _, x = _angles(u, dt, num_knots)
    return np.concatenate([np.cos(x).sum(axis=-3), np.sin(x).sum(axis=-3)], axis=-1)


def oracle_vjp(u: np.ndarray, sums_bar: np.ndarray, dt: float, num_knots: int) -> np.ndarray:
    t, x = _angles(u, dt, num_knots)
    bar = sums_bar.astype(np.float64)
    cos_bar, sin_bar = bar[..., None, :, :num_knots], bar[..., None, :, num_knots:]
    return (t * (sin_bar * np.cos(x) - cos_bar * np.sin(x))).sum(axis=-1)


def assert_close(got: np.ndarray, want: np.ndarray, dtype: type) -> None:
    assert got.dtype == dtype
    assert got.shape == want.shape
    scale = np.abs(want).max()
    err = np.abs(got.astype(np.float64) - want).max()
    assert err <= RTOL[dtype] * scale, f"error {err:.3g} for largest magnitude {scale:.3g}"


def check(u: np.ndarray, num_knots: int, dt: float = DT, seed: int = 0) -> None:
    """Both kernels against the oracle for one input."""
    dtype = u.dtype.type
    bar = _random((*u.shape[:-2], u.shape[-1], 2 * num_knots), dtype, seed + 1)
    assert_close(numba_ecf.ecf_sums(u, dt, num_knots), oracle_sums(u, dt, num_knots), dtype)
    assert_close(numba_ecf.ecf_sums_vjp(u, bar, dt, num_knots), oracle_vjp(u, bar, dt, num_knots), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("num_knots", [1, 2, 16, 17, 33, 100])
@pytest.mark.parametrize("k", [1, 5, 33])
@pytest.mark.parametrize("n", [1, 7, 130, 1000])
def test_matches_oracle(n, k, num_knots, dtype):
    check(_random((n, k), dtype, seed=n * k + num_knots, scale=2.0), num_knots)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "k"), [(1, 1), (5, 3), (9, 2)])
def test_many_knots(n, k, dtype):
    check(_random((n, k), dtype, seed=n + k), 4096)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("n", "k", "num_knots"), [(7, 5, 16), (130, 33, 17), (70, 300, 65)])
def test_batched(n, k, num_knots, dtype):
    u = _random((2, 3, n, k), dtype, seed=n)
    check(u, num_knots)
    # Each batch item is its own problem: the same as running it alone.
    sums = numba_ecf.ecf_sums(u, DT, num_knots)
    alone = numba_ecf.ecf_sums(u[1, 2], DT, num_knots)
    assert_close(sums[1, 2], alone.astype(np.float64), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_wide_inputs(dtype):
    # More than one block of 128 directions, and a partial last block.
    check(_random((67, 300), dtype, seed=3), 16)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("num_knots", [17, 100])
def test_large_values(num_knots, dtype):
    # |u| ~ 50: angles of a few thousand radians, where a rounded float32 product t * u
    # would already miss by 1e-4 and an unanchored rotation would drift.
    check(_random((130, 5), dtype, seed=4, scale=50.0), num_knots)


@pytest.mark.parametrize("dtype", DTYPES)
def test_huge_angles_use_libm(dtype):
    # Angles far beyond 2**19, where the three-part pi/2 reduction (even with fused
    # multiply-add) is no longer exact: they go to libm. Mixed with small values in a row.
    u = _random((40, 7), dtype, seed=5)
    u[::3, ::2] *= dtype(1e25)
    assert np.abs(u * DT).max() > 2.0**19
    check(u, 1)


def test_reanchoring_keeps_float32_at_direct_accuracy():
    # 4096 knots walked by rotation from float32 states: the error stays at the level of
    # direct float32 evaluation, cos(float32(t) * u) summed in float64.
    u = _random((64, 8), np.float32, seed=6)
    num_knots = 4096
    t32 = (np.arange(1, num_knots + 1) * DT).astype(np.float32)
    x32 = u[..., None] * t32  # float32 products, as direct float32 evaluation rounds them
    direct = np.concatenate(
        [np.cos(x32).sum(axis=-3, dtype=np.float64), np.sin(x32).sum(axis=-3, dtype=np.float64)], -1
    )
    want = oracle_sums(u, DT, num_knots)
    err_direct = np.abs(direct - want).max()
    err_kernel = np.abs(numba_ecf.ecf_sums(u, DT, num_knots) - want).max()
    assert err_kernel <= 1.5 * err_direct, (err_kernel, err_direct)


def test_float32_sums_accumulate_in_float64():
    # A million terms near 1: a float32 running sum would be off by far more than float32 rounding.
    u = _random((1_000_000, 1), np.float32, seed=7, scale=1e-2)
    want = oracle_sums(u, DT, 1)
    got = numba_ecf.ecf_sums(u, DT, 1)
    assert np.abs(got - want).max() <= 2 * np.finfo(np.float32).eps * np.abs(want).max()


@pytest.mark.parametrize("dtype", DTYPES)
def test_non_contiguous_input(dtype):
    base = _random((33, 130), dtype, seed=8)
    for u in (base.T, base.T[::2, 1:], np.asfortranarray(base)):
        assert not u.flags.c_contiguous
        bar = _random((u.shape[1], 2 * 17), dtype, seed=9)
        np.testing.assert_array_equal(
            numba_ecf.ecf_sums(u, DT, 17), numba_ecf.ecf_sums(np.ascontiguousarray(u), DT, 17)
        )
        np.testing.assert_array_equal(
            numba_ecf.ecf_sums_vjp(u, bar, DT, 17),
            numba_ecf.ecf_sums_vjp(np.ascontiguousarray(u), bar, DT, 17),
        )
        check(u, 17)


@pytest.mark.parametrize("dtype", DTYPES)
def test_read_only_and_byte_swapped_inputs(dtype):
    # Copied into the one array type the kernels are compiled for: same results, no new compile.
    u = _random((70, 9), dtype, seed=18)
    bar = _random((9, 2 * 5), dtype, seed=19)
    want = numba_ecf.ecf_sums(u, DT, 5), numba_ecf.ecf_sums_vjp(u, bar, DT, 5)
    kernels = numba_ecf.compiled_kernels(np.dtype(dtype))
    compiled = [len(kernel.signatures) for kernel in kernels]
    read_only = u.copy()
    read_only.flags.writeable = False
    swapped = u.astype(u.dtype.newbyteorder())
    for v, b in ((read_only, bar), (swapped, bar.astype(bar.dtype.newbyteorder()))):
        got = numba_ecf.ecf_sums(v, DT, 5), numba_ecf.ecf_sums_vjp(v, b, DT, 5)
        for g, w in zip(got, want, strict=True):
            assert g.dtype == dtype
            np.testing.assert_array_equal(g, w)
    assert [len(kernel.signatures) for kernel in kernels] == compiled


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(0, 5), (3, 0), (0, 0), (2, 0, 4), (0, 3, 5), (2, 3, 0, 4)])
@pytest.mark.parametrize("num_knots", [0, 3])
def test_zero_size(shape, num_knots, dtype):
    u = np.ones(shape, dtype=dtype)
    *batch, _, k = shape
    sums = numba_ecf.ecf_sums(u, DT, num_knots)
    assert sums.shape == (*batch, k, 2 * num_knots) and sums.dtype == dtype
    assert not sums.any()  # no samples: every sum is zero
    bar = np.ones((*batch, k, 2 * num_knots), dtype=dtype)
    grad = numba_ecf.ecf_sums_vjp(u, bar, DT, num_knots)
    assert grad.shape == shape and grad.dtype == dtype
    assert not grad.any()


@pytest.mark.parametrize("dtype", DTYPES)
def test_nan_stays_in_its_column(dtype):
    u = _random((130, 200), dtype, seed=10)
    u[77, 150] = np.nan
    bar = _random((200, 2 * 20), dtype, seed=11)
    sums = numba_ecf.ecf_sums(u, DT, 20)
    grad = numba_ecf.ecf_sums_vjp(u, bar, DT, 20)
    assert np.isnan(sums[150]).all()
    assert np.isnan(grad[77, 150]) and np.isnan(grad).sum() == 1
    clean = np.delete(u, 150, axis=1)
    assert_close(np.delete(sums, 150, axis=0), oracle_sums(clean, DT, 20), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_do_not_depend_on_thread_count(dtype, monkeypatch):
    u = _random((3000, 130), dtype, seed=12)
    bar = _random((130, 2 * 16), dtype, seed=13)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    one = numba_ecf.ecf_sums(u, DT, 16), numba_ecf.ecf_sums_vjp(u, bar, DT, 16)
    monkeypatch.setenv("NUMBA_NUM_THREADS", "3")  # more threads than tasks of some calls, and than cores here
    many = numba_ecf.ecf_sums(u, DT, 16), numba_ecf.ecf_sums_vjp(u, bar, DT, 16)
    np.testing.assert_array_equal(one[0], many[0])
    np.testing.assert_array_equal(one[1], many[1])


def test_agrees_with_array_api_path():
    """Same knots and layout as ``sigreg._statistics.ecf`` (the kernel interface of ``Plan.kernel``)."""
    import array_api_compat.numpy as xp

    from sigreg._core.plan import Plan
    from sigreg._statistics.ecf import ecf_sums, ecf_sums_vjp
    from sigreg._statistics.quadrature import trapezoid_grid

    grid = trapezoid_grid(3.0, 17)
    u = _random((2, 200, 9), np.float64, seed=14)
    bar = _random((2, 9, 2 * len(grid.t)), np.float64, seed=15)
    plan = Plan(block_rows=64)
    np.testing.assert_allclose(
        numba_ecf.ecf_sums(u, grid.dt, len(grid.t)), ecf_sums(u, grid, xp, plan), rtol=0, atol=1e-11
    )
    np.testing.assert_allclose(
        numba_ecf.ecf_sums_vjp(u, bar, grid.dt, len(grid.t)),
        ecf_sums_vjp(u, bar, grid, xp, plan),
        rtol=0,
        atol=1e-11,
    )


def test_results_are_new_arrays():
    u = _random((10, 4), np.float32, seed=16)
    bar = _random((4, 2), np.float32, seed=17)
    for out in (numba_ecf.ecf_sums(u, DT, 1), numba_ecf.ecf_sums_vjp(u, bar, DT, 1)):
        assert not np.shares_memory(out, u) and not np.shares_memory(out, bar)


def test_invalid_arguments():
    u = np.zeros((4, 3), np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        numba_ecf.ecf_sums(u.astype(np.float16), DT, 2)
    with pytest.raises(TypeError, match="float32 or float64"):
        numba_ecf.ecf_sums(u.astype(np.int64), DT, 2)
    with pytest.raises(TypeError, match="NumPy array"):
        numba_ecf.ecf_sums(u.tolist(), DT, 2)
    with pytest.raises(ValueError, match="shape"):
        numba_ecf.ecf_sums(u[0], DT, 2)
    with pytest.raises(ValueError, match="non-negative"):
        numba_ecf.ecf_sums(u, DT, -1)
    with pytest.raises(ValueError, match="sums_bar must have shape"):
        numba_ecf.ecf_sums_vjp(u, np.zeros((3, 5), np.float32), DT, 2)
    with pytest.raises(TypeError, match="dtype"):
        numba_ecf.ecf_sums_vjp(u, np.zeros((3, 4), np.float64), DT, 2)


def test_available():
    assert numba_ecf.available()


def test_import_is_lazy_and_survives_missing_numba():
    # Importing the module imports no numba (so compiles nothing); without numba it still
    # imports and reports unavailable (the loaders then never call it); called anyway, the
    # kernels warn and the array-API code computes the sums.
    code = (
        "import sys\n"
        "import sigreg\n"
        "before = 'numba' in sys.modules\n"
        "import sigreg._backend.kernels.numba_ecf as m\n"
        "assert ('numba' in sys.modules) == before\n"
        "sys.modules['numba'] = None\n"
        "assert not m.available()\n"
        "import warnings, numpy as np\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    sums = m.ecf_sums(np.zeros((2, 2)), 0.1, 3)\n"
        "assert [w.category.__name__ for w in caught] == ['KernelWarning'], caught\n"
        "assert 'ModuleNotFoundError' in str(caught[0].message)\n"
        "assert sums.tolist() == [[2.0, 2.0, 2.0, 0.0, 0.0, 0.0]] * 2, sums\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "ok", out.stderr
