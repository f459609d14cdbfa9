"""The contract between the layers: what a statistic and an all-reduce offer, every hook declared.

A statistic tests the columns of projections ``u`` of shape (..., N, K) along the sample axis
``-2`` against N(0, 1). It is a frozen, hashable object that holds its options, validated once at
construction, so that it can be a static argument under ``jax.jit`` and a constant under
``torch.compile``. :class:`Statistic` declares every hook that any layer calls, with its default;
a statistic overrides what it needs. Statistics that are functions of sums over samples subclass
:class:`SumsStatistic` (the slicing layer then all-reduces the sums for data-parallel training,
and the JAX adapter puts its derivatives on the sums alone). :class:`EmbeddingStatistic` is the
same for statistics of whole embeddings (BHEP, Henze-Zirkler).

A statistic that does not inherit these classes enters once, through :func:`as_statistic` (the
registry); an ``all_reduce`` through :func:`sigreg._core.all_reduce.as_all_reduce`: no layer below
asks an object which hooks it has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .plan import DEFAULT, Plan

Array = Any


class Statistic:
    """A normality statistic of each column of ``u`` (..., N, K) along axis -2.

    Subclasses implement :meth:`forward` and :meth:`backward` (or the sums methods of
    :class:`SumsStatistic`) and set ``name``; every other hook has a default that suits a
    statistic of N(0, 1) with no per-call constants. docs/design.md tabulates the hooks and
    their callers.

    Attributes
    ----------
    name : str
        The name it is registered under (:func:`sigreg.stats.register`).
    min_samples : int
        The fewest samples it is defined for (checked by :meth:`check_samples`); 1 by default.
    scale_free : bool
        Whether it is blind to the scale of the samples (it tests normality, not N(0, 1)), so a
        cloud shrunk or collapsed onto a line with a Gaussian profile passes; False by default.
    needs_frame : bool
        Whether its sums, when reduced across workers, micro-batches or chunks, must be taken of
        the columns moved to a shift and scale that all of them agree on first
        (:mod:`sigreg._core.frame`); False by default.
    target : Target or None
        The law it tests against; None (the default) or a normal target means N(0, 1).

    Examples
    --------
    >>> import sigreg.stats
    >>> statistic = sigreg.stats.get("epps_pulley")
    >>> isinstance(statistic, sigreg.stats.Statistic), statistic.min_samples, statistic.needs_frame
    (True, 1, False)
    """

    name: ClassVar[str]
    min_samples: ClassVar[int] = 1
    scale_free: ClassVar[bool] = False
    needs_frame: ClassVar[bool] = False
    target: Any = None

    @property
    def has_sums(self) -> bool:
        """Whether the statistic is a function of sums over samples.

        Returns
        -------
        bool
            True when the :class:`SumsStatistic` methods are implemented (needed
            for ``all_reduce``).

        Examples
        --------
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley().has_sums, EppsPulley(integration="exact").has_sums
        (True, False)
        """
        return False

    def forward(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> tuple[Array, tuple[Any, ...]]:
        """Compute the statistic of each column of ``u``.

        Parameters
        ----------
        u : array of shape (..., N, K)
            Projections: N samples of K columns, in float32 or float64.
        xp : namespace
            The array-API namespace of ``u``.
        plan : Plan, optional
            How to lay out the work (row blocks, loop primitive, kernels).

        Returns
        -------
        values : array of shape (..., K)
            The statistic of each column.
        residuals : tuple
            What :meth:`backward` needs besides ``u``, at most O(K * S) values.

        Raises
        ------
        NotImplementedError
            In this base class: a statistic implements it.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> values, residuals = EppsPulley().forward(np.zeros((10, 3)), xp)
        >>> values.shape
        (3,)
        """
        raise NotImplementedError(f"{type(self).__name__} implements no forward")

    def backward(
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        """Compute the gradient with respect to ``u`` given the cotangent of the values.

        Parameters
        ----------
        u : array of shape (..., N, K)
            The projections given to :meth:`forward`.
        residuals : tuple
            What :meth:`forward` returned besides the values.
        cotangent : array of shape (..., K)
            The gradient of a scalar loss with respect to the values.
        xp : namespace
            The array-API namespace of ``u``.
        plan : Plan, optional
            The plan given to :meth:`forward`.

        Returns
        -------
        array of shape (..., N, K)
            The gradient of the loss with respect to ``u``.

        Raises
        ------
        NotImplementedError
            In this base class: a statistic implements it.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> u = np.random.default_rng(0).standard_normal((10, 3))
        >>> values, residuals = EppsPulley().forward(u, xp)
        >>> EppsPulley().backward(u, residuals, np.ones(3), xp).shape
        (10, 3)
        """
        raise NotImplementedError(f"{type(self).__name__} implements no backward")

    def check_samples(self, n: int, name: str) -> None:
        """Raise ValueError naming ``name`` if ``n`` samples are too few (below ``min_samples``).

        Parameters
        ----------
        n : int
            The number of samples.
        name : str
            The argument's name, for the message.

        Raises
        ------
        ValueError
            If the statistic is not defined for ``n`` samples.

        Examples
        --------
        >>> from sigreg.stats import ShapiroWilk
        >>> ShapiroWilk().check_samples(3, "z")  # fine: nothing happens
        """
        if n < self.min_samples:
            raise ValueError(
                f"{name} must have at least {self.min_samples} samples for {type(self).__name__}, got {n}"
            )

    def check_along_axis(self) -> None:
        """Raise ValueError if the statistic cannot be computed along an axis (no directions there).

        Raises
        ------
        ValueError
            If its options need slices' directions (a target whose per-call constants depend on
            them); nothing by default.

        Examples
        --------
        >>> from sigreg.stats import Wasserstein
        >>> Wasserstein().check_along_axis()  # fine: nothing happens
        """

    def local_form(self) -> Statistic:
        """The form used when nothing is reduced across workers: the same values, possibly more precise.

        Returns
        -------
        Statistic
            ``self`` by default. Jarque-Bera computes each column about its own mean and scale
            here, where its reduced form must use sums about an agreed frame.

        Examples
        --------
        >>> from sigreg.stats import EppsPulley
        >>> statistic = EppsPulley()
        >>> statistic.local_form() is statistic
        True
        """
        return self

    def constants(self, directions: Array, xp: Any, n: int, seed: Any) -> Array | None:
        """The statistic's constants for one call on these slices, or None (the default: none).

        A target other than N(0, 1) needs them: Epps-Pulley's CF of each slice's projected
        target, Wasserstein's reference order statistics (drawn from a stream of ``seed``).
        They are made once per call and handed to :meth:`bind` inside each adapter.

        Parameters
        ----------
        directions : array of shape (D, K)
            The slices' directions (constants).
        xp : namespace
            Their namespace.
        n : int
            The number of samples per slice.
        seed : int or 0-d array
            The checked seed of the directions.

        Returns
        -------
        array or None
            The constants, an array of ``xp`` on the directions' device, or None.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley().constants(np.eye(2), xp, 10, 0) is None
        True
        >>> EppsPulley(num_points=3, target="laplace").constants(np.eye(2), xp, 10, 0).shape
        (2, 4)
        """
        return None

    def bind(self, constants: Array | None) -> Statistic:
        """Return this statistic with the constants of :meth:`constants` (itself when they are None).

        The result holds an array: it is made inside each call, never a static argument.

        Parameters
        ----------
        constants : array or None
            What :meth:`constants` returned for this call.

        Returns
        -------
        Statistic
            A statistic whose ``forward`` and ``backward`` use the constants.

        Examples
        --------
        >>> from sigreg.stats import EppsPulley
        >>> statistic = EppsPulley()
        >>> statistic.bind(None) is statistic
        True
        """
        return self

    def null_quadrature(self, np: Any) -> tuple[Any, Any] | None:
        """The knots and weights of the statistic as ``N * sum_j w_j |ecf(t_j) - phi(t_j)|^2``, or None.

        Its asymptotic null law follows from them (:mod:`sigreg._pvalues.asymptotic`); a
        statistic without (the default) gets Monte Carlo p-values.

        Parameters
        ----------
        np : module
            NumPy (passed in: this module imports no array library).

        Returns
        -------
        tuple of numpy.ndarray, or None
            The positive knots and their weights (Gaussian window included), or None.

        Examples
        --------
        >>> import numpy as np
        >>> from sigreg.stats import AndersonDarling, EppsPulley
        >>> knots, weights = EppsPulley(t_max=1.0, num_points=3).null_quadrature(np)
        >>> knots.tolist(), AndersonDarling().null_quadrature(np) is None
        ([0.5, 1.0], True)
        """
        return None

    @property
    def centred(self) -> bool:
        """Whether the values are centred by their null mean (the unbiased Epps-Pulley).

        Returns
        -------
        bool
            True when the value plus the null mean follows the law of :meth:`null_quadrature`.

        Examples
        --------
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley().centred, EppsPulley(unbiased=True).centred
        (False, True)
        """
        return False


class SumsStatistic(Statistic):
    """A statistic that is a function of per-column sums over samples, shape (..., K, S).

    Subclasses implement the four sums methods; :meth:`forward` and :meth:`backward` follow.

    Examples
    --------
    >>> import sigreg.stats
    >>> isinstance(sigreg.stats.get("epps_pulley"), sigreg.stats.SumsStatistic)
    True
    """

    # Documented on Statistic, like forward and backward below.
    @property
    def has_sums(self) -> bool:  # numpydoc ignore=GL08
        return True

    def local_sums(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> Array:
        """Compute the sums over the samples of each column of ``u``.

        Parameters
        ----------
        u : array of shape (..., N, K)
            Projections, as in :meth:`Statistic.forward`.
        xp : namespace
            The array-API namespace of ``u``.
        plan : Plan, optional
            How to lay out the work.

        Returns
        -------
        array of shape (..., K, S)
            The sums; sums of several workers add up to those of their union.

        Raises
        ------
        NotImplementedError
            In this base class: a statistic implements it.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley(num_points=5).local_sums(np.zeros((10, 3)), xp).shape  # cos and sin at 4 knots
        (3, 8)
        """
        raise NotImplementedError(f"{type(self).__name__} implements no local_sums")

    def from_sums(self, sums: Array, n: Any, xp: Any) -> Array:
        """Compute the values from sums over ``n`` samples.

        Parameters
        ----------
        sums : array of shape (..., K, S)
            As :meth:`local_sums` returns them (possibly summed over workers).
        n : int or 0-d array
            The number of samples the sums run over.
        xp : namespace
            The array-API namespace of ``sums``.

        Returns
        -------
        array of shape (..., K)
            The statistic of each column.

        Raises
        ------
        NotImplementedError
            In this base class: a statistic implements it.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> u = np.random.default_rng(0).standard_normal((10, 3))
        >>> s = EppsPulley()
        >>> np.allclose(s.from_sums(s.local_sums(u, xp), 10, xp), s.forward(u, xp)[0])
        True
        """
        raise NotImplementedError(f"{type(self).__name__} implements no from_sums")

    def from_sums_vjp(self, sums: Array, n: Any, cotangent: Array, xp: Any) -> Array:
        """Compute the gradient of :meth:`from_sums` with respect to the sums.

        Parameters
        ----------
        sums : array of shape (..., K, S)
            The sums given to :meth:`from_sums`.
        n : int or 0-d array
            The number of samples.
        cotangent : array of shape (..., K)
            The gradient of a scalar loss with respect to the values.
        xp : namespace
            The array-API namespace of ``sums``.

        Returns
        -------
        array of shape (..., K, S)
            The gradient of the loss with respect to the sums.

        Raises
        ------
        NotImplementedError
            In this base class: a statistic implements it.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley(num_points=5).from_sums_vjp(np.zeros((3, 8)), 10, np.ones(3), xp).shape
        (3, 8)
        """
        raise NotImplementedError(f"{type(self).__name__} implements no from_sums_vjp")

    def local_sums_vjp(self, u: Array, sums_bar: Array, xp: Any, plan: Plan = DEFAULT) -> Array:
        """Compute the gradient of :meth:`local_sums` with respect to ``u``.

        Parameters
        ----------
        u : array of shape (..., N, K)
            The projections given to :meth:`local_sums`.
        sums_bar : array of shape (..., K, S)
            The gradient of a scalar loss with respect to the sums.
        xp : namespace
            The array-API namespace of ``u``.
        plan : Plan, optional
            How to lay out the work.

        Returns
        -------
        array of shape (..., N, K)
            The gradient of the loss with respect to ``u``.

        Raises
        ------
        NotImplementedError
            In this base class: a statistic implements it.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley(num_points=5).local_sums_vjp(np.zeros((10, 3)), np.ones((3, 8)), xp).shape
        (10, 3)
        """
        raise NotImplementedError(f"{type(self).__name__} implements no local_sums_vjp")

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        # The values from the sums; the sums are the residuals.
        sums = self.local_sums(u, xp, plan)
        n = u.shape[-2]
        return self.from_sums(sums, n, xp), (sums, n)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        # The chain rule through from_sums and local_sums.
        sums, n = residuals
        return self.local_sums_vjp(u, self.from_sums_vjp(sums, n, cotangent, xp), xp, plan)


class EmbeddingStatistic:
    """A normality statistic of whole embeddings ``z`` (..., N, D) against N(0, I).

    Not sliced: it sees every dimension at once (BHEP, Henze-Zirkler), one value per
    index of the leading axes. The adapters differentiate it through ``forward_embeddings`` and
    ``backward_embeddings`` as they do a :class:`Statistic`; it has no sums, so no ``all_reduce``.

    Attributes
    ----------
    name : str
        Its name, as the public function that computes it.

    Examples
    --------
    >>> import sigreg.stats
    >>> isinstance(sigreg.stats.HenzeZirkler(), sigreg.stats.EmbeddingStatistic)
    True
    >>> isinstance(sigreg.stats.EppsPulley(), sigreg.stats.EmbeddingStatistic)
    False
    """

    name: ClassVar[str]

    def check_sizes(self, n: int, d: int, name: str) -> None:
        """Raise ValueError naming ``name`` if ``n`` samples of dimension ``d`` are too few.

        Parameters
        ----------
        n : int
            The number of samples.
        d : int
            Their dimension.
        name : str
            The argument's name, for the message.

        Raises
        ------
        ValueError
            If the statistic is not defined for that many samples.

        Examples
        --------
        >>> from sigreg.stats import HenzeZirkler
        >>> HenzeZirkler().check_sizes(10, 3, "z")  # fine: nothing happens
        """

    def forward_embeddings(self, z: Array, xp: Any, plan: Plan = DEFAULT) -> tuple[Array, tuple[Any, ...]]:
        """The values of ``z`` (..., N, D), shape (...,), and residuals for :meth:`backward_embeddings`.

        Parameters
        ----------
        z : array
            Samples, in the compute dtype.
        xp : module
            The array namespace of ``z``.
        plan : Plan, optional
            How to loop and block (the default suits any array).

        Returns
        -------
        values : array
            One value per index of the leading axes.
        residuals : tuple
            What the backward pass needs.

        Raises
        ------
        NotImplementedError
            In this base class: a statistic implements it.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import BHEP
        >>> z = np.random.default_rng(0).standard_normal((3, 50, 2))
        >>> BHEP().forward_embeddings(z, xp)[0].shape
        (3,)
        """
        raise NotImplementedError(f"{type(self).__name__} implements no forward_embeddings")

    def backward_embeddings(
        self, z: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        """The gradient with respect to ``z`` of ``sum(cotangent * values)``.

        Parameters
        ----------
        z : array
            The samples of :meth:`forward_embeddings`.
        residuals : tuple
            What :meth:`forward_embeddings` returned beside the values.
        cotangent : array
            One weight per value, shape (...,).
        xp : module
            The array namespace of ``z``.
        plan : Plan, optional
            How to loop and block.

        Returns
        -------
        array
            The gradient, shape of ``z``.

        Raises
        ------
        NotImplementedError
            In this base class: a statistic implements it.

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import BHEP
        >>> z = np.random.default_rng(0).standard_normal((50, 2))
        >>> values, residuals = BHEP().forward_embeddings(z, xp)
        >>> BHEP().backward_embeddings(z, residuals, np.ones(()), xp).shape
        (50, 2)
        """
        raise NotImplementedError(f"{type(self).__name__} implements no backward_embeddings")


@dataclass(frozen=True)  # equal and hashed by the statistic: a static argument of JAX's jit
class AsColumns(Statistic):  # numpydoc ignore=PR01,EX01
    """An :class:`EmbeddingStatistic` seen as a :class:`Statistic` of one array (..., N, D).

    Each adapter's one differentiable call then serves both kinds.
    """

    statistic: EmbeddingStatistic

    @property
    def name(self) -> str:  # type: ignore[override]  # numpydoc ignore=GL08
        return self.statistic.name  # the wrapped statistic's, per instance

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        return self.statistic.forward_embeddings(u, xp, plan)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        return self.statistic.backward_embeddings(u, residuals, cotangent, xp, plan)


class _Structural(Statistic):
    """A statistic that implements the methods without inheriting :class:`Statistic`: its own
    methods, the contract's defaults for every other hook."""

    def __init__(self, statistic: Any) -> None:
        self.statistic = statistic

    @property
    def name(self) -> str:  # type: ignore[override]  # the wrapped statistic's, per instance
        return str(self.statistic.name)

    @property
    def has_sums(self) -> bool:  # numpydoc ignore=GL08
        return bool(self.statistic.has_sums)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Structural) and other.statistic == self.statistic

    def __hash__(self) -> int:
        return hash((_Structural, self.statistic))

    def __repr__(self) -> str:
        return repr(self.statistic)

    def forward(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> tuple[Array, tuple[Any, ...]]:
        return self.statistic.forward(u, xp, plan)  # type: ignore[no-any-return]

    def backward(
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        return self.statistic.backward(u, residuals, cotangent, xp, plan)

    def local_sums(self, u: Array, xp: Any, plan: Plan = DEFAULT) -> Array:
        return self.statistic.local_sums(u, xp, plan)

    def from_sums(self, sums: Array, n: Any, xp: Any) -> Array:
        return self.statistic.from_sums(sums, n, xp)

    def from_sums_vjp(self, sums: Array, n: Any, cotangent: Array, xp: Any) -> Array:
        return self.statistic.from_sums_vjp(sums, n, cotangent, xp)

    def local_sums_vjp(self, u: Array, sums_bar: Array, xp: Any, plan: Plan = DEFAULT) -> Array:
        return self.statistic.local_sums_vjp(u, sums_bar, xp, plan)


_REQUIRED = ("name", "has_sums", "forward", "backward")
_REQUIRED_SUMS = ("local_sums", "from_sums", "from_sums_vjp", "local_sums_vjp")


def as_statistic(statistic: Any) -> Statistic:  # numpydoc ignore=PR01,RT01,EX01
    """Return ``statistic`` as a :class:`Statistic`, wrapped once if it does not inherit the class.

    It must have the protocol's members: ``name``, ``has_sums``, ``forward``, ``backward``, and
    the sums methods when ``has_sums``; every other hook then has its default.
    """
    if isinstance(statistic, Statistic):
        return statistic
    members = set(dir(statistic))
    if isinstance(statistic, type) or not members.issuperset(_REQUIRED):
        raise TypeError(f"statistic must be a registered name or a Statistic instance, got {statistic!r}")
    if statistic.has_sums and not members.issuperset(_REQUIRED_SUMS):
        missing = sorted(set(_REQUIRED_SUMS) - members)
        raise TypeError(f"statistic {statistic!r} has sums but no {', '.join(missing)}")
    return _Structural(statistic)
