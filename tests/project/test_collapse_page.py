"""docs/regularisers.md's reading of its generated tables, checked on the same generator
(docs/generate.py) at a smaller size: each claim of the page is asserted here."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from sigreg import demo

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def generate():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.COLLAPSE_N, module.COLLAPSE_K = 96, 32  # the page's shapes, smaller
    return module


@pytest.fixture(scope="module")
def curves(generate):
    return generate.collapse_curves()


def _at(generate, values, scale):
    return values[generate.COLLAPSE_SCALES.index(scale)]


def test_every_collapse_scores_worse_than_the_gaussian(generate, curves):
    for (name, kind), (values, _) in curves.items():
        assert all(v > values[0] for v in values[1:]), (name, kind, values)


def test_epps_pulley_gradient_vanishes_towards_a_point_only(generate, curves):
    for name in ("Epps-Pulley (SIGReg)", "Epps-Pulley, unbiased"):
        norms = curves[name, "point"][1]
        ratio = _at(generate, norms, 1e-3) / _at(generate, norms, 1e-4)
        assert ratio == pytest.approx(10.0, rel=0.05), (name, norms)  # in proportion to the scale
        for kind in ("line", "sheet"):
            norms = curves[name, kind][1]
            assert _at(generate, norms, 1e-4) > 0.9 * _at(generate, norms, 1e-2) > 0.05, (name, kind, norms)


def test_wasserstein_steady_and_visreg_growing(generate, curves):
    for kind in generate.COLLAPSE_KINDS:
        norms = curves["Wasserstein", kind][1]
        assert 0.5 < _at(generate, norms, 1e-4) / _at(generate, norms, 1e-2) < 2.0, (kind, norms)
        norms = curves["VISReg", kind][1]
        assert _at(generate, norms, 1e-4) > 5 * _at(generate, norms, 1e-3), (kind, norms)


def test_rdmreg_target_keeps_its_gradient_towards_a_point(generate, curves):
    """Against RDMReg's (non-symmetric) target the CF's imaginary part pulls a collapsed point:
    the gradient stays, unlike Epps-Pulley against N(0, I)."""
    for name in generate.RDMREG_ROWS:
        for kind in generate.COLLAPSE_KINDS:
            norms = curves[name, kind][1]
            assert _at(generate, norms, 1e-4) > 0.9 * _at(generate, norms, 1e-2), (name, kind, norms)
            assert _at(generate, norms, 1e-4) > norms[0], (name, kind, norms)


def test_rdmreg_rows_start_from_the_target_not_a_gaussian(generate):
    cloud = generate.target_cloud(generate.RDMREG_ROWS[0], 2000, seed=0)
    assert cloud.min() == 0.0
    assert abs(np.mean(cloud == 0.0) - generate.RDMREG_TARGET.zero_mass) < 0.02
    assert generate.target_cloud("VISReg", 10, seed=0) is None


def test_null_levels(generate):
    sizes, draws, target_draws = (16, 256), 60, 40
    table = generate.collapse_null(sizes=sizes, draws=draws, target_draws=target_draws)
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()[2:] if line.startswith("|")}

    def cells(name):
        return [tuple(float(x) for x in c.split(" ± ")) for c in rows[name].strip("| ").split(" | ")[1:]]

    for (mean, sd), _ in zip(cells("Epps-Pulley (SIGReg)"), sizes, strict=True):
        assert abs(mean - demo.null_mean()) < 4 * sd / np.sqrt(draws)
    for (mean, sd), _ in zip(cells("Epps-Pulley, unbiased"), sizes, strict=True):
        assert abs(mean) < 4 * sd / np.sqrt(draws)
    for name in ("Wasserstein", "VISReg"):  # falls like 1/N: 16 times smaller at 16 times the rows
        small, large = (mean for mean, _ in cells(name))
        assert 8 < small / large < 32, (name, small, large)
    rdmreg_ep, rdmreg_w = generate.RDMREG_ROWS
    exact = generate.rdmreg_null_mean()
    assert f"{exact:.4f}" in table
    for mean, sd in cells(rdmreg_ep):  # sum_j W_j (1 - |psi_a(t_j)|^2) at every N
        assert abs(mean - exact) < 4 * sd / np.sqrt(target_draws), (mean, sd, exact)
    small, large = (mean for mean, _ in cells(rdmreg_w))
    assert 8 < small / large < 32, (small, large)
