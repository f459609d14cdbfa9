"""The statistics along an axis (``sigreg/_api/along_axis.py``): the functions made from the classes
(names, signatures, docstrings), their argument checks, and the ECF."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import sigreg
import sigreg.stats

from ..support import ROOT, asarray, has_float64, to_numpy


def test_epps_pulley_arguments(xp):
    with pytest.raises(ValueError, match="axis must be in"):
        sigreg.epps_pulley(xp.ones((4, 3)), axis=2)
    with pytest.raises(ValueError, match="axis must be >= -2"):
        sigreg.epps_pulley(xp.ones((4, 3)), axis=-3)
    with pytest.raises(ValueError, match="at least one sample along axis 1"):
        sigreg.epps_pulley(xp.ones((4, 0)), axis=1)
    with pytest.raises(ValueError, match="at least one dimension"):
        sigreg.epps_pulley(xp.asarray(1.0))


def _registered_functions():
    return [getattr(sigreg.stats, name) for name in sigreg.stats.available()]


@pytest.mark.parametrize("function", _registered_functions(), ids=lambda f: f.__name__)
def test_generated_docstrings_pass_the_numpydoc_lint(function):
    """What `nox -s lint` checks in the source files, checked on the rendered docstrings of the
    functions that function_of makes (the lint reads source, where they are one line each)."""
    validate = pytest.importorskip("numpydoc.validate", reason="numpydoc is not installed")
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["numpydoc_validation"]
    ignored = set(config["checks"]) - {"all"}
    errors = [(code, text) for code, text in validate.validate(f"sigreg.stats.{function.__name__}")["errors"]]
    assert [e for e in errors if e[0] not in ignored] == []
    assert function.__module__ == "sigreg.stats" and function.__name__ == function.__qualname__


@pytest.mark.parametrize("function", _registered_functions(), ids=lambda f: f.__name__)
def test_generated_signatures_are_the_options_of_the_class(function):
    statistic_class = type(sigreg.stats.get(function.__name__))
    options = list(inspect.signature(statistic_class).parameters)
    parameters = inspect.signature(function).parameters
    assert list(parameters) == ["x", "axis", *options]
    assert parameters["x"].kind is inspect.Parameter.POSITIONAL_ONLY
    assert all(parameters[name].kind is inspect.Parameter.KEYWORD_ONLY for name in ["axis", *options])
    assert "x : array\n    Real floating samples along ``axis``" in function.__doc__
    with pytest.raises(
        TypeError, match=rf"{function.__name__}\(\) got unexpected keyword argument\(s\) 'nope'"
    ):
        function(np.ones(8), nope=1)


def test_the_class_summary_must_name_its_quantity_per_column():
    from sigreg._api.along_axis import function_of

    class Unnamed(sigreg.stats.Statistic):
        """A statistic whose summary says nothing of columns.

        Examples
        --------
        >>> 1
        1
        """

        name = "unnamed"

    with pytest.raises(ValueError, match="summary must name its quantity 'of each column'"):
        function_of(Unnamed)


def test_ecf_takes_any_real_scalar_as_a_knot(xp):
    x = np.random.default_rng(0).standard_normal((30, 2))
    u = asarray(xp, x)
    t = np.array([0.5, 1.25, 2.0])  # exact in float32 too
    expected = (np.cos(t * x[..., None]).mean(axis=0), np.sin(t * x[..., None]).mean(axis=0))
    rtol = 1e-12 if has_float64(xp) else 1e-5
    knot_sets = [
        [0.5, np.float32(1.25), xp.asarray(2.0)],  # Python, NumPy and 0-d arrays of the input's library
        (np.float64(0.5), np.asarray(1.25), 2),
        tuple(np.linspace(0.5, 2.0, 3)),
        asarray(xp, t),  # a 1-D array
    ]
    for knots in knot_sets:
        real, imag = sigreg.stats.ecf(u, knots)
        np.testing.assert_allclose(to_numpy(real), expected[0], rtol=rtol, atol=rtol)
        np.testing.assert_allclose(to_numpy(imag), expected[1], rtol=rtol, atol=rtol)
    with pytest.raises(TypeError, match=r"t\[1\] must be a real number.*got str"):
        sigreg.stats.ecf(u, [0.5, "1"])
    with pytest.raises(TypeError, match=r"t\[0\] must be a real number.*got bool"):
        sigreg.stats.ecf(u, [True])
    with pytest.raises(ValueError, match=r"t\[0\] must be finite, got inf"):
        sigreg.stats.ecf(u, [np.float64(np.inf)])
    with pytest.raises(ValueError, match=r"t must be a non-empty 1-D sequence, got shape \(2, 1\)"):
        sigreg.stats.ecf(u, np.ones((2, 1)))
