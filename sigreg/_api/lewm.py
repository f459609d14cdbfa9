"""``sigreg.lewm_loss`` and ``sigreg.lewm_value_and_grad``: LeWorldModel's objective.

Maes, Le Lidec, Scieur, LeCun, Balestriero, "LeWorldModel: Stable End-to-End Joint-Embedding
Predictive Architecture from Pixels" (arXiv 2603.19312, 2026): next-embedding prediction (MSE)
plus ``lam`` times SIGReg of the frame embeddings, the statistic taken over the batch for each
time step and averaged over time. SIGReg is :func:`sigreg.sigreg` (and
:func:`sigreg.value_and_grad`) of the frames as ``(T, B, D)``, with one analytic gradient; the
prediction term is plain array-API code.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from .._backend import dispatch
from .._core import checks, dtypes
from .._statistics import registry
from . import regulariser as regulariser_api

Array = Any

TIME_AXES = (1, 0)  # (B, T, D) batch first, or (T, B, D)
LAYOUTS = {1: "(B, T, D)", 0: "(T, B, D)"}
LAYER_NORM_EPS = 1e-5  # torch.nn.functional.layer_norm's default, as lightly's normalize=True uses


def _check_lam(lam: Any) -> float:
    if isinstance(lam, bool) or not isinstance(lam, numbers.Real):
        raise TypeError(f"lam must be a real number, got {type(lam).__name__}")
    number = float(lam)
    if not (math.isfinite(number) and number >= 0.0):
        raise ValueError(f"lam must be finite and >= 0, got {number}")
    return number


def _check_time_axis(time_axis: Any) -> int:
    if (
        isinstance(time_axis, bool)
        or not isinstance(time_axis, numbers.Integral)
        or time_axis not in TIME_AXES
    ):
        raise ValueError(
            f"time_axis must be 1 (clips of shape (B, T, D), batch first) or 0 (shape (T, B, D)); "
            f"got {time_axis!r}"
        )
    return int(time_axis)


def checked_settings(
    lam: Any, time_axis: Any, normalize: Any, detach_target: Any
) -> tuple[float, int, bool, bool]:
    """The settings of :func:`lewm_loss` besides SIGReg's, checked (the modules check them when built).

    Parameters
    ----------
    lam : float
        Weight of SIGReg: a finite real number >= 0.
    time_axis : {1, 0}
        1 for batch-first ``(B, T, D)`` clips, 0 for ``(T, B, D)``.
    normalize : bool
        Layer-normalise the prediction term's inputs.
    detach_target : bool
        No gradient into the target through the prediction term.

    Returns
    -------
    tuple of (float, int, bool, bool)
        ``lam``, ``time_axis``, ``normalize`` and ``detach_target``.

    Raises
    ------
    TypeError
        If ``lam`` is not a real number, or a flag is not True or False.
    ValueError
        If ``lam`` is negative or not finite, or ``time_axis`` is not 1 or 0.

    Examples
    --------
    >>> from sigreg._api.lewm import checked_settings
    >>> checked_settings(0.1, 1, False, False)
    (0.1, 1, False, False)
    """
    return (
        _check_lam(lam),
        _check_time_axis(time_axis),
        checks.boolean("normalize", normalize),
        checks.boolean("detach_target", detach_target),
    )


def _check_clip(name: str, x: Any, xp: Any, layout: str) -> None:
    if x.ndim != 3:
        raise ValueError(f"{name} must have shape {layout}, got shape {tuple(x.shape)}")
    if any(size == 0 for size in x.shape):
        raise ValueError(f"{name} must have non-empty axes {layout}, got shape {tuple(x.shape)}")
    checks.real_floating(name, x, xp)


def _check_clips(predicted: Any, target: Any, embeddings: Any, time_axis: int) -> Any:
    """The namespace of the three clips, after checking their library, device, dtype and shapes."""
    names = ("predicted", "target", "embeddings")
    xp = checks.namespace("predicted", predicted)
    for name, x in zip(names[1:], (target, embeddings), strict=True):
        checks.namespace(name, x)
        checks.same_library(("predicted", name), predicted, x)
        checks.same_device(("predicted", name), predicted, x)
    layout = LAYOUTS[time_axis]
    for name, x in zip(names, (predicted, target, embeddings), strict=True):
        _check_clip(name, x, xp, layout)
    if tuple(target.shape) != tuple(predicted.shape):
        raise ValueError(
            f"target must have predicted's shape {layout} = {tuple(predicted.shape)}, got shape "
            f"{tuple(target.shape)}"
        )
    batch_axis = 1 - time_axis
    b, d = predicted.shape[batch_axis], predicted.shape[-1]
    if embeddings.shape[batch_axis] != b or embeddings.shape[-1] != d:
        expected = f"(B, T, D) = ({b}, T, {d})" if time_axis == 1 else f"(T, B, D) = (T, {b}, {d})"
        raise ValueError(
            f"embeddings must have shape {expected} to match predicted of shape {tuple(predicted.shape)} "
            f"(time_axis={time_axis}), got shape {tuple(embeddings.shape)}"
        )
    return xp


def _layer_norm(x: Array, xp: Any) -> tuple[Array, Array]:
    """``(x - mean) / sqrt(var + eps)`` over the last axis (no scale or shift) and ``1 / sqrt(...)``."""
    centred = x - xp.mean(x, axis=-1, keepdims=True)
    inverse = 1.0 / xp.sqrt(xp.mean(centred**2, axis=-1, keepdims=True) + LAYER_NORM_EPS)
    return centred * inverse, inverse


def _layer_norm_vjp(y: Array, inverse: Array, cotangent: Array, xp: Any) -> Array:
    """The gradient through :func:`_layer_norm` of the output ``y``, given the output's cotangent."""
    mean_g = xp.mean(cotangent, axis=-1, keepdims=True)
    mean_gy = xp.mean(cotangent * y, axis=-1, keepdims=True)
    return inverse * (cotangent - mean_g - y * mean_gy)


def _sigreg_options(embeddings: Array, time_axis: int, xp: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The keywords of :func:`sigreg.sigreg` for the SIGReg term, checked against ``embeddings`` as
    given (so that the messages name them and their shape), the statistic resolved."""
    options = dict(options)  # the caller's dict is not modified
    reduction = options.pop("reduction", "mean")
    if isinstance(reduction, str) and reduction == "none":
        raise ValueError("reduction must be 'mean' or 'sum' in lewm_loss, got 'none'")
    kwargs = {
        "num_slices": options.pop("num_slices", 1024),
        "seed": options.pop("seed", 0),
        "directions": options.pop("directions", None),
        "reduction": reduction,
        "all_reduce": options.pop("all_reduce", None),
    }
    statistic = registry.resolve(options.pop("statistic", "epps_pulley"), options)  # the rest: its options
    statistic.check_samples(embeddings.shape[1 - time_axis], "embeddings")
    checks.slicing("embeddings", embeddings, xp, kwargs["directions"], kwargs["num_slices"], kwargs["seed"])
    return {"statistic": statistic, **kwargs}


def _frames(embeddings: Array, time_axis: int, xp: Any) -> Array:
    """The embeddings as ``(T, B, D)`` in the compute dtype: SIGReg's samples (the batch) on axis -2."""
    z = dtypes.as_compute_dtype(embeddings, xp)
    return xp.permute_dims(z, (1, 0, 2)) if time_axis == 1 else z


def _pair(predicted: Array, target: Array, xp: Any) -> tuple[Array, Array]:
    p, t = dtypes.as_compute_dtype(predicted, xp), dtypes.as_compute_dtype(target, xp)
    dtype = xp.result_type(p, t)  # float64 if either is: no precision is dropped
    return dtypes.cast(p, dtype, xp), dtypes.cast(t, dtype, xp)


def lewm_loss(
    predicted: Array,
    target: Array,
    embeddings: Array,
    /,
    *,
    lam: float = 0.1,
    time_axis: int = 1,
    normalize: bool = False,
    detach_target: bool = False,
    **sigreg_options: Any,
) -> Array:
    """The LeWorldModel (LeWM) objective: next-embedding prediction plus ``lam`` times SIGReg.

    As in the paper (Maes et al. 2026, arXiv 2603.19312) and its authors' code::

        prediction = mean over B, T and D of (predicted - target)**2
        loss       = prediction + lam * mean over t of SIGReg(embeddings[:, t])

    SIGReg is taken over the *batch* for each time step (the frames of one clip are not
    independent samples) with the same directions at every step, and averaged over time, as
    the authors' code and lightly's ``LeWMLoss`` do. Clips are batch-first ``(B, T, D)`` by
    default; ``time_axis=0`` takes ``(T, B, D)`` (pyjepa's layout). Computing the statistic
    over the wrong axis raises no error elsewhere; here a shape that does not fit the layout
    does.

    The target's gradient: the paper trains with no stop-gradient and no EMA teacher, so by
    default the gradient flows into ``target`` too (into the encoder, when ``target`` is a slice
    of ``embeddings``). lightly 1.6's ``LeWMLoss`` detaches the target in its prediction term:
    ``detach_target=True`` gives that.

    Parameters
    ----------
    predicted : array of shape (B, T', D)
        The predictor's next-frame embeddings (``(T', B, D)`` with ``time_axis=0``).
    target : array of shape (B, T', D)
        The observed next-frame embeddings, ``predicted``'s shape (typically
        ``embeddings[:, 1:]``). Same library and device as ``predicted``.
    embeddings : array of shape (B, T, D)
        All frame embeddings of the clips (the encoder's output), the batch and D of
        ``predicted``; any T. SIGReg's input.
    lam : float, default 0.1
        Weight of SIGReg, finite and >= 0 (the paper's value; its one tuned hyperparameter).
        The loss is ``prediction + lam * SIGReg``, not a convex combination.
    time_axis : {1, 0}, default 1
        The time axis of all three arrays: 1 for ``(B, T, D)``, 0 for ``(T, B, D)``.
    normalize : bool, default False
        Layer-normalise ``predicted`` and ``target`` over D (no scale or shift, eps 1e-5)
        before the squared error, as lightly's ``normalize=True``. The paper's loss does not.
    detach_target : bool, default False
        No gradient into ``target`` through the prediction term (lightly 1.6's choice); the
        default follows the paper.
    **sigreg_options
        Passed to :func:`sigreg.sigreg` for the SIGReg term: ``statistic``, ``num_slices``,
        ``seed``, ``directions``, ``all_reduce`` (the statistic of the global batch, see
        :func:`sigreg.sigreg`), statistic options such as ``t_max`` and the keyword
        ``target=`` (SIGReg's target law, not the positional ``target`` above). ``reduction``
        must stay ``"mean"`` or ``"sum"`` (over time steps and slices). A training loop must
        pass a fresh ``seed`` at every step (e.g. the step number), or use
        :class:`sigreg.torch.LeWMLoss`: the default 0 gives the same directions forever.

    Returns
    -------
    array
        A scalar of the clips' library (float32 unless an input is float64), differentiable
        under PyTorch autograd and JAX transformations; for NumPy, CuPy and array-api-strict
        see :func:`lewm_value_and_grad`. The prediction term is this worker's mean: with
        ``all_reduce`` and equal batches, gradient averaging makes it the global one.

    Raises
    ------
    TypeError, ValueError
        As :func:`sigreg.sigreg`; also when an input is not a 3-D real floating array, the
        three come from different libraries or devices, ``target``'s shape is not
        ``predicted``'s, ``embeddings`` has another batch size or D (the messages name the
        layout), ``lam`` is negative or not finite, ``time_axis`` is not 0 or 1,
        ``normalize`` or ``detach_target`` is not a bool, or ``reduction="none"``.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> emb = np.random.default_rng(0).standard_normal((64, 5, 16))  # (B, T, D) frame embeddings
    >>> predicted = emb[:, 1:] + 0.1  # a predictor's guesses of frames 1..4 from frames 0..3
    >>> loss = sigreg.lewm_loss(predicted, emb[:, 1:], emb, num_slices=128, seed=0)
    >>> bool(abs(loss - (0.01 + 0.1 * sigreg.sigreg(emb.transpose(1, 0, 2), num_slices=128))) < 1e-12)
    True
    """
    lam, time_axis, normalize, detach_target = checked_settings(lam, time_axis, normalize, detach_target)
    xp = _check_clips(predicted, target, embeddings, time_axis)
    options = _sigreg_options(embeddings, time_axis, xp, sigreg_options)
    regulariser = regulariser_api.sigreg(_frames(embeddings, time_axis, xp), **options)

    p, t = _pair(predicted, target, xp)
    if detach_target:
        t = dispatch.constant(t, xp)
    if normalize:
        p, t = _layer_norm(p, xp)[0], _layer_norm(t, xp)[0]
    prediction = xp.mean((p - t) ** 2)
    return prediction + lam * regulariser


def lewm_value_and_grad(
    predicted: Array,
    target: Array,
    embeddings: Array,
    /,
    *,
    lam: float = 0.1,
    time_axis: int = 1,
    normalize: bool = False,
    detach_target: bool = False,
    **sigreg_options: Any,
) -> tuple[Array, tuple[Array, Array, Array]]:
    """``(lewm_loss(...), its gradients)`` on any backend, NumPy and CuPy included.

    Parameters
    ----------
    predicted : array of shape (B, T', D)
        As in :func:`lewm_loss`.
    target : array of shape (B, T', D)
        As in :func:`lewm_loss`.
    embeddings : array of shape (B, T, D)
        As in :func:`lewm_loss`.
    lam : float, default 0.1
        As in :func:`lewm_loss`.
    time_axis : {1, 0}, default 1
        As in :func:`lewm_loss`.
    normalize : bool, default False
        As in :func:`lewm_loss`.
    detach_target : bool, default False
        As in :func:`lewm_loss`: the gradient for ``target`` is then zero.
    **sigreg_options
        As in :func:`lewm_loss`.

    Returns
    -------
    value : array
        As :func:`lewm_loss` returns it.
    grads : tuple of three arrays
        The gradients with respect to ``predicted``, ``target`` and ``embeddings``, each of
        that input's shape, dtype and device. When ``target`` is a slice of ``embeddings``
        (as in training), the encoder's gradient is the sum of both through that slice.

    Raises
    ------
    TypeError, ValueError
        As :func:`lewm_loss`.

    Examples
    --------
    >>> import numpy as np
    >>> import sigreg
    >>> emb = np.random.default_rng(0).standard_normal((64, 5, 16))
    >>> predicted = emb[:, 1:] + 0.1
    >>> value, (d_pred, d_target, d_emb) = sigreg.lewm_value_and_grad(predicted, emb[:, 1:], emb)
    >>> d_pred.shape, d_target.shape, d_emb.shape
    ((64, 4, 16), (64, 4, 16), (64, 5, 16))
    >>> bool(np.allclose(d_pred, -d_target))  # the squared error pulls both ways
    True
    """
    lam, time_axis, normalize, detach_target = checked_settings(lam, time_axis, normalize, detach_target)
    xp = _check_clips(predicted, target, embeddings, time_axis)
    options = _sigreg_options(embeddings, time_axis, xp, sigreg_options)
    frames = _frames(dispatch.constant(embeddings, xp), time_axis, xp)
    regulariser, grad_frames = regulariser_api.value_and_grad(frames, **options)
    grad_emb = lam * (xp.permute_dims(grad_frames, (1, 0, 2)) if time_axis == 1 else grad_frames)

    p, t = _pair(dispatch.constant(predicted, xp), dispatch.constant(target, xp), xp)
    if normalize:
        (p_hat, p_inv), (t_hat, t_inv) = _layer_norm(p, xp), _layer_norm(t, xp)
    else:
        p_hat, t_hat = p, t
    residual = p_hat - t_hat
    prediction = xp.mean(residual**2)
    cotangent = (2.0 / math.prod(residual.shape)) * residual  # d prediction / d p_hat
    if normalize:
        grad_p = _layer_norm_vjp(p_hat, p_inv, cotangent, xp)
        grad_t = -_layer_norm_vjp(t_hat, t_inv, cotangent, xp)
    else:
        grad_p, grad_t = cotangent, -cotangent
    if detach_target:
        grad_t = xp.zeros_like(grad_t)
    grads = tuple(
        dtypes.cast(g, x.dtype, xp)
        for g, x in ((grad_p, predicted), (grad_t, target), (grad_emb, embeddings))
    )
    return prediction + lam * regulariser, (grads[0], grads[1], grads[2])
