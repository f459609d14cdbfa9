"""Public names report their public home, not the private module that defines them."""

from __future__ import annotations

from typing import Any


def rehome(namespace: dict[str, Any], module: str) -> None:
    """Set ``__module__`` of the classes and functions of ``namespace["__all__"]`` defined under a
    private module to ``module``, the public one that exports them.

    Reprs, pickles and the docs then name ``sigreg.stats.EppsPulley``, which stays valid however the
    private modules move (pickle finds a class by ``__module__`` and ``__qualname__``).
    """
    for name in namespace["__all__"]:
        obj = namespace[name]
        if isinstance(obj, type) or callable(obj):
            if getattr(obj, "__module__", "").startswith("sigreg._"):
                obj.__module__ = module
