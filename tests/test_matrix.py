"""The backend matrix itself: backend files, the gpu session's skip path, the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tomllib

import sigreg

from .support import BACKENDS

ROOT = Path(__file__).parents[1]


def test_backend_files_cover_the_table():
    """Every backend of the table runs in some nox session on its device; no file names an unknown one."""
    specs = {p.stem: tomllib.loads(p.read_text()) for p in (ROOT / "backends").glob("*.toml")}
    covered = {
        (name, spec["device"])
        for spec in specs.values()
        for name in spec["env"]["SIGREG_TEST_BACKENDS"].split(",")
    }
    assert {name for name, _ in covered} <= set(BACKENDS), covered
    for name, row in BACKENDS.items():
        for device in row.devices:
            assert (name, device) in covered, f"{name} on {device}: no nox session"
    for name, spec in specs.items():
        assert spec["device"] in ("cpu", "cuda"), name
        assert isinstance(spec["install"], list) and "SIGREG_TEST_BACKENDS" in spec["env"], name
        if spec["device"] == "cuda":
            assert spec["install"] == [], f"{name}: GPU sessions install nothing"


@pytest.mark.skipif(
    shutil.which("nvidia-smi") is not None, reason="a CUDA device may be present: gpu session runs"
)
def test_gpu_session_skips_without_a_gpu():
    pytest.importorskip("nox")
    out = subprocess.run(
        [sys.executable, "-m", "nox", "-s", "gpu"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert "Session gpu skipped: no CUDA device" in out.stderr, out.stderr


def _run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    return subprocess.run(
        [sys.executable, "-m", "sigreg", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )


def test_demo_unfolds_the_cloud_and_prints_the_backend_table():
    out = _run_cli()
    assert out.returncode == 0, out.stderr
    rows = [line.split() for line in out.stdout.splitlines() if line.strip()[:1].isdigit()]
    first, last = float(rows[0][1]), float(rows[-1][1])
    assert first > 20 and last < 0.5 * first  # collapsed line: large; round cloud: small
    spreads = [float(x) for x in rows[-1][2:5]]
    assert min(spreads) > 0.5 * max(spreads)  # round: every axis carries variance
    assert "numpy" in out.stdout and "FAIL" not in out.stdout
    assert "A good value at N = 300, K = 64 is about 1.05" in out.stdout
    header = next(line for line in out.stdout.splitlines() if line.startswith("backend"))
    assert header.split()[-1] == "status"  # every column of the table has a header
    _demo_claims_hold(out.stdout, last)


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


def test_help_lists_every_subcommand_and_the_default():
    out = _run_cli("--help")
    assert out.returncode == 0, out.stderr
    listed = out.stdout.split()
    for command in ("demo", "check", "test"):
        assert command in listed, command
    assert "Without a subcommand, runs the demo" in " ".join(out.stdout.split())


@pytest.mark.parametrize("argv", [[], ["demo"]])
def test_demo_runs_with_and_without_its_name(monkeypatch, argv):
    import sigreg.__main__ as cli

    calls = []
    monkeypatch.setattr(cli, "run_demo", lambda: calls.append(argv) or 7)
    assert cli.main(argv) == 7 and calls == [argv]


def test_check_json_rows_within_tolerance():
    out = _run_cli("check", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["backend"] for r in rows} >= {"numpy"}
    for r in rows:
        assert r["ok"] and r["max_rel_dev"] <= (1e-10 if r["dtype"] == "float64" else 1e-4), r


def test_import_loads_no_framework():
    code = (
        "import sys, sigreg; "
        "print(sorted(m for m in ('numpy', 'torch', 'jax', 'cupy', 'array_api_strict') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_ci_session_table_shows_times_and_disk(tmp_path):
    # .ci/run prints this table after every run, pass or fail: it is how a slow session or a full
    # disk is found from CI's log. Records written before the disk columns still print.
    times = tmp_path / "times.jsonl"
    records = [
        {"session": "docs", "seconds": 76.0, "virtualenv_gb": 3.21, "free_disk_gb": 8.5},
        {"session": "tests(jax-cpu)", "seconds": 293.0},
    ]
    times.write_text("".join(json.dumps(r) + "\n" for r in records))
    out = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "session_times.py"), str(times), "2500"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert [line.split()[0] for line in lines[2:4]] == ["tests(jax-cpu)", "docs"]  # slowest first
    assert "virtualenv  3.2 GB,   8.5 GB free after" in lines[3]
    assert "41.7 min" in out.stdout and "WARNING" in out.stdout  # past 40 minutes


def _after_loading_the_noxfile(expression: str, env: dict[str, str]) -> object:
    """``expression`` evaluated after noxfile.py runs, in a fresh process with ``env`` (loading
    it sets environment variables and registers sessions: not in this process)."""
    code = f"import json, os, runpy; noxfile = runpy.run_path('noxfile.py'); print(json.dumps({expression}))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


UV_SETTINGS = "{k: os.environ.get(k) for k in ('UV_FIND_LINKS', 'UV_CONSTRAINT', 'UV_COMPILE_BYTECODE')}"


def test_uv_installs_what_pip_would():
    # uv reads no pip setting: the noxfile hands it pip's wheel folders and constraints (else a
    # machine whose pip finds torch's CPU build locally gets PyPI's CUDA build), and asks for the
    # bytecode pip would compile. What the user set for uv wins.
    pytest.importorskip("nox")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("UV_", "PIP_"))}
    clean["PIP_CONFIG_FILE"] = os.devnull  # no pip configuration file is read
    pip_env = {**clean, "PIP_FIND_LINKS": "/wheels /more", "PIP_CONSTRAINT": "/caps.txt"}
    assert _after_loading_the_noxfile(UV_SETTINGS, pip_env) == {
        "UV_FIND_LINKS": "/wheels,/more",
        "UV_CONSTRAINT": "/caps.txt",
        "UV_COMPILE_BYTECODE": "1",
    }
    mine = {**clean, "PIP_FIND_LINKS": "/wheels", "UV_FIND_LINKS": "/mine", "UV_COMPILE_BYTECODE": "0"}
    assert _after_loading_the_noxfile(UV_SETTINGS, mine) == {
        "UV_FIND_LINKS": "/mine",
        "UV_CONSTRAINT": None,
        "UV_COMPILE_BYTECODE": "0",
    }


def test_pip_config_files_are_read_from_pips_listing():
    pytest.importorskip("nox")
    listing = (
        ":env:.find-links='/opt/wheels'\n"
        "global.find-links='/opt/wheels /more'\n"
        "global.constraint='/etc/caps.txt'\n"
        "global.extra-index-url='file:///index'\n"
    )
    expression = (
        f"[noxfile['_listed_values']({listing!r}, name) for name in ('find-links', 'constraint', 'cert')]"
    )
    found = _after_loading_the_noxfile(expression, dict(os.environ))
    assert found == [["/opt/wheels", "/more"], ["/etc/caps.txt"], []]
