"""The Epps-Pulley statistic: the first entry of the statistics registry.

``EP = N * integral |ecf(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt`` over
``[-t_max, t_max]`` by the folded trapezoid rule (a function of the sums of
``cos(t_j u)`` and ``sin(t_j u)`` over samples, see :mod:`sigreg._statistics.ecf`), or over
the whole real line in closed form (:mod:`sigreg._statistics.closed_form`, O(N^2), no sums).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from .._core import checks
from .._core.arrays import constant as _constant
from .._core.plan import DEFAULT, Plan
from .._core.statistic import SumsStatistic
from . import closed_form, ecf, targeted, targets
from .quadrature import Grid, gauss_hermite_grid, simpson_grid, trapezoid_grid

Array = Any

T_MAX = 3.0  # the LeJEPA reference code's knot range
NUM_POINTS = 17  # and its number of knots on the half line
INTEGRATIONS = ("trapezoid", "simpson", "gauss_hermite", "exact")
# More knots than this is never useful (the trapezoid error is below float64
# rounding long before) and would only build a huge grid.
MAX_POINTS = 1 << 16
# Gauss-Hermite nodes come from Newton's method (sigreg._statistics.quadrature), whose starting points
# hold to about 180 nodes; far fewer suffice.
MAX_GAUSS_HERMITE = 128


# The dataclass makes __init__ from the fields, which the docstring's Parameters describe.
@dataclass(frozen=True)
class EppsPulley(SumsStatistic):  # numpydoc ignore=PR02
    """The Epps-Pulley statistic of each column against N(0, 1) (or ``target``).

    ``EP = N * integral |ecf(t) - exp(-t^2/2)|^2 exp(-t^2/2) dt`` over ``[-t_max, t_max]``, by
    the trapezoid rule on ``num_points`` knots of the half line (``integration="trapezoid"``), or
    over the whole real line in closed form (``integration="exact"``: O(N^2) work, for validation
    and small N). Under the null (samples exactly N(0, 1)) the exact statistic has mean
    ``sqrt(2 pi) (1 - 1/sqrt(3)) = 1.0594`` for every N. A function of sums over samples (but
    ``"exact"``): it supports ``all_reduce``, with O(N + P) memory per column.

    Parameters
    ----------
    t_max : float, default 3.0
        The quadrature covers ``[-t_max, t_max]`` (not used by ``"gauss_hermite"``).
    num_points : int, default 17
        Knots on the half line ``[0, t_max]`` (2 to 65536; odd for ``"simpson"``),
        or Gauss-Hermite nodes on the whole line (2 to 128). The paper's symmetric
        grid ``linspace(-T, T, 2P - 1)`` is the half-line grid ``t_max=T,
        num_points=P``: the integrand is even, so the rule folds onto ``[0, T]``
        with the same value (``[-5, 5]`` with 17 knots is ``t_max=5, num_points=9``;
        see :meth:`from_symmetric_grid`).
    integration : {"trapezoid", "simpson", "gauss_hermite", "exact"}, default "trapezoid"
        ``"trapezoid"`` and ``"simpson"``: those rules on the uniform knots.
        ``"gauss_hermite"``: ``num_points`` Gauss-Hermite nodes of the Gaussian
        window over the whole line (no truncation; knots evaluated directly, no
        fused kernels). ``"exact"``: the closed form over the whole real line
        (O(N^2) work per column, for validation and small N; no ``all_reduce``).
    unbiased : bool, default False
        Drop the ``i = j`` pairs from ``|ecf(t)|^2 = (1/N^2) sum_{i,j} cos(t (x_i - x_j))``
        (the U-statistic ``(N |ecf|^2 - 1) / (N - 1)`` in its place): the value then has mean
        exactly 0 under N(0, 1) at every N, where the default's is ``sum_j W_j (1 - phi_j^2)``
        (about 1.05 on the default grid), a bias of order 1/N in the statistic divided by N.
        Same sums, same cost, exact with ``all_reduce``. It can be negative. Needs N >= 2.
    target : str or sigreg.targets.Target, default "normal"
        The law tested against (:mod:`sigreg.targets`): each column's ECF is compared with the
        target's CF at the knots, real and imaginary parts, with the same window and quadrature.
        Along an axis the CF is the target's 1-D ``psi``; in :func:`sigreg.sigreg` a product
        target's projection onto ``a`` has ``psi_a(t) = prod_d psi(a_d t)``, and
        :class:`~sigreg.targets.Sphere` one CF for all directions (it needs the dimension, so it
        is for :func:`sigreg.sigreg` only). ``"normal"`` tests N(0, 1), with no extra work.
        Not with ``integration="exact"`` (a closed form against N(0, 1) only). The tabulated
        targets' quadrature (GeneralizedNormal, RectifiedGeneralizedNormal) runs here, at
        construction: under ``torch.compile`` make the statistic outside the compiled function.

    Raises
    ------
    TypeError, ValueError
        If an option has the wrong type or value (checked at construction).

    Examples
    --------
    >>> import numpy as np
    >>> from sigreg.stats import EppsPulley, epps_pulley
    >>> x = np.random.default_rng(0).standard_normal((2000, 3))
    >>> ep = epps_pulley(x)  # one value per column
    >>> ep.shape, bool(np.all(ep < 5))
    ((3,), True)
    >>> bool(epps_pulley(x + 1.0)[0] > 50)  # a shifted sample is far from N(0, 1)
    True
    >>> statistic = EppsPulley(t_max=5.0, num_points=9)  # the paper's grid, for statistic=
    >>> statistic.has_sums, statistic.knots[:3]
    (True, (0.625, 1.25, 1.875))
    """

    name: ClassVar[str] = "epps_pulley"

    t_max: float = T_MAX
    num_points: int = NUM_POINTS
    integration: str = "trapezoid"
    unbiased: bool = False
    target: Any = field(default="normal", repr=False)
    grid: Grid = field(init=False, repr=False, compare=False)
    _host_cf: Any = field(init=False, repr=False, compare=False, default=None)
    _host_table: Any = field(init=False, repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        object.__setattr__(self, "t_max", checks.positive_finite("t_max", self.t_max))
        num_points = checks.integer("num_points", self.num_points, 2)
        if num_points > MAX_POINTS:
            raise ValueError(f"num_points must be <= {MAX_POINTS}, got {num_points}")
        object.__setattr__(self, "num_points", num_points)
        integration = checks.choice("integration", self.integration, INTEGRATIONS)
        checks.boolean("unbiased", self.unbiased)
        # Built once here (a plain attribute: torch.compile traces attribute reads).
        if integration == "simpson":
            if num_points % 2 == 0:
                raise ValueError(
                    f"num_points must be odd for integration='simpson' (an even number of "
                    f"intervals on [0, t_max]), got {num_points}"
                )
            grid = simpson_grid(self.t_max, num_points)
        elif integration == "gauss_hermite":
            if num_points > MAX_GAUSS_HERMITE:
                raise ValueError(
                    f"num_points must be <= {MAX_GAUSS_HERMITE} for integration='gauss_hermite', "
                    f"got {num_points}"
                )
            grid = gauss_hermite_grid(num_points)
        else:
            grid = trapezoid_grid(self.t_max, num_points)
        object.__setattr__(self, "grid", grid)
        target = targets.resolve("target", self.target)
        if integration == "exact" and not targets.is_normal(target):
            raise ValueError(
                f"integration='exact' is the closed form against N(0, 1); target={target!r} needs a "
                "quadrature rule ('trapezoid', 'simpson' or 'gauss_hermite')"
            )
        object.__setattr__(self, "target", target)
        # A product target's host constants, made here, never under a trace: its CF at the knots
        # (along an axis) and the table its projections' CF interpolates (sigreg.sigreg).
        if isinstance(target, targets.ProductTarget) and not targets.is_normal(target):
            object.__setattr__(self, "_host_cf", target.cf(grid.t))
            object.__setattr__(self, "_host_table", target.table(max(grid.t)))

    def __repr__(self) -> str:  # numpydoc ignore=GL08
        options = f"t_max={self.t_max!r}, num_points={self.num_points!r}, integration={self.integration!r}"
        if self.unbiased:
            options += ", unbiased=True"
        if not targets.is_normal(self.target):  # the default target is not shown: short reprs
            options += f", target={self.target!r}"
        return f"EppsPulley({options})"

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:  # numpydoc ignore=GL08
        # Pickle the options only: the grid is rebuilt (and checked) on loading, so a pickle
        # names no private module and survives a change of the grid's layout.
        return type(self), tuple(getattr(self, f.name) for f in fields(self) if f.init)

    @classmethod
    def from_symmetric_grid(
        cls, t_min: float, t_max: float, num_points: int, integration: str = "trapezoid"
    ) -> EppsPulley:
        """The statistic on the paper's full grid ``linspace(t_min, t_max, num_points)``.

        Parameters
        ----------
        t_min : float
            First knot; must be ``-t_max`` (the grid is symmetric about 0).
        t_max : float
            Last knot, positive.
        num_points : int
            Points of the full grid, odd (so that 0 is one of them), at least 3; the half line
            then has ``(num_points + 1) // 2`` (the statistic's ``num_points``).
        integration : {"trapezoid", "simpson"}, default "trapezoid"
            The rule on the full grid (Simpson: ``num_points - 1`` a multiple of 4, so
            that the half line has an even number of intervals).

        Returns
        -------
        EppsPulley
            ``EppsPulley(t_max=t_max, num_points=(num_points + 1) // 2, integration=...)``,
            the same value as the rule on the full grid.

        Raises
        ------
        ValueError
            If the grid is not symmetric, ``num_points`` is even or below 3, or the
            rule is not one of the two.

        Examples
        --------
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley.from_symmetric_grid(-5.0, 5.0, 17)  # LeJEPA's Algorithm 1
        EppsPulley(t_max=5.0, num_points=9, integration='trapezoid')
        """
        t_max = checks.positive_finite("t_max", t_max)
        if isinstance(t_min, bool) or not isinstance(t_min, (int, float)) or float(t_min) != -t_max:
            raise ValueError(f"t_min must be -t_max = {-t_max} (a grid symmetric about 0), got {t_min!r}")
        num_points = checks.integer("num_points", num_points, 3)
        if num_points % 2 == 0:
            raise ValueError(f"num_points must be odd (0 is a knot of a symmetric grid), got {num_points}")
        integration = checks.choice("integration", integration, ("trapezoid", "simpson"))
        return cls(t_max=t_max, num_points=(num_points + 1) // 2, integration=integration)

    @property
    def knots(self) -> tuple[float, ...]:
        """The positive knots of the quadrature rule.

        Returns
        -------
        tuple of float
            ``t_1 .. t_{P-1}`` (``t_0 = 0`` adds nothing to the statistic).

        Examples
        --------
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley(t_max=1.0, num_points=3).knots
        (0.5, 1.0)
        """
        return self.grid.t

    def null_quadrature(self, np: Any) -> tuple[Any, Any]:  # numpydoc ignore=GL08
        # The trapezoid rule gives its own knots; the whole line, Gauss-Hermite nodes of the
        # Gaussian window (64, folded onto the half line: the integrand is even).
        if self.has_sums:
            return np.asarray(self.grid.t), np.asarray(self.grid.weight)
        nodes, weights = np.polynomial.hermite_e.hermegauss(64)
        positive = nodes > 0
        return nodes[positive], 2.0 * weights[positive]

    @property
    def centred(self) -> bool:  # numpydoc ignore=GL08
        return self.unbiased

    def check_samples(self, n: int, name: str) -> None:  # numpydoc ignore=GL08
        # The U-statistic divides by N - 1.
        if self.unbiased and n < 2:
            raise ValueError(f"{name} must have at least 2 samples for EppsPulley(unbiased=True), got {n}")

    def check_along_axis(self) -> None:  # numpydoc ignore=GL08
        if not isinstance(self.target, targets.ProductTarget):
            raise ValueError(
                f"target={self.target!r} is a law of whole embeddings (its projections' CF depends on "
                "the dimension): test it with sigreg.sigreg(z, target=...), not along an axis"
            )

    # The methods of the Statistic protocol: their docstrings are the protocol's (inherited).

    @property
    def has_sums(self) -> bool:  # numpydoc ignore=GL08
        return self.integration != "exact"

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        if not self.has_sums:
            return closed_form.exact_statistic(u, xp, self.unbiased), ()
        return super().forward(u, xp, plan)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        if not self.has_sums:
            return closed_form.exact_vjp(u, cotangent, xp, self.unbiased)
        return super().backward(u, residuals, cotangent, xp, plan)

    def local_sums(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> Array:  # numpydoc ignore=GL08
        return ecf.ecf_sums(u, self.grid, xp, plan)

    def from_sums(self, sums: Array, n: Any, xp: Any) -> Array:  # numpydoc ignore=GL08
        if targets.is_normal(self.target):
            return ecf.statistic_from_sums(sums, n, self.grid, xp, self.unbiased)
        return self.from_sums_with_cf(sums, n, self._axis_cf(sums, xp), xp)

    def from_sums_vjp(self, sums: Array, n: Any, cotangent: Array, xp: Any) -> Array:  # numpydoc ignore=GL08
        if targets.is_normal(self.target):
            return ecf.statistic_from_sums_vjp(sums, n, cotangent, self.grid, xp, self.unbiased)
        return self.from_sums_vjp_with_cf(sums, n, cotangent, self._axis_cf(sums, xp), xp)

    # The target's CF per column (constants, bind): see sigreg._statistics.targeted.

    def constants(  # numpydoc ignore=GL08
        self, directions: Array, xp: Any, n: int, seed: Any
    ) -> Array | None:
        # The target's CF at the knots of each slice's projection, real then imaginary parts:
        # (K, 2J) per direction for a product target (O(D K J) work), (2J,) for the sphere.
        if targets.is_normal(self.target):
            return None
        if isinstance(self.target, targets.ProductTarget):
            re, im = self.target.projection_cf(directions, self.grid.t, xp, self._host_table)
            return xp.concat([re, im], axis=-1)
        cf = self.target.projection_cf(directions.shape[0], self.grid.t)
        return _constant(cf + tuple(0.0 for _ in cf), directions, xp)

    def bind(self, constants: Array | None) -> SumsStatistic:  # numpydoc ignore=GL08
        return self if constants is None else targeted.WithTargetCF(self, constants)

    def from_sums_with_cf(  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
        self, sums: Array, n: Any, cf: Array, xp: Any
    ) -> Array:  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
        """:meth:`from_sums` against the CF ``cf`` (..., K or 1, 2J)."""
        weight = ecf.knot_weights(self.grid, sums, xp)
        return ecf.target_statistic_from_sums(sums, n, weight, cf, xp, self.unbiased)

    def from_sums_vjp_with_cf(  # numpydoc ignore=PR01,RT01,EX01,SS05,SS06,GL02
        self, sums: Array, n: Any, cotangent: Array, cf: Array, xp: Any
    ) -> Array:
        """:meth:`from_sums_vjp` against the CF ``cf``."""
        weight = ecf.knot_weights(self.grid, sums, xp)
        return ecf.target_statistic_from_sums_vjp(sums, n, cotangent, weight, cf, xp, self.unbiased)

    def _axis_cf(self, like: Array, xp: Any) -> Array:
        """The target's 1-D CF at the knots, for the statistic along an axis (float64 on the host)."""
        if not isinstance(self.target, targets.ProductTarget):
            raise ValueError(
                f"target={self.target!r} is a law of whole embeddings: its projections' CF depends on "
                "the dimension, so it is tested by sigreg.sigreg(z, target=...), not along an axis"
            )
        re, im = self._host_cf
        return _constant(re + im, like, xp)

    def local_sums_vjp(
        self, u: Array, sums_bar: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:  # numpydoc ignore=GL08
        return ecf.ecf_sums_vjp(u, sums_bar, self.grid, xp, plan)
