"""LeWorldModel in a 2-D room, in JAX with optax: ``python examples/lewm_room_jax.py [--lam 0.1]``.

The same recipe as ``lewm_room_torch.py``: a conv encoder ending in a batch-norm projector, an
action-conditioned residual MLP predictor, ``sigreg.lewm_loss`` with fresh directions every step
(the step is a traced seed, so the training step compiles once); then the probe, planning and
surprise of ``examples/_room.py``. Layers are initialised as PyTorch's are.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _room import SIZE, Model, Recipe, batches, evaluate, monitor_frames, spread
from lejepa_digits_jax import apply_mlp, init_mlp
from tqdm import tqdm

import sigreg


def init(recipe: Recipe) -> tuple[dict, dict]:
    """Parameters and batch-norm running statistics: convolutions as torch.nn.Conv2d initialises
    them (uniform in +-1/sqrt(fan_in)), the MLPs as ``lejepa_digits_jax.init_mlp``."""
    key = jax.random.key(recipe.seed)
    convs = []
    channels = (1, *recipe.channels)
    for a, b in itertools.pairwise(channels):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(a * 16)
        convs.append(
            {
                "w": jax.random.uniform(kw, (b, a, 4, 4), minval=-bound, maxval=bound),
                "b": jax.random.uniform(kb, (b,), minval=-bound, maxval=bound),
            }
        )
    side = SIZE // 2 ** len(recipe.channels)
    key, kd, kp, kq = jax.random.split(key, 4)
    dense = init_mlp(kd, [channels[-1] * side * side, recipe.hidden])[0][0]
    projector = init_mlp(kp, [recipe.hidden, recipe.hidden, recipe.embedding])
    predictor = init_mlp(kq, [recipe.embedding + 2, recipe.hidden, recipe.hidden, recipe.embedding])
    params = {"convs": convs, "dense": dense, "projector": projector[0], "predictor": predictor[0]}
    return params, {"projector": projector[1], "predictor": predictor[1]}


def encode(params: dict, stats: dict, frames: jax.Array, train: bool) -> tuple[jax.Array, list[dict]]:
    """Latents (N, D) of frames (N, 1, SIZE, SIZE), and the projector's updated statistics."""
    x = frames
    for conv in params["convs"]:
        x = jax.lax.conv_general_dilated(x, conv["w"], (2, 2), ((1, 1), (1, 1)))
        x = jax.nn.gelu(x + conv["b"][:, None, None], approximate=False)
    x = x.reshape(x.shape[0], -1) @ params["dense"]["w"] + params["dense"]["b"]
    return apply_mlp(params["projector"], stats["projector"], jax.nn.gelu(x, approximate=False), train)


def predict(
    params: dict, stats: dict, z: jax.Array, actions: jax.Array, train: bool
) -> tuple[jax.Array, list[dict]]:
    """The next latents ``z + f(z, a)`` (z of shape (..., D)), and the predictor's updated statistics."""
    flat = jnp.concatenate([z, actions], axis=-1).reshape(-1, z.shape[-1] + 2)
    delta, new = apply_mlp(params["predictor"], stats["predictor"], flat, train)
    return z + delta.reshape(z.shape), new


@jax.jit
def _encode_eval(params: dict, stats: dict, frames: jax.Array) -> jax.Array:
    return encode(params, stats, frames, train=False)[0]


@jax.jit
def _predict_eval(params: dict, stats: dict, z: jax.Array, actions: jax.Array) -> jax.Array:
    return predict(params, stats, z, actions, train=False)[0]


@jax.jit
def _plan_costs(
    params: dict, stats: dict, start: jax.Array, goal: jax.Array, actions: jax.Array
) -> jax.Array:
    def one_step(z: jax.Array, a: jax.Array) -> tuple[jax.Array, None]:
        return predict(params, stats, z, a, train=False)[0], None

    z0 = jnp.broadcast_to(start, (actions.shape[0], start.shape[-1]))
    z, _ = jax.lax.scan(one_step, z0, jnp.swapaxes(actions, 0, 1))
    return jnp.sum((z - goal) ** 2, axis=-1)


def as_model(params: dict, stats: dict) -> Model:
    """The evaluation's view: NumPy in and out, evaluation mode (running statistics)."""

    def encode_np(frames: np.ndarray) -> np.ndarray:
        chunks = np.array_split(frames, -(-len(frames) // 1024))
        return np.concatenate([np.asarray(_encode_eval(params, stats, jnp.asarray(f))) for f in chunks])

    def predict_np(z: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return np.asarray(
            _predict_eval(params, stats, jnp.asarray(z), jnp.asarray(actions, dtype=jnp.float32))
        )

    def costs_np(start: np.ndarray, goal: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return np.asarray(
            _plan_costs(params, stats, jnp.asarray(start), jnp.asarray(goal), jnp.asarray(actions))
        )

    return Model(encode_np, predict_np, costs_np)


def train(recipe: Recipe | None = None, progress: bool = True):
    """Parameters and statistics, the losses, and the spread of the monitored frames' latents at
    ``recipe.checkpoints`` steps of training, the last at the end."""
    recipe = recipe or Recipe()
    params, stats = init(recipe)
    optimizer = optax.adamw(recipe.learning_rate, weight_decay=recipe.weight_decay)
    state = optimizer.init(params)

    def loss_fn(params: dict, stats: dict, frames: jax.Array, actions: jax.Array, step: jax.Array):
        b, t = frames.shape[:2]  # batch norm sees all B * T frames of a step together
        z, projector = encode(params, stats, frames.reshape(b * t, 1, SIZE, SIZE), train=True)
        z = z.reshape(b, t, -1)
        predicted, predictor = predict(params, stats, z[:, :-1], actions, train=True)
        loss = sigreg.lewm_loss(predicted, z[:, 1:], z, **recipe.loss_options(step))
        return loss, {"projector": projector, "predictor": predictor}

    @jax.jit
    def update(params: dict, stats: dict, state: optax.OptState, frames: jax.Array, actions: jax.Array, step):
        (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, frames, actions, step)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), stats, state, loss

    monitored = monitor_frames()
    every = max(recipe.steps // max(recipe.checkpoints, 1), 1)
    losses, history = [], []
    for step, frames, actions in tqdm(batches(recipe), total=recipe.steps, disable=not progress):
        seed = jnp.asarray(step, dtype=jnp.int32)  # traced: one compilation for every step
        params, stats, state, loss = update(
            params, stats, state, jnp.asarray(frames), jnp.asarray(actions), seed
        )
        losses.append(float(loss))
        if (step + 1) % every == 0 or step + 1 == recipe.steps:
            history.append({"step": step + 1, **spread(as_model(params, stats).encode(monitored))})
    return params, stats, losses, history


def run(recipe: Recipe | None = None, progress: bool = True, planned_pairs: int = 50) -> dict:
    params, stats, _, history = train(recipe, progress)
    return {**evaluate(as_model(params, stats), planned_pairs), "history": history}


if __name__ == "__main__":
    import _room_report

    _room_report.main(run, __doc__)
