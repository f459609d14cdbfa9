"""The Pallas kernels compile for sm_90 with no GPU: JAX lowers them for ``cuda``, Triton compiles the IR.

``benchmarks/pallas_kernels.py`` takes the Triton IR that Pallas builds while JAX lowers
``pallas_ecf`` for the ``cuda`` platform and compiles it with ``triton.compile`` (the cubin is
read by the tools Triton bundles). Here: the default configuration (float32, 128 directions per
program, one run of 16 knots, N = 8192), both kernels. It needs JAX, Triton and torch (the
torch kernels' benchmark script supplies the SASS reader) in one environment: the test sessions
hold one framework each, so nox's cross_checks session, which installs them all, runs it. The
full table is docs/data/pallas-kernels.md.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

MISSING = [name for name in ("jax", "triton", "torch") if importlib.util.find_spec(name) is None]
if MISSING:
    pytest.skip(f"needs jax, triton, torch; missing: {', '.join(MISSING)}", allow_module_level=True)
if os.environ.get("TRITON_INTERPRET") == "1":
    pytest.skip("TRITON_INTERPRET=1: the interpreter stands in for the compiler", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import pallas_kernels  # noqa: E402


@pytest.mark.parametrize("kernel", ["sums", "vjp"])
def test_compiles_for_sm90_without_spills(tmp_path, kernel):
    [(ttir, info)] = pallas_kernels.triton_modules(kernel, "float32", 512, 16)
    row = pallas_kernels.compile_row(ttir, info, kernel, "float32", 4, 16, 90, tmp_path)
    assert row["compiled"] is True, row
    assert row["n_spills"] == 0 and row["stack"] == 0, row
    # The budget for the Triton kernels: sums <= 12, VJP <= 16 per (row, direction, knot).
    assert row["sass_per_element"] is not None
    assert row["sass_per_element"] <= (12 if kernel == "sums" else 16), row
