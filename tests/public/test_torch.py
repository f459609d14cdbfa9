"""sigreg.torch.SIGReg and LeWMLoss: modules that count their steps, check their options, give sigreg.sigreg's
and sigreg.lewm_loss's numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import sigreg  # noqa: E402
import sigreg.torch  # noqa: E402

from .. import oracle  # noqa: E402


def _case(seed=0, n=48, d=6, k=9, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=dtype) * 1.1 + 0.1
    a = torch.randn(d, k, generator=g, dtype=dtype)
    return z, a / a.norm(dim=0)


def test_module_uses_fresh_directions_each_training_step():
    module = sigreg.torch.SIGReg(num_slices=16)
    z, _ = _case(seed=4)
    first = module(z)
    second = module(z)
    assert int(module.step) == 2
    assert first.item() == pytest.approx(float(sigreg.sigreg(z, num_slices=16, seed=0)), rel=1e-12)
    assert second.item() == pytest.approx(float(sigreg.sigreg(z, num_slices=16, seed=1)), rel=1e-12)
    module.eval()
    assert float(module(z)) == float(module(z))
    assert int(module.step) == 2
    state = module.state_dict()
    assert "step" in state
    clone = sigreg.torch.SIGReg(num_slices=16)
    clone.load_state_dict(state)
    clone.eval()
    assert float(clone(z)) == float(module(z))


def test_module_checks_options_at_construction():
    with pytest.raises(ValueError, match="num_slices must be >= 1"):
        sigreg.torch.SIGReg(num_slices=0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        sigreg.torch.SIGReg(reduction="max")


def test_null_level_of_module_matches_numpy():
    z = np.random.default_rng(5).standard_normal((400, 10))
    module = sigreg.torch.SIGReg(num_slices=64).eval()
    value = float(module(torch.asarray(z)))
    a = sigreg.directions(10, 64, seed=0)
    assert value == pytest.approx(oracle.sigreg(z, a).mean(), rel=1e-12)
    assert 0.5 < value < 2.0 and math.isfinite(value)


def _lewm_clips(seed=0, b=24, t=4, d=6):
    rng = np.random.default_rng(seed)
    emb = rng.standard_normal((b, t, d)).astype(np.float32)
    return emb[:, :-1] + 0.2 * rng.standard_normal((b, t - 1, d)).astype(np.float32), emb


def test_torch_module_matches_the_function_step_by_step():
    predicted, emb = (torch.from_numpy(x) for x in _lewm_clips())
    criterion = sigreg.torch.LeWMLoss(lam=0.3, num_slices=32, normalize=True, detach_target=True, t_max=4.0)
    options = {"lam": 0.3, "num_slices": 32, "normalize": True, "detach_target": True, "t_max": 4.0}
    for step in range(2):
        leaves = [x.clone().requires_grad_(True) for x in (predicted, emb)]
        value = criterion(leaves[0], leaves[1][:, 1:], leaves[1])
        value.backward()
        ref_leaves = [x.clone().requires_grad_(True) for x in (predicted, emb)]
        ref = sigreg.lewm_loss(ref_leaves[0], ref_leaves[1][:, 1:], ref_leaves[1], seed=step, **options)
        ref.backward()
        assert value.item() == ref.item()
        for got, expected in zip(leaves, ref_leaves, strict=True):
            torch.testing.assert_close(got.grad, expected.grad, rtol=0, atol=0)
        assert int(criterion.step) == step + 1
    criterion.eval()
    first = criterion(predicted, emb[:, 1:], emb)
    assert float(first) == float(criterion(predicted, emb[:, 1:], emb)) and int(criterion.step) == 2
    assert "lam=0.3" in repr(criterion) and "detach_target=True" in repr(criterion)


def test_torch_module_time_axis_and_checks_at_construction():
    predicted, emb = (torch.from_numpy(x) for x in _lewm_clips(seed=1))
    batch_first = sigreg.torch.LeWMLoss(num_slices=16).eval()
    time_first = sigreg.torch.LeWMLoss(num_slices=16, time_axis=0).eval()
    a = batch_first(predicted, emb[:, 1:], emb)
    b = time_first(*(x.transpose(0, 1) for x in (predicted, emb[:, 1:], emb)))
    torch.testing.assert_close(a, b, rtol=1e-6, atol=0)
    with pytest.raises(ValueError, match="lam must be finite and >= 0"):
        sigreg.torch.LeWMLoss(lam=float("nan"))
    with pytest.raises(ValueError, match="time_axis must be 1"):
        sigreg.torch.LeWMLoss(time_axis=-1)
    with pytest.raises(TypeError, match="unexpected keyword argument"):
        sigreg.torch.LeWMLoss(tmax=3.0)
