"""`sigreg check`: value and gradient on every installed backend, within tolerance."""

from __future__ import annotations

import json

from ..support import run_cli as _run_cli


def test_check_json_rows_within_tolerance():
    out = _run_cli("check", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert {r["backend"] for r in rows} >= {"numpy"}
    for r in rows:
        assert r["ok"] and r["max_rel_dev"] <= (1e-10 if r["dtype"] == "float64" else 1e-4), r
