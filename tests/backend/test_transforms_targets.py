"""target= under every function transform: torch.func and JAX (grad, jvp, jacfwd, jacrev, vmap,
hessian), against the same transforms of the naive formula (the bound statistic's array-API
forward on ``z @ a``, differentiated by the framework's plain autodiff).

The target's constants (Epps-Pulley's CF per slice, Wasserstein's reference order statistics)
reach the torch autograd.Function as an extra input and the JAX primitives as an extra operand;
this checks that forward mode, vmap and higher orders carry them. Tiny shapes, few knots.
"""

from __future__ import annotations

import pytest

import sigreg
import sigreg.stats
from sigreg._backend import dispatch
from sigreg._core import arrays, checks, draws, slicing
from sigreg._core.plan import Plan

from .. import support
from .test_transforms import _backends, _data, _jax_checks, _torch_checks

CASES = (
    ("epps_pulley", "laplace", {"num_points": 5}),
    ("epps_pulley", "rectified_generalized_normal", {"num_points": 5}),  # a complex CF
    ("wasserstein", "laplace", {}),
)
SEED = 3
IDS = [f"{name}-{target}" for name, target, _ in CASES]


def _sigreg_and_naive(name, target, options, z, a, xp):
    statistic = sigreg.stats.get(name, target=target, **options)
    form = dispatch.local_form(statistic, None)
    keys = draws.seed_keys(checks.seed(SEED, xp), xp, arrays.device(z))
    constants = statistic.target_cf(a, xp, z.shape[-2], keys)  # what sigreg.sigreg computes per call
    assert constants is not None
    bound = slicing.with_target_cf(form, constants)

    def f(x):
        return sigreg.sigreg(x, statistic=statistic, directions=a, seed=SEED)

    def naive(x):
        return xp.mean(bound.forward(x @ a, xp, Plan())[0])

    return f, naive


@pytest.mark.parametrize("backend", _backends("torch"))
@pytest.mark.parametrize(("name", "target", "options"), CASES, ids=IDS)
def test_torch_func_transforms_with_a_target_equal_those_of_the_naive_formula(backend, name, target, options):
    with support.backend(backend) as xp:
        import torch

        z, a, v = (torch.asarray(x, dtype=torch.float64) for x in _data())
        f, naive = _sigreg_and_naive(name, target, options, z, a, xp)
        _torch_checks(f, naive, z, v, f"sigreg[{name}, target={target}]")


@pytest.mark.parametrize("backend", _backends("jax_x64"))
@pytest.mark.parametrize(("name", "target", "options"), CASES, ids=IDS)
def test_jax_transforms_with_a_target_equal_those_of_the_naive_formula(backend, name, target, options):
    with support.backend(backend) as xp:
        z, a, v = (xp.asarray(x) for x in _data())
        f, naive = _sigreg_and_naive(name, target, options, z, a, xp)
        _jax_checks(f, naive, z, v, f"sigreg[{name}, target={target}]", hessian=name == "wasserstein")
