"""Statistics by name: what ``statistic="..."`` resolves to."""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from .._core.statistic import Statistic, as_statistic
from . import targets
from .edf import AndersonDarling, CramerVonMises, Watson
from .epps_pulley import EppsPulley
from .moments import JarqueBera, Moments
from .order import Entropy, ShapiroWilk, Wasserstein

_STATISTICS: dict[str, type] = {}
# Option names per class, computed at registration: resolve() then only looks
# them up (torch.compile traces it, and cannot trace dataclasses.fields).
_OPTIONS: dict[type, tuple[str, ...]] = {}


def register(cls: type) -> type:
    """Register a statistic class under its ``name`` (usable as a class decorator)."""
    if not isinstance(cls, type) or not issubclass(cls, Statistic):
        raise TypeError(f"{cls!r} is not a subclass of sigreg.stats.Statistic (which declares every hook)")
    name = cls.name if "name" in dir(cls) else None  # declared by the class, not the base
    if not isinstance(name, str) or not name:
        raise TypeError(f"a statistic class needs a non-empty string attribute 'name', got {name!r}")
    _STATISTICS[name] = cls
    _OPTIONS[cls] = _option_names(cls)
    return cls


def names() -> tuple[str, ...]:
    """The registered names."""
    return tuple(_STATISTICS)


def resolve(statistic: Any, options: dict[str, Any]) -> Statistic:
    """A Statistic from a registered name and its options, or a Statistic instance as it is."""
    if isinstance(statistic, str):
        cls = _STATISTICS.get(statistic)
        if cls is None:
            raise ValueError(
                f"statistic must be one of {', '.join(map(repr, _STATISTICS))}; got {statistic!r}"
            )
        known = _OPTIONS[cls]
        options = _without_normal_target(statistic, known, options)
        unknown = sorted(set(options) - set(known))
        if unknown:
            names = ", ".join(map(repr, unknown))
            raise TypeError(
                f"unexpected keyword argument(s) {names} for statistic {statistic!r}; "
                f"its options are {', '.join(known) or 'none'}"
            )
        made: Statistic = cls(**options)
        return made
    resolved = as_statistic(statistic)
    if options:
        raise TypeError(
            f"options {', '.join(map(repr, sorted(options)))} can only be given with a statistic name; "
            f"{statistic!r} already holds its options"
        )
    return resolved


def _without_normal_target(statistic: str, known: tuple[str, ...], options: dict[str, Any]) -> dict[str, Any]:
    """Options without ``target`` for a statistic that has none, if the target is N(0, 1) (every
    statistic tests that); any other target is refused naming both."""
    if "target" not in options or "target" in known:
        return options
    target = targets.resolve("target", options["target"])
    if not targets.is_normal(target):
        with_targets = [name for name, cls in _STATISTICS.items() if "target" in _OPTIONS[cls]]
        raise ValueError(
            f"statistic {statistic!r} cannot use target={target!r}: it tests against N(0, 1) only; "
            f"statistics with a target= option: {', '.join(map(repr, with_targets))}"
        )
    return {k: v for k, v in options.items() if k != "target"}


def _option_names(cls: type) -> tuple[str, ...]:
    if dataclasses.is_dataclass(cls):
        return tuple(f.name for f in dataclasses.fields(cls) if f.init)
    params = list(inspect.signature(cls).parameters.values())
    return tuple(p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


for _cls in (
    EppsPulley,
    AndersonDarling,
    CramerVonMises,
    Watson,
    ShapiroWilk,
    JarqueBera,
    Moments,
    Entropy,
    Wasserstein,
):
    register(_cls)
