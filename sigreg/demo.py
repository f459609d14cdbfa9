"""The demo of ``python -m sigreg``: a collapsed cloud unfolds under SIGReg.

It replays section 04 of the SIGReg visual story: the points of a thin line in
3-D are moved by plain gradient steps on SIGReg (NumPy, analytic gradient, fresh
slice directions every step) until the cloud is round.

What a good value is: for an exact N(0, I) sample SIGReg (Epps-Pulley on the
default grid) has mean :func:`null_mean`, about 1.05 (1.0525), at every N and K, not 0. The
unfolded cloud ends well below it because its points are optimised against the
test itself: they cancel the sampling noise of their empirical characteristic
function, which a random sample cannot (see ``docs/pvalues.md``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from ._api.regulariser import sigreg, value_and_grad

NUM_POINTS = 300
STEPS = 120
LEARNING_RATE = 1.0
NUM_SLICES = 64


def collapsed_cloud(seed: int = 0) -> np.ndarray:
    """A thin line in 3-D: one direction carries all the variance.

    Parameters
    ----------
    seed : int, default 0
        Seed of NumPy's generator.

    Returns
    -------
    numpy.ndarray of shape (NUM_POINTS, 3)
        The points.

    Examples
    --------
    >>> from sigreg import demo
    >>> z = demo.collapsed_cloud()
    >>> z.shape
    (300, 3)
    """
    rng = np.random.default_rng(seed)
    line = np.array([1.0, 0.5, -0.3]) / np.linalg.norm([1.0, 0.5, -0.3])
    cloud: np.ndarray = rng.standard_normal((NUM_POINTS, 1)) * line + 0.02 * rng.standard_normal(
        (NUM_POINTS, 3)
    )
    return cloud


def spreads(z: np.ndarray) -> np.ndarray:
    """Standard deviations along the principal axes, largest first.

    Parameters
    ----------
    z : numpy.ndarray of shape (N, D)
        The points.

    Returns
    -------
    numpy.ndarray of shape (D,)
        The square roots of the covariance's eigenvalues, in decreasing order.

    Examples
    --------
    >>> from sigreg import demo
    >>> s = demo.spreads(demo.collapsed_cloud())
    >>> bool(s[0] > 10 * s[1])  # a line: one axis carries the variance
    True
    """
    return np.sqrt(np.linalg.eigvalsh(np.cov(z.T)))[::-1]


def unfold(z: np.ndarray, steps: int = STEPS, every: int = 10) -> Iterator[tuple[int, float, np.ndarray]]:
    """Plain gradient steps on SIGReg with fresh directions at every step.

    Parameters
    ----------
    z : numpy.ndarray of shape (N, D)
        The starting points.
    steps : int, default 120
        Gradient steps.
    every : int, default 10
        Yield every ``every`` steps.

    Yields
    ------
    step : int
        The step number.
    value : float
        SIGReg of the points before that step.
    z : numpy.ndarray
        The points before that step.

    Examples
    --------
    >>> from sigreg import demo
    >>> values = [value for _, value, _ in demo.unfold(demo.collapsed_cloud(), steps=20)]
    >>> bool(values[-1] < values[0])
    True
    """
    for step in range(steps + 1):
        value, grad = value_and_grad(z, num_slices=NUM_SLICES, seed=step)
        if step % every == 0:
            yield step, float(value), z
        z = z - LEARNING_RATE * grad


def null_mean(**options: Any) -> float:
    """The mean of SIGReg for exact N(0, I) samples: the level a good cloud sits at.

    Under the null every slice's Epps-Pulley statistic is asymptotically a weighted
    sum of chi-square(1) variables; the sum of the weights is its mean, exactly, at
    every N (the sampling noise of the empirical characteristic function, scaled by
    N). The average over K slices has the same mean; K only narrows its spread.

    Parameters
    ----------
    **options
        Options of the Epps-Pulley statistic (``t_max``, ``num_points``, ``integration``,
        ``unbiased``).

    Returns
    -------
    float
        The null mean: 1.0525 on the default grid, 1.0594 over the whole line, 0 for
        ``unbiased=True``.

    Examples
    --------
    >>> from sigreg import demo
    >>> round(demo.null_mean(), 4), round(demo.null_mean(integration="exact"), 4)
    (1.0525, 1.0594)
    """
    from ._pvalues import asymptotic as _asymptotic
    from ._statistics.epps_pulley import EppsPulley

    statistic = EppsPulley(**options)
    if statistic.unbiased:
        return 0.0  # the U-statistic's mean, exactly, at every N
    knots, weights = statistic.null_quadrature(np)
    return float(np.sum(_asymptotic.chi2_weights(knots, weights)))


def null_range(
    num_points: int = NUM_POINTS, dim: int = 3, draws: int = 100, seed: int = 0, num_slices: int = NUM_SLICES
) -> tuple[float, float]:
    """The 5% and 95% quantiles of SIGReg over N(0, I) samples of the demo's size (or any other).

    With few dimensions the slices see almost the same data, so the average over
    slices varies nearly as much as one slice's statistic: good clouds spread
    widely around :func:`null_mean`.

    Parameters
    ----------
    num_points : int, default 300
        Samples N of each draw.
    dim : int, default 3
        Dimension D.
    draws : int, default 100
        N(0, I) samples drawn, each with its own ``num_slices`` directions.
    seed : int, default 0
        Seed of the samples; draw ``i`` uses directions of seed ``seed + i``.
    num_slices : int, default 64
        Slices K of each evaluation: more slices narrow the band when D is large.

    Returns
    -------
    tuple of float
        The 5% and 95% quantiles.

    Examples
    --------
    >>> from sigreg import demo
    >>> low, high = demo.null_range(num_points=100, draws=40)
    >>> bool(low < demo.null_mean() < high)
    True
    """
    rng = np.random.default_rng(seed)
    values = [
        float(sigreg(rng.standard_normal((num_points, dim)), num_slices=num_slices, seed=seed + i))
        for i in range(draws)
    ]
    low, high = np.quantile(values, [0.05, 0.95])
    return float(low), float(high)
