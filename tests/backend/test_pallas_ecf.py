"""The Pallas ECF kernels (``sigreg._backend.kernels.pallas_ecf``) under Pallas's interpreter.

They compile for CUDA only (where there is a CUDA device, these tests run them compiled);
here they run with ``interpret=True`` against the array-API plan
(``sigreg._statistics.ecf``) evaluated in float64 NumPy, which shares neither the kernels'
``sincos`` nor their loop structure. The interpreter compiles each shape with XLA (seconds),
so the shapes are few and small, chosen to leave remainders after every block: rows after the
row step and the row splits, directions after 32 and 128, knots after runs of 16. The jax
session checks float32 and the jax_x64 session float64. Lowering for CUDA needs no GPU (the
Triton IR is built in Python): it is checked here too.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

jax = pytest.importorskip("jax")
try:
    from jax.experimental import pallas  # noqa: F401
    from jax.experimental.pallas import triton  # noqa: F401
except ImportError as error:  # pragma: no cover - depends on the installed jax
    pytest.skip(f"jax.experimental.pallas does not import: {error}", allow_module_level=True)

import array_api_compat.numpy as np_xp  # noqa: E402

import sigreg  # noqa: E402
import sigreg._backend.dispatch  # noqa: E402
from sigreg._backend.adapters import jax_vjp  # noqa: E402
from sigreg._backend.kernels import fallback, pallas_ecf  # noqa: E402
from sigreg._core.plan import Plan  # noqa: E402
from sigreg._statistics import ecf  # noqa: E402
from sigreg._statistics.quadrature import Grid  # noqa: E402

from ..support import backend  # noqa: E402

# The JAX rows of SIGREG_TEST_BACKENDS: jax checks float32, jax_x64 float64.
_REQUESTED = [n.strip() for n in os.environ.get("SIGREG_TEST_BACKENDS", "jax,jax_x64").split(",")]
SESSIONS = [name for name in ("jax", "jax_x64") if name in _REQUESTED]
if not SESSIONS:
    pytest.skip("the Pallas kernels are JAX's: no jax backend requested", allow_module_level=True)
DTYPE = {"jax": np.float32, "jax_x64": np.float64}
# Agreement with the float64 reference, relative to the largest magnitude
# (as tests/backend/test_triton_ecf.py).
RTOL = {np.float32: 1e-5, np.float64: 1e-12}
T_MAX = 3.0
# On a CUDA machine (the jax-cuda session) the compiled kernels, else the interpreter.
ON_CUDA = any(jax_vjp._is_cuda(d) for d in jax.devices())
KERNELS = pallas_ecf if ON_CUDA else pallas_ecf.interpreted


@pytest.fixture(params=SESSIONS)
def session(request):
    with backend(request.param) as jnp:
        yield jnp, DTYPE[request.param]


def _grid(dt: float, num_knots: int) -> Grid:
    return Grid(dt=dt, t=tuple(j * dt for j in range(1, num_knots + 1)), phi=(), weight=())


def reference_sums(u: np.ndarray, dt: float, num_knots: int) -> np.ndarray:
    """The array-API plan's sums in float64 NumPy."""
    return ecf.ecf_sums(np.asarray(u, np.float64), _grid(dt, num_knots), np_xp, Plan())


def reference_vjp(u: np.ndarray, bar: np.ndarray, dt: float, num_knots: int) -> np.ndarray:
    grid = _grid(dt, num_knots)
    return ecf.ecf_sums_vjp(np.asarray(u, np.float64), np.asarray(bar, np.float64), grid, np_xp, Plan())


def assert_matches(got, want: np.ndarray, dtype: type) -> None:
    assert got.dtype == dtype
    assert tuple(got.shape) == want.shape
    scale = float(np.abs(want).max())
    assert scale > 0
    err = float(np.abs(np.asarray(got, np.float64) - want).max())
    assert err <= RTOL[dtype] * scale, (err, scale)


def _random(shape: tuple[int, ...], dtype: type, seed: int, scale: float = 1.0) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


# (shape of u, J). N = 1; N = 7 (a partial row step); N = 130 (two row splits of the sums, 65
# row groups of the VJP); K = 3 and 5 (one partial block of 32 directions), K = 130 (a full
# block of 128 and a partial one); J = 1, 16 (one run) and 33 (three runs, the last of one
# knot: the sums' knot-block axis and the VJP's knot loop); batched and unbatched. Each case
# compiles both kernels (seconds each under the interpreter: few cases).
CASES = [((1, 130), 1), ((7, 5), 16), ((2, 130, 3), 33)]


@pytest.mark.parametrize(("shape", "num_knots"), CASES, ids=str)
def test_sums_and_vjp_match_the_array_api_plan(session, shape, num_knots):
    jnp, dtype = session
    u = _random(shape, dtype, seed=sum(shape) + num_knots, scale=2.0)
    bar = _random((*shape[:-2], shape[-1], 2 * num_knots), dtype, seed=num_knots)
    dt = T_MAX / num_knots
    sums = KERNELS.ecf_sums(jnp.asarray(u), dt, num_knots)
    assert_matches(sums, reference_sums(u, dt, num_knots), dtype)
    grad = KERNELS.ecf_sums_vjp(jnp.asarray(u), jnp.asarray(bar), dt, num_knots)
    assert_matches(grad, reference_vjp(u, bar, dt, num_knots), dtype)


def test_float32_stays_at_direct_accuracy(session):
    """Anchor to anchor, the rotation loses no more than direct float32 evaluation does: each
    term ``cos(float32(t_j) * u)`` of a float32 product, rounded to float32, summed in float32.
    (The shape and knots of a case above: nothing compiles again.)"""
    jnp, dtype = session
    if dtype != np.float32:
        pytest.skip("the claim is float32's; the jax session checks it")
    shape, num_knots = CASES[-1]
    dt = T_MAX / num_knots
    u = _random(shape, dtype, seed=31, scale=2.0)
    want = reference_sums(u, dt, num_knots)
    x32 = u[..., None] * (np.arange(1, num_knots + 1) * dt).astype(np.float32)
    terms = [
        f(x32.astype(np.float64)).astype(np.float32).sum(axis=-3, dtype=np.float32) for f in (np.cos, np.sin)
    ]
    err_direct = np.abs(np.concatenate(terms, axis=-1) - want).max()
    err_kernel = np.abs(np.asarray(KERNELS.ecf_sums(jnp.asarray(u), dt, num_knots), np.float64) - want).max()
    assert err_kernel <= 1.5 * err_direct, (err_kernel, err_direct)


def test_huge_angles_are_evaluated_directly(session):
    """Angles beyond the fast reduction, mixed with ordinary ones in a program: its knots are
    then evaluated directly (with the float32 product as angle, as the kernel takes it)."""
    jnp, dtype = session
    num_knots, dt = 1, T_MAX
    u = _random((1, 130), dtype, seed=12)  # the shape of a case above: compiled already
    u[0, 1:100:7] *= 1e7
    bar = _random((130, 2), dtype, seed=13)
    t = np.asarray(dt, dtype)
    angles = (u * t).astype(np.float64)  # the kernels' angle: the product in u's dtype
    want = np.concatenate([np.cos(angles).sum(axis=0)[:, None], np.sin(angles).sum(axis=0)[:, None]], axis=-1)
    assert_matches(KERNELS.ecf_sums(jnp.asarray(u), dt, num_knots), want, dtype)
    grad = float(t) * (bar[:, 1] * np.cos(angles) - bar[:, 0] * np.sin(angles))
    assert_matches(KERNELS.ecf_sums_vjp(jnp.asarray(u), jnp.asarray(bar), dt, num_knots), grad, dtype)
    # The same program without them: the fast path agrees with the reference.
    u[0, 1:100:7] = 0.5
    assert_matches(KERNELS.ecf_sums(jnp.asarray(u), dt, num_knots), reference_sums(u, dt, num_knots), dtype)


@pytest.mark.parametrize("shape", [(0, 5), (2, 3, 0, 5), (7, 0), (2, 0, 7, 5)], ids=str)
@pytest.mark.parametrize("num_knots", [0, 4])
def test_zero_size(session, shape, num_knots):
    jnp, dtype = session
    u = jnp.zeros(shape, dtype)
    bar = jnp.ones((*shape[:-2], shape[-1], 2 * num_knots), dtype)
    sums = KERNELS.ecf_sums(u, 0.5, num_knots)
    assert sums.shape == (*shape[:-2], shape[-1], 2 * num_knots) and sums.dtype == dtype
    assert not np.asarray(sums).any()  # an empty sum over the samples is zero
    grad = KERNELS.ecf_sums_vjp(u, bar, 0.5, num_knots)
    assert grad.shape == shape and grad.dtype == dtype and not np.asarray(grad).any()


def test_invalid_inputs(session):
    jnp, dtype = session
    u = jnp.ones((4, 3), dtype)
    with pytest.raises(ValueError, match="u must have shape"):
        KERNELS.ecf_sums(jnp.ones((3,), dtype), 0.5, 2)
    with pytest.raises(TypeError, match="float32 or float64"):
        KERNELS.ecf_sums(jnp.ones((4, 3), jnp.int32), 0.5, 2)
    with pytest.raises(ValueError, match="num_knots"):
        KERNELS.ecf_sums(u, 0.5, -1)
    with pytest.raises(ValueError, match="sums_bar must have shape"):
        KERNELS.ecf_sums_vjp(u, jnp.ones((3, 3), dtype), 0.5, 2)


def _fake_device(platform: str, version: str):
    client = type("Client", (), {"platform_version": version})()
    return type("Device", (), {"platform": platform, "client": client})()


@pytest.mark.parametrize(
    ("platform", "version", "expected"),
    [("gpu", "cuda 12080", "pallas"), ("gpu", "rocm 60342", None), ("tpu", "TPU v5", None)],
)
def test_kernel_for_picks_pallas_on_cuda_only(monkeypatch, session, platform, version, expected):
    jnp, dtype = session
    u = jnp.ones((4, 3), dtype)
    monkeypatch.setattr(jax_vjp, "on_cpu", lambda u: False)
    monkeypatch.setattr(jax_vjp, "_devices", lambda u: [_fake_device(platform, version)])
    assert jax_vjp.kernel_for(u) is (pallas_ecf if expected else None)


def test_kernel_for_keeps_numba_or_none_on_the_cpu(session):
    jnp, dtype = session
    from sigreg._backend.kernels import numba_kernels

    u = jax.device_put(jnp.ones((4, 3), dtype), jax.devices("cpu")[0])
    kernel = jax_vjp.kernel_for(u)
    assert kernel is not pallas_ecf
    if numba_kernels() is None:
        assert kernel is None
    else:
        from sigreg._backend.kernels import numba_jax

        assert kernel is numba_jax


def test_kernel_for_falls_back_when_pallas_is_missing(monkeypatch, session):
    """Without Pallas (the loader's import fails), CUDA arrays get the XLA plan, with no error."""
    jnp, dtype = session
    from sigreg._backend import kernels

    monkeypatch.setattr(kernels, "_LOADED", {})

    def missing():
        raise ImportError("no pallas")

    monkeypatch.setattr(kernels, "_pallas", missing)
    monkeypatch.setattr(jax_vjp, "on_cpu", lambda u: False)
    monkeypatch.setattr(jax_vjp, "_devices", lambda u: [_fake_device("gpu", "cuda 12080")])
    assert jax_vjp.kernel_for(jnp.ones((4, 3), dtype)) is None


def _sigreg_value_and_grad(monkeypatch, jnp, z, plan):
    monkeypatch.setattr(sigreg._backend.dispatch, "plan", lambda u, xp: plan)

    @jax.jit
    def loss(z):
        return sigreg.sigreg(z, num_slices=5, seed=3)

    return jax.value_and_grad(loss)(z)


def test_jit_grad_of_sigreg_through_the_kernels_equals_the_array_api_plan(monkeypatch, session):
    """sigreg's value and jax.grad, jitted, with the Pallas kernels (interpreted) as the plan's."""
    jnp, dtype = session
    z = jnp.asarray(_random((7, 6), dtype, seed=21))
    got = _sigreg_value_and_grad(monkeypatch, jnp, z, Plan(kernel=KERNELS, scan=jax.lax.scan))
    want = _sigreg_value_and_grad(monkeypatch, jnp, z, Plan(scan=jax.lax.scan))
    rtol = RTOL[dtype] * 10  # the statistic cancels (C - phi)^2: a few more digits lost
    for g, w in zip(got, want, strict=True):
        assert g.dtype == dtype
        np.testing.assert_allclose(
            np.asarray(g), np.asarray(w), rtol=rtol, atol=rtol * float(np.abs(w).max())
        )


def test_lowers_for_cuda_without_a_gpu(monkeypatch, session):
    """A jitted forward and backward with the compiled kernels lowers for the cuda platform: the
    Triton IR is built (shapes, block sizes, masks, loops all accepted), two Triton calls."""
    _, dtype = session
    monkeypatch.setattr(
        sigreg._backend.dispatch, "plan", lambda u, xp: Plan(kernel=pallas_ecf, scan=jax.lax.scan)
    )
    step = jax.jit(jax.value_and_grad(lambda z: sigreg.sigreg(z, num_slices=130, seed=3)))
    lowered = step.trace(jax.ShapeDtypeStruct((37, 16), dtype)).lower(lowering_platforms=("cuda",))
    assert lowered.as_text().count("__gpu$xla.gpu.triton") == 2


def test_sigreg_pallas_0_keeps_xla_plan_on_cuda(monkeypatch, session):
    """SIGREG_PALLAS=0, the way out while the kernels have not yet run on a GPU: the XLA plan."""
    jnp, dtype = session
    monkeypatch.setattr(jax_vjp, "on_cpu", lambda u: False)
    monkeypatch.setattr(jax_vjp, "_devices", lambda u: [_fake_device("gpu", "cuda 12080")])
    monkeypatch.setattr(fallback, "_allowed", None)  # the switches are read once per process
    assert jax_vjp.kernel_for(jnp.ones((4, 3), dtype)) is pallas_ecf
    monkeypatch.setenv("SIGREG_PALLAS", "0")
    monkeypatch.setattr(fallback, "_allowed", None)
    assert jax_vjp.kernel_for(jnp.ones((4, 3), dtype)) is None
