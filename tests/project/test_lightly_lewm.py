"""``sigreg.lewm_loss`` against lightly's ``LeWMLoss`` (lightly==1.6.0, pinned exactly): value and
gradients with respect to predicted, target and embeddings, with the same directions.

Run by the ``cross_checks`` and ``agreement`` nox sessions, which install lightly without its
dependencies (``pip install --no-deps lightly==1.6.0``): its torchvision would replace the CPU
build of torch. ``lightly.loss``'s ``__init__`` imports every loss, one of them through
``torchvision.ops``; the three modules that ``LeWMLoss`` needs import only torch, so they are
loaded under an empty ``lightly.loss`` package (nothing of torchvision is stubbed or imported).

lightly builds its knots and weights in float32 and casts them to the input's dtype: float64
inputs then differ from the float64 rule by about 5e-8. The float64 comparison recomputes those
constants in float64, as lightly's own ``__init__`` would with ``dtype=torch.float64``; the float32
one takes lightly as shipped. lightly detaches the target in its prediction term:
``detach_target=True`` is its setting, and the paper's (the default) differs from it by exactly
the prediction term's gradient through the target.
"""

from __future__ import annotations

import importlib
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
lightly = pytest.importorskip(
    "lightly", reason="the comparison with lightly needs lightly==1.6.0 (nox -s agreement)"
)

import sigreg  # noqa: E402

VERSION = "1.6.0"
TOL = {torch.float64: 1e-12, torch.float32: 1e-6}


def test_the_pinned_version_is_installed():
    assert lightly.__version__ == VERSION, (
        f"the comparison is with lightly {VERSION}, got {lightly.__version__}"
    )


def _lightly_lewm_loss() -> type:
    if "lightly.loss" not in sys.modules:  # an empty package: its __init__ would import torchvision
        package = types.ModuleType("lightly.loss")
        package.__path__ = [str(Path(lightly.__file__).parent / "loss")]
        sys.modules["lightly.loss"] = package
    return importlib.import_module("lightly.loss.lewm_loss").LeWMLoss


def _lightly(lam, normalize, directions, dtype):
    """lightly's LeWMLoss drawing ``directions``; its constants in float64 for float64 inputs."""
    criterion = _lightly_lewm_loss()(
        lambda_param=lam, normalize=normalize, sigreg_num_vectors=directions.shape[1]
    )
    regulariser = criterion.sigreg
    regulariser._generate_unit_vectors = lambda device, dtype_, num_features: directions.to(device, dtype_)
    if dtype == torch.float64:  # lightly's __init__, in float64: knots, Gaussian window, trapezoid weights
        knots, t_max = regulariser.t.shape[0], float(regulariser.t[-1])
        t = torch.linspace(0, t_max, knots, dtype=torch.float64)
        weights = torch.full((knots,), 2 * t_max / (knots - 1), dtype=torch.float64)
        weights[[0, -1]] = t_max / (knots - 1)
        window = torch.exp(-t.square() / 2.0)
        regulariser.t, regulariser.phi, regulariser.weights = t, window, weights * window
    return criterion


def _case(dtype, seed=0, b=64, t=5, d=16, k=96):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(b, t, d, generator=g, dtype=torch.float64) * 1.3 + 0.2
    predicted = emb[:, 1:] + 0.4 * torch.randn(b, t - 1, d, generator=g, dtype=torch.float64)
    a = torch.randn(d, k, generator=g, dtype=torch.float64)
    return predicted.to(dtype), emb.to(dtype), (a / a.norm(dim=0)).to(dtype)


def _value_and_grads(loss, predicted, emb, separate_target):
    """The loss and its gradients for leaves (predicted, target, embeddings); the target is either a
    leaf of its own or, as in training, the slice ``embeddings[:, 1:]`` (then its gradient is None)."""
    p, e = predicted.clone().requires_grad_(True), emb.clone().requires_grad_(True)
    target = e[:, 1:].detach().clone().requires_grad_(True) if separate_target else e[:, 1:]
    value = loss(p, target, e)
    value.backward()
    return value.detach(), [p.grad, target.grad if separate_target else None, e.grad]


def _rel(a, b):
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["float64", "float32"])
@pytest.mark.parametrize("normalize", [False, True])
@pytest.mark.parametrize("separate_target", [True, False], ids=["target-leaf", "target-slice"])
def test_value_and_gradients_match_lightly(dtype, normalize, separate_target):
    predicted, emb, a = _case(dtype)
    lam = 0.1
    criterion = _lightly(lam, normalize, a, dtype)
    theirs = _value_and_grads(
        lambda p, t, e: criterion(predicted=p, target=t, embeddings=e), predicted, emb, separate_target
    )
    ours = _value_and_grads(
        lambda p, t, e: sigreg.lewm_loss(
            p, t, e, lam=lam, normalize=normalize, detach_target=True, directions=a
        ),
        predicted,
        emb,
        separate_target,
    )
    assert ours[0].dtype == theirs[0].dtype == dtype
    assert _rel(ours[0], theirs[0]) <= TOL[dtype], _rel(ours[0], theirs[0])
    for name, got, expected in zip(("predicted", "target", "embeddings"), ours[1], theirs[1], strict=True):
        if expected is None:  # lightly detaches the target: no gradient reaches a target leaf
            assert got is None, name
            continue
        assert got.dtype == dtype and _rel(got, expected) <= TOL[dtype], (name, _rel(got, expected))


def test_batch_first_and_time_first_layouts_agree_with_lightly():
    predicted, emb, a = _case(torch.float64, seed=1)
    criterion = _lightly(0.3, False, a, torch.float64)
    theirs = criterion(predicted=predicted, target=emb[:, 1:], embeddings=emb)
    ours = sigreg.lewm_loss(
        *(x.transpose(0, 1) for x in (predicted, emb[:, 1:], emb)), lam=0.3, time_axis=0, directions=a
    )
    assert _rel(ours, theirs) <= 1e-12


def test_the_papers_target_gradient_is_lightlys_plus_the_prediction_terms():
    """Without ``detach_target`` (the paper), the embeddings' gradient adds the prediction term's
    gradient through the target slice, ``-2 (predicted - target) / size``: exactly, in float64."""
    predicted, emb, a = _case(torch.float64, seed=2)
    criterion = _lightly(0.1, False, a, torch.float64)
    _, (_, _, lightly_grad) = _value_and_grads(
        lambda p, t, e: criterion(predicted=p, target=t, embeddings=e), predicted, emb, False
    )
    _, (_, _, paper_grad) = _value_and_grads(
        lambda p, t, e: sigreg.lewm_loss(p, t, e, directions=a), predicted, emb, False
    )
    through_target = torch.zeros_like(emb)
    through_target[:, 1:] = -2.0 * (predicted - emb[:, 1:]) / predicted.numel()
    assert _rel(paper_grad - lightly_grad, through_target) <= 1e-10


def test_lightlys_float32_constants_are_why_float64_recomputes_them():
    """As shipped, lightly's float64 loss uses knots and weights rounded to float32: it differs from the
    float64 rule by far more than 1e-12, and agrees to float32's precision."""
    predicted, emb, a = _case(torch.float64, seed=3)
    shipped = _lightly(1.0, False, a, torch.float32)  # the float32 constants, cast to float64 inputs
    theirs = shipped(predicted=predicted, target=emb[:, 1:], embeddings=emb)
    ours = sigreg.lewm_loss(predicted, emb[:, 1:], emb, lam=1.0, directions=a)
    assert 1e-11 < _rel(ours, theirs) < 1e-6, _rel(ours, theirs)
    np.testing.assert_allclose(float(ours), float(theirs), rtol=1e-6)
