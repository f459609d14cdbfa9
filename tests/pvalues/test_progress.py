"""The progress bar of long loops (``sigreg/_pvalues/progress.py``): on a terminal only, after a delay,
closed on KeyboardInterrupt; nothing without tqdm."""

from __future__ import annotations

import importlib
import sys

import numpy as np
import pytest

import sigreg
from sigreg._pvalues import progress, sliced

from ..support import Terminal


def _terminal(monkeypatch):
    """stderr replaced by a terminal (in the test's body: pytest sets its own stderr after setup)."""
    pytest.importorskip("tqdm", reason="tqdm is not installed")
    monkeypatch.setattr(progress, "DELAY", 0.0)
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    return screen


def test_a_long_monte_carlo_null_shows_its_draws_on_a_terminal(monkeypatch):
    terminal = _terminal(monkeypatch)
    monkeypatch.setattr(sliced, "_BATCH_ELEMENTS", 64 * 8)  # 1 draw a batch: 5 updates
    sliced._CACHE.clear()
    z = np.random.default_rng(0).standard_normal((64, 3))
    sigreg.test(z, num_slices=8, method="monte_carlo", n_resamples=5)
    assert "Monte Carlo null" in terminal.text and "5/5" in terminal.text, terminal.text


def test_nothing_off_a_terminal_or_without_tqdm(capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.0)
    with progress.Progress(3, "loop", "step") as bar:
        bar.update(3)
    assert capsys.readouterr().err == ""  # pytest's stderr is no terminal
    monkeypatch.setattr(sys, "stderr", Terminal())
    real = importlib.import_module

    def without_tqdm(name, *args):
        if name == "tqdm":
            raise ImportError("no tqdm")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_tqdm)
    with progress.Progress(3, "loop", "step") as bar:
        assert bar.bar is None
        bar.update(3)
    assert sys.stderr.text == ""
    with progress.Progress(3, "loop", "step", enabled=False) as bar:
        assert bar.bar is None


def test_interrupted_null_closes_its_bar_and_caches_nothing(monkeypatch):
    """KeyboardInterrupt in the third batch: the bar is closed, no partial null is cached, and the
    next call gives what a fresh process gives."""
    terminal = _terminal(monkeypatch)
    monkeypatch.setattr(sliced, "_BATCH_ELEMENTS", 64 * 8)
    z = np.random.default_rng(1).standard_normal((64, 3))
    kw = dict(num_slices=8, method="monte_carlo", n_resamples=6, seed=4)
    sliced._CACHE.clear()
    expected = sigreg.test(z, **kw)
    sliced._CACHE.clear()
    calls = [0]
    real = sliced.regulariser.sigreg

    def interrupted(*args, **kwargs):
        calls[0] += 1
        if calls[0] == 4:  # the data's statistic, then two batches of the null
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(sliced.regulariser, "sigreg", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sigreg.test(z, **kw)
    assert len(sliced._CACHE) == 0
    assert terminal.text.endswith("\n"), terminal.text  # closed: the line is finished
    monkeypatch.setattr(sliced.regulariser, "sigreg", real)
    again = sigreg.test(z, **kw)
    assert float(again.pvalue) == float(expected.pvalue)
    np.testing.assert_array_equal(again.slice_pvalues, expected.slice_pvalues)
