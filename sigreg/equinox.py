"""Equinox extras: SIGReg and the LeWorldModel loss as ``equinox.Module`` s for JAX models.

Needs the optional dependency ``equinox`` (``pip install equinox``); importing
``sigreg`` does not import this module.
"""

from __future__ import annotations

from typing import Any

import equinox as eqx
import jax

from ._api import lewm as _lewm
from ._api import regulariser as _regulariser
from ._core import checks as _checks
from ._statistics import registry as _registry
from .jax import all_reduce as _all_reduce

__all__ = ["LeWMLoss", "SIGReg"]


class SIGReg(eqx.Module):
    """SIGReg as an Equinox module: a pytree with no arrays, usable under ``jit``.

    JAX has no mutable state, so the seed is an argument of each call: the
    directions are drawn from ``seed`` (a Python int or a traced 0-d integer
    array; pass the training step), fresh at every step as in the LeJEPA paper.

    Parameters
    ----------
    num_slices : int, default 1024
        Directions per step.
    statistic : str or Statistic, default "epps_pulley"
        As in :func:`sigreg.sigreg`; checked now, with ``options``.
    reduction : {"mean", "sum", "none"}, default "mean"
        As in :func:`sigreg.sigreg`.
    axis_name : hashable, optional
        A mapped axis (``shard_map``, ``pmap``, ``vmap``) to reduce over: the
        statistic is then that of the global batch (:func:`sigreg.jax.all_reduce`).
    **options
        Options of the statistic (Epps-Pulley: ``t_max``, ``num_points``, ``integration``, ``unbiased``).

    Raises
    ------
    TypeError, ValueError
        If an option is invalid (checked at construction).

    Examples
    --------
    >>> import equinox as eqx
    >>> import jax
    >>> import sigreg.equinox
    >>> regulariser = sigreg.equinox.SIGReg(num_slices=64)
    >>> z = jax.random.normal(jax.random.key(0), (128, 16))
    >>> value = eqx.filter_jit(lambda m, z, step: m(z, seed=step))(regulariser, z, 3)
    >>> value.shape
    ()
    """

    num_slices: int = eqx.field(static=True)
    statistic: Any = eqx.field(static=True)
    reduction: str = eqx.field(static=True)
    axis_name: Any = eqx.field(static=True)

    def __init__(
        self,
        num_slices: int = 1024,
        *,
        statistic: Any = "epps_pulley",
        reduction: str = "mean",
        axis_name: Any = None,
        **options: Any,
    ) -> None:
        self.num_slices = _checks.integer("num_slices", num_slices, 1)
        self.statistic = _registry.resolve(statistic, options)
        self.reduction = _checks.choice("reduction", reduction, _checks.REDUCTIONS)
        self.axis_name = axis_name

    def __call__(self, z: jax.Array, *, seed: int | jax.Array) -> jax.Array:
        """SIGReg of ``z`` with the directions of ``seed``.

        Parameters
        ----------
        z : jax.Array of shape (..., N, D)
            The embeddings.
        seed : int or 0-d integer jax.Array
            The seed of the directions: a fresh one at every training step (e.g. the step).

        Returns
        -------
        jax.Array
            As :func:`sigreg.sigreg` returns it.

        Raises
        ------
        TypeError, ValueError
            If ``seed`` is not a non-negative Python int below 2**64 or a 0-d integer
            array, or ``z`` is not valid for :func:`sigreg.sigreg`.

        Examples
        --------
        >>> import jax
        >>> import sigreg.equinox
        >>> z = jax.random.normal(jax.random.key(1), (64, 8))
        >>> sigreg.equinox.SIGReg(num_slices=16)(z, seed=0).shape
        ()
        """
        reduce = None if self.axis_name is None else _all_reduce(self.axis_name)
        out: jax.Array = _regulariser.sigreg(
            z,
            statistic=self.statistic,
            num_slices=self.num_slices,
            seed=seed,
            reduction=self.reduction,
            all_reduce=reduce,
        )
        return out


class LeWMLoss(eqx.Module):
    """The LeWorldModel objective (:func:`sigreg.lewm_loss`) as an Equinox module, usable under ``jit``.

    As :class:`SIGReg`: the seed of each call's directions is an argument (pass the training step).

    Parameters
    ----------
    lam : float, default 0.1
        Weight of SIGReg (the paper's value), finite and >= 0.
    num_slices : int, default 1024
        Directions per step.
    time_axis : {1, 0}, default 1
        1 for clips of shape ``(B, T, D)`` (batch first), 0 for ``(T, B, D)``.
    normalize : bool, default False
        Layer-normalise both sides of the prediction term (lightly's ``normalize=True``).
    detach_target : bool, default False
        No gradient into the target through the prediction term (lightly 1.6's choice; the
        paper's default is False).
    statistic : str or Statistic, default "epps_pulley"
        As in :func:`sigreg.sigreg`; checked now, with ``options``.
    axis_name : hashable, optional
        A mapped axis to reduce SIGReg's sums over (:func:`sigreg.jax.all_reduce`).
    **options
        Options of the statistic (Epps-Pulley: ``t_max``, ``num_points``, ``integration``,
        ``unbiased``, ``target``).

    Raises
    ------
    TypeError, ValueError
        If an argument is invalid (checked at construction).

    Examples
    --------
    >>> import equinox as eqx
    >>> import jax
    >>> import sigreg.equinox
    >>> criterion = sigreg.equinox.LeWMLoss(num_slices=64)
    >>> emb = jax.random.normal(jax.random.key(0), (32, 4, 16))  # (B, T, D)
    >>> loss = eqx.filter_jit(lambda m, e, step: m(e[:, :-1], e[:, 1:], e, seed=step))(criterion, emb, 3)
    >>> loss.shape
    ()
    """

    lam: float = eqx.field(static=True)
    num_slices: int = eqx.field(static=True)
    time_axis: int = eqx.field(static=True)
    normalize: bool = eqx.field(static=True)
    detach_target: bool = eqx.field(static=True)
    statistic: Any = eqx.field(static=True)
    axis_name: Any = eqx.field(static=True)

    def __init__(
        self,
        lam: float = 0.1,
        num_slices: int = 1024,
        *,
        time_axis: int = 1,
        normalize: bool = False,
        detach_target: bool = False,
        statistic: Any = "epps_pulley",
        axis_name: Any = None,
        **options: Any,
    ) -> None:
        settings = _lewm.checked_settings(lam, time_axis, normalize, detach_target)
        self.lam, self.time_axis, self.normalize, self.detach_target = settings
        self.num_slices = _checks.integer("num_slices", num_slices, 1)
        self.statistic = _registry.resolve(statistic, options)
        self.axis_name = axis_name

    def __call__(
        self, predicted: jax.Array, target: jax.Array, embeddings: jax.Array, *, seed: int | jax.Array
    ) -> jax.Array:
        """The loss of one batch of clips with the directions of ``seed``.

        Parameters
        ----------
        predicted : jax.Array of shape (B, T', D)
            The predictor's next-frame embeddings (``(T', B, D)`` with ``time_axis=0``).
        target : jax.Array of shape (B, T', D)
            The observed next-frame embeddings.
        embeddings : jax.Array of shape (B, T, D)
            All frame embeddings: SIGReg's input.
        seed : int or 0-d integer jax.Array
            The seed of the directions: a fresh one at every training step (e.g. the step).

        Returns
        -------
        jax.Array
            As :func:`sigreg.lewm_loss` returns it.

        Raises
        ------
        TypeError, ValueError
            If ``seed`` is not a valid seed, or the clips are not
            valid for :func:`sigreg.lewm_loss`.

        Examples
        --------
        >>> import jax
        >>> import sigreg.equinox
        >>> emb = jax.random.normal(jax.random.key(1), (16, 3, 8))
        >>> sigreg.equinox.LeWMLoss(num_slices=16)(emb[:, 1:], emb[:, 1:], emb, seed=0).shape
        ()
        """
        reduce = None if self.axis_name is None else _all_reduce(self.axis_name)
        out: jax.Array = _lewm.lewm_loss(
            predicted,
            target,
            embeddings,
            lam=self.lam,
            time_axis=self.time_axis,
            normalize=self.normalize,
            detach_target=self.detach_target,
            statistic=self.statistic,
            num_slices=self.num_slices,
            seed=seed,
            all_reduce=reduce,
        )
        return out
