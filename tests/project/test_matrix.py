"""The backend matrix itself: backend files, the gpu session's skip path, CI's session table, uv."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from ..support import BACKENDS

ROOT = Path(__file__).parents[2]


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


def _pins(lock_text: str) -> dict[str, str]:
    lines = [line for line in lock_text.splitlines() if "==" in line and not line.startswith("#")]
    return {_name(line.split("==")[0]): line.split("==")[1].strip() for line in lines}


def _name(requirement: str) -> str:
    """The canonical name of a requirement (``dask[array]>=2024.8`` -> ``dask``)."""
    return re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_the_lock_pins_everything_the_sessions_install():
    # A release upstream cannot change the matrix: every requirement of every session has an exact
    # version in backends/lock.txt, and every install goes through the lock (noxfile's _install).
    pytest.importorskip("nox")
    requirements = _after_loading_the_noxfile("noxfile['locked_requirements']()", dict(os.environ))
    pins = _pins((ROOT / "backends" / "lock.txt").read_text())
    unpinned = sorted(r for r in requirements if _name(r) not in pins and _name(r) != "sigreg")
    assert not unpinned, f"not in backends/lock.txt (run `nox -s lock`): {unpinned}"
    assert pins["torch"].startswith("2.13.0")  # the CPU wheel on this workplace's disk
    noxfile = (ROOT / "noxfile.py").read_text()
    assert noxfile.count("session.install(") == 1, "every session installs through _install (the lock)"


def test_latest_reports_what_moved_from_the_lock():
    pytest.importorskip("nox")
    lock = "# header\nnumpy==2.4.6\n    # via sigreg\njax==0.10.2\narray-api-compat==1.12\n"
    installed = {"numpy": "2.4.6", "jax": "0.11.0", "Array_API_Compat": "1.12", "newcomer": "1.0"}
    expression = f"noxfile['_moved_from_the_lock']({installed!r}, {lock!r})"
    assert _after_loading_the_noxfile(expression, dict(os.environ)) == [
        "jax 0.10.2 -> 0.11.0",
        "newcomer (new) 1.0",
    ]
