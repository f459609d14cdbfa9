"""The Python examples in docs/**/*.md and README.md run as written (each in a fresh process), and so
do their shell commands (here, or in the test named for them in ``ELSEWHERE``).

A README example that uses names of the reader's own code (an encoder, a data loader) runs after
the smallest stand-ins for them (``STAND_INS``), chosen by a pattern of the example; they give
the shapes the example says (embeddings of shape (V, N, D)).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
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
PAGES = [
    path
    for path in sorted((ROOT / "docs").rglob("*.md"))
    if not path.relative_to(ROOT / "docs").parts[0].startswith("_")
] + [ROOT / "README.md"]
EXAMPLES = [
    pytest.param(code, id=f"{path.stem}-{i}")
    for path in PAGES
    for i, code in enumerate(BLOCK.findall(path.read_text()))
]
# (a pattern of the example, the code that runs before it): the reader's own objects, as small as
# they come, with the shapes the example states.
STAND_INS = [
    (
        "enumerate(loader)",  # README, PyTorch: 2 global and 6 local views of N samples
        "import torch\n"
        "N, D = 16, 8\n"
        "encoder = torch.nn.Linear(4, D)\n"
        "loader = [(torch.randn(2 * N, 4), torch.randn(6 * N, 4)) for _ in range(2)]\n",
    ),
    (
        "apply(params, x)",  # README, JAX: apply returns (V, N, D)
        "import jax.numpy as jnp\n"
        "params = jnp.ones((4, 8))\n"
        "x = jnp.ones((2, 16, 4))  # 2 views of 16 inputs of 4 features\n"
        "step = 3\n"
        "def apply(params, x):\n"
        "    return x @ params  # (V, N, D) = (2, 16, 8)\n",
    ),
]


def _with_stand_ins(code: str) -> str:
    return "".join(prelude for pattern, prelude in STAND_INS if pattern in code) + code


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
    script.write_text(_with_stand_ins(code))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MASTER_PORT": _free_port(), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-4000:]


def test_docs_have_examples():
    assert len(EXAMPLES) >= 2
    readme = [p for p in EXAMPLES if p.id.startswith("README-")]
    assert len(readme) >= 3
    # Each stand-in serves an example of the README (none left over from an example that changed).
    for pattern, _ in STAND_INS:
        assert any(pattern in p.values[0] for p in readme), pattern


# The command lines of the shell examples (comments dropped), with their pages.
SHELL = re.compile(r"```bash\n(.*?)```", re.DOTALL)
SHELL_COMMANDS = [
    (path.name, command)
    for path in PAGES
    for block in SHELL.findall(path.read_text())
    for line in block.splitlines()
    if (command := re.sub(r"(^|\s)#.*", "", line).strip())
]
# Commands run elsewhere, and where. Tests do not install (that would change the environment they run
# in): CI runs the README's test command as written (.ci/run), and a test runs what the demo's install
# is followed by.
ELSEWHERE = {
    "python3 -m pip install -e . && python3 -m sigreg": (
        "tests/public/test_demo.py::test_demo_unfolds_the_cloud_and_prints_the_backend_table"
    ),
    'python3 -m pip install --quiet --upgrade "nox[uv]>=2025.2.9" && python3 -m nox': ".ci/run",
    "sigreg check --json": "tests/cli/test_check.py::test_check_json_rows_within_tolerance",
}
SHELL_HERE = sorted({command for _, command in SHELL_COMMANDS} - set(ELSEWHERE))


def test_shell_commands_run_elsewhere_are_run_there():
    commands = {command for _, command in SHELL_COMMANDS}
    assert set(ELSEWHERE) <= commands, set(ELSEWHERE) - commands  # none left from a changed page
    for command, where in ELSEWHERE.items():
        path, _, test = where.partition("::")
        text = (ROOT / path).read_text()
        if test:
            assert f"def {test}(" in text, where
        else:
            assert command in text, f"{path} does not run {command!r}"


@pytest.mark.slow
@pytest.mark.parametrize("command", SHELL_HERE)
def test_shell_example_runs(command, tmp_path):
    """With ``sigreg``, ``python`` and ``python3`` this interpreter and this tree, and the stand-in
    the commands name: ``embeddings.npy``, N(0, I) rows (so ``--alpha 0.01`` passes)."""
    np.save(tmp_path / "embeddings.npy", np.random.default_rng(0).standard_normal((1000, 16)))
    python = f'"{sys.executable}"'
    prelude = (
        f'sigreg() {{ {python} -m sigreg "$@"; }}\n'
        f'python() {{ {python} "$@"; }}\n'
        f'python3() {{ {python} "$@"; }}\n'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        ["bash", "-c", prelude + command], cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0, (command, out.stdout[-2000:], out.stderr[-2000:])
