"""sigreg.visreg: VISReg (Wu, Balestriero, Levine, arXiv:2606.02572) against independent oracles.

The oracle is a float64 NumPy transcription of the formula the docstring states (the authors'
code, HaiyuWu/visreg ``visreg/losses/visreg.py``), written here from the formula with scipy's
normal quantiles, not from sigreg's code; the naive torch formula below follows the authors'
code line by line (torch.linalg.norm, sort, erfinv, the detached standard deviation).
"""

from __future__ import annotations

import importlib.util
import math
import threading

import numpy as np
import pytest
from scipy import stats as scipy_stats

import sigreg

from .. import support
from ..oracle import numerical_grad

N, D, K = 24, 5, 7
EPS = 1e-6


def _directions(d: int = D, k: int = K, seed: int = 3) -> np.ndarray:
    return np.asarray(sigreg.directions(d, k, seed=seed), dtype=np.float64)


def _data(seed: int = 0, n: int = N, d: int = D, batch: tuple[int, ...] = ()) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # Not Gaussian, not centred, not unit scale: every term is non-zero.
    z = rng.standard_normal((*batch, n, d)) * rng.uniform(0.3, 2.0, d) + rng.uniform(-1, 1, d)
    return z + 0.3 * z**2 / (1 + np.abs(z))


def oracle_terms(z, a, eps=EPS, mu_shape=None, sigma_shape=None):
    """(center, scale, shape) of one batch z (N, D) in float64; optional fixed mu/sigma in z_hat."""
    z = np.asarray(z, dtype=np.float64)
    n = z.shape[0]
    mu = z.mean(axis=0)
    sigma = np.sqrt(((z - mu) ** 2).mean(axis=0)) + eps
    center = np.mean(mu**2)
    scale = np.mean((sigma - 1.0) ** 2)
    mu_s = mu if mu_shape is None else mu_shape
    sigma_s = sigma if sigma_shape is None else sigma_shape
    projections = np.sort(((z - mu_s) / sigma_s) @ a, axis=0)
    quantiles = scipy_stats.norm.ppf(np.arange(1, n + 1) / (n + 1))
    shape = np.mean((projections - quantiles[:, None]) ** 2)
    return center, scale, shape


def oracle(z, a, weights=(1.0, 1.0, 1.0), **kw):
    z = np.asarray(z, dtype=np.float64)
    flat = z.reshape(-1, *z.shape[-2:])
    return float(np.mean([np.dot(weights, oracle_terms(x, a, **kw)) for x in flat]))


def test_value_matches_the_float64_oracle(xp):
    z, a = _data(), _directions()
    weights = (0.7, 1.3, 0.4)
    for dtype in support.float_dtypes(xp):
        value = sigreg.visreg(
            support.asarray(xp, z, dtype),
            directions=support.asarray(xp, a, dtype),
            center_weight=weights[0],
            scale_weight=weights[1],
            shape_weight=weights[2],
        )
        rtol = 1e-12 if dtype == xp.float64 else 2e-5
        support.xp_assert_close(value, oracle(z, a, weights), xp=xp, rtol=rtol, dtype=dtype)


def test_views_are_averaged_and_seeded_directions_are_used():
    z = _data(seed=1, batch=(3,))
    a = _directions(k=16, seed=5)
    value = sigreg.visreg(z, num_slices=16, seed=5)
    assert float(value) == pytest.approx(oracle(z, a), rel=1e-12)
    assert float(value) != pytest.approx(float(sigreg.visreg(z, num_slices=16, seed=6)), rel=1e-6)


def _fixed_normalisation_oracle(z0, a):
    """The oracle with mu and sigma of z0 held constant in z_hat (the stop-gradient)."""
    mu0 = z0.mean(axis=0)
    sigma0 = np.sqrt(((z0 - mu0) ** 2).mean(axis=0)) + EPS
    return lambda z: oracle(z, a, mu_shape=mu0, sigma_shape=sigma0)


def test_gradient_matches_finite_differences():
    z, a = _data(seed=2), _directions()
    value, grad = sigreg.visreg_value_and_grad(z, directions=a)
    assert float(value) == pytest.approx(oracle(z, a), rel=1e-12)
    fd = numerical_grad(_fixed_normalisation_oracle(z, a), z)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)
    # Holding mu constant changes nothing for a whole batch (d shape / d mu = 0): the
    # oracle with only sigma fixed has the same gradient.
    sigma0 = np.sqrt(((z - z.mean(axis=0)) ** 2).mean(axis=0)) + EPS
    fd_free_mu = numerical_grad(lambda x: oracle(x, a, sigma_shape=sigma0), z)
    np.testing.assert_allclose(grad, fd_free_mu, rtol=1e-6, atol=1e-9)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
def test_gradient_matches_torch_autograd_of_the_naive_formula():
    import torch

    z, a = _data(seed=3, batch=(2,)), _directions()
    zt = torch.tensor(z, requires_grad=True)
    at = torch.tensor(a)
    b = z.shape[-2]
    mu = zt.mean(dim=-2, keepdim=True)
    centred = zt - mu
    std = torch.linalg.norm(centred, dim=-2) / math.sqrt(b) + EPS
    scale = (std - 1.0).pow(2).mean()
    center = mu.pow(2).mean()
    projections = (centred / std.detach().unsqueeze(-2)) @ at
    q = torch.arange(1, b + 1, dtype=torch.float64) / (b + 1)
    target = torch.erfinv(2 * q - 1) * math.sqrt(2)
    shape = (projections.sort(dim=-2).values - target[:, None]).pow(2).mean()
    naive = center + scale + shape
    naive.backward()

    value, grad = sigreg.visreg_value_and_grad(z, directions=a)
    assert float(value) == pytest.approx(float(naive.detach()), rel=1e-12)
    np.testing.assert_allclose(grad, zt.grad.numpy(), rtol=1e-9, atol=1e-12)

    # sigreg.visreg under torch autograd: the same gradient.
    z2 = torch.tensor(z, requires_grad=True)
    sigreg.visreg(z2, directions=at).backward()
    np.testing.assert_allclose(z2.grad.numpy(), grad, rtol=1e-9, atol=1e-12)


def test_framework_autodiff_matches_value_and_grad(xp):
    """torch autograd and jax.grad of sigreg.visreg give value_and_grad's gradient."""
    if not support.has_float64(xp) or xp.__name__ not in ("array_api_compat.torch", "jax.numpy"):
        pytest.skip("needs an autodiff backend with float64 (torch, jax_x64)")
    z, a = _data(seed=4), _directions()
    _, expected = sigreg.visreg_value_and_grad(z, directions=a)
    zx, ax = support.asarray(xp, z), support.asarray(xp, a)
    if support.is_jax(xp):
        import jax

        grad = jax.grad(lambda x: sigreg.visreg(x, directions=ax))(zx)
        jitted = jax.jit(lambda x: sigreg.visreg(x, directions=ax))(zx)  # traces
        assert float(jitted) == pytest.approx(oracle(z, a), rel=1e-12)
    else:
        zx.requires_grad_(True)
        sigreg.visreg(zx, directions=ax).backward()
        grad = zx.grad
    support.xp_assert_close(grad, expected, xp=xp, rtol=1e-9, atol=1e-12)
    _, grad2 = sigreg.visreg_value_and_grad(zx, directions=ax)
    support.xp_assert_close(grad2, expected, xp=xp, rtol=1e-9, atol=1e-12)


class ThreadSum:
    """An in-process all-reduce: each worker thread submits an array, all get the sum."""

    def __init__(self, workers: int, to_numpy, from_numpy):
        self.barrier = threading.Barrier(workers)
        self.slots: dict[int, np.ndarray] = {}
        self.to_numpy, self.from_numpy = to_numpy, from_numpy

    def __call__(self, x):
        self.slots[threading.get_ident()] = self.to_numpy(x)
        self.barrier.wait()
        total = sum(self.slots.values())
        self.barrier.wait()  # everyone has read the slots before the next call overwrites them
        return self.from_numpy(total, x)


def _sharded_oracle(shards, a, fixed=None):
    """Centre and scale of the global batch; shape: mean over shards, global normalisation."""
    whole = np.concatenate(shards, axis=0)
    mu = whole.mean(axis=0)
    sigma = np.sqrt(((whole - mu) ** 2).mean(axis=0)) + EPS
    center, scale, _ = oracle_terms(whole, a)
    mu_s, sigma_s = (mu, sigma) if fixed is None else fixed
    shapes = [oracle_terms(s, a, mu_shape=mu_s, sigma_shape=sigma_s)[2] for s in shards]
    return center + scale + float(np.mean(shapes))


def _run_workers(fn, shards):
    results = [None] * len(shards)

    def work(i):
        results[i] = fn(shards[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(shards))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("framework", ["numpy", "torch"])
def test_all_reduce_over_shards_is_the_global_batch(framework):
    z, a = _data(seed=5, n=30), _directions()
    sizes = [11, 9, 10]
    shards = np.split(z, np.cumsum(sizes)[:-1])
    whole_value = sigreg.visreg(z, directions=a)
    if framework == "numpy":
        reduce = ThreadSum(3, np.asarray, lambda t, x: t)
        out = _run_workers(lambda s: sigreg.visreg_value_and_grad(s, directions=a, all_reduce=reduce), shards)
    else:
        if importlib.util.find_spec("torch") is None:
            pytest.skip("torch is not installed")
        import torch

        reduce = ThreadSum(3, lambda x: x.detach().numpy(), lambda t, x: torch.as_tensor(t, dtype=x.dtype))

        def worker(s):
            st = torch.tensor(s, requires_grad=True)
            value = sigreg.visreg(st, directions=torch.tensor(a), all_reduce=reduce)
            value.backward()
            return value.detach().numpy(), st.grad.numpy()

        out = _run_workers(worker, shards)
    values = [float(v) for v, _ in out]
    expected = _sharded_oracle(shards, a)
    for v in values:
        assert v == pytest.approx(expected, rel=1e-12)
    # The centre and scale terms are the whole batch's: zero the shape weight to see them alone.
    if framework == "numpy":
        reduce0 = ThreadSum(3, np.asarray, lambda t, x: t)
        alone = _run_workers(
            lambda s: sigreg.visreg(s, directions=a, shape_weight=0.0, all_reduce=reduce0), shards
        )
        whole_alone = float(sigreg.visreg(z, directions=a, shape_weight=0.0))
        for v in alone:
            assert float(v) == pytest.approx(whole_alone, rel=1e-12)
        assert float(whole_value) != pytest.approx(values[0], rel=1e-6)  # the shape term is per worker
    # DDP averages the workers' gradients: that average is the gradient of the sharded objective.
    mu = z.mean(axis=0)
    fixed = (mu, np.sqrt(((z - mu) ** 2).mean(axis=0)) + EPS)

    def objective(x):
        return _sharded_oracle(np.split(x, np.cumsum(sizes)[:-1]), a, fixed)

    average = np.concatenate([g for _, g in out], axis=0) / len(shards)
    np.testing.assert_allclose(average, numerical_grad(objective, z), rtol=1e-6, atol=1e-9)


def test_gradient_does_not_vanish_at_collapse():
    """VISReg's claim: shrink a Gaussian cloud to a point; the scale term's gradient tends to
    the closed form 2 / (D sqrt(N)) * sqrt(sum_d (sigma_d - 1)^2), while SIGReg's vanishes."""
    rng = np.random.default_rng(6)
    n, d = 64, 8
    cloud = rng.standard_normal((n, d))
    a = _directions(d, 32, seed=1)
    _, g_sigreg_ref = sigreg.value_and_grad(1e-2 * cloud, directions=a)
    for s in (1e-2, 1e-4, 1e-6):
        z = 3.0 + s * cloud  # a point away from the origin
        _, g_scale = sigreg.visreg_value_and_grad(z, directions=a, center_weight=0.0, shape_weight=0.0)
        sigma = s * cloud.std(axis=0) + EPS
        closed = 2.0 / (d * math.sqrt(n)) * math.sqrt(np.sum((sigma - 1.0) ** 2))
        assert np.linalg.norm(g_scale) == pytest.approx(closed, rel=1e-6)
        _, g_all = sigreg.visreg_value_and_grad(z, directions=a)
        assert np.linalg.norm(g_all) > 0.5 * closed
        # SIGReg (Epps-Pulley) on the same cloud: its gradient vanishes linearly in s.
        _, g_sigreg = sigreg.value_and_grad(s * cloud, directions=a)
        ratio = np.linalg.norm(g_sigreg) / np.linalg.norm(g_sigreg_ref)
        assert ratio == pytest.approx(s / 1e-2, rel=1e-2)
    # Exact collapse (every sample the same point): still finite and non-zero.
    value, grad = sigreg.visreg_value_and_grad(np.full((n, d), 3.0), directions=a)
    assert np.isfinite(float(value)) and np.all(np.isfinite(grad)) and np.linalg.norm(grad) > 0


def test_lejepa_loss_with_visreg():
    rng = np.random.default_rng(7)
    g, local = rng.standard_normal((2, 20, 4)), rng.standard_normal((3, 20, 4))
    a = _directions(4, 6, seed=2)
    views = np.concatenate([g, local])
    prediction = np.mean((g.mean(axis=0, keepdims=True) - views) ** 2)
    for on, reg_input in (("views", views), ("all", views.reshape(-1, 4))):
        loss = sigreg.lejepa_loss(g, local, lam=0.3, regulariser="visreg", sigreg_on=on, directions=a)
        assert float(loss) == pytest.approx(0.3 * oracle(reg_input, a) + 0.7 * prediction, rel=1e-12)
    default = sigreg.lejepa_loss(g, lam=0.3, num_slices=8)
    assert float(default) == float(sigreg.lejepa_loss(g, lam=0.3, num_slices=8, regulariser="sigreg"))


@pytest.mark.parametrize(
    ("kwargs", "error", "names"),
    [
        ({"num_slices": 0}, ValueError, "num_slices"),
        ({"num_slices": 2.5}, TypeError, "num_slices"),
        ({"eps": 0.0}, ValueError, "eps"),
        ({"center_weight": -1.0}, ValueError, "center_weight"),
        ({"scale_weight": float("nan")}, ValueError, "scale_weight"),
        ({"shape_weight": "1"}, TypeError, "shape_weight"),
        ({"all_reduce": 3}, TypeError, "all_reduce"),
        ({"directions": np.ones((D + 1, 3))}, ValueError, "directions"),
    ],
)
def test_bad_input_names_the_argument(kwargs, error, names):
    with pytest.raises(error, match=names):
        sigreg.visreg(_data(), **kwargs)
    with pytest.raises(error, match=names):
        sigreg.visreg_value_and_grad(_data(), **kwargs)


def test_bad_arrays_and_lejepa_options():
    with pytest.raises(ValueError, match="z must have shape"):
        sigreg.visreg(np.ones(5))
    with pytest.raises(TypeError, match="z must have a real floating"):
        sigreg.visreg(np.ones((4, 3), dtype=np.int64))
    g = np.ones((2, 8, 3))
    with pytest.raises(ValueError, match="regulariser"):
        sigreg.lejepa_loss(g, regulariser="vicreg")
    with pytest.raises(TypeError, match="statistic"):
        sigreg.lejepa_loss(g, regulariser="visreg", statistic="wasserstein")
    with pytest.raises(ValueError, match="reduction"):
        sigreg.lejepa_loss(g, regulariser="visreg", reduction="sum")


@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax is not installed")
def test_jax_named_axis_all_reduce_is_the_global_batch():
    """Three workers on a named ``vmap`` axis with ``sigreg.jax.all_reduce``: JAX differentiates
    ``psum`` itself, and the workers' gradients average to the sharded objective's."""
    import jax
    import jax.numpy as jnp

    import sigreg.jax

    with support.backend("jax_x64"):
        z, a = _data(seed=8, n=30), _directions()
        shards = np.split(z, 3)
        aj = jnp.asarray(a)

        def worker(s):
            return jax.value_and_grad(
                lambda x: sigreg.visreg(x, directions=aj, all_reduce=sigreg.jax.all_reduce("workers"))
            )(s)

        values, grads = jax.vmap(worker, axis_name="workers")(jnp.asarray(np.stack(shards)))
        expected = _sharded_oracle(shards, a)
        np.testing.assert_allclose(np.asarray(values), expected, rtol=1e-12)
        mu = z.mean(axis=0)
        fixed = (mu, np.sqrt(((z - mu) ** 2).mean(axis=0)) + EPS)
        fd = numerical_grad(lambda x: _sharded_oracle(np.split(x, 3), a, fixed), z)
        np.testing.assert_allclose(np.asarray(grads).reshape(z.shape) / 3, fd, rtol=1e-6, atol=1e-9)


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")
@pytest.mark.parametrize("all_reduce", [None, lambda x: x])
def test_a_training_step_copies_nothing_from_the_host(all_reduce):
    """On ``meta`` tensors (PyTorch's accelerator plan): after a first step, which may make the
    cached quantile table, a forward+backward makes no host-to-device copy (no stream sync)."""
    import torch

    from ..backend.test_host_sync import CpuInputs, HostToDevice

    def step():
        z = torch.randn(64, 8, device="meta", requires_grad=True)
        sigreg.visreg(z, num_slices=16, seed=3, all_reduce=all_reduce).backward()
        assert z.grad is not None and z.grad.shape == z.shape

    step()
    functions, dispatch = HostToDevice(), CpuInputs()
    with functions, dispatch:
        step()
    assert functions.transfers == [] and dispatch.transfers == []
