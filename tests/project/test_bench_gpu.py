"""Smoke test of benchmarks/bench_gpu.py: ``--device cpu --quick``, every installed framework.

The GPU numbers themselves need a GPU (``python benchmarks/bench_gpu.py``); this checks that
the script runs end to end and writes a well-formed table.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_gpu.py"
QUICK_SHAPES = {(256, 64), (512, 64)}  # bench_gpu.QUICK_SHAPES
INSTALLED = [name for name in ("torch", "jax") if importlib.util.find_spec(name) is not None]
COLUMNS = [
    "framework",
    "N",
    "K",
    "sigreg eager [ms]",
    "sigreg compiled [ms]",
    "naive [ms]",
    "speed-up (naive / best sigreg)",
    "sigreg peak [MiB]",
    "naive peak [MiB]",
]


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def _time(cell: str) -> float:
    value = float(cell)  # "OOM", "failed" or "-" fail here
    assert value > 0, cell
    return value


def _run_quick(tmp_path: Path) -> tuple[str, str]:
    output = tmp_path / "b.md"
    cmd = [sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--output", str(output)]
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-4000:]
    return output.read_text(), out.stderr


@pytest.mark.slow
@pytest.mark.skipif(not INSTALLED, reason="neither torch nor jax is installed")
def test_quick_cpu_run_writes_the_table(tmp_path):
    text, stderr = _run_quick(tmp_path)
    lines = text.splitlines()
    assert lines[0].startswith("Device:"), lines[0]
    for name in INSTALLED:
        assert f"{'JAX' if name == 'jax' else name} {importlib.metadata.version(name)}" in lines[0]
    assert "disagrees" not in text, text  # every implementation gave sigreg's value and gradient

    table = _table_lines(text)
    assert _cells(table[0]) == COLUMNS
    # The committed page (a placeholder until a GPU run rewrites it) has the same columns.
    assert table[:2] == _table_lines((ROOT / "docs" / "data" / "benchmark-gpu.md").read_text())[:2]
    rows = [_cells(line) for line in table[2:]]
    assert all(len(row) == len(COLUMNS) for row in rows), table
    keys = [(row[0], int(row[1]), int(row[2])) for row in rows]
    assert sorted(keys) == sorted((name, n, k) for name in INSTALLED for n, k in QUICK_SHAPES), stderr

    for framework, row_n, row_k, eager, compiled, naive, speed_up, *peaks in rows:
        ours = [_time(eager)] + ([_time(compiled)] if framework == "torch" else [])
        if framework == "jax":
            assert compiled == "-"
            # The same step with the Pallas kernels off (XLA's plan) is timed too: a note.
            pattern = rf"jax N={row_n} K={row_k}: .*Pallas kernels off \(XLA's plan\): ([\d.]+) ms"
            note = re.search(pattern, text)
            assert note is not None and float(note.group(1)) > 0, text
        assert re.fullmatch(r"\d+\.\d+x", speed_up), speed_up
        ratio = _time(naive) / min(ours)
        # The cells are rounded: times to 3 significant digits (the ratio of two of them is off
        # by up to 1%), the speed-up to 1 decimal (off by up to 0.05).
        assert float(speed_up[:-1]) == pytest.approx(ratio, rel=0.03, abs=0.1)
        for peak in peaks:  # CPU devices have no peak-memory statistics in either framework
            assert peak == "n/a" or float(peak) >= 0, peak
