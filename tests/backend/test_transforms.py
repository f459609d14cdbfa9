"""Every function transform composes, for every registered statistic (a contract).

torch.func (grad, vmap, jacrev, jacfwd, hessian, jvp, vmap of grad) and JAX (grad, jvp, jacfwd,
jacrev, hessian, vmap, under jit), in float64, each against the same transform of the naive
formula, differentiated by the framework's plain autodiff (no sigreg adapter: no
autograd.Function, no custom primitive, no fused kernel):

- for ``sigreg.sigreg``: the statistic's own array-API forward on ``z @ a``;
- for the ``sigreg.stats`` functions: the function itself with the adapters switched off
  (``dispatch.adapter`` returning None, so the array-API formula runs as on NumPy).

The torch oracles avoid torch.func (torch.autograd.functional and Python loops), so a wrong vmap
or jvp rule cannot hide in the oracle. Tiny shapes and few knots keep the file cheap.
"""

from __future__ import annotations

import contextlib

import numpy as np
import pytest

import sigreg
import sigreg.stats
from sigreg._backend import dispatch
from sigreg._core.plan import Plan

from .. import conftest, support

STATISTICS = sigreg.stats.available()
# Few knots: the transforms' cost grows with them, their correctness does not depend on them.
OPTIONS = {"epps_pulley": {"num_points": 5}}
# sigreg.stats functions: every registered statistic's, and the whole-embedding ones.
WHOLE_EMBEDDING = ("bhep", "henze_zirkler")
FUNCTIONS = (*STATISTICS, *WHOLE_EMBEDDING)
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
    assert np.isfinite(expected).all(), f"{what}: the oracle is not finite"
    scale = max(float(np.abs(expected).max()), 1e-300)
    assert float(np.abs(actual - expected).max()) <= RTOL * scale, what


def _sigreg_and_naive(name, a, xp):
    statistic = sigreg.stats.get(name, **OPTIONS.get(name, {}))
    form = statistic.local_form()  # the form sigreg.sigreg evaluates without all_reduce

    def f(x):
        return sigreg.sigreg(x, statistic=statistic, directions=a)

    def naive(x):
        return xp.mean(form.forward(x @ a, xp, Plan())[0])

    return f, naive


@contextlib.contextmanager
def _adapters_off():
    """The array-API formula differentiated by the framework itself: no adapter, no kernel."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dispatch, "adapter", lambda xp: None)
        patch.setattr(dispatch, "kernel_for", lambda u, xp: None)
        yield


def _function_and_naive(name, xp):
    fn = getattr(sigreg.stats, name)
    options = OPTIONS.get(name, {})

    def f(x):
        return xp.sum(fn(x, **options))

    def naive(x):
        with _adapters_off():
            return xp.sum(fn(x, **options))

    return f, naive


def _samples(z_np, name):
    # The per-column functions take samples along axis 0 (two columns); the whole-embedding
    # ones take (N, D) embeddings.
    return z_np if name in WHOLE_EMBEDDING else z_np[..., :2]


# --- torch.func ------------------------------------------------------------------------------


def _torch_checks(f, naive, z, v, what):
    import torch

    z0, v0 = z[0], v[..., : z.shape[-1]]
    _close(f(z0), naive(z0), f"{what} value")
    grad = torch.autograd.functional.jacobian(naive, z0)
    _close(torch.func.grad(f)(z0), grad, f"{what} grad")
    _close(torch.func.jacrev(f)(z0), grad, f"{what} jacrev")
    _close(torch.func.jacfwd(f)(z0), grad, f"{what} jacfwd")
    _close(torch.func.jvp(f, (z0,), (v0,))[1], (grad * v0).sum(), f"{what} jvp")
    _close(torch.func.hessian(f)(z0), torch.autograd.functional.hessian(naive, z0), f"{what} hessian")
    _close(torch.func.vmap(f)(z), torch.stack([naive(x) for x in z]), f"{what} vmap")
    per_sample = torch.stack([torch.autograd.functional.jacobian(naive, x) for x in z])
    _close(torch.func.vmap(torch.func.grad(f))(z), per_sample, f"{what} vmap(grad)")


@pytest.mark.parametrize("backend", _backends("torch"))
@pytest.mark.parametrize("name", STATISTICS)
def test_torch_func_transforms_of_sigreg_equal_those_of_the_naive_formula(backend, name):
    with support.backend(backend) as xp:
        import torch

        z, a, v = (torch.asarray(x, dtype=torch.float64) for x in _data())
        f, naive = _sigreg_and_naive(name, a, xp)
        _torch_checks(f, naive, z, v, f"sigreg[{name}]")


@pytest.mark.parametrize("backend", _backends("torch"))
@pytest.mark.parametrize("name", FUNCTIONS)
def test_torch_func_transforms_of_each_statistic_function_equal_those_of_the_naive_formula(backend, name):
    with support.backend(backend) as xp:
        import torch

        z_np, _, v_np = _data()
        z, v = (torch.asarray(x, dtype=torch.float64) for x in (_samples(z_np, name), v_np))
        f, naive = _function_and_naive(name, xp)
        _torch_checks(f, naive, z, v, f"stats.{name}")


# --- JAX -------------------------------------------------------------------------------------

# XLA compiles each statistic's transforms for seconds on 2 cores, the hessian's most of all. So
# the hessian runs for a representative subset (a statistic of sums with its scan over knots, a
# rank statistic whose VJP reads saved residuals, a whole-embedding one), and the sigreg.stats
# functions other than BHEP, which reach the same adapter path as sigreg.sigreg or BHEP, skip the
# hessian and per-sample gradients that those tests cover; jvp, jacfwd, jacrev and vmap run for
# every statistic and every function.
JAX_HESSIAN = ("epps_pulley", "anderson_darling", "bhep")


def _jax_transforms(f, hessian, per_sample=True):
    """Every transform of ``f``, as one function (to be jitted)."""
    import jax

    def transforms(z, v):
        z0, v0 = z[0], v[..., : z.shape[-1]]
        out = {
            "value": f(z0),
            "jvp": jax.jvp(f, (z0,), (v0,))[1],
            "jacfwd": jax.jacfwd(f)(z0),
            "jacrev": jax.jacrev(f)(z0),
            "vmap": jax.vmap(f)(z),
        }
        if per_sample:
            out["vmap(grad)"] = jax.vmap(jax.grad(f))(z)
        if hessian:
            out["hessian"] = jax.hessian(f)(z0)
        return out

    return transforms


def _jax_oracle(naive, hessian, per_sample=True):
    """The naive formula's value, gradient (which jvp, jacfwd and jacrev of a scalar function
    are made of), vmap, per-sample gradients and hessian, by JAX's own autodiff."""
    import jax

    def oracle(z, v):
        z0, v0 = z[0], v[..., : z.shape[-1]]
        grad = jax.grad(naive)(z0)
        out = {
            "value": naive(z0),
            "jvp": jax.numpy.vdot(grad, v0),
            "jacfwd": grad,
            "jacrev": grad,
            "vmap": jax.vmap(naive)(z),
        }
        if per_sample:
            out["vmap(grad)"] = jax.vmap(jax.grad(naive))(z)
        if hessian:
            out["hessian"] = jax.hessian(naive)(z0)
        return out

    return oracle


def _jax_checks(f, naive, z, v, what, hessian, per_sample=True):
    import jax

    transforms, oracle = _jax_transforms(f, hessian, per_sample), _jax_oracle(naive, hessian, per_sample)
    # Both under one jit: one XLA compilation per test.
    actual, expected = jax.jit(lambda z, v: (transforms(z, v), oracle(z, v)))(z, v)
    assert sorted(actual) == sorted(expected)
    for key in expected:
        _close(actual[key], expected[key], f"{what} {key} under jit")
    return expected


@pytest.mark.parametrize("backend", _backends("jax_x64"))
@pytest.mark.parametrize("name", STATISTICS)
def test_jax_transforms_of_sigreg_equal_those_of_the_naive_formula(backend, name):
    with support.backend(backend) as xp:
        import jax

        z, a, v = (xp.asarray(x) for x in _data())
        f, naive = _sigreg_and_naive(name, a, xp)
        expected = _jax_checks(f, naive, z, v, f"sigreg[{name}]", hessian=name in JAX_HESSIAN)
        # Outside jit too, as the example did (the adapter's own jit is then the outermost).
        _close(jax.jvp(f, (z[0],), (v,))[1], expected["jvp"], f"sigreg[{name}] eager jvp")


@pytest.mark.parametrize("backend", _backends("jax_x64"))
@pytest.mark.parametrize("name", FUNCTIONS)
def test_jax_transforms_of_each_statistic_function_equal_those_of_the_naive_formula(backend, name):
    with support.backend(backend) as xp:
        z_np, _, v_np = _data()
        z, v = xp.asarray(_samples(z_np, name)), xp.asarray(v_np)
        f, naive = _function_and_naive(name, xp)
        full = name == "bhep"  # not reached through sigreg.sigreg: every transform
        _jax_checks(f, naive, z, v, f"stats.{name}", hessian=full, per_sample=full)
