"""sigreg.demo and `sigreg demo`: the collapsed cloud unfolds, every claim it prints holds, the null mean
and range against the closed form and Monte Carlo."""

from __future__ import annotations

import numpy as np
import pytest

import sigreg

from ..support import run_cli as _run_cli


def test_demo_unfolds_the_cloud_and_prints_the_backend_table():
    out = _run_cli()
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()[:1].isdigit()]
    first, last = float(rows[0][1]), float(rows[-1][1])
    assert first > 20 and last < 0.5 * first  # collapsed line: large; round cloud: small
    spreads = [float(x) for x in rows[-1][2:5]]
    assert min(spreads) > 0.5 * max(spreads)  # round: every axis carries variance
    assert "numpy" in out.stdout
    assert not [line for line in out.stdout.splitlines() if line.endswith(" FAIL")]  # no row failed
    assert "A good value at N = 300, K = 64 is about 1.05" in out.stdout
    header = next(line for line in out.stdout.splitlines() if line.startswith("backend"))
    assert header.split()[-1] == "status"  # every column of the table has a header
    _demo_claims_hold(out.stdout, last)
    _every_column_explained(out.stdout)


def _every_column_explained(text):
    """Each column header of both tables starts a line of the legend printed after its table."""
    import re

    from sigreg._cli import check

    lines = text.splitlines()
    legend = {line.strip() for line in lines if line.startswith("  ")}
    steps = re.split(r"\s{2,}", next(line for line in lines if line.lstrip().startswith("step")).strip())
    assert steps == ["step", "SIGReg", "sd axis 1", "sd axis 2", "sd axis 3"]
    for name in ["step", "SIGReg", "sd axis i", *check.HEADER]:
        assert any(re.match(rf"{re.escape(name)}\s{{2,}}\S", line) for line in legend), name


def _demo_claims_hold(text, last):
    """Each sentence of the demo that reads a printed value against a band says what the numbers say."""
    import importlib.util
    import re

    flat = " ".join(text.split())

    def reading(value, low, high):
        return "below" if value < low else "inside" if value <= high else "above"

    low, high, end, claim = re.search(
        r"score between (\S+) and (\S+)\. The unfolded cloud ends at (\S+), (below|inside|above) that band",
        flat,
    ).groups()
    assert float(end) == pytest.approx(last, abs=0.006)
    assert claim == reading(float(end), float(low), float(high))
    value, claim, low, high = re.search(
        r"its value (\S+) is (far above|inside|below) the band of N\(0, I\) data of this size "
        r"\((\S+) to (\S+) for",
        flat,
    ).groups()
    assert "deliberately not Gaussian" in flat
    numpy_row = next(line.split() for line in text.splitlines() if line.startswith("numpy "))
    assert float(value) == pytest.approx(float(numpy_row[3]), abs=0.006)
    assert claim.split()[-1] == reading(float(value), float(low), float(high))
    libraries = {"array_api_strict": "array_api_strict", "torch": "torch", "jax": "jax", "cupy": "cupy"}
    absent = [name for name, module in libraries.items() if importlib.util.find_spec(module) is None]
    listed = re.search(r"Not installed, so not in the table: ([^.]*)\.", flat)
    assert sorted(re.findall(r"(\w+) \(pip install", listed.group(1)) if listed else []) == sorted(absent)
    table = {line.split()[0] for line in text.splitlines() if line.split()[-1:] in (["ok"], ["FAIL"])}
    assert table.isdisjoint(absent) and "numpy" in table


@pytest.mark.parametrize(("t_max", "num_points"), [(3.0, 17), (5.0, 9), (2.0, 5)])
def test_demo_null_mean_is_the_closed_form(t_max, num_points):
    """E[N |ecf(t) - phi(t)|^2] = Var cos(tX) + Var sin(tX) = 1 - phi(t)^2 for N(0, 1) samples."""
    from sigreg import demo

    t = np.linspace(0.0, t_max, num_points)
    w = np.full(num_points, 2 * t_max / (num_points - 1))
    w[[0, -1]] /= 2
    expected = np.sum(w * np.exp(-(t**2) / 2) * (1 - np.exp(-(t**2))))
    assert demo.null_mean(t_max=t_max, num_points=num_points) == pytest.approx(expected, rel=1e-10)


def test_demo_null_mean_and_range_against_monte_carlo():
    """200 N(0, I_3) samples: their mean SIGReg is the null mean (any N; s.e. about 0.04)."""
    from sigreg import demo

    rng = np.random.default_rng(123)
    draws = sigreg.sigreg(rng.standard_normal((200, 64, 3)), num_slices=32, seed=5, reduction="none")
    assert float(np.mean(draws)) == pytest.approx(demo.null_mean(), abs=0.25)
    low, high = demo.null_range(num_points=64, draws=40)
    assert low < demo.null_mean() < high and low > 0.1 and high < 4.0
