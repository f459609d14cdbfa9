"""The Statistic protocol: what the slicing layer and the adapters need of a statistic.

A statistic tests the columns of projections ``u`` of shape (..., N, K) along
the sample axis ``-2`` against N(0, 1). It is a frozen, hashable object that
holds its options, validated once at construction, so that it can be a static
argument under ``jax.jit`` and a constant under ``torch.compile``.

Statistics that are functions of sums over samples (Epps-Pulley, moments) also
implement the sums interface of :class:`SumsStatistic`: the slicing layer then
all-reduces the sums for data-parallel training, and the JAX adapter puts its
custom VJP on the sums alone. Subclassing :class:`SumsStatistic` explicitly
gives ``forward`` and ``backward`` written once from the sums methods.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from .plan import DEFAULT, Plan

Array = Any


@runtime_checkable
class Statistic(Protocol):
    """A normality statistic of each column of ``u`` (..., N, K) along axis -2.

    Attributes
    ----------
    name : str
        The name it is registered under (:func:`sigreg.stats.register`).

    Examples
    --------
    >>> import sigreg.stats
    >>> statistic = sigreg.stats.get("epps_pulley")
    >>> isinstance(statistic, sigreg.stats.Statistic)
    True
    """

    name: ClassVar[str]

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
        ...

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

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> values, residuals = EppsPulley().forward(np.zeros((10, 3)), xp)
        >>> values.shape
        (3,)
        """
        ...

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
        ...


@runtime_checkable
class SumsStatistic(Statistic, Protocol):
    """A statistic that is a function of per-column sums over samples, shape (..., K, S).

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

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley(num_points=5).local_sums(np.zeros((10, 3)), xp).shape  # cos and sin at 4 knots
        (3, 8)
        """
        ...

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
        ...

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

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley(num_points=5).from_sums_vjp(np.zeros((3, 8)), 10, np.ones(3), xp).shape
        (3, 8)
        """
        ...

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

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import EppsPulley
        >>> EppsPulley(num_points=5).local_sums_vjp(np.zeros((10, 3)), np.ones((3, 8)), xp).shape
        (10, 3)
        """
        ...

    def forward(  # numpydoc ignore=GL08
        self, u: Array, xp: Any, plan: Plan = DEFAULT
    ) -> tuple[Array, tuple[Any, ...]]:
        # The default for subclasses: the values from the sums; the sums are the residuals.
        sums = self.local_sums(u, xp, plan)
        n = u.shape[-2]
        return self.from_sums(sums, n, xp), (sums, n)

    def backward(  # numpydoc ignore=GL08
        self, u: Array, residuals: tuple[Any, ...], cotangent: Array, xp: Any, plan: Plan = DEFAULT
    ) -> Array:
        # The default for subclasses: the chain rule through from_sums and local_sums.
        sums, n = residuals
        return self.local_sums_vjp(u, self.from_sums_vjp(sums, n, cotangent, xp), xp, plan)


@runtime_checkable
class EmbeddingStatistic(Protocol):
    """A normality statistic of whole embeddings ``z`` (..., N, D) against N(0, I).

    Not sliced: it sees every dimension at once (BHEP, Henze-Zirkler), one value per
    index of the leading axes. The adapters differentiate it through ``forward`` and
    ``backward`` as they do a :class:`Statistic`; it has no sums, so no ``all_reduce``.

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
        ...

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

        Examples
        --------
        >>> import numpy as np
        >>> import array_api_compat.numpy as xp
        >>> from sigreg.stats import BHEP
        >>> z = np.random.default_rng(0).standard_normal((3, 50, 2))
        >>> BHEP().forward_embeddings(z, xp)[0].shape
        (3,)
        """
        ...

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
        ...
