"""``lejepa_loss`` with global and local views against an independent float64 formula."""

from __future__ import annotations

import array_api_compat
import numpy as np
import pytest

import sigreg

from .. import oracle
from ..support import asarray, has_float64, is_jax, to_numpy, xp_assert_close


def _views(seed: int = 0, vg: int = 2, vl: int = 3, n: int = 24, d: int = 4, k: int = 6):
    rng = np.random.default_rng(seed)
    g = rng.standard_normal((vg, n, d)) * 1.1 + 0.05
    local = rng.standard_normal((vl, n, d)) * 0.9 - 0.1
    a = rng.standard_normal((d, k))
    return g, local, a / np.linalg.norm(a, axis=0)


def _expected(g, local, a, lam, sigreg_on):
    """The paper's eqs. 5-7 written out in NumPy: centers from the global views only."""
    views = g if local is None else np.concatenate([g, local])
    prediction = np.mean((g.mean(axis=0) - views) ** 2)
    if sigreg_on == "views":
        regulariser = np.mean([oracle.sigreg(v, a).mean() for v in views])
    else:
        regulariser = oracle.sigreg(views.reshape(-1, views.shape[-1]), a).mean()
    return (1 - lam) * prediction + lam * regulariser


def _rounded(x, xp):
    return x if has_float64(xp) else x.astype(np.float32).astype(np.float64)


@pytest.mark.parametrize("sigreg_on", ["views", "all"])
@pytest.mark.parametrize("with_local", [False, True])
def test_matches_float64_formula(xp, sigreg_on, with_local):
    g, local, a = (_rounded(x, xp) for x in _views())
    local = local if with_local else None
    lam = 0.3
    args = (asarray(xp, g),) if local is None else (asarray(xp, g), asarray(xp, local))
    out = sigreg.lejepa_loss(*args, lam=lam, sigreg_on=sigreg_on, directions=asarray(xp, a))
    expected = _expected(g, local, a, lam, sigreg_on)
    xp_assert_close(out, expected, xp=xp, rtol=1e-12 if has_float64(xp) else 2e-5)


def test_without_local_views_is_the_previous_function(xp):
    """With ``local_views=None`` the value is the one-group formula of earlier releases."""
    g, _, a = (_rounded(x, xp) for x in _views(seed=1, vg=3))
    lam = 0.05
    previous = lam * oracle.sigreg(g, a).mean() + (1 - lam) * np.mean((g.mean(0) - g) ** 2)
    out = sigreg.lejepa_loss(asarray(xp, g), directions=asarray(xp, a))
    xp_assert_close(out, previous, xp=xp, rtol=1e-12 if has_float64(xp) else 2e-5)


def test_local_views_do_not_move_the_centers():
    """Prediction with local views at the global centers equals that without them, times Vg/V."""
    g, _, a = _views(seed=2)
    centers = np.broadcast_to(g.mean(0), (4, *g.shape[1:]))
    without = sigreg.lejepa_loss(g, lam=0.0, directions=a)
    with_local = sigreg.lejepa_loss(g, centers, lam=0.0, directions=a)
    assert float(with_local) == pytest.approx(float(without) * 2 / 6, rel=1e-13)


def test_statistic_passes_through():
    g, local, a = _views(seed=3)
    exact = sigreg.lejepa_loss(g, local, lam=1.0, directions=a, statistic="epps_pulley", integration="exact")
    views = np.concatenate([g, local]) @ a
    expected = np.mean([oracle.exact_epps_pulley(u).mean() for u in views])
    assert float(exact) == pytest.approx(expected, rel=1e-12)
    other = sigreg.lejepa_loss(g, local, lam=1.0, directions=a, statistic="cramer_von_mises")
    assert float(other) != pytest.approx(float(exact), rel=1e-3)


def _autodiff_grad(xp, f, *arrays):
    """Gradients of scalar ``f`` with respect to each array, by the framework's autodiff."""
    if array_api_compat.is_torch_namespace(xp):
        leaves = [x.detach().requires_grad_(True) for x in arrays]
        f(*leaves).backward()
        return [to_numpy(x.grad) for x in leaves]
    import jax

    grads = jax.grad(f, argnums=tuple(range(len(arrays))))(*arrays)
    return [np.asarray(gr) for gr in grads]


@pytest.mark.parametrize("sigreg_on", ["views", "all"])
def test_gradients_match_finite_differences(xp, sigreg_on):
    if not (array_api_compat.is_torch_namespace(xp) or is_jax(xp)):
        pytest.skip("NumPy, CuPy and array-api-strict have no autodiff to differentiate lejepa_loss with")
    if not has_float64(xp):
        pytest.skip("finite differences need float64 (JAX without x64 has none)")
    g, local, a = _views(seed=4, vg=2, vl=2, n=6, d=3, k=4)
    lam = 0.4
    grads = _autodiff_grad(
        xp,
        lambda x, y: sigreg.lejepa_loss(x, y, lam=lam, sigreg_on=sigreg_on, directions=asarray(xp, a)),
        asarray(xp, g),
        asarray(xp, local),
    )
    numeric_g = oracle.numerical_grad(lambda x: _expected(x, local, a, lam, sigreg_on), g)
    numeric_l = oracle.numerical_grad(lambda y: _expected(g, y, a, lam, sigreg_on), local)
    np.testing.assert_allclose(grads[0], numeric_g, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(grads[1], numeric_l, rtol=1e-6, atol=1e-9)


def test_bad_input_names_the_argument(xp):
    g = xp.ones((2, 5, 3))
    with pytest.raises(ValueError, match=r"local_views must have shape \(V, N, D\) = \(V, 5, 3\)"):
        sigreg.lejepa_loss(g, xp.ones((4, 6, 3)))
    with pytest.raises(ValueError, match=r"local_views must have shape \(V, N, D\) = \(V, 5, 3\)"):
        sigreg.lejepa_loss(g, xp.ones((4, 5, 2)))
    with pytest.raises(ValueError, match="local_views must have shape"):
        sigreg.lejepa_loss(g, xp.ones((5, 3)))
    with pytest.raises(TypeError, match=r"global_views must be an array .* local_views alone"):
        sigreg.lejepa_loss(None, g)
    with pytest.raises(ValueError, match="sigreg_on must be one of 'views', 'all'; got 'flat'"):
        sigreg.lejepa_loss(g, sigreg_on="flat")
    with pytest.raises(TypeError, match="local_views must have a real floating-point dtype"):
        sigreg.lejepa_loss(g, xp.ones((1, 5, 3), dtype=xp.int32))
    with pytest.raises(ValueError, match="local_views must have at least one sample"):
        sigreg.lejepa_loss(g, xp.ones((1, 0, 3)))


def test_local_views_of_another_library():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match="global_views and local_views must come from the same array library"):
        sigreg.lejepa_loss(np.ones((2, 5, 3)), torch.ones(2, 5, 3))


def test_lejepa_loss_arguments(xp):
    views = xp.ones((2, 5, 3))
    for lam in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"lam must lie in \[0, 1\]"):
            sigreg.lejepa_loss(views, lam=lam)
    with pytest.raises(ValueError, match=r"views must have shape \(V, N, D\)"):
        sigreg.lejepa_loss(xp.ones((5, 3)))
    with pytest.raises(ValueError, match="reduction must be 'mean' or 'sum'"):
        sigreg.lejepa_loss(views, reduction="none")
    with pytest.raises(TypeError, match="unexpected keyword"):
        sigreg.lejepa_loss(views, num_slice=3)
