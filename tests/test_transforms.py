"""Every function transform of sigreg.sigreg composes, for every registered statistic (a contract).

torch.func (grad, vmap, jacrev, jacfwd, hessian, jvp, vmap of grad) and JAX (grad, jvp, jacfwd,
jacrev, hessian, vmap under jit), in float64, each against the same transform of the naive
formula: the statistic's own array-API forward on ``z @ a``, differentiated by the framework's
plain autodiff (no sigreg adapter: no autograd.Function, no custom primitive, no kernel). The
torch oracles avoid torch.func (torch.autograd.functional and Python loops), so a wrong vmap or
jvp rule cannot hide in the oracle. Tiny shapes: the whole file takes seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

import sigreg
import sigreg.stats
from sigreg._core.plan import Plan

from . import conftest, support

STATISTICS = sigreg.stats.available()
N, D, K = 12, 3, 2
RTOL = 1e-9


def _backends(*names):
    chosen = [p if isinstance(p, str) else p.values[0] for p in conftest.BACKENDS]
    return [
        pytest.param(
            n, marks=pytest.mark.skip(reason=f"{n} is not among SIGREG_TEST_BACKENDS or not installed")
        )
        if n not in chosen or conftest._skip_reason(n)
        else n
        for n in names
    ]


def _data():
    rng = np.random.default_rng(7)
    z = rng.standard_normal((2, N, D)) * np.array([1.2, 0.8, 1.0]) + 0.1
    a = rng.standard_normal((D, K))
    return z, a / np.linalg.norm(a, axis=0), rng.standard_normal((N, D))


def _close(actual, expected, what):
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape, what
    scale = max(float(np.abs(expected).max()), 1e-300)
    assert float(np.abs(actual - expected).max()) <= RTOL * scale, what


@pytest.mark.parametrize("backend", _backends("torch"))
@pytest.mark.parametrize("name", STATISTICS)
def test_torch_func_transforms_equal_those_of_the_naive_formula(backend, name):
    with support.backend(backend) as xp:
        import torch

        z_np, a_np, v_np = _data()
        z, a, v = (torch.asarray(x, dtype=torch.float64) for x in (z_np, a_np, v_np))
        statistic = sigreg.stats.get(name)

        def f(x):
            return sigreg.sigreg(x, statistic=name, directions=a)

        def naive(x):
            return xp.mean(statistic.forward(x @ a, xp, Plan())[0])

        z0 = z[0]
        _close(f(z0), naive(z0), f"{name} value")
        grad = torch.autograd.functional.jacobian(naive, z0)
        _close(torch.func.grad(f)(z0), grad, f"{name} grad")
        _close(torch.func.jacrev(f)(z0), grad, f"{name} jacrev")
        _close(torch.func.jacfwd(f)(z0), grad, f"{name} jacfwd")
        _close(torch.func.jvp(f, (z0,), (v,))[1], (grad * v).sum(), f"{name} jvp")
        _close(torch.func.hessian(f)(z0), torch.autograd.functional.hessian(naive, z0), f"{name} hessian")
        _close(torch.func.vmap(f)(z), torch.stack([naive(x) for x in z]), f"{name} vmap")
        per_sample = torch.stack([torch.autograd.functional.jacobian(naive, x) for x in z])
        _close(torch.func.vmap(torch.func.grad(f))(z), per_sample, f"{name} vmap(grad)")


@pytest.mark.parametrize("backend", _backends("jax_x64"))
@pytest.mark.parametrize("name", STATISTICS)
def test_jax_transforms_equal_those_of_the_naive_formula(backend, name):
    with support.backend(backend) as xp:
        import jax

        z_np, a_np, v_np = _data()
        z, a, v = (xp.asarray(x) for x in (z_np, a_np, v_np))
        statistic = sigreg.stats.get(name)

        def f(x):
            return sigreg.sigreg(x, statistic=name, directions=a)

        def naive(x):
            return xp.mean(statistic.forward(x @ a, xp, Plan())[0])

        z0 = z[0]
        _close(f(z0), naive(z0), f"{name} value")
        grad = jax.grad(naive)(z0)
        _close(jax.grad(f)(z0), grad, f"{name} grad")
        _close(jax.jacrev(f)(z0), grad, f"{name} jacrev")
        _close(jax.jacfwd(f)(z0), grad, f"{name} jacfwd")
        _close(jax.jvp(f, (z0,), (v,))[1], jax.jvp(naive, (z0,), (v,))[1], f"{name} jvp")
        _close(jax.jvp(jax.jit(f), (z0,), (v,))[1], jax.jvp(naive, (z0,), (v,))[1], f"{name} jvp of jit")
        _close(jax.jit(jax.hessian(f))(z0), jax.hessian(naive)(z0), f"{name} hessian")
        _close(jax.jit(jax.vmap(f))(z), jax.vmap(naive)(z), f"{name} vmap under jit")
        _close(jax.jit(jax.vmap(jax.grad(f)))(z), jax.vmap(jax.grad(naive))(z), f"{name} vmap(grad)")


@pytest.mark.parametrize("backend", _backends("torch", "jax_x64"))
def test_along_axis_functions_are_vmapped_and_forward_differentiated(backend):
    """sigreg.stats functions (samples along an axis; BHEP on whole embeddings) under vmap and jacfwd."""
    with support.backend(backend) as xp:
        z_np, _, _ = _data()
        z = xp.asarray(z_np)
        if support.is_jax(xp):
            import jax

            vmap, jacfwd, jacrev = jax.vmap, jax.jacfwd, jax.jacrev
        else:
            import torch

            vmap, jacfwd, jacrev = torch.func.vmap, torch.func.jacfwd, torch.func.jacrev
        for fn in (sigreg.stats.epps_pulley, sigreg.stats.anderson_darling, sigreg.stats.bhep):
            _close(vmap(fn)(z), xp.stack([fn(x) for x in z]), f"vmap of {fn.__name__}")
            x = z[0]

            def total(y, fn=fn):
                return xp.sum(fn(y))

            _close(jacfwd(total)(x), jacrev(total)(x), fn.__name__)
