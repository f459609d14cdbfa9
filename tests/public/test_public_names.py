"""The framework extras export their public names only: ``dir()`` shows ``__all__``, nothing imported."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(("module", "framework"), [("sigreg.torch", "torch"), ("sigreg.jax", "jax")])
def test_public_listing_is_all(module, framework):
    pytest.importorskip(framework)
    mod = importlib.import_module(module)
    public = sorted(name for name in dir(mod) if not name.startswith("_"))
    assert public == sorted(mod.__all__)
    for name in mod.__all__:
        assert getattr(mod, name).__module__ == module, name  # defined there, not re-exported


@pytest.mark.parametrize("module", ["sigreg", "sigreg.stats", "sigreg.targets"])
def test_public_classes_and_functions_name_their_public_module(module):
    """Reprs, pickles and the docs name the public path, never a private folder (stable across moves)."""
    mod = importlib.import_module(module)
    for name in mod.__all__:
        obj = getattr(mod, name)
        if callable(obj):
            assert obj.__module__ in {module, "sigreg.stats"}, (name, obj.__module__)
            assert getattr(importlib.import_module(obj.__module__), obj.__qualname__) is obj, name


def test_a_pickled_statistic_names_sigreg_stats():
    import pickle

    import sigreg.stats

    for name in sigreg.stats.available():
        statistic = sigreg.stats.get(name)
        data = pickle.dumps(statistic)
        assert b"sigreg.stats" in data and b"sigreg._" not in data, name
        assert pickle.loads(data) == statistic
    hz = sigreg.stats.HenzeZirkler(standardize=False)
    assert pickle.loads(pickle.dumps(hz)) == hz and "sigreg._" not in repr(type(hz))
