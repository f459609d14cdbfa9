"""What both LeWorldModel examples share: the room, its data, planning and the evaluation.

A NumPy world, no download: an agent (a disc of radius 0.06) in the unit square, whose walls
stop it, seen from above as a 32x32 frame; an action is a velocity in [-1, 1]^2 that moves it by
at most ``STEP`` per axis and frame. The data set is random-policy trajectories (positions and
actions; frames are rendered per batch). The evaluation is framework-free: it takes a model as
three NumPy-in, NumPy-out functions (:class:`Model`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from _digits import effective_rank, normality_test
from scipy.stats import spearmanr
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score, roc_auc_score

SIZE = 32  # frames are SIZE x SIZE pixels
RADIUS = 0.06  # the agent's radius; walls keep its centre in [RADIUS, 1 - RADIUS]
STEP = 0.05  # largest move per axis and frame (an action of +-1)
WALL = 0.5  # brightness of the walls (the frame's border pixels); the agent is 1


@dataclass(frozen=True)
class Recipe:
    """The training recipe, the same in PyTorch and JAX."""

    steps: int = 1000
    batch: int = 64  # clips per step: SIGReg's samples at each time step
    clip: int = 4  # frames per clip (the paper's history of 3 and one prediction)
    trajectories: int = 1000  # the data set: random-policy trajectories of `length` frames
    length: int = 32
    channels: tuple[int, int, int] = (8, 16, 32)  # the conv encoder's, each halving the side
    hidden: int = 128
    embedding: int = 16  # D: the latent that is predicted, regularised, probed and planned in
    learning_rate: float = 2e-3
    weight_decay: float = 1e-3
    num_slices: int = 256
    lam: float = 0.1
    detach_target: bool = False  # True: no gradient through the target (stop-gradient baseline)
    seed: int = 0
    checkpoints: int = 4  # times the effective rank and SIGReg p-value are measured in training

    def loss_options(self, step: object) -> dict:
        """The options of ``sigreg.lewm_loss`` besides the clips: fresh directions every step."""
        return {
            "lam": self.lam,
            "num_slices": self.num_slices,
            "seed": step,
            "detach_target": self.detach_target,
        }


def move(position: np.ndarray, action: np.ndarray) -> np.ndarray:
    """The next position: ``position + STEP * action``, stopped by the walls."""
    return np.clip(position + STEP * np.clip(action, -1.0, 1.0), RADIUS, 1.0 - RADIUS)


_CENTRES = (np.arange(SIZE) + 0.5) / SIZE
_BORDER = np.zeros((SIZE, SIZE), dtype=np.float32)
_BORDER[[0, -1], :] = _BORDER[:, [0, -1]] = WALL


def render(positions: np.ndarray) -> np.ndarray:
    """Frames (..., SIZE, SIZE) float32 of positions (..., 2): the walls and an anti-aliased disc."""
    dy = _CENTRES[:, None] - positions[..., 1, None, None]
    dx = _CENTRES[None, :] - positions[..., 0, None, None]
    edge = (RADIUS - np.sqrt(dx**2 + dy**2)) * SIZE + 0.5  # 1 inside, 0 outside, a pixel's ramp
    return np.maximum(np.clip(edge, 0.0, 1.0), _BORDER).astype(np.float32)


def trajectories(rng: np.random.Generator, n: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` random-policy trajectories: positions (n, length, 2) and actions (n, length - 1, 2)."""
    actions = rng.uniform(-1.0, 1.0, size=(n, length - 1, 2))
    positions = np.empty((n, length, 2))
    positions[:, 0] = rng.uniform(RADIUS, 1.0 - RADIUS, size=(n, 2))
    for t in range(length - 1):
        positions[:, t + 1] = move(positions[:, t], actions[:, t])
    return positions, actions


def dataset(recipe: Recipe) -> tuple[np.ndarray, np.ndarray]:
    """The training trajectories (positions and actions), fixed by the recipe's seed."""
    return trajectories(np.random.default_rng(recipe.seed), recipe.trajectories, recipe.length)


def batches(recipe: Recipe):
    """Yield (step, frames (B, T, 1, SIZE, SIZE), actions (B, T - 1, 2)): clips of the data set."""
    positions, actions = dataset(recipe)
    rng = np.random.default_rng(recipe.seed + 1)
    for step in range(recipe.steps):
        which = rng.integers(0, recipe.trajectories, size=recipe.batch)
        start = rng.integers(0, recipe.length - recipe.clip + 1, size=recipe.batch)
        times = start[:, None] + np.arange(recipe.clip)
        frames = render(positions[which[:, None], times])[:, :, None]
        yield step, frames, actions[which[:, None], times[:, :-1]].astype(np.float32)


@dataclass(frozen=True)
class Model:
    """A trained world model as NumPy functions (evaluation mode).

    ``encode``: frames (N, 1, SIZE, SIZE) to latents (N, D). ``predict``: latents (N, D) and
    actions (N, 2) to the next latents (N, D). ``plan_costs``: a start latent (D,), a goal latent
    (D,) and action sequences (S, H, 2) to the cost of each sequence, the squared distance
    between the latent after H predicted steps and the goal's (the paper's planning cost).
    """

    encode: Callable[[np.ndarray], np.ndarray]
    predict: Callable[[np.ndarray, np.ndarray], np.ndarray]
    plan_costs: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]


def true_state() -> Model:
    """The reference: a model whose latent is the agent's position, read off the frame (the centroid
    of the disc's pixels above the walls' brightness), and whose predictor is the room's dynamics."""

    def encode(frames: np.ndarray) -> np.ndarray:
        weights = np.clip(frames[:, 0] - WALL, 0.0, None)
        total = weights.sum(axis=(1, 2))
        x = (weights * _CENTRES[None, None, :]).sum(axis=(1, 2)) / total
        y = (weights * _CENTRES[None, :, None]).sum(axis=(1, 2)) / total
        return np.stack([x, y], axis=1)

    def plan_costs(start: np.ndarray, goal: np.ndarray, actions: np.ndarray) -> np.ndarray:
        position = np.broadcast_to(start, (actions.shape[0], 2))
        for h in range(actions.shape[1]):
            position = move(position, actions[:, h])
        return np.sum((position - goal) ** 2, axis=-1)

    return Model(encode, move, plan_costs)


# Held-out data: seeds that the training data never uses.
PROBE_SEED, PLAN_SEED, SURPRISE_SEED, MONITOR_SEED = 101, 102, 103, 104
MONITOR_FRAMES = 512  # held-out frames whose effective rank and SIGReg p-value are tracked


def monitor_frames() -> np.ndarray:
    """One frame of each of MONITOR_FRAMES held-out trajectories, at a random time."""
    positions, _ = trajectories(np.random.default_rng(MONITOR_SEED), MONITOR_FRAMES, 32)
    at = np.random.default_rng(MONITOR_SEED).integers(0, 32, size=MONITOR_FRAMES)
    return render(positions[np.arange(MONITOR_FRAMES), at])[:, None]


def spread(latents: np.ndarray) -> dict[str, float]:
    """Effective rank, scale and SIGReg p-value of latents (N, D)."""
    result = normality_test(latents)
    return {
        "effective rank": effective_rank(latents),
        "latent std": float(latents.std(axis=0).mean()),
        "SIGReg": float(result.statistic),
        "SIGReg p-value": float(result.pvalue),
    }


def probe(model: Model) -> float:
    """R^2 of the agent's position from the latent by least squares: fitted on 2000 frames of the
    training trajectories, scored on 1000 of held-out ones."""
    train_positions = dataset(Recipe())[0][:, ::16].reshape(-1, 2)[:2000]
    rng = np.random.default_rng(PROBE_SEED)
    test_positions = trajectories(rng, 250, 16)[0][:, ::4].reshape(-1, 2)
    fit = LinearRegression().fit(model.encode(render(train_positions)[:, None]), train_positions)
    return float(r2_score(test_positions, fit.predict(model.encode(render(test_positions)[:, None]))))


@dataclass(frozen=True)
class Planner:
    """Model-predictive control by the cross-entropy method in latent space."""

    horizon: int = 10  # actions per plan
    execute: int = 5  # actions of each plan carried out before planning again
    episode: int = 30  # actions per episode
    samples: int = 200
    elites: int = 20
    iterations: int = 4
    tolerance: float = 0.1  # success: the agent's centre this close to the goal's at the end


def cem(
    model: Model, start: np.ndarray, goal: np.ndarray, planner: Planner, rng: np.random.Generator
) -> np.ndarray:
    """The best action sequence (horizon, 2) from latent ``start`` towards latent ``goal``."""
    mean = np.zeros((planner.horizon, 2))
    std = np.ones((planner.horizon, 2))
    for _ in range(planner.iterations):
        candidates = np.clip(mean + std * rng.standard_normal((planner.samples, planner.horizon, 2)), -1, 1)
        costs = model.plan_costs(start, goal, candidates.astype(np.float32))
        elite = candidates[np.argsort(costs)[: planner.elites]]
        mean, std = elite.mean(axis=0), elite.std(axis=0) + 1e-3
    return mean


# Goals near and far: the latent tells the way to near ones (docs/world-models.md).
DISTANCES = {"near": (0.2, 0.4), "far": (0.5, 2.0)}


def pairs(n: int, distance: str) -> tuple[np.ndarray, np.ndarray]:
    """``n`` held-out (start, goal) positions whose distance lies in ``DISTANCES[distance]``."""
    low, high = DISTANCES[distance]
    rng = np.random.default_rng([PLAN_SEED, low < 0.3])
    starts, goals = [], []
    while len(starts) < n:
        a, b = rng.uniform(RADIUS, 1.0 - RADIUS, size=(2, 2))
        if low <= np.linalg.norm(a - b) < high:
            starts.append(a)
            goals.append(b)
    return np.array(starts), np.array(goals)


def plan(
    model: Model, n: int = 50, distance: str = "near", planner: Planner | None = None
) -> dict[str, float]:
    """Success rate (%) over ``n`` start/goal pairs, and mean planning time per episode (seconds)."""
    planner = planner or Planner()
    starts, goals = pairs(n, distance)
    rng = np.random.default_rng(PLAN_SEED + 1)
    successes, seconds = 0, 0.0
    for start, goal in zip(starts, goals, strict=True):
        goal_latent = model.encode(render(goal)[None, None])[0]
        position = start
        began = time.perf_counter()
        for _ in range(planner.episode // planner.execute):
            actions = cem(model, model.encode(render(position)[None, None])[0], goal_latent, planner, rng)
            for action in actions[: planner.execute]:
                position = move(position, action)
        seconds += time.perf_counter() - began
        successes += bool(np.linalg.norm(position - goal) <= planner.tolerance)
    return {
        f"planning success ({distance})": 100.0 * successes / n,
        f"planning time ({distance})": seconds / n,
    }


def random_actions(n: int = 50, distance: str = "near", planner: Planner | None = None) -> float:
    """Success rate (%) of random actions on the same pairs: the floor that planning must beat."""
    planner = planner or Planner()
    starts, goals = pairs(n, distance)
    rng = np.random.default_rng(PLAN_SEED + 1)
    position = starts
    for _ in range(planner.episode):
        position = move(position, rng.uniform(-1.0, 1.0, size=position.shape))
    return 100.0 * float(np.mean(np.linalg.norm(position - goals, axis=1) <= planner.tolerance))


def distance_fidelity(model: Model, within: float = 0.3) -> dict[str, float]:
    """How well latent distance ranks true distance: Spearman's correlation between the squared
    latent distance from a frame to others and their true distance, averaged over 50 frames, for
    the others within ``within`` of it and for all (2000 held-out positions)."""
    rng = np.random.default_rng(PROBE_SEED + 1)
    positions = rng.uniform(RADIUS, 1.0 - RADIUS, size=(2000, 2))
    latents = model.encode(render(positions)[:, None]).astype(np.float64)
    near, everywhere = [], []
    for i in range(50):
        true = np.linalg.norm(positions - positions[i], axis=1)
        latent = np.sum((latents - latents[i]) ** 2, axis=1)
        near.append(spearmanr(latent[true < within], true[true < within])[0])
        everywhere.append(spearmanr(latent, true)[0])
    return {
        "distance fidelity (near)": float(np.mean(near)),
        "distance fidelity (all)": float(np.mean(everywhere)),
    }


def teleports(n: int = 100, length: int = 16) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """2n held-out trajectories, the second n with a teleport: at a random step in the middle the
    agent appears at a random place instead of moving. Positions, actions, labels (1: teleport)."""
    rng = np.random.default_rng(SURPRISE_SEED)
    positions, actions = trajectories(rng, 2 * n, length)
    for i in range(n, 2 * n):
        t = rng.integers(length // 4, 3 * length // 4)
        positions[i, t] = rng.uniform(RADIUS, 1.0 - RADIUS, size=2)
        for s in range(t, length - 1):
            positions[i, s + 1] = move(positions[i, s], actions[i, s])
    return positions, actions, np.repeat([0, 1], n)


def surprise(model: Model) -> float:
    """AUROC of the surprise (the largest one-step prediction error of a trajectory) for telling
    teleport trajectories from normal ones (0.5: chance; 1: every teleport more surprising)."""
    positions, actions, labels = teleports()
    n, length = positions.shape[:2]
    latents = model.encode(render(positions.reshape(-1, 2))[:, None]).reshape(n, length, -1)
    predicted = model.predict(latents[:, :-1].reshape(n * (length - 1), -1), actions.reshape(-1, 2))
    errors = np.mean((predicted.reshape(n, length - 1, -1) - latents[:, 1:]) ** 2, axis=-1)
    return float(roc_auc_score(labels, errors.max(axis=1)))


def evaluate(model: Model, planned_pairs: int = 50) -> dict[str, float]:
    """Probe, planning, surprise and the spread of the latents of the monitored frames."""
    metrics = {"position probe R^2": probe(model)} | distance_fidelity(model)
    for distance in DISTANCES:
        metrics |= plan(model, planned_pairs, distance)
    metrics["surprise AUROC"] = surprise(model)
    return metrics | spread(model.encode(monitor_frames()))
