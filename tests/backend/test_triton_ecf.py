"""The fused Triton ECF kernels (``sigreg._backend.kernels.triton_ecf``) against a float64 NumPy oracle.

The kernels run on a CUDA device when there is one, else on CPU tensors under Triton's
interpreter, which needs ``TRITON_INTERPRET=1`` in the environment before the kernels are
defined. The interpreter is slow, so the shapes are small; they are chosen so that N, K and J
leave remainders after every block size that the block rule picks.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the Triton kernels are torch custom ops: torch is not installed")
pytest.importorskip("triton", reason="triton is not installed")
if not (os.environ.get("TRITON_INTERPRET") == "1" or torch.cuda.is_available()):
    pytest.skip(
        "Triton kernels need a CUDA device, or TRITON_INTERPRET=1 set before the test run "
        "to run them on CPU tensors under Triton's interpreter",
        allow_module_level=True,
    )

from sigreg._backend.kernels import triton_ecf  # noqa: E402

DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
# Agreement with the float64 oracle, relative to the largest magnitude of the result.
# float32: the argument t_j * u is rounded once (relative 6e-8 of |t_j u| <= ~15 for
# N(0, 1) samples and t <= 3), and the sums add at most a few hundred terms, so the
# errors stay near 1e-6: 1e-5 leaves a margin without hiding a wrong knot or term.
RTOL = {torch.float32: 1e-5, torch.float64: 1e-12}
T_MAX = 3.0


def _random(shape: tuple[int, ...], dtype: torch.dtype, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(dtype=dtype, device=DEVICE)


def _angles(u: torch.Tensor, dt: float, num_knots: int) -> np.ndarray:
    """``t_j * u`` for every sample, direction and knot: (..., N, K, J), in float64."""
    t = np.arange(1, num_knots + 1, dtype=np.float64) * dt
    return u.detach().cpu().double().numpy()[..., None] * t


def oracle_sums(u: torch.Tensor, dt: float, num_knots: int) -> np.ndarray:
    a = _angles(u, dt, num_knots)
    return np.concatenate([np.cos(a).sum(axis=-3), np.sin(a).sum(axis=-3)], axis=-1)


def oracle_vjp(u: torch.Tensor, sums_bar: torch.Tensor, dt: float, num_knots: int) -> np.ndarray:
    a = _angles(u, dt, num_knots)
    t = np.arange(1, num_knots + 1, dtype=np.float64) * dt
    bar = sums_bar.detach().cpu().double().numpy()[..., None, :, :]
    cos_bar, sin_bar = bar[..., :num_knots], bar[..., num_knots:]
    return np.sum(t * (sin_bar * np.cos(a) - cos_bar * np.sin(a)), axis=-1)


def assert_matches(got: torch.Tensor, expected: np.ndarray, dtype: torch.dtype) -> None:
    assert got.dtype == dtype
    assert got.device.type == DEVICE.type
    assert tuple(got.shape) == expected.shape
    diff = np.abs(got.cpu().double().numpy() - expected)
    scale = float(np.abs(expected).max())
    assert scale > 0
    assert float(diff.max()) <= RTOL[dtype] * scale, (float(diff.max()), scale)


# (shape of u, J): every N in 1, 7, 33, 130 and K in 1, 5, 17, 40 appears, with J in
# 1, 2, 16, 64, 100; 100 knots are two knot blocks (64 + 36) and K = 40 two direction
# blocks (32 + 8). Batched and unbatched shapes both appear.
CASES = [
    ((1, 1), 1),
    ((7, 5), 2),
    ((33, 17), 16),
    ((130, 40), 64),
    ((130, 1), 100),
    ((1, 40), 16),
    ((2, 3, 7, 17), 100),
    ((2, 3, 33, 5), 64),
    ((2, 3, 130, 5), 2),
]
DTYPES = [torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("shape", "num_knots"), CASES, ids=str)
def test_sums_match_oracle(shape, num_knots, dtype):
    u = _random(shape, dtype, seed=sum(shape) + num_knots)
    dt = T_MAX / num_knots
    got = triton_ecf.ecf_sums(u, dt, num_knots)
    assert_matches(got, oracle_sums(u, dt, num_knots), dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize(("shape", "num_knots"), CASES, ids=str)
def test_vjp_matches_oracle(shape, num_knots, dtype):
    u = _random(shape, dtype, seed=sum(shape) + num_knots)
    sums_bar = _random((*shape[:-2], shape[-1], 2 * num_knots), dtype, seed=num_knots)
    dt = T_MAX / num_knots
    got = triton_ecf.ecf_sums_vjp(u, sums_bar, dt, num_knots)
    assert_matches(got, oracle_vjp(u, sums_bar, dt, num_knots), dtype)


def test_many_knots():
    """J = 300: ten knot blocks of 32 for the sums (the last one 12 knots, inside its first run
    of 16), a ten-step knot-block loop for the VJP, 19 anchors. (4096 knots, as the Numba
    tests take, cost minutes under the interpreter; the drift test below takes 512.)"""
    num_knots, dt = 300, 5.0 / 300
    u = _random((3, 2), torch.float32, seed=1)
    sums_bar = _random((2, 2 * num_knots), torch.float32, seed=2)
    assert_matches(triton_ecf.ecf_sums(u, dt, num_knots), oracle_sums(u, dt, num_knots), torch.float32)
    got = triton_ecf.ecf_sums_vjp(u, sums_bar, dt, num_knots)
    assert_matches(got, oracle_vjp(u, sums_bar, dt, num_knots), torch.float32)


@pytest.mark.parametrize("splits", [1, 2, 3, 5])
def test_split_sample_axis(splits):
    """Partial sums over slices of N, added by torch: right, and the same at every call."""
    u = _random((2, 130, 5), torch.float32, seed=3)
    dt, num_knots = T_MAX / 16, 16
    got = triton_ecf._sums(u, dt, num_knots, splits=splits)
    assert_matches(got, oracle_sums(u, dt, num_knots), torch.float32)
    assert torch.equal(got, triton_ecf._sums(u, dt, num_knots, splits=splits))


def _direct_float32_sums(u: torch.Tensor, dt: float, num_knots: int) -> np.ndarray:
    """Direct float32 evaluation, as a kernel without the recurrence would do it: each term
    ``cos(float32(t_j) * u)`` of a float32 product, rounded to float32, summed in float32."""
    t32 = (np.arange(1, num_knots + 1) * dt).astype(np.float32)
    x32 = u.detach().cpu().numpy()[..., None] * t32
    cos = np.cos(x32.astype(np.float64)).astype(np.float32).sum(axis=-3, dtype=np.float32)
    sin = np.sin(x32.astype(np.float64)).astype(np.float32).sum(axis=-3, dtype=np.float32)
    return np.concatenate([cos, sin], axis=-1).astype(np.float64)


@pytest.mark.parametrize(
    ("shape", "num_knots"), [((64, 5), 16), ((37, 3), 17), ((2, 29, 4), 33), ((40, 2), 100), ((24, 2), 512)]
)
def test_reanchoring_keeps_float32_at_direct_accuracy(shape, num_knots):
    """The rotation from anchor to anchor loses no more than direct float32 evaluation."""
    u = _random(shape, torch.float32, seed=num_knots)
    dt = 5.0 / num_knots
    want = oracle_sums(u, dt, num_knots)
    err_direct = np.abs(_direct_float32_sums(u, dt, num_knots) - want).max()
    err_kernel = np.abs(triton_ecf.ecf_sums(u, dt, num_knots).cpu().double().numpy() - want).max()
    assert err_kernel <= 1.5 * err_direct, (err_kernel, err_direct)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_huge_angles_fall_back_to_libdevice(dtype):
    """Angles beyond the fast reduction, mixed with ordinary ones in a program: every knot is
    then evaluated directly; infinities give NaN in their own direction only."""
    num_knots, dt = 17, T_MAX / 17
    u = _random((21, 6), dtype, seed=12)
    u[::4, 1] *= 1e7
    t = np.arange(1, num_knots + 1) * dt
    x = u.cpu().numpy()
    if dtype == torch.float32:
        # libdevice's cosf of the float32 product, as the fallback computes it.
        angles = (x[..., None] * t.astype(np.float32)).astype(np.float64)
    else:
        angles = x[..., None] * t
    want = np.concatenate([np.cos(angles).sum(axis=-3), np.sin(angles).sum(axis=-3)], axis=-1)
    assert_matches(triton_ecf.ecf_sums(u, dt, num_knots), want, dtype)
    bar = _random((6, 2 * num_knots), dtype, seed=13)
    b = bar.cpu().double().numpy()[None]
    grad = np.sum(t * (b[..., num_knots:] * np.cos(angles) - b[..., :num_knots] * np.sin(angles)), axis=-1)
    assert_matches(triton_ecf.ecf_sums_vjp(u, bar, dt, num_knots), grad, dtype)
    u[3, 4] = float("inf")
    # inf - inf in the fast path is NaN by design; under the interpreter NumPy would warn.
    with np.errstate(invalid="ignore"):
        sums = triton_ecf.ecf_sums(u, dt, num_knots).cpu().numpy()
    assert np.isnan(sums[4]).all() and np.isfinite(np.delete(sums, 4, axis=0)).all()


def test_launch_cut_along_batch(monkeypatch):
    """Grids over the CUDA limit are launched in slices of the batch axis (limit lowered here)."""
    monkeypatch.setattr(triton_ecf, "_MAX_GRID", 10)
    u = _random((2, 3, 33, 5), torch.float32, seed=10)
    sums_bar = _random((2, 3, 5, 128), torch.float32, seed=11)
    dt, num_knots = T_MAX / 64, 64
    # Three splits of N: three programs per batch item, so 10 programs hold three items.
    assert len(list(triton_ecf._batch_chunks(6, 3))) == 2
    got = triton_ecf._sums(u, dt, num_knots, splits=3)
    assert_matches(got, oracle_sums(u, dt, num_knots), torch.float32)
    grad = triton_ecf.ecf_sums_vjp(u, sums_bar, dt, num_knots)
    assert_matches(grad, oracle_vjp(u, sums_bar, dt, num_knots), torch.float32)


@pytest.mark.parametrize("n", [1, 7, 130, 4096, 100_003])
@pytest.mark.parametrize(("programs", "target"), [(1, 528), (40, 528), (528, 528), (7, 1)])
def test_split_rule(n, programs, target):
    splits, rows = triton_ecf._split_rows(n, programs, target)
    assert rows % triton_ecf._ROWS == 0
    # Every row is in exactly one split, and no split is empty.
    assert (splits - 1) * rows < n <= splits * rows
    assert rows <= triton_ecf._MAX_ROWS_PER_SPLIT
    forced = -(-n // triton_ecf._MAX_ROWS_PER_SPLIT)
    if programs >= target:
        assert splits == forced
    else:
        assert splits <= max(forced, -(-target // programs))
        assert splits == 1 or rows >= triton_ecf._MIN_ROWS_PER_SPLIT


@pytest.mark.parametrize("num_knots", [1, 2, 16, 17, 32, 33, 100, 4096])
@pytest.mark.parametrize("k", [1, 5, 32, 33, 64, 65, 512])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_block_rule(num_knots, k, dtype):
    """One direction per thread, 32 to 128 per program; knot blocks of 16 or 32 (whole runs)."""
    sums = triton_ecf.sums_constexprs(dtype, k, num_knots)
    vjp = triton_ecf.vjp_constexprs(dtype, k, num_knots)
    for config in (sums, vjp):
        assert config["BLOCK_K"] == 32 * config["num_warps"]
        assert config["num_warps"] in (1, 2, 4)
        assert config["BLOCK_K"] >= min(k, 128) and (k <= 32 or config["BLOCK_K"] < 2 * k)
        assert config["BLOCK_J"] % triton_ecf._ANCHOR == 0
        assert config["BLOCK_J"] == (16 if num_knots <= 16 else 32)
        assert config["IS_F64"] == (dtype == torch.float64)
    for config in (sums, vjp):
        assert config["ONE_J_BLOCK"] == (num_knots <= config["BLOCK_J"])


@pytest.mark.parametrize(
    "shape",
    [(0, 5), (2, 3, 0, 5), (7, 0), (2, 0, 7, 5), (0, 7, 5)],
    ids=["N=0", "batched N=0", "K=0", "batch 0", "leading 0"],
)
def test_zero_size(shape):
    num_knots, dt = 4, 0.5
    u = torch.zeros(shape, device=DEVICE)
    sums_bar = torch.ones((*shape[:-2], shape[-1], 2 * num_knots), device=DEVICE)
    sums = triton_ecf.ecf_sums(u, dt, num_knots)
    assert sums.shape == (*shape[:-2], shape[-1], 2 * num_knots)
    # An empty sum over the samples is zero.
    assert torch.count_nonzero(sums) == 0
    grad = triton_ecf.ecf_sums_vjp(u, sums_bar, dt, num_knots)
    assert grad.shape == u.shape and grad.dtype == u.dtype


def test_zero_knots():
    u = _random((7, 5), torch.float32, seed=4)
    assert triton_ecf.ecf_sums(u, 0.5, 0).shape == (5, 0)
    grad = triton_ecf.ecf_sums_vjp(u, u.new_empty((5, 0)), 0.5, 0)
    assert grad.shape == (7, 5) and torch.count_nonzero(grad) == 0


@pytest.mark.parametrize("batched", [False, True], ids=["unbatched", "batched"])
def test_non_contiguous(batched):
    """Transposed views of u and of the cotangent: read through their strides."""
    num_knots, dt = 16, T_MAX / 16
    base = _random((2, 17, 33) if batched else (17, 33), torch.float32, seed=5)
    u = base.transpose(-1, -2)
    bar_base = _random((2, 32, 17) if batched else (32, 17), torch.float32, seed=6)
    sums_bar = bar_base.transpose(-1, -2)
    assert not u.is_contiguous() and not sums_bar.is_contiguous()
    sums = triton_ecf.ecf_sums(u, dt, num_knots)
    assert_matches(sums, oracle_sums(u, dt, num_knots), torch.float32)
    assert torch.equal(sums, triton_ecf.ecf_sums(u.contiguous(), dt, num_knots))
    grad = triton_ecf.ecf_sums_vjp(u, sums_bar, dt, num_knots)
    assert_matches(grad, oracle_vjp(u, sums_bar, dt, num_knots), torch.float32)
    contiguous = triton_ecf.ecf_sums_vjp(u.contiguous(), sums_bar.contiguous(), dt, num_knots)
    assert torch.equal(grad, contiguous)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_meta_tensors(dtype):
    u = torch.empty((2, 3, 130, 40), dtype=dtype, device="meta")
    sums = triton_ecf.ecf_sums(u, 0.25, 12)
    assert sums.device.type == "meta"
    assert sums.shape == (2, 3, 40, 24) and sums.dtype == dtype
    grad = triton_ecf.ecf_sums_vjp(u, sums, 0.25, 12)
    assert grad.device.type == "meta"
    assert grad.shape == u.shape and grad.dtype == dtype
    with pytest.raises(ValueError, match="sums_bar must have shape"):
        triton_ecf.ecf_sums_vjp(u, sums[..., :-1], 0.25, 12)


def test_invalid_inputs():
    u = _random((7, 5), torch.float32, seed=7)
    with pytest.raises(TypeError, match="float32 or float64"):
        triton_ecf.ecf_sums(u.half(), 0.5, 4)
    with pytest.raises(ValueError, match=r"\(\.\.\., N, K\)"):
        triton_ecf.ecf_sums(u[0], 0.5, 4)
    with pytest.raises(ValueError, match="non-negative"):
        triton_ecf.ecf_sums(u, 0.5, -1)
    with pytest.raises(TypeError, match="dtype"):
        triton_ecf.ecf_sums_vjp(u, torch.zeros((5, 8), dtype=torch.float64, device=DEVICE), 0.5, 4)


def test_torch_compile_fullgraph():
    """Both ops inside one compiled graph: no graph break, the numbers of eager mode."""
    num_knots, dt = 16, T_MAX / 16

    def loss_and_grad(u: torch.Tensor, weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sums = triton_ecf.ecf_sums(u * 2.0, dt, num_knots)
        sums_bar = weight * sums
        return sums.square().sum(), 2.0 * triton_ecf.ecf_sums_vjp(u * 2.0, sums_bar, dt, num_knots)

    u = _random((2, 33, 5), torch.float32, seed=8)
    weight = _random((5, 2 * num_knots), torch.float32, seed=9)
    torch._dynamo.reset()
    compiled = torch.compile(loss_and_grad, fullgraph=True)
    got_loss, got_grad = compiled(u, weight)
    want_loss, want_grad = loss_and_grad(u, weight)
    torch.testing.assert_close(got_loss, want_loss, rtol=1e-6, atol=0)
    torch.testing.assert_close(got_grad, want_grad, rtol=1e-5, atol=1e-5 * float(want_grad.abs().max()))


# --- The kernels inside sigreg: the Triton plan against the array-API plan --------------


def _plans(kernel):
    from sigreg._core.plan import Plan

    return Plan(kernel=kernel), Plan()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("batch", "n", "num_points"), [((), 37, 17), ((2,), 20, 5), ((), 9, 40)])
def test_sigreg_through_the_kernels_equals_the_array_api_plan(monkeypatch, dtype, batch, n, num_points):
    import sigreg
    import sigreg._backend.dispatch

    gen = torch.Generator().manual_seed(n)
    z = torch.randn((*batch, n, 6), generator=gen, dtype=torch.float64).to(dtype=dtype, device=DEVICE)
    results = []
    for plan in _plans(triton_ecf):
        monkeypatch.setattr(sigreg._backend.dispatch, "plan", lambda u, xp, plan=plan: plan)
        x = z.clone().requires_grad_(True)
        value = sigreg.sigreg(x, num_slices=11, seed=3, num_points=num_points)
        value.backward()
        results.append((value.detach(), x.grad))
    (v_kernel, g_kernel), (v_ref, g_ref) = results
    rtol = RTOL[dtype] * 10  # the statistic cancels (C - phi)^2: a few more digits lost
    torch.testing.assert_close(v_kernel, v_ref, rtol=rtol, atol=0)
    torch.testing.assert_close(g_kernel, g_ref, rtol=rtol, atol=rtol * float(g_ref.abs().max()))


def test_numpy_arrays_reach_the_kernels_through_dlpack():
    """The bridge CuPy uses, exercised with NumPy arrays on the CPU (interpreter only)."""
    if DEVICE.type != "cpu":
        pytest.skip("the NumPy bridge runs on CPU tensors, under the interpreter")
    from torch.utils.dlpack import from_dlpack

    from sigreg._backend.kernels import bridge

    dlpack = bridge.Bridge(triton_ecf, from_dlpack)  # as kernels.triton_dlpack_kernels() builds it

    u = np.random.default_rng(0).standard_normal((13, 5))
    sums = dlpack.ecf_sums(u, 0.25, 4)
    assert isinstance(sums, np.ndarray) and sums.shape == (5, 8)
    np.testing.assert_allclose(sums, oracle_sums(torch.from_numpy(u), 0.25, 4), rtol=1e-12)
    bar = np.random.default_rng(1).standard_normal((5, 8))
    grad = dlpack.ecf_sums_vjp(u, bar, 0.25, 4)
    assert isinstance(grad, np.ndarray) and grad.shape == u.shape
    np.testing.assert_allclose(
        grad, oracle_vjp(torch.from_numpy(u), torch.from_numpy(bar), 0.25, 4), rtol=1e-10
    )
