"""Dry run of benchmarks/gpu_check.py on the CPU (``--device cpu --quick``): it must not rot.

The real run needs a CUDA device (``python benchmarks/gpu_check.py``, ``nox -s gpu``); here
every step runs on tiny shapes, and the steps that need CUDA say so in the report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="gpu_check measures the torch path: torch is not installed")
pytest.importorskip("triton", reason="gpu_check reads Triton's kernels: triton is not installed")

ROOT = Path(__file__).resolve().parents[2]


def test_dry_run_writes_a_report(tmp_path):
    out = tmp_path / "benchmark-gpu.md"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TRITON_INTERPRET": "1"}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--device", "cpu", "--quick"]
    done = subprocess.run([*cmd, "--output", str(out)], capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    text = out.read_text()
    assert text.startswith("Device: CPU") and "dry run" in text.splitlines()[0]
    assert "Tests (" in text and ": passed (" in text
    # Both dtypes within their limits against the float64 reference.
    accuracy = [line for line in text.splitlines() if line.startswith(("| float32 |", "| float64 |"))]
    assert len(accuracy) == 2 and all(line.endswith("| yes |") for line in accuracy)
    # One timing row per quick shape, with a number for sigreg and for the naive port.
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| torch |")]
    assert [(r[2].strip(), r[3].strip()) for r in rows] == [("64", "16"), ("128", "16")]
    for r in rows:
        assert float(r[4]) > 0 and float(r[6]) > 0
    assert "n/a (no CUDA)" in text
