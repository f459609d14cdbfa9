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
