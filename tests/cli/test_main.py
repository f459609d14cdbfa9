"""`python -m sigreg`: its subcommands, the demo by default, and an import that loads no framework."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ..support import ROOT
from ..support import run_cli as _run_cli


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
