"""Target laws of the statistics other than N(0, I): product laws and the uniform law on a sphere.

A product target has i.i.d. coordinates of a 1-D law with characteristic function ``psi``; the
projection ``a . X`` onto a unit direction then has the CF ``psi_a(t) = prod_d psi(a_d t)``,
which depends on the direction (:meth:`ProductTarget.projection_cf`). :class:`Sphere` is rotation
invariant: one CF for every direction, a Bessel function of ``t sqrt(D)``.

Each target gives its CF in float64 on the host at given knots (``cf``) and as array operations
at any arguments (``cf_arrays``), and draws samples with sigreg's counter-based generator (32-bit
integer hashes: the same numbers on every backend, up to float rounding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from .._core import checks, draws
from .._core.arrays import constant as _constant
from .._core.arrays import device as _device
from . import target_tables

Array = Any


def _uniforms(n: int, d: int, keys: list[Any], xp: Any, device: Any, dtype: Any) -> tuple[Array, Array]:
    """Two (n, d) arrays of uniforms in (0, 1); entry (i, j) from the counter ``i * d + j``."""
    k1, k2, k3, k4 = keys
    i = xp.arange(n, dtype=xp.int32, device=device)
    j = xp.arange(d, dtype=xp.int32, device=device)
    counter = i[:, None] * d + j[None, :]

    def uniform(h: Array) -> Array:
        # 23 random bits to (m + 1/2) / 2**23: exact in float32 and float64, never 0 or 1.
        return xp.astype((h >> 9) & 0x7FFFFF, dtype) * 2.0**-23 + 2.0**-24

    return uniform(draws.hash32(counter, k1, k2)), uniform(draws.hash32(counter, k3, k4))


class Target:
    """A target law of the embeddings: N(0, I) unless stated otherwise.

    Attributes
    ----------
    name : str
        The name it is accepted under (``target="laplace"``).

    Examples
    --------
    >>> from sigreg.targets import Laplace, Target
    >>> isinstance(Laplace(), Target)
    True
    """

    name: ClassVar[str] = ""
    product: ClassVar[bool] = True  # i.i.d. coordinates (else: rotation invariant, Sphere)

    def sample(
        self, n: int, d: int, *, seed: int | Array = 0, xp: Any = None, device: Any = None, dtype: Any = None
    ) -> Array:
        """Draw ``n`` points of dimension ``d`` from the target.

        Parameters
        ----------
        n : int
            Number of points (rows), at least 1.
        d : int
            Dimension (columns), at least 1.
        seed : int or array, default 0
            As for :func:`sigreg.directions`: the same seed gives the same numbers on every
            backend and device (up to float rounding).
        xp : array namespace, optional
            Library of the result; default: that of an array ``seed``, else NumPy.
        device : optional
            Device of the result.
        dtype : optional
            A real floating dtype; default: ``xp``'s default float dtype.

        Returns
        -------
        array of shape (n, d)
            The draws.

        Raises
        ------
        TypeError, ValueError
            If an argument has the wrong type or is out of range.

        Examples
        --------
        >>> import numpy as np
        >>> from sigreg.targets import Uniform
        >>> x = Uniform().sample(20000, 2, seed=1)
        >>> x.shape, bool(abs(np.var(x) - 1.0) < 0.05)
        ((20000, 2), True)
        """
        n = checks.integer("n", n, 1)
        d = checks.integer("d", d, 1)
        checks.count_fits("n", n, d, f"for d={d}")
        xp, seed, dtype = checks.generator(seed, xp, device, dtype)
        keys = draws.seed_keys(seed, xp, device)
        return self.draw(n, d, keys, xp, device, dtype)

    def draw(
        self, n: int, d: int, keys: list[Any], xp: Any, device: Any, dtype: Any
    ) -> Array:  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
        """The checked body of :meth:`sample` (arguments already validated)."""
        u1, u2 = _uniforms(n, d, keys, xp, device, dtype)
        return self.from_uniforms(u1, u2, xp)

    def from_uniforms(
        self, u1: Array, u2: Array, xp: Any
    ) -> Array:  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
        """Coordinates from two independent uniform arrays in (0, 1)."""
        raise NotImplementedError

    def __repr__(self) -> str:  # numpydoc ignore=GL08
        return f"{type(self).__name__}()"


class ProductTarget(Target):
    """A target with i.i.d. coordinates of one 1-D law with CF ``psi`` (``product = True``).

    Examples
    --------
    >>> from sigreg.targets import Laplace
    >>> re, im = Laplace().cf((0.0, 1.0))
    >>> re, im
    ((1.0, 0.6666666666666666), (0.0, 0.0))
    """

    symmetric: ClassVar[bool] = True  # psi is real (the law is symmetric about 0)

    def cf(self, t: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """The 1-D CF ``psi`` at ``t`` in float64.

        Parameters
        ----------
        t : tuple of float
            Arguments.

        Returns
        -------
        re : tuple of float
            The real part of ``psi(t)``.
        im : tuple of float
            Its imaginary part (zeros for a symmetric law).

        Examples
        --------
        >>> from sigreg.targets import Uniform
        >>> round(Uniform().cf((1.0,))[0][0], 6)  # sin(sqrt(3)) / sqrt(3)
        0.569699
        """
        raise NotImplementedError

    def cf_arrays(  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
        self, s: Array, xp: Any, table: Any
    ) -> tuple[Array, Array | None]:  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
        """``psi(s)`` as array operations: (real part, imaginary part or None when psi is real).

        Tabulated laws interpolate ``table`` (:meth:`table`, cubic, four points); closed forms
        override it and ignore ``table``.
        """
        raise NotImplementedError

    def table(self, bound: float) -> Any:  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
        """The float64 table of :meth:`cf` on ``[0, bound]`` that :meth:`cf_arrays` interpolates,
        or None for a closed form. Host work (quadrature): made before any trace, and passed in.
        Raises ValueError, naming the target, where it cannot be made to 1e-9 in its budget."""
        try:
            return target_tables.cf_table(self.cf, bound if bound > 0.0 else 1.0, self.table_scale())
        except target_tables.OutOfReach as error:
            raise ValueError(f"{self!r} with knots up to {bound}: {error}; use a smaller t_max") from None

    def table_scale(self) -> float:  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
        """The grading of :meth:`table`: knots ``scale * expm1(k h)``, about ``1 / E[X^4]^(1/4)``."""
        return 1.0

    def projection_cf(
        self, directions: Array, t: tuple[float, ...], xp: Any, table: Any = None
    ) -> tuple[Array, Array]:
        """``psi_a(t_j) = prod_d psi(a_d t_j)`` for each column ``a`` of ``directions`` (D, K).

        Parameters
        ----------
        directions : array of shape (D, K)
            Directions; each column is normalised to unit length first (the statistic tests the
            projection's shape, as N(0, 1) is tested for unit directions).
        t : tuple of float
            Knots.
        xp : namespace
            The namespace of ``directions``.
        table : optional
            ``self.table(max |t|)``, made beforehand (the statistic makes it at construction, so
            that no quadrature runs under a trace); made here if not given.

        Returns
        -------
        re : array of shape (K, len(t))
            The real part (O(D K len(t)) work and memory).
        im : array of shape (K, len(t))
            The imaginary part.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.targets import Laplace
        >>> re, im = Laplace().projection_cf(np.eye(2), (1.0,), xp)  # axis directions: psi itself
        >>> re.tolist()
        [[0.6666666666666666], [0.6666666666666666]]
        """
        t = checks.finite_reals("t", t)
        a = directions / xp.sqrt(xp.sum(directions * directions, axis=0, keepdims=True))
        knots = _constant(t, a, xp)
        s = a[:, :, None] * knots  # (D, K, J)
        if table is None:
            table = self.table(max(abs(tj) for tj in t))
        re, im = self.cf_arrays(s, xp, table)
        if im is None:
            return xp.prod(re, axis=0), xp.zeros(re.shape[1:], dtype=re.dtype, device=_device(re))
        # A product of complex numbers: moduli multiply, phases add.
        modulus = xp.prod(xp.sqrt(re * re + im * im), axis=0)
        phase = xp.sum(xp.atan2(im, re), axis=0)
        return modulus * xp.cos(phase), modulus * xp.sin(phase)

    def _tabulated(self, s: Array, table: Any, xp: Any) -> tuple[Array, Array | None]:
        """Cubic (four-point Lagrange) interpolation of the float64 table of :meth:`cf`, in
        ``log1p(|s| / scale)`` (``target_tables.interpolate`` is the same on the host)."""
        scale, h, re_table, im_table = table
        x = xp.log1p(xp.abs(s) / scale) / h
        base = xp.clip(xp.floor(x) - 1.0, 0.0, float(len(re_table) - 4))
        p = x - base  # in [0, 3] where the stencil base .. base + 3 holds x
        weights = (
            -(p - 1.0) * (p - 2.0) * (p - 3.0) / 6.0,
            p * (p - 2.0) * (p - 3.0) / 2.0,
            -p * (p - 1.0) * (p - 3.0) / 2.0,
            p * (p - 1.0) * (p - 2.0) / 6.0,
        )
        index = xp.reshape(xp.astype(base, xp.int32), (-1,))

        def interpolate(table: tuple[float, ...]) -> Array:
            values = _constant(table, s, xp)
            out = xp.zeros_like(s)
            for k, w in enumerate(weights):
                out = out + w * xp.reshape(xp.take(values, index + k), s.shape)
            return out

        re = interpolate(re_table)
        if self.symmetric:
            return re, None
        return re, xp.sign(s) * interpolate(im_table)


@dataclass(frozen=True, repr=False)
class Normal(ProductTarget):
    """The standard normal N(0, I): the default target (the statistics' own path, no extra work).

    Examples
    --------
    >>> from sigreg.targets import Normal
    >>> Normal()
    Normal()
    """

    name: ClassVar[str] = "normal"

    def cf(self, t: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:  # numpydoc ignore=GL08
        t = checks.finite_reals("t", t, empty=True)
        return tuple(math.exp(-0.5 * x * x) for x in t), tuple(0.0 for _ in t)

    def cf_arrays(self, s: Array, xp: Any, table: Any) -> tuple[Array, Array | None]:  # numpydoc ignore=GL08
        return xp.exp(-0.5 * s * s), None

    def table(self, bound: float) -> Any:  # numpydoc ignore=GL08
        return None

    def from_uniforms(self, u1: Array, u2: Array, xp: Any) -> Array:  # numpydoc ignore=GL08
        return xp.sqrt(-2.0 * xp.log(u1)) * xp.cos((2.0 * math.pi) * u2)


@dataclass(frozen=True, repr=False)
class Laplace(ProductTarget):
    """I.i.d. Laplace coordinates of unit variance (scale ``1/sqrt(2)``): ``psi(t) = 1 / (1 + t^2/2)``.

    Examples
    --------
    >>> from sigreg.targets import Laplace
    >>> Laplace().cf((2.0,))[0]
    (0.3333333333333333,)
    """

    name: ClassVar[str] = "laplace"

    def cf(self, t: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:  # numpydoc ignore=GL08
        t = checks.finite_reals("t", t, empty=True)
        return tuple(1.0 / (1.0 + 0.5 * x * x) for x in t), tuple(0.0 for _ in t)

    def cf_arrays(self, s: Array, xp: Any, table: Any) -> tuple[Array, Array | None]:  # numpydoc ignore=GL08
        return 1.0 / (1.0 + 0.5 * s * s), None

    def table(self, bound: float) -> Any:  # numpydoc ignore=GL08
        return None

    def from_uniforms(self, u1: Array, u2: Array, xp: Any) -> Array:  # numpydoc ignore=GL08
        # Exponential magnitude, random sign: both exact from 23-bit uniforms in (0, 1).
        sign = 2.0 * xp.astype(u2 >= 0.5, u2.dtype) - 1.0
        return sign * (-math.sqrt(0.5)) * xp.log(u1)


@dataclass(frozen=True, repr=False)
class Uniform(ProductTarget):
    """I.i.d. uniform coordinates on ``[-sqrt(3), sqrt(3)]`` (unit variance).

    ``psi(t) = sin(sqrt(3) t) / (sqrt(3) t)``.

    Examples
    --------
    >>> from sigreg.targets import Uniform
    >>> Uniform().cf((0.0,))[0]
    (1.0,)
    """

    name: ClassVar[str] = "uniform"

    def cf(self, t: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:  # numpydoc ignore=GL08
        t = checks.finite_reals("t", t, empty=True)
        r3 = math.sqrt(3.0)
        return tuple(1.0 if x == 0.0 else math.sin(r3 * x) / (r3 * x) for x in t), tuple(0.0 for _ in t)

    def cf_arrays(self, s: Array, xp: Any, table: Any) -> tuple[Array, Array | None]:  # numpydoc ignore=GL08
        x = math.sqrt(3.0) * s
        small = xp.abs(x) < 1e-4
        safe = xp.where(small, 1.0, x)
        # Below 1e-4 the series 1 - x^2/6 is exact to float64 rounding.
        return xp.where(small, 1.0 - x * x / 6.0, xp.sin(safe) / safe), None

    def table(self, bound: float) -> Any:  # numpydoc ignore=GL08
        return None

    def from_uniforms(self, u1: Array, u2: Array, xp: Any) -> Array:  # numpydoc ignore=GL08
        return math.sqrt(3.0) * (2.0 * u1 - 1.0)


def _shape_parameter(name: str, value: Any) -> float:
    checked = float(checks.positive_finite(name, value))
    if checked < 0.1:
        # Below 0.1 the law's moments (and its CF's smoothness) blow up: Gamma(3/0.1) ~ 1e30.
        raise ValueError(f"{name} must be at least 0.1, got {value!r}")
    return checked


def _magnitude(p: float, u: Array, xp: Any) -> Array:
    """|S| from a uniform u by the table of its quantiles in ``v = -log(1 - u)`` (linear)."""
    table = target_tables.gn_magnitude_quantiles(p)
    dv = target_tables.QUANTILE_V_MAX / target_tables.QUANTILE_POINTS
    v = -xp.log(1.0 - u) / dv
    base = xp.clip(xp.floor(v), 0.0, float(target_tables.QUANTILE_POINTS - 1))
    frac = v - base
    index = xp.reshape(xp.astype(base, xp.int32), (-1,))
    values = _constant(table, u, xp)
    lo = xp.reshape(xp.take(values, index), u.shape)
    hi = xp.reshape(xp.take(values, index + 1), u.shape)
    return lo + frac * (hi - lo)


@dataclass(frozen=True, repr=False)
class GeneralizedNormal(ProductTarget):  # numpydoc ignore=PR02
    """I.i.d. generalised normal coordinates of shape ``beta``, unit variance.

    Density proportional to ``exp(-|x / alpha|^beta)`` with ``alpha`` chosen for unit variance:
    ``beta = 2`` is N(0, 1), ``beta = 1`` Laplace, ``beta -> inf`` uniform. Its CF has no
    closed form: it is computed by float64 quadrature (exactly 1 at 0, within about 1e-15
    elsewhere, each knot on its own) and, for the sliced statistic, interpolated from a table of
    513 or more values graded towards 0 (cubic; error below 1e-9).

    Parameters
    ----------
    beta : float
        The shape, at least 0.1.

    Raises
    ------
    ValueError
        If ``beta`` is not finite or below 0.1 (named in the message); or, when its CF is computed
        or tabulated, if knots so far out that 1e-9 is out of reach are asked for (the message
        names the target and the knots).

    Examples
    --------
    >>> from sigreg.targets import GeneralizedNormal
    >>> round(GeneralizedNormal(2.0).cf((1.0,))[0][0], 9)  # exp(-1/2)
    0.60653066
    """

    name: ClassVar[str] = "generalized_normal"
    beta: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "beta", _shape_parameter("beta", self.beta))

    def __repr__(self) -> str:  # numpydoc ignore=GL08
        return f"GeneralizedNormal(beta={self.beta!r})"

    def cf(self, t: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:  # numpydoc ignore=GL08
        knots = checks.finite_reals("t", t, empty=True)
        try:
            re, _ = target_tables.gn_cf(self.beta, 0.0, target_tables.gn_unit_scale(self.beta), False, knots)
        except target_tables.OutOfReach as error:
            raise ValueError(f"{self!r} at knots up to {max(map(abs, knots))}: {error}") from None
        return re, tuple(0.0 for _ in knots)

    def table_scale(self) -> float:  # numpydoc ignore=GL08
        return 1.0 / (target_tables.gn_unit_scale(self.beta) * target_tables.gn_fourth_moment_root(self.beta))

    def cf_arrays(self, s: Array, xp: Any, table: Any) -> tuple[Array, Array | None]:  # numpydoc ignore=GL08
        return self._tabulated(s, table, xp)

    def from_uniforms(self, u1: Array, u2: Array, xp: Any) -> Array:  # numpydoc ignore=GL08
        sign = 2.0 * xp.astype(u2 >= 0.5, u2.dtype) - 1.0
        return sign * target_tables.gn_unit_scale(self.beta) * _magnitude(self.beta, u1, xp)


@dataclass(frozen=True, repr=False)
class RectifiedGeneralizedNormal(ProductTarget):  # numpydoc ignore=PR02
    """I.i.d. rectified generalised Gaussian coordinates, ``RGN_p(mu, sigma)`` (RDMReg's target).

    The target of Rectified LpJEPA (Kuang et al. 2026, arXiv 2602.01456): ``X = ReLU(Y)`` with
    ``Y ~ GN_p(mu, sigma)`` of density ``p^(1 - 1/p) / (2 sigma Gamma(1/p)) exp(-|y - mu|^p /
    (p sigma^p))`` (``p = 2``: ``Y ~ N(mu, sigma^2)``, the rectified Gaussian
    ``ReLU(N(mu, sigma^2))`` of the paper's Figure 1; ``p = 1``: the rectified Laplace). The
    rectification puts the point mass ``P(Y <= 0)`` at 0, so the expected fraction of non-zero
    coordinates (the paper's expected l0 norm over D) is ``1/2 (1 + sign(mu) P(1/p, |mu|^p /
    (p sigma^p)))``, ``P`` the regularised lower incomplete gamma function (``Phi(mu / sigma)``
    at ``p = 2``). The default scale is the paper's ``sigma_GN = Gamma(1/p)^(1/2) / (p^(1/p)
    Gamma(3/p)^(1/2))``, which gives ``Y`` unit variance before rectification (1 at ``p = 2``,
    ``1/sqrt(2)`` at ``p = 1``). These symbols, the density, ``sigma_GN`` and the sampler
    ``ReLU(mu + sigma S)``, ``|S|^p / p ~ Gamma(1/p)`` with a random sign, were checked against
    the abstract and Figure 1 of the paper (arxiv.org/html/2602.01456v1) and the authors'
    reference code (github.com/YilunKuang/rectified-lp-jepa: ``README.md``, ``MINIMAL.md`` and
    ``solo/losses/rectified_lpjepa.py``, whose ``rectified_gengaus_mean_var_unified`` gives the
    mean and variance that ``tests/statistics/test_targets_rectified.py`` compares with this CF). The
    authors' recommended default is ``p = 1, mu = 0, sigma = sigma_GN`` (the rectified
    Laplace); ``p`` defaults to 2 here. The law is not symmetric, so its CF is complex; it is
    computed by float64 quadrature (and interpolated from a table for the sliced statistic).

    Parameters
    ----------
    p : float, default 2.0
        The shape, at least 0.1 (the paper's ``p`` of the l_p norm).
    mu : float, default 0.0
        The location of ``Y``: ``mu = 0`` gives half the coordinates exactly 0, lower ``mu``
        more (the authors sweep ``mu`` in ``[-3, 1]``).
    sigma : float, optional
        The scale of ``Y``, positive; default ``sigma_GN(p)``.

    Raises
    ------
    ValueError
        If a parameter is outside its domain (named in the message); or, when its CF is computed
        or tabulated, if the parameters and knots put 1e-9 out of reach (a location of about
        100 scales or more, knots far beyond 50 scales; the message names them).

    Examples
    --------
    >>> from sigreg.targets import RectifiedGeneralizedNormal
    >>> target = RectifiedGeneralizedNormal(p=1.0, mu=0.5)
    >>> round(target.sigma, 6)  # sigma_GN(1) = 1/sqrt(2)
    0.707107
    >>> round(target.zero_mass, 6)  # P(Y <= 0) = exp(-mu / sigma) / 2
    0.246534
    """

    name: ClassVar[str] = "rectified_generalized_normal"
    symmetric: ClassVar[bool] = False
    p: float = 2.0
    mu: float = 0.0
    sigma: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", _shape_parameter("p", self.p))
        object.__setattr__(self, "mu", checks.real_scalar("mu", self.mu))
        if self.sigma is None:
            object.__setattr__(self, "sigma", target_tables.gn_unit_scale(self.p))
        object.__setattr__(self, "sigma", checks.positive_finite("sigma", self.sigma))

    def __repr__(self) -> str:  # numpydoc ignore=GL08
        return f"RectifiedGeneralizedNormal(p={self.p!r}, mu={self.mu!r}, sigma={self.sigma!r})"

    @property
    def _scale(self) -> float:
        # __post_init__ has filled sigma in; this gives the type checker a float.
        return target_tables.gn_unit_scale(self.p) if self.sigma is None else self.sigma

    @property
    def zero_mass(self) -> float:
        """The probability of an exact 0, ``P(Y <= 0)``.

        Returns
        -------
        float
            The expected fraction of zero coordinates (1 minus the paper's expected l0 norm
            over D).

        Examples
        --------
        >>> from sigreg.targets import RectifiedGeneralizedNormal
        >>> RectifiedGeneralizedNormal().zero_mass
        0.5
        """
        tail = 0.5 * target_tables.gamma_p(1.0 / self.p, abs(self.mu / self._scale) ** self.p / self.p)
        return 0.5 - tail if self.mu >= 0.0 else 0.5 + tail

    def cf(self, t: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:  # numpydoc ignore=GL08
        knots = checks.finite_reals("t", t, empty=True)
        try:
            return target_tables.gn_cf(self.p, self.mu, self._scale, True, knots)
        except target_tables.OutOfReach as error:
            raise ValueError(f"{self!r} at knots up to {max(map(abs, knots))}: {error}") from None

    def table_scale(self) -> float:  # numpydoc ignore=GL08
        # The peak at 0 of the CF of sigma S is about 1 / (sigma E[S^4]^(1/4)) wide; mu turns its phase.
        return 1.0 / (self._scale * target_tables.gn_fourth_moment_root(self.p))

    def cf_arrays(self, s: Array, xp: Any, table: Any) -> tuple[Array, Array | None]:  # numpydoc ignore=GL08
        return self._tabulated(s, table, xp)

    def from_uniforms(self, u1: Array, u2: Array, xp: Any) -> Array:  # numpydoc ignore=GL08
        sign = 2.0 * xp.astype(u2 >= 0.5, u2.dtype) - 1.0
        y = self.mu + self._scale * sign * _magnitude(self.p, u1, xp)
        return xp.clip(y, 0.0, None)


@dataclass(frozen=True, repr=False)
class Sphere(Target):
    """The uniform law on the sphere of radius ``sqrt(D)`` in ``R^D`` (rotation invariant).

    Every projection onto a unit vector has the same law, with CF
    ``Gamma(D/2) (2/r)^(D/2 - 1) J_(D/2 - 1)(r)``, ``r = t sqrt(D)`` (the density of the projection
    is proportional to ``(1 - x^2/D)^((D - 3)/2)``); it tends to ``exp(-t^2/2)`` as D grows.

    Examples
    --------
    >>> import math
    >>> from sigreg.targets import Sphere
    >>> Sphere().projection_cf(3, (1.0,))[0] == math.sin(math.sqrt(3)) / math.sqrt(3)  # D = 3
    True
    """

    name: ClassVar[str] = "sphere"
    product: ClassVar[bool] = False

    def projection_cf(self, dim: int, t: tuple[float, ...]) -> tuple[float, ...]:
        """The (real) CF of every projection, at ``t``, for dimension ``dim`` (float64).

        Parameters
        ----------
        dim : int
            The dimension D of the embeddings.
        t : tuple of float
            Knots.

        Returns
        -------
        tuple of float
            The CF at each knot.

        Examples
        --------
        >>> from sigreg.targets import Sphere
        >>> Sphere().projection_cf(1, (0.5,))  # D = 1: the points -1 and 1, CF cos(t)
        (0.8775825618903728,)
        """
        return target_tables.sphere_cf(checks.integer("dim", dim, 1), checks.finite_reals("t", t))

    def draw(
        self, n: int, d: int, keys: list[Any], xp: Any, device: Any, dtype: Any
    ) -> Array:  # numpydoc ignore=GL08
        gauss = Normal().draw(n, d, keys, xp, device, dtype)
        return gauss * (math.sqrt(d) / xp.sqrt(xp.sum(gauss * gauss, axis=1, keepdims=True)))


TARGETS: dict[str, type] = {
    cls.name: cls for cls in (Normal, Laplace, Uniform, GeneralizedNormal, RectifiedGeneralizedNormal, Sphere)
}


def resolve(name: str, target: Any) -> Target:  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
    """A target from a name (its default parameters) or a :class:`Target` instance as it is."""
    if isinstance(target, Target):
        return target
    if isinstance(target, str):
        cls = TARGETS.get(target)
        if cls is None:
            raise ValueError(f"{name} must be one of {', '.join(map(repr, TARGETS))}; got {target!r}")
        if cls is GeneralizedNormal:
            raise ValueError(f"{name}='generalized_normal' needs its shape: pass GeneralizedNormal(beta)")
        made: Target = cls()
        return made
    raise TypeError(f"{name} must be a target name or a sigreg.targets.Target, got {target!r}")


def is_normal(target: Target) -> bool:  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
    """Whether ``target`` is N(0, I) (the statistics' own, bit-identical path)."""
    return isinstance(target, Normal)
