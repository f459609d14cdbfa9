"""Data-parallel SIGReg: every worker sees the global-batch statistic and gradient.

Each scenario runs in fresh processes with a timeout, so a hang fails the test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parents[1] / "distributed"
ROOT = Path(__file__).parents[2]


def _run(script: str, *args: str) -> dict | list:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, str(HERE / script), *args], capture_output=True, text=True, timeout=240, env=env
    )
    assert out.returncode == 0, out.stderr[-4000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize("world", [2, 3])
def test_torch_gloo_workers_match_single_process(world):
    pytest.importorskip("torch")
    ranks = _run("torch_ddp.py", str(world), str(_free_port()))
    assert len(ranks) == world
    for out in ranks:
        assert out["value"] <= 1e-12, out
        assert out["ddp_grad"] <= 1e-12, out
        assert out["module_grad"] <= 1e-12, out
        assert out["module_step"] == 1
        assert out["accumulated_value"] <= 1e-10, out  # sigreg.Accumulator under DDP, no_sync
        assert out["accumulated_grad"] <= 1e-10, out


@pytest.mark.slow
def test_jax_shard_map_matches_unsharded():
    pytest.importorskip("jax")
    errors = _run("jax_shard_map.py")
    assert set(errors) == {
        f"{loss},check={c},{m}"
        for loss in ("sigreg", "lejepa")
        for c in (True, False)
        for m in ("eager", "jit")
    }
    for key, err in errors.items():
        assert err["value"] <= 1e-10 and err["grad"] <= 1e-10, (key, err)
