"""Smoke runs of the LeWorldModel room examples (a few steps, tiny sizes), and their evaluation
checked on a model that knows the true state."""

from __future__ import annotations

import dataclasses
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("tqdm")
sys.path.insert(0, str(Path(__file__).parents[2] / "examples"))

import _room

TINY = _room.Recipe(steps=30, batch=16, trajectories=40, hidden=32, embedding=8, num_slices=32, checkpoints=1)


def _decreases(losses: list[float]) -> None:
    assert len(losses) == TINY.steps and all(math.isfinite(x) for x in losses)
    assert np.mean(losses[-5:]) < np.mean(losses[:5]), losses


def test_torch_example_trains_and_evaluates():
    pytest.importorskip("torch")
    import lewm_room_torch

    encoder, predictor, losses, history = lewm_room_torch.train(TINY, progress=False)
    _decreases(losses)
    assert [h["step"] for h in history] == [TINY.steps]
    metrics = _room.evaluate(lewm_room_torch.as_model(encoder, predictor), planned_pairs=2)
    _check_ranges(metrics)


def test_jax_example_trains_and_evaluates():
    pytest.importorskip("optax")
    import lewm_room_jax

    params, stats, losses, history = lewm_room_jax.train(TINY, progress=False)
    _decreases(losses)
    assert [h["step"] for h in history] == [TINY.steps]
    _check_ranges(_room.evaluate(lewm_room_jax.as_model(params, stats), planned_pairs=2))


def _check_ranges(metrics: dict) -> None:
    for distance in _room.DISTANCES:
        assert 0.0 <= metrics[f"planning success ({distance})"] <= 100.0
        assert metrics[f"planning time ({distance})"] > 0.0
    assert 0.0 <= metrics["surprise AUROC"] <= 1.0
    assert metrics["position probe R^2"] <= 1.0 and 1.0 <= metrics["effective rank"] <= TINY.embedding + 1e-9
    assert 0.0 < metrics["SIGReg p-value"] <= 1.0


def test_walls_stop_the_agent_and_frames_show_it():
    position = np.array([0.5, 0.1])
    assert np.allclose(_room.move(position, np.array([0.0, -1.0])), [0.5, _room.RADIUS])  # the wall
    assert np.allclose(_room.move(position, np.array([2.0, 1.0])), [0.5 + _room.STEP, 0.1 + _room.STEP])
    frame = _room.render(np.array([0.25, 0.75]))
    assert frame.shape == (_room.SIZE, _room.SIZE) and frame.dtype == np.float32
    row, col = np.unravel_index(np.argmax(frame), frame.shape)
    assert (row, col) in {(23, 7), (23, 8), (24, 7), (24, 8)}  # y = 0.75 is row 24, x = 0.25 column 8
    assert frame[0, 5] == frame[-1, 5] == frame[5, 0] == _room.WALL
    positions, actions = _room.trajectories(np.random.default_rng(0), 5, 7)
    assert positions.shape == (5, 7, 2) and actions.shape == (5, 6, 2)
    assert np.allclose(positions[:, 1:], _room.move(positions[:, :-1], actions))


def test_teleports_jump_once_and_follow_the_actions_otherwise():
    positions, actions, labels = _room.teleports(n=20, length=16)
    jumps = np.linalg.norm(positions[:, 1:] - _room.move(positions[:, :-1], actions), axis=-1) > 1e-12
    assert labels.tolist() == [0] * 20 + [1] * 20
    assert not jumps[:20].any() and (jumps[20:].sum(axis=1) <= 1).all() and jumps[20:].sum() >= 18


def test_the_evaluation_scores_the_true_state_near_perfect():
    model = _room.true_state()
    assert _room.probe(model) > 0.99
    assert _room.distance_fidelity(model)["distance fidelity (all)"] > 0.99
    for distance in _room.DISTANCES:
        assert _room.plan(model, 10, distance)[f"planning success ({distance})"] >= 90.0
        assert _room.random_actions(50, distance) <= 20.0
    assert _room.surprise(model) > 0.95


def test_report_prints_every_metric_and_the_history():
    import _room_report

    metrics = {
        "position probe R^2": 0.5,
        "surprise AUROC": 0.9,
        "history": [{"step": 3, "effective rank": 2.0}],
    }
    metrics["history"][0]["SIGReg p-value"] = 0.01
    text = _room_report.table(metrics, dataclasses.replace(TINY, lam=0.0))
    assert "lam 0.0" in text and "position probe R^2" in text and "step 3: rank 2.0, p 0.01" in text
