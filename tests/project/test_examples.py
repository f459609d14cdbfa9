"""Smoke runs of the LeJEPA digits examples: a few steps, tiny sizes."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))

from _digits import Recipe, augment, effective_rank, local_crops

TINY = Recipe(steps=40, batch=64, global_views=2, local_views=2, hidden=32, num_slices=32, learning_rate=3e-3)


def _decreases(losses: list[float]) -> None:
    assert len(losses) == TINY.steps and all(math.isfinite(x) for x in losses)
    assert np.mean(losses[-10:]) < np.mean(losses[:10]), losses


def test_torch_example_loss_decreases():
    pytest.importorskip("torch")
    import lejepa_digits_torch

    _decreases(lejepa_digits_torch.train(TINY, progress=False)[-1])


def test_jax_example_loss_decreases():
    pytest.importorskip("optax")
    import lejepa_digits_jax

    _decreases(lejepa_digits_jax.train(TINY, progress=False)[-1])


def test_augment_and_effective_rank():
    rng = np.random.default_rng(0)
    images = rng.uniform(size=(5, 64)).astype(np.float32)
    views = augment(images, 3, rng)
    assert views.shape == (3, 5, 64) and views.dtype == np.float32
    assert not np.allclose(views[0], views[1])
    line = rng.standard_normal((500, 1)) * np.ones((1, 8))
    assert effective_rank(line) == pytest.approx(1.0, abs=1e-6)
    assert effective_rank(rng.standard_normal((20000, 8))) == pytest.approx(8.0, rel=0.01)


def test_local_crops_enlarge_a_sub_square_of_each_image():
    # Without the photometric part (intensity 1, no noise), every local view must be a
    # 5x5 or 6x6 sub-square of its image, each crop pixel repeated to fill 8 x 8.
    images = np.arange(3 * 64, dtype=np.float32).reshape(3, 64)  # every pixel distinct
    rng = np.random.default_rng(2)

    class NoPhotometric:
        def __init__(self, rng):
            self.rng = rng

        def integers(self, *args, **kwargs):
            return self.rng.integers(*args, **kwargs)

        def uniform(self, low, high, size):
            return np.ones(size)

        def normal(self, loc, scale, size):
            return np.zeros(size)

    views = local_crops(images, 4, NoPhotometric(rng))
    assert views.shape == (4, 3, 64) and views.dtype == np.float32
    for view in views:
        for image, crop in zip(images.reshape(3, 8, 8), view.reshape(3, 8, 8), strict=True):
            rows = sorted({int(v) % 64 // 8 for v in crop.ravel()})  # image rows the crop reads
            cols = sorted({int(v) % 8 for v in crop.ravel()})
            assert len(rows) == len(cols) in (5, 6)
            assert rows == list(range(rows[0], rows[0] + len(rows)))  # contiguous
            size, top, left = len(rows), rows[0], cols[0]
            expected = image[np.ix_(top + np.arange(8) * size // 8, left + np.arange(8) * size // 8)]
            np.testing.assert_array_equal(crop, expected)


def test_evaluate_reports_a_point_collapse_by_scale():
    from _digits import evaluate

    rng = np.random.default_rng(1)
    y = np.arange(200) % 10
    rep = rng.standard_normal((200, 8)) + y[:, None]
    spread = evaluate(rep, rep, rng.standard_normal((200, 8)), y, y)
    point = evaluate(rep, rep, 1e-6 * rng.standard_normal((200, 8)), y, y)
    assert spread["embedding std"] == pytest.approx(1.0, rel=0.1)
    assert point["embedding std"] < 1e-5
    assert point["SIGReg"] > 50 * spread["SIGReg"]  # a point scores about 0.41 N


def test_jax_batch_norm_matches_torch():
    """The JAX example's hand-written batch norm against torch.nn.BatchNorm1d, with the same
    weights: outputs and running statistics over two training steps, then evaluation."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("optax")
    import jax.numpy as jnp
    import lejepa_digits_jax
    import lejepa_digits_torch

    torch.manual_seed(0)
    net = lejepa_digits_torch.mlp([6, 5, 4, 3])
    norms = [m for m in net if isinstance(m, torch.nn.BatchNorm1d)]
    with torch.no_grad():  # away from the initial scale 1 and shift 0
        for norm in norms:
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    layers = [
        {"w": jnp.asarray(m.weight.detach().numpy().T), "b": jnp.asarray(m.bias.detach().numpy())}
        for m in net
        if isinstance(m, torch.nn.Linear)
    ]
    for layer, norm in zip(layers, norms, strict=False):  # the output layer has no batch norm
        layer["scale"] = jnp.asarray(norm.weight.detach().numpy())
        layer["shift"] = jnp.asarray(norm.bias.detach().numpy())
    stats = [{"mean": jnp.zeros(n), "var": jnp.ones(n)} for n in (5, 4)]

    rng = np.random.default_rng(0)
    for _ in range(2):
        x = 2.0 * rng.standard_normal((16, 6)).astype(np.float32) + 1.0
        out, stats = lejepa_digits_jax.apply_mlp(layers, stats, jnp.asarray(x), train=True)
        np.testing.assert_allclose(out, net(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    for running, norm in zip(stats, norms, strict=True):
        np.testing.assert_allclose(running["mean"], norm.running_mean.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(running["var"], norm.running_var.numpy(), rtol=1e-5, atol=1e-6)

    net.eval()
    x = rng.standard_normal((7, 6)).astype(np.float32)
    out, unchanged = lejepa_digits_jax.apply_mlp(layers, stats, jnp.asarray(x), train=False)
    np.testing.assert_allclose(out, net(torch.from_numpy(x)).detach().numpy(), rtol=1e-5, atol=1e-6)
    assert all(
        a is b
        for s, t in zip(stats, unchanged, strict=True)
        for a, b in zip(s.values(), t.values(), strict=True)
    )


def test_report_prints_a_table_with_a_header_and_json_on_request(monkeypatch, capsys):
    import json

    import _report

    metrics = {"linear probe": 93.5, "SIGReg": 1.2, "SIGReg p-value": 0.5}
    monkeypatch.setattr(sys, "argv", ["example", "--steps", "3"])
    _report.main(lambda recipe: {**metrics, "steps": recipe.steps}, None)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("Recipe: steps 3,")
    assert lines[2].split() == ["metric", "value", "meaning"]
    assert lines[4].split()[:3] == ["linear", "probe", "93.5"]
    monkeypatch.setattr(sys, "argv", ["example", "--json", "--lam", "0.1"])
    _report.main(lambda recipe: {**metrics, "lam": recipe.lam}, None)
    assert json.loads(capsys.readouterr().out) == {**metrics, "lam": 0.1}


def _capture_loss_inputs(monkeypatch):
    """Record what the examples pass to sigreg.lejepa_loss (the real loss still runs)."""
    import sigreg

    seen = []
    real = sigreg.lejepa_loss

    def spy(z_global, z_local, **options):
        seen.append((z_global, z_local, options))
        return real(z_global, z_local, **options)

    monkeypatch.setattr(sigreg, "lejepa_loss", spy)
    return seen


def test_rdmreg_target_recipe_rectifies_the_embeddings_and_passes_the_target(monkeypatch):
    """Rectified LpJEPA's recipe: ReLU(z) reaches both terms, with RDMReg's target (a few steps)."""
    pytest.importorskip("torch")
    import lejepa_digits_torch

    import sigreg.targets

    recipe = dataclasses.replace(TINY, steps=12, target="rdmreg")
    seen = _capture_loss_inputs(monkeypatch)
    losses = lejepa_digits_torch.train(recipe, progress=False)[-1]
    assert len(seen) == recipe.steps and all(math.isfinite(x) for x in losses)
    for z_global, z_local, options in seen:
        assert options["target"] == sigreg.targets.RectifiedGeneralizedNormal(p=1.0, mu=0.0)
        assert float(z_global.detach().min()) == 0.0 and float(z_local.detach().min()) == 0.0  # some exact 0
    # The default recipe is untouched: no target, no rectification (negative embeddings occur).
    seen.clear()
    lejepa_digits_torch.train(dataclasses.replace(TINY, steps=2), progress=False)
    assert all("target" not in options and float(z.detach().min()) < 0.0 for z, _, options in seen)


def test_rdmreg_target_recipe_in_jax_passes_the_target_and_learns(monkeypatch):
    pytest.importorskip("optax")
    import lejepa_digits_jax

    recipe = dataclasses.replace(TINY, steps=8, target="rdmreg")
    seen = _capture_loss_inputs(monkeypatch)  # traced once: the compiled step reuses it
    losses = lejepa_digits_jax.train(recipe, progress=False)[-1]
    assert len(losses) == recipe.steps and all(math.isfinite(x) for x in losses)
    assert seen and all(options["target"] == recipe.target_law() for *_, options in seen)


def test_evaluate_reports_sparsity_and_the_statistic_against_the_target(monkeypatch):
    import _digits
    from _digits import TARGETS, evaluate

    monkeypatch.setattr(_digits, "NULL_DRAWS", 9)  # the N(0, I) p-value is not under test here

    target = TARGETS["rdmreg"]
    rng = np.random.default_rng(3)
    y = np.arange(300) % 10
    rep = rng.standard_normal((300, 8)) + y[:, None]
    drawn = np.asarray(target.sample(300, 8, seed=4))
    on_target = evaluate(rep, rep, drawn, y, y, target)
    gaussian = evaluate(rep, rep, rng.standard_normal((300, 8)), y, y, target)
    assert on_target["sparsity"] == float(np.mean(drawn == 0.0))
    assert abs(on_target["sparsity"] - target.zero_mass) < 0.05 and gaussian["sparsity"] == 0.0
    assert gaussian["SIGReg (target)"] > 5 * on_target["SIGReg (target)"]
    assert "sparsity" not in evaluate(rep, rep, drawn, y, y)  # only with a target


def test_recipe_refuses_an_unknown_target_naming_it():
    with pytest.raises(ValueError, match="target must be one of None, 'rdmreg'"):
        Recipe(target="laplace")


def test_report_takes_a_target_and_reads_the_value_against_it(monkeypatch, capsys):
    import _report

    metrics = {"SIGReg": 40.0, "SIGReg p-value": 0.01, "SIGReg (target)": 2.0, "sparsity": 0.5}
    monkeypatch.setattr(sys, "argv", ["example", "--target", "rdmreg", "--steps", "3"])
    _report.main(lambda recipe: {**metrics, "steps": recipe.steps, "rectified": recipe.rectified}, None)
    out = capsys.readouterr().out
    assert "target rdmreg" in out.splitlines()[0]
    assert "rectified" in out and "read SIGReg (target) and the sparsity" in out
    sparsity = next(line for line in out.splitlines() if line.startswith("sparsity"))
    assert sparsity.split()[1] == "0.5"


def test_results_merge_keeps_the_other_rows_and_puts_new_ones_in_table_order():
    pytest.importorskip("torch")
    pytest.importorskip("optax")
    import results

    old_table = "\n".join(
        [
            "Recipe: ...",
            "",
            "| framework | encoder | linear probe [%] | train time [s] |",
            "|---|---|---|---|",
            "| PyTorch | LeJEPA, lam = 0.05 | 98.4 | 51 |",
            "| PyTorch | lam = 0 (no SIGReg) | 84.4 | 54 |",
            "| JAX | LeJEPA, lam = 0.05 | 98.7 | 58 |",
            "| - | PCA of the pixels, 32 components | 96.4 | 0 |",
        ]
    )
    old = results.read_rows(old_table)
    assert old[1] == {
        "framework": "PyTorch",
        "encoder": "lam = 0 (no SIGReg)",
        "linear probe [%]": "84.4",
        "train time [s]": "54",
    }
    new = [
        {"framework": f, "encoder": "LeJEPA, RDMReg target", "sparsity [% zeros]": "56.6"}
        for f in ("PyTorch", "JAX")
    ]
    new.append({"framework": "JAX", "encoder": "LeJEPA, lam = 0.05", "linear probe [%]": "99.0"})
    rows = results.merge(old, new, Recipe())
    keys = [(r["framework"], r["encoder"]) for r in rows]
    assert keys == [
        ("PyTorch", "LeJEPA, lam = 0.05"),
        ("PyTorch", "LeJEPA, RDMReg target"),
        ("PyTorch", "lam = 0 (no SIGReg)"),
        ("JAX", "LeJEPA, lam = 0.05"),
        ("JAX", "LeJEPA, RDMReg target"),
        ("-", "PCA of the pixels, 32 components"),
    ]
    assert rows[3]["linear probe [%]"] == "99.0" and rows[2] == old[1]  # replaced; kept as it was
