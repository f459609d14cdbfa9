"""Argument checks: every bad input raises before any work, naming the argument."""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Sequence
from typing import Any

from . import arrays

REDUCTIONS = ("mean", "sum", "none")
# Counter-based draws index entries by one int32 counter (sigreg._core.draws).
MAX_COUNTER = 2**31 - 1
_NUMPY_SUBCLASSES = ("matrix", "MaskedArray")


def namespace(name: str, x: Any) -> Any:
    """The array-API namespace of ``x``; a TypeError naming ``name`` if it is no array."""
    xp = arrays.namespace(x)
    if xp is None:
        raise TypeError(
            f"{name} must be an array (NumPy, CuPy, PyTorch, JAX or array-api-strict), got {type(x).__name__}"
        )
    if arrays.library(x) == "numpy" and type(x).__name__ in _NUMPY_SUBCLASSES:
        # np.matrix multiplies with *, and masked arrays would be computed with their masked values.
        raise TypeError(
            f"{name} must be a plain NumPy array, got {type(x).__module__}.{type(x).__name__} "
            "(convert it with numpy.asarray, after filling or dropping masked values)"
        )
    return xp


def array_namespace(name: str, xp: Any) -> Any:
    """The array-API-compatible namespace for a namespace ``xp`` given by the user."""
    empty = getattr(xp, "empty", None)
    found = arrays.namespace(empty(0)) if callable(empty) and hasattr(xp, "__name__") else None
    if found is None:
        raise TypeError(
            f"{name} must be an array namespace (a module such as numpy, torch, jax.numpy, cupy or "
            f"array_api_strict), got {xp!r}"
        )
    return found


def is_real_floating_dtype(dtype: Any, xp: Any) -> bool:
    try:
        return bool(xp.isdtype(dtype, "real floating"))
    except (TypeError, ValueError):  # not a dtype of this library
        return False


def same_library(names: tuple[str, str], a: Any, b: Any) -> Any:
    xp = namespace(names[0], a)
    if namespace(names[1], b) is not xp:
        raise TypeError(
            f"{names[0]} and {names[1]} must come from the same array library, got "
            f"{type(a).__module__}.{type(a).__name__} and {type(b).__module__}.{type(b).__name__}"
        )
    return xp


def same_device(names: tuple[str, str], a: Any, b: Any) -> None:
    da, db = arrays.device(a), arrays.device(b)
    if da is not None and db is not None and da != db:  # None: traced, no fixed device
        raise ValueError(f"{names[0]} and {names[1]} must be on the same device, got {da} and {db}")


def real_floating(name: str, x: Any, xp: Any) -> None:
    if not xp.isdtype(x.dtype, "real floating"):
        raise TypeError(f"{name} must have a real floating-point dtype, got {x.dtype}")


def embeddings(name: str, z: Any, xp: Any) -> None:
    """``z`` of shape (..., N, D) with N >= 1 and D >= 1 and a real floating dtype."""
    if z.ndim < 2:
        raise ValueError(
            f"{name} must have shape (..., N, D) with at least 2 dimensions, got shape {tuple(z.shape)}"
        )
    if z.shape[-2] == 0 or z.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one sample and one feature, got shape {tuple(z.shape)}")
    if any(s == 0 for s in z.shape[:-2]):
        raise ValueError(f"{name} must have non-empty batch axes, got shape {tuple(z.shape)}")
    real_floating(name, z, xp)


def integer(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    number = operator.index(value)
    if number < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {number}")
    return number


def positive_finite(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise ValueError(f"{name} must be positive and finite, got {number}")
    return number


def choice(name: str, value: Any, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def boolean(name: str, value: Any) -> bool:
    # numpy.bool_ and 0/1 are refused too: a flag is True or False.
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {type(value).__name__}")
    return value


def unit_interval(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {number}")
    return number


def seed(value: Any, xp: Any | None) -> Any:
    """A non-negative Python int below 2**64, or a 0-d integer array of ``xp``'s library.

    NumPy integer scalars and 0-d NumPy arrays given for another library are read
    on the host (no device sync). Negative values inside arrays cannot be checked
    without a sync; they are taken modulo 2**64.
    """
    sxp = None if isinstance(value, numbers.Integral) else arrays.namespace(value)
    if sxp is not None:
        if arrays.library(value) == "numpy" and (xp is None or arrays.library(xp.empty(0)) != "numpy"):
            if value.ndim == 0 and value.dtype.kind in "iu":
                return seed(int(value), xp)
        else:
            if value.ndim != 0:
                raise ValueError(f"seed must be a 0-d array, got shape {tuple(value.shape)}")
            if not sxp.isdtype(value.dtype, "integral"):
                raise TypeError(f"seed must have an integer dtype, got {value.dtype}")
            if xp is not None and sxp is not xp:
                raise TypeError("seed must be a Python int or an array of the same library as z")
            return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"seed must be a Python int or a 0-d integer array, got {type(value).__name__}")
    value = operator.index(value)
    if not 0 <= value < 2**64:
        raise ValueError(f"seed must be in [0, 2**64), got {value}")
    return value


def real_scalar(name: str, value: Any) -> float:
    """A finite real number as a float: a Python or NumPy scalar, or a 0-d real array of any
    library (copied to the host: knots and parameters are configuration, not traced values)."""
    if type(value) is not float and (isinstance(value, bool) or not isinstance(value, numbers.Real)):
        xp = None if isinstance(value, bool) else arrays.namespace(value)
        array: Any = value
        if xp is None or array.ndim != 0 or not xp.isdtype(array.dtype, ("real floating", "integral")):
            raise TypeError(
                f"{name} must be a real number (a Python or NumPy scalar or a 0-d real array), "
                f"got {type(value).__name__}"
            )
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {number}")
    return number


def finite_reals(name: str, values: Any, empty: bool = False) -> tuple[float, ...]:
    """A non-empty (or, with ``empty``, any) sequence of finite real numbers as floats: each a
    Python or NumPy scalar or a 0-d real array, or a 1-D real array of any library."""
    if not isinstance(values, (tuple, list)):  # tuples first: a compiled step's knots trace as they are
        if arrays.namespace(values) is not None:
            if values.ndim != 1 or (values.shape[0] == 0 and not empty):
                raise ValueError(f"{name} must be a non-empty 1-D sequence, got shape {tuple(values.shape)}")
            return tuple(real_scalar(f"{name}[{i}]", values[i]) for i in range(values.shape[0]))
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"{name} must be a sequence of real numbers, got {type(values).__name__}")
    if len(values) == 0 and not empty:
        raise ValueError(f"{name} must be a non-empty 1-D sequence, got {values!r}")
    return tuple(real_scalar(f"{name}[{i}]", v) for i, v in enumerate(values))


def count_fits(name: str, count: int, per: int, context: str) -> None:
    """``count`` draws of ``per`` numbers each fit in sigreg's one 32-bit counter (draws.py).

    The message names the caller's argument ``name`` and its largest value; ``context`` says what
    ``per`` is (e.g. "for z of dimension D=64")."""
    if count * per > MAX_COUNTER:
        raise ValueError(
            f"{name} must be at most {MAX_COUNTER // per} {context} (the draws are numbered by one "
            f"32-bit counter), got {count}"
        )


def generator(seed_value: Any, xp: Any, device: Any, dtype: Any) -> tuple[Any, Any, Any]:
    """The namespace, seed and dtype of a call that draws arrays (``sigreg.directions``, a
    target's ``sample``): ``xp`` given, else that of an array seed, else NumPy's; the seed
    checked; ``dtype`` a real floating dtype of ``xp``, by default its own."""
    if xp is None and not isinstance(seed_value, int):
        xp = arrays.namespace(seed_value)
    if xp is None:
        import array_api_compat.numpy as xp  # the public default
    else:
        xp = array_namespace("xp", xp)
    seed_value = seed(seed_value, xp)
    if dtype is None:
        dtype = xp.__array_namespace_info__().default_dtypes(device=device)["real floating"]
    elif not is_real_floating_dtype(dtype, xp):
        raise TypeError(f"dtype must be a real floating dtype of {xp.__name__}, got {dtype!r}")
    return xp, seed_value, dtype


def slicing(
    name: str, z: Any, xp: Any, directions: Any, num_slices: Any, seed_value: Any
) -> tuple[Any, Any, Any]:
    """The slice arguments of a sliced function of ``z`` (checked ``xp``): ``directions`` of
    ``z``'s library, device and D, or else ``num_slices`` and ``seed``. Returns ``xp`` (that
    of both arrays), ``num_slices`` and ``seed``, checked."""
    if directions is not None:
        namespace("directions", directions)
        xp = same_library((name, "directions"), z, directions)
        same_device((name, "directions"), z, directions)
        real_floating("directions", directions, xp)
        directions_shape(name, z.shape, directions)
    else:
        num_slices = integer("num_slices", num_slices, 1)
        count_fits("num_slices", num_slices, z.shape[-1], f"for {name} of dimension D={z.shape[-1]}")
        seed_value = seed(seed_value, xp)
    return xp, num_slices, seed_value


def directions_shape(name: str, shape: tuple[int, ...], directions: Any) -> None:
    """``directions`` is (D, K) with K >= 1 for embeddings ``name`` of ``shape`` (..., N, D)."""
    dim = shape[-1]
    if directions.ndim != 2 or directions.shape[0] != dim or directions.shape[1] == 0:
        raise ValueError(
            f"directions must have shape (D, K) = ({dim}, K) with K >= 1 to match {name} of "
            f"shape {tuple(shape)}, got shape {tuple(directions.shape)}"
        )
