"""The Python examples in docs/**/*.md run as written (each in a fresh process)."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
# An example that imports one of these skips where it is not installed.
OPTIONAL = (
    "torch",
    "jax",
    "optax",
    "cupy",
    "array_api_strict",
    "dask",
    "distributed",
    "lightning",
    "equinox",
)
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
EXAMPLES = [
    pytest.param(code, id=f"{path.stem}-{i}")
    for path in sorted((ROOT / "docs").rglob("*.md"))
    if not path.relative_to(ROOT / "docs").parts[0].startswith("_")
    for i, code in enumerate(BLOCK.findall(path.read_text()))
]


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("code", EXAMPLES)
def test_example_runs(code, tmp_path):
    for module in OPTIONAL:
        if re.search(rf"^(import|from) {module}\b", code, re.MULTILINE):
            pytest.importorskip(module, reason=f"the example needs {module}")
    script = tmp_path / "example.py"
    script.write_text(code)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_PORT": _free_port(), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-4000:]


def test_docs_have_examples():
    assert len(EXAMPLES) >= 2
