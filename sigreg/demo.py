"""The demo of ``python -m sigreg``: a collapsed cloud unfolds under SIGReg.

It replays section 04 of the SIGReg visual story: the points of a thin line in
3-D are moved by plain gradient steps on SIGReg (NumPy, analytic gradient, fresh
slice directions every step) until the cloud is round.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ._api import value_and_grad

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
