"""Every Triton kernel variant compiles for a real GPU, ahead of time, with no GPU here.

``benchmarks/kernels.py`` compiles through ``triton.compile`` for sm_90 with the host's real
arguments and reads the cubin with the ``ptxas``/``cuobjdump`` that Triton bundles. The
interpreter (``TRITON_INTERPRET=1``) hides compile errors, register spills and instruction
counts; this catches them. Compiling every variant for sm_80 and sm_90 takes about 15 minutes
on 2 cores, so CI compiles a representative subset in one process: the default 16 knots
(``J <= 16`` blocks), 128 directions per program (every ``K >= 65``), float32 and float64,
sm_90. The full table is docs/data/kernels.md (``python benchmarks/kernels.py --json``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="the kernels are torch custom ops: torch is not installed")
triton = pytest.importorskip("triton", reason="triton is not installed")

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
if not all((BIN / tool).exists() for tool in ("ptxas", "cuobjdump")):
    pytest.skip(f"Triton bundles no ptxas/cuobjdump in {BIN}", allow_module_level=True)


@pytest.fixture(scope="module")
def rows():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "kernels.py"), "--json", "--subset", "--arch", "90"]
    done = subprocess.run([*cmd, "--knots", "16"], capture_output=True, text=True, env=env, timeout=1200)
    assert done.returncode in (0, 1), done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def test_every_variant_compiles_without_spills(rows):
    assert {(r["kernel"], r["dtype"]) for r in rows} == {
        (kind, dtype) for kind in ("sums", "vjp") for dtype in ("float32", "float64")
    }
    for row in rows:
        assert row["compiled"] is True, row
        assert row["n_spills"] == 0, row
        assert row["n_regs"] <= 255


def test_instructions_per_element(rows):
    """The recurrence: a rotation (2 FMUL + 2 FFMA) and two adds or FMAs per knot, plus the
    anchors' sincos shared over 16 knots (about 8.6 and 10 in float32, 9.7 and 11 in float64)."""
    for row in rows:
        limit = {"sums": 12.0, "vjp": 16.0}[row["kernel"]]
        assert row["sass_per_element"] is not None and row["sass_per_element"] <= limit, row


def test_a_sweep_of_n_compiles_one_variant(rows):
    for row in rows:
        assert 1 <= row["variants"] <= 2, row
