"""sigreg.torch.SIGReg: a module that counts its steps, checks its options, gives sigreg.sigreg's numbers."""

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
