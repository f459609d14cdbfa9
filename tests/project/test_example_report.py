"""The digits examples' printed verdict on SIGReg: each sentence agrees with the numbers it prints."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))

import _digits
import _report


def _verdict(text):
    """(value, p-value, claim) parsed back from the sentence under the table."""
    value, p, claim = re.search(r"\nSIGReg (\S+) \(p = ([^,)]+)[^)]*\): (\w+)", text).groups()
    return float(value), float(p), claim


def _check(text, metrics):
    value, p, claim = _verdict(text)
    assert value == pytest.approx(metrics["SIGReg"], rel=1e-3)
    assert p == pytest.approx(metrics["SIGReg p-value"], rel=0.05)
    # "above"/"not": p at most 0.05; "the test embeddings score as N(0, I) data do": p above it.
    assert (claim in ("above", "not")) == (p <= _report.SIGNIFICANT), text
    assert "large: not Gaussian" not in text
    row = next(line for line in text.splitlines() if line.startswith("SIGReg p-value"))
    assert float(row.split()[2]) == pytest.approx(p, rel=0.05)


def test_verdict_follows_the_pvalue_for_every_recipe():
    trained = _digits.Recipe()
    for recipe in (trained, dataclasses.replace(trained, lam=0.0), dataclasses.replace(trained, steps=0)):
        for p in (0.01, 0.04, 0.3, 0.9):
            metrics = {"embedding rank": 20.0, "SIGReg": 6.0 if p < 0.05 else 1.1, "SIGReg p-value": p}
            text = _report.table(metrics, recipe)
            _check(text, metrics)
            assert ("the smallest 99 draws give" in text) == (p == 0.01)
    assert "as expected for a trained encoder" in _report.table(
        {"SIGReg": 6.0, "SIGReg p-value": 0.01}, trained
    )


def test_evaluate_prints_a_true_verdict(monkeypatch):
    # evaluate() on embeddings whose answer is known: N(0, I) rows, and exponential rows.
    monkeypatch.setattr(_digits, "NULL_DRAWS", 19)
    monkeypatch.setattr(_digits, "EVAL_SLICES", 32)
    rng = np.random.default_rng(0)
    rep = rng.standard_normal((120, 4))
    labels = np.arange(120) % 3
    claims = []
    for emb in (rng.standard_normal((300, 8)), rng.exponential(size=(300, 8))):
        metrics = _digits.evaluate(rep, rep, emb, labels, labels)
        text = _report.table(metrics, _digits.Recipe())
        _check(text, metrics)
        claims.append(_verdict(text)[2])
    assert claims[1] == "above"
