"""Statistics of samples along an axis: the shared checks, the functions made from the classes, the ECF.

:func:`function_of` makes the public function of a statistic class (:mod:`sigreg.stats` holds
one per registered statistic); the whole-embedding statistics' functions are in
:mod:`sigreg._api.normality`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from .._backend import dispatch
from .._core import checks, dtypes, slicing
from .._core.statistic import Statistic
from .._statistics import ecf as ecf_module
from .._statistics.epps_pulley import EppsPulley

Array = Any


def samples_along(  # numpydoc ignore=PR01,RT01,EX01,SS06,GL02
    name: str, x: Array, axis: Any, clamp: bool = True
) -> tuple[Any, Array]:
    """(xp, u): the samples along ``axis`` of ``x`` as columns ``u`` (..., N, 1), checked; float32
    clamped where ``t u`` could overflow (not for a statistic free of scale, which scales first)."""
    xp = checks.namespace(name, x)
    if x.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the samples)")
    axis = checks.integer("axis", axis, -x.ndim)
    if axis >= x.ndim:
        raise ValueError(f"axis must be in [-{x.ndim}, {x.ndim}), got {axis}")
    if x.shape[axis] == 0:
        raise ValueError(
            f"{name} must have at least one sample along axis {axis}, got shape {tuple(x.shape)}"
        )
    checks.real_floating(name, x, xp)
    # permute_dims, not moveaxis: torch's moveaxis has no torch.func.vmap batching rule.
    order = (*(i for i in range(x.ndim) if i != axis % x.ndim), axis % x.ndim)
    u = xp.permute_dims(dtypes.as_compute_dtype(x, xp), order)[..., None]
    return xp, (slicing.clamp_to_projectable(u, xp) if clamp else u)


def along_axis(  # numpydoc ignore=PR01,RT01,EX01
    statistic: Statistic, x: Array, axis: Any, name: str = "x"
) -> Array:
    """``statistic`` of the samples along ``axis`` of ``x``, one value per index of the other axes."""
    xp, u = samples_along(name, x, axis, clamp=not statistic.scale_free)
    statistic.check_samples(u.shape[-2], name)
    return dispatch.column_statistics(u, statistic, dispatch.plan(u, xp), None, xp)[..., 0]


# The text every generated function shares (scipy's _axis_nan_policy is the model): the sample
# array and axis, the result, the errors. The rest comes from the statistic's class docstring.
_SAMPLES = """x : array
    Real floating samples along ``axis``{fewest}.
axis : int, default 0
    The sample axis."""
_RETURNS = """Returns
-------
array
    One value per index of the other axes, in ``x``'s library and on its device (float64 stays
    float64, other floating dtypes give float32). Differentiable under PyTorch autograd and JAX
    through the statistic's analytic gradient (almost everywhere, for the rank-based ones).
    Non-finite samples give a non-finite result (nothing is checked on the device)."""
_RAISES = """Raises
------
TypeError
    If {type_errors}.
ValueError
    If {value_errors}."""


def _sections(doc: str) -> tuple[str, str, dict[str, str]]:
    """The summary, the extended description and the sections (by title) of a numpydoc docstring."""
    parts = re.split(r"\n\n(?=[A-Z][A-Za-z ]+\n-+\n)", inspect.cleandoc(doc))
    summary, _, extended = parts[0].partition("\n\n")
    sections = {}
    for part in parts[1:]:
        title, _, body = part.partition("\n")
        sections[title] = body.partition("\n")[2]
    return summary, extended, sections


def _either(conditions: list[str]) -> str:
    return conditions[0] if len(conditions) == 1 else ", ".join(conditions[:-1]) + ", or " + conditions[-1]


def function_doc(cls: type[Statistic]) -> str:  # numpydoc ignore=PR01,RT01,EX01
    """The docstring of ``cls``'s function along an axis, made from the class's own.

    The class's summary names the quantity "of each column" (the function's, "of the samples along
    ``axis``"); its extended description, Parameters (the options) and Examples are the function's.
    """
    summary, extended, sections = _sections(cls.__doc__ or "")
    if " of each column" not in summary:
        raise ValueError(f"{cls.__name__}'s summary must name its quantity 'of each column': {summary!r}")
    quantity = summary.replace(" of each column", " of the samples along ``axis``")
    quantity = "the" + quantity[3:] if quantity.startswith("The ") else quantity
    fewest = cls.min_samples
    options = sections.get("Parameters", "")
    parameters = _SAMPLES.format(fewest=f", at least {fewest}" if fewest > 1 else "")
    too_few = "there is no sample" if fewest == 1 else f"there are fewer than {fewest} samples"
    raises = _RAISES.format(
        type_errors=_either(
            ["``x`` is not a real floating array", *(["an option has the wrong type"] * bool(options))]
        ),
        value_errors=_either(
            [
                "``x`` is 0-d",
                "``axis`` is out of range",
                too_few,
                *(["an option is out of range"] * bool(options)),
            ]
        ),
    )
    blocks = [
        f"Compute {quantity}",
        extended,
        "Parameters\n----------\n" + "\n".join(filter(None, [parameters, options])),
        _RETURNS,
        raises,
        "Examples\n--------\n" + sections["Examples"],
    ]
    return "\n\n".join(block for block in blocks if block) + "\n"


def function_of(cls: type[Statistic]) -> Callable[..., Array]:  # numpydoc ignore=PR01,RT01,EX01
    """The public function of a statistic class: ``cls(**options)`` of the samples along ``axis``.

    Its name is the class's ``name``; its signature ``(x, /, *, axis=0, <the class's options>)``;
    its docstring :func:`function_doc`.
    """
    options = [
        parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
        for parameter in inspect.signature(cls).parameters.values()
    ]
    known = frozenset(parameter.name for parameter in options)

    def function(x: Array, /, *, axis: int = 0, **kwargs: Any) -> Array:  # numpydoc ignore=GL08
        unknown = sorted(set(kwargs) - known)
        if unknown:
            raise TypeError(
                f"{cls.name}() got unexpected keyword argument(s) {', '.join(map(repr, unknown))}; "
                f"its options are {', '.join(sorted(known)) or 'none'}"
            )
        statistic = cls(**kwargs)
        statistic.check_along_axis()
        return along_axis(statistic, x, axis)

    samples = inspect.Parameter("x", inspect.Parameter.POSITIONAL_ONLY)
    axis = inspect.Parameter("axis", inspect.Parameter.KEYWORD_ONLY, default=0, annotation=int)
    function.__signature__ = inspect.Signature([samples, axis, *options])  # type: ignore[attr-defined]
    function.__name__ = function.__qualname__ = cls.name
    function.__doc__ = function_doc(cls)
    function.statistic_class = cls  # type: ignore[attr-defined]  # where its docstring comes from
    return function


epps_pulley = function_of(EppsPulley)


def ecf(x: Array, t: Any, /, *, axis: int = 0) -> tuple[Array, Array]:
    """The empirical characteristic function of the samples along ``axis`` at knots ``t``.

    Parameters
    ----------
    x : array
        Real floating samples along ``axis``.
    t : sequence of float
        The knots (Python numbers, or a 1-D NumPy array), evaluated directly.
    axis : int, default 0
        The sample axis.

    Returns
    -------
    real : array
        ``mean(cos(t_j x))`` over the samples, of shape ``x.shape`` without
        ``axis`` plus ``(len(t),)``.
    imag : array
        ``mean(sin(t_j x))``, of the same shape.

    Raises
    ------
    TypeError
        If ``x`` is not a real floating array or ``t`` holds no real numbers.
    ValueError
        If ``x`` has no sample along ``axis`` or ``t`` is empty or not finite.

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import ecf
    >>> real, imag = ecf(np.array([0.0, np.pi]), [0.0, 1.0])
    >>> np.round(real, 12), np.round(imag, 12)
    (array([1., 0.]), array([0., 0.]))
    """
    knots = checks.finite_reals("t", t)
    xp, u = samples_along("x", x, axis)
    real, imag = ecf_module.direct_ecf(u, knots, xp)
    return real[..., 0, :], imag[..., 0, :]
