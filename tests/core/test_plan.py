"""Execution plans: every plan gives the same numbers; the accelerator plan is launch-lean.

A plan (``sigreg._core.plan.Plan``) never changes a result beyond float rounding. These
tests force each plan on NumPy float64 and compare, count the aten operations of
PyTorch's accelerator plan on ``meta`` tensors (a count, not a timing), and read
XLA's memory analysis of the compiled JAX gradient.
"""

from __future__ import annotations

import collections
import importlib.util
import math

import numpy as np
import pytest

import sigreg
import sigreg._backend.dispatch
from sigreg._core.plan import Plan

from .. import oracle

PLANS = {
    "unblocked": Plan(),
    "blocks of 5 rows": Plan(block_rows=5),
    "real pairs": Plan(real_pairs=True),
    "real pairs, blocks of 7 rows": Plan(block_rows=7, real_pairs=True),
    # torch.compile's plan: the knot loop as one fused expression (rows unblocked by design).
    "fused knots, real pairs": Plan(block_rows=7, real_pairs=True, fused_knots=True),
}


def _case(seed=0, n=23, d=4, k=6, batch=(2,)):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((*batch, n, d)) * 1.3 + 0.1
    a = rng.standard_normal((d, k))
    return z, a / np.linalg.norm(a, axis=0)


@pytest.mark.parametrize("plan", PLANS.values(), ids=PLANS.keys())
@pytest.mark.parametrize("num_points", [2, 17, 18, 50])  # one chunk of knots, a chunk and a remainder, ...
def test_every_plan_matches_the_oracle(monkeypatch, plan, num_points):
    monkeypatch.setattr(sigreg._backend.dispatch, "plan", lambda u, xp: plan)
    z, a = _case()
    value, grad = sigreg.value_and_grad(z, directions=a, num_points=num_points)
    expected = oracle.sigreg(z, a, num_points=num_points).mean()
    numeric = oracle.numerical_grad(lambda x: oracle.sigreg(x, a, num_points=num_points).mean(), z)
    assert float(value) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-8)


class _OpCounter:
    """Counts the aten operations a block of code executes (a TorchDispatchMode)."""

    # Views, reshapes and allocations: no kernel on an accelerator.
    NOT_COMPUTE = frozenset(
        "view _unsafe_view reshape expand permute transpose t select slice unsqueeze squeeze alias "
        "detach as_strided empty empty_like empty_strided new_empty new_empty_strided lift_fresh".split()
    )

    def __init__(self):
        from torch.utils._python_dispatch import TorchDispatchMode

        counter = collections.Counter()

        class Mode(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None):
                counter[func.overloadpacket.__name__] += 1
                return func(*args, **(kwargs or {}))

        self.mode, self.ops = Mode(), counter

    def compute(self) -> int:
        return sum(n for name, n in self.ops.items() if name not in self.NOT_COMPUTE)


def _forward_backward_ops(device, n, d, k, num_points):
    import torch

    z = torch.randn(n, d, device=device, requires_grad=True)
    counter = _OpCounter()
    with counter.mode:
        sigreg.sigreg(z, num_slices=k, num_points=num_points).backward()
    return counter


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_accelerator_plan_executes_at_most_250_ops():
    """Eager forward+backward at N=8192, D=512, K=512, P=17 on a non-CPU device (``meta``)."""
    counter = _forward_backward_ops("meta", 8192, 512, 512, 17)
    assert counter.compute() <= 250, sorted(counter.ops.items())
    # The count does not grow with the batch: nothing is blocked on an accelerator.
    assert _forward_backward_ops("meta", 32768, 512, 512, 17).compute() == counter.compute()


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_meta_tensors_give_shapes_and_gradients():
    import torch

    z = torch.randn(3, 64, 8, device="meta", requires_grad=True)
    value = sigreg.sigreg(z, num_slices=16, reduction="none")
    assert value.shape == (3, 16) and value.device.type == "meta"
    value.sum().backward()
    assert z.grad.shape == z.shape and z.grad.device.type == "meta"


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_gradient_allocates_nothing_of_size_n_k_p():
    """XLA's memory analysis of the compiled gradient: temporaries stay O(N*K), far below N*K*P."""
    import jax
    import jax.numpy as jnp

    n, d, k, p = 4096, 64, 256, 17
    z = jnp.zeros((n, d), dtype=jnp.float32)
    grad = jax.jit(jax.grad(lambda x: sigreg.sigreg(x, num_slices=k, num_points=p)))
    analysis = grad.lower(z).compile().memory_analysis()
    if analysis is None:
        pytest.skip("this JAX backend gives no memory analysis")
    n_k_p = n * k * (p - 1) * 4
    assert analysis.temp_size_in_bytes < n_k_p / 2, (analysis.temp_size_in_bytes, n_k_p)
    # ... and the naive formula, for scale, does allocate that much.
    t = jnp.linspace(0.0, 3.0, p)

    def naive(x):
        xt = (x @ jnp.ones((d, k)))[..., None] * t
        return jnp.sum((jnp.cos(xt).mean(0) - jnp.exp(-0.5 * t**2)) ** 2 + jnp.sin(xt).mean(0) ** 2)

    naive_temp = jax.jit(jax.grad(naive)).lower(z).compile().memory_analysis().temp_size_in_bytes
    assert naive_temp >= n_k_p, naive_temp


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_cpu_plan_blocks_rows_and_accelerator_plan_does_not():
    import torch

    cpu = sigreg._backend.dispatch.plan(torch.zeros(4096, 256), _torch_xp())
    meta = sigreg._backend.dispatch.plan(torch.zeros(4096, 256, device="meta"), _torch_xp())
    assert cpu.block_rows == sigreg._backend.dispatch.BLOCK_ELEMENTS // 256 and meta.block_rows is None
    assert math.isfinite(float(sigreg.sigreg(torch.randn(40, 3), num_slices=4)))


def _torch_xp():
    import array_api_compat.torch as xp

    return xp


@pytest.mark.skipif(importlib.util.find_spec("numba") is None, reason="numba is not installed")
@pytest.mark.parametrize("library", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_numba_plan_is_chosen_on_cpu_and_equals_the_array_api_plan(monkeypatch, library, dtype):
    """CPU arrays of NumPy, eager PyTorch and JAX go through the Numba kernels; same numbers."""
    if importlib.util.find_spec(library) is None:
        pytest.skip(f"{library} is not installed")
    from sigreg._backend.kernels import bridge, numba_ecf, numba_kernels

    z, a = _case(seed=7, n=37)
    z, a = z.astype(dtype), a.astype(dtype)
    if library == "torch":
        import torch

        z, a = torch.asarray(z, requires_grad=True), torch.asarray(a)
        import array_api_compat.torch as xp
    elif library == "jax":
        from ..support import backend

        with backend("jax_x64") as xp:
            z, a = xp.asarray(z), xp.asarray(a)
            from sigreg._backend.kernels import numba_jax

            assert sigreg._backend.dispatch.plan(z @ a, xp).kernel is numba_jax
            _compare_with_array_api_plan(monkeypatch, z, a, dtype)
        return
    else:
        import array_api_compat.numpy as xp
    kernel = sigreg._backend.dispatch.plan(z @ a if library == "numpy" else (z @ a).detach(), xp).kernel
    assert kernel is numba_kernels() and kernel == bridge.Bridge(numba_ecf, bridge.host_view)
    _compare_with_array_api_plan(monkeypatch, z, a, dtype)


def _compare_with_array_api_plan(monkeypatch, z, a, dtype):
    with_kernel = sigreg.value_and_grad(z, directions=a)
    monkeypatch.setattr(sigreg._backend.dispatch, "plan", lambda u, xp: Plan(block_rows=16))
    without = sigreg.value_and_grad(z, directions=a)
    rtol = 1e-12 if dtype == "float64" else 2e-5
    for got, want in zip(with_kernel, without, strict=True):
        got, want = (
            np.asarray(got.detach() if hasattr(got, "detach") else got),
            np.asarray(want.detach() if hasattr(want, "detach") else want),
        )
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * float(np.max(np.abs(want))))
