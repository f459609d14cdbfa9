"""The agreed frame (``sigreg/_core/frame.py``): sums that add over parts, one shift and scale for all."""

from __future__ import annotations

import array_api_compat.numpy as xp
import numpy as np

from sigreg._core import frame


def test_frame_sums_of_parts_add_up_to_the_whole():
    u = np.random.default_rng(0).standard_normal((2, 30, 4)) * 3.0 + 1e4
    whole = frame.frame_sums(u, xp)
    parts = frame.frame_sums(u[..., :11, :], xp) + frame.frame_sums(u[..., 11:, :], xp)
    np.testing.assert_allclose(parts[..., 0], whole[..., 0], rtol=1e-14)  # n times the mean: exact
    assert np.all(parts[..., 1] >= whole[..., 1] * 11 / 30)  # spreads: each part's, at least
    shift, scale = frame.from_totals(whole, 30.0, xp)
    np.testing.assert_allclose(shift[..., 0, :], np.mean(u, axis=-2), rtol=1e-14)
    np.testing.assert_allclose(
        scale[..., 0, :], np.max(np.abs(u - np.mean(u, axis=-2, keepdims=True)), axis=-2)
    )
    moved = frame.move(u, shift, scale)
    assert np.max(np.abs(moved)) <= 1.0 + 1e-12 and np.max(np.abs(np.mean(moved, axis=-2))) < 1e-12


def test_a_constant_column_keeps_a_scale_of_one():
    u = np.concatenate([np.full((5, 1), 7.0), np.arange(5.0)[:, None]], axis=1)
    shift, scale = frame.from_totals(frame.frame_sums(u, xp), 5.0, xp)
    np.testing.assert_array_equal(scale[0], [1.0, 2.0])
    np.testing.assert_array_equal(frame.move(u, shift, scale)[:, 0], np.zeros(5))
