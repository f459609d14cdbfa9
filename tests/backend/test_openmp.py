"""PyTorch's idle OpenMP threads made to sleep (``sigreg._backend.kernels.openmp``).

What is checked is what sigreg does (which runtimes it touches, and when it leaves them alone),
in fresh processes: whether libgomp then spins less is its documented behaviour, and a timing
(benchmarks/busy.py measures the CPU time it saves).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

RUN = """
import json, sys, threading
import numpy as np
if sys.argv[1] == "torch":
    import torch
    (torch.ones(512, 512) @ torch.ones(512, 512)).sum()  # PyTorch's OpenMP team starts
import sigreg
from sigreg._backend.kernels import openmp
sigreg.sigreg(np.random.default_rng(0).standard_normal((40, 3)), num_slices=4)
names = sorted(t.name for t in threading.enumerate())
print(json.dumps({"calmed": openmp.calm(), "loaded": openmp.loaded_runtimes(), "threads": names}))
"""


def _run(framework: str, **env: str) -> dict:
    full = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    full |= {"PYTHONPATH": str(ROOT), **env}
    out = subprocess.run(
        [sys.executable, "-c", RUN, framework], capture_output=True, text=True, env=full, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _torch_with_libgomp() -> None:
    pytest.importorskip("torch")
    if not sys.platform.startswith("linux"):
        pytest.skip("GNU OpenMP is PyTorch's runtime on Linux only")


def test_every_loaded_gnu_openmp_gets_one_sleeping_thread():
    _torch_with_libgomp()
    got = _run("torch")
    if not got["loaded"]:
        pytest.skip("this PyTorch build does not use GNU OpenMP")
    assert got["calmed"] == got["loaded"]
    assert got["threads"].count("sigreg-openmp") == len(got["loaded"])


@pytest.mark.parametrize("variable", ["OMP_WAIT_POLICY", "GOMP_SPINCOUNT"])
def test_a_users_own_openmp_setting_is_left_alone(variable):
    _torch_with_libgomp()
    got = _run("torch", **{variable: "passive" if variable == "OMP_WAIT_POLICY" else "10000"})
    assert got["calmed"] == [] and "sigreg-openmp" not in got["threads"]


def test_without_torch_nothing_is_touched():
    got = _run("numpy")
    assert got["calmed"] == [] and "sigreg-openmp" not in got["threads"]
