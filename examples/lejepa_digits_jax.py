"""LeJEPA on scikit-learn's digits in JAX with optax: ``python examples/lejepa_digits_jax.py [--lam 0.05]``.

The same recipe as ``lejepa_digits_torch.py``: 2 global and 4 local views, an MLP backbone
and projector with batch norm in the hidden layers, ``sigreg.lejepa_loss`` with
fresh slice directions every step (the step is a traced seed, so the training
step compiles once).
"""

from __future__ import annotations

import itertools

import _report
import jax
import jax.numpy as jnp
import numpy as np
import optax
from _digits import Recipe, batches, evaluate, load
from tqdm import tqdm

import sigreg

MOMENTUM, EPS = 0.1, 1e-5  # torch.nn.BatchNorm1d's defaults


def init_mlp(key: jax.Array, sizes: list[int]) -> tuple[list[dict], list[dict]]:
    """Parameters and batch-norm running statistics, initialised as PyTorch does:
    weights and biases uniform in +-1/sqrt(fan_in), scale 1, shift 0, mean 0, variance 1."""
    layers, stats = [], []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(a)
        layer = {
            "w": jax.random.uniform(kw, (a, b), minval=-bound, maxval=bound),
            "b": jax.random.uniform(kb, (b,), minval=-bound, maxval=bound),
        }
        if i < len(sizes) - 2:  # a hidden layer: batch norm and GELU follow
            layer |= {"scale": jnp.ones(b), "shift": jnp.zeros(b)}
            stats.append({"mean": jnp.zeros(b), "var": jnp.ones(b)})
        layers.append(layer)
    return layers, stats


def apply_mlp(
    layers: list[dict], stats: list[dict], x: jax.Array, train: bool
) -> tuple[jax.Array, list[dict]]:
    """The output and the updated running statistics. Training normalises with the
    batch's statistics and updates the running ones like torch (unbiased variance);
    evaluation normalises with the running ones and leaves them unchanged."""
    new_stats = []
    for layer, running in itertools.zip_longest(layers, stats):
        x = x @ layer["w"] + layer["b"]
        if running is None:  # the output layer: no batch norm, no activation
            break
        if train:
            mean, var = jnp.mean(x, axis=0), jnp.var(x, axis=0)
            unbiased = var * x.shape[0] / (x.shape[0] - 1)
            running = {
                "mean": (1 - MOMENTUM) * running["mean"] + MOMENTUM * mean,
                "var": (1 - MOMENTUM) * running["var"] + MOMENTUM * unbiased,
            }
        else:
            mean, var = running["mean"], running["var"]
        new_stats.append(running)
        x = (x - mean) / jnp.sqrt(var + EPS) * layer["scale"] + layer["shift"]
        x = jax.nn.gelu(x, approximate=False)
    return x, new_stats


def init(recipe: Recipe) -> tuple[dict, dict]:
    kb, kp = jax.random.split(jax.random.key(recipe.seed))
    backbone = init_mlp(kb, [64, recipe.hidden, recipe.hidden, recipe.representation])
    projector = init_mlp(kp, [recipe.representation, 128, recipe.embedding])
    params = {"backbone": backbone[0], "projector": projector[0]}
    stats = {"backbone": backbone[1], "projector": projector[1]}
    return params, stats


def encode(params: dict, stats: dict, x: jax.Array, train: bool) -> tuple[jax.Array, jax.Array, dict]:
    """Representation, embedding and updated statistics of the images ``x`` of shape (N, 64)."""
    rep, backbone = apply_mlp(params["backbone"], stats["backbone"], x, train)
    emb, projector = apply_mlp(params["projector"], stats["projector"], rep, train)
    return rep, emb, {"backbone": backbone, "projector": projector}


def train(recipe: Recipe | None = None, progress: bool = True) -> tuple[dict, dict, list[float]]:
    recipe = recipe or Recipe()
    params, stats = init(recipe)
    optimizer = optax.adamw(recipe.learning_rate, weight_decay=recipe.weight_decay)
    state = optimizer.init(params)

    def loss_fn(params: dict, stats: dict, views: jax.Array, step: jax.Array):
        v, b, _ = views.shape  # batch norm sees all V * B views of a step together
        _, z, stats = encode(params, stats, views.reshape(v * b, -1), train=True)
        z = z.reshape(v, b, -1)
        if recipe.rectified:  # Rectified LpJEPA: both terms see ReLU(z)
            z = jax.nn.relu(z)
        z_global, z_local = z[: recipe.global_views], z[recipe.global_views :]
        loss = sigreg.lejepa_loss(z_global, z_local, lam=recipe.lam, **recipe.loss_options(step))
        return loss, (stats, z)  # z: for the progress bar's SIGReg term

    @jax.jit
    def update(params: dict, stats: dict, state: optax.OptState, views: jax.Array, step: jax.Array):
        (loss, (stats, z)), grads = jax.value_and_grad(loss_fn, has_aux=True)(params, stats, views, step)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), stats, state, loss, z

    x_train = load(recipe.seed)[0]
    losses = []
    bar = tqdm(batches(x_train, recipe), total=recipe.steps, disable=not progress)
    for step, global_views, local_views in bar:
        seed = jnp.asarray(step, dtype=jnp.int32)  # traced: one compilation for every step
        views = jnp.asarray(np.concatenate([global_views, local_views]))
        params, stats, state, loss, z = update(params, stats, state, views, seed)
        losses.append(float(loss))
        if step % 50 == 0:  # SIGReg of this step's embeddings, outside the compiled step
            regulariser = sigreg.sigreg(z, num_slices=recipe.num_slices, seed=seed, **recipe.target_options())
            bar.set_postfix(loss=f"{losses[-1]:.4f}", sigreg=f"{float(regulariser):.3f}")
    return params, stats, losses


def run(recipe: Recipe | None = None, progress: bool = True) -> dict[str, float]:
    recipe = recipe or Recipe()
    params, stats, _ = train(recipe, progress)
    x_train, x_test, y_train, y_test = load(recipe.seed)
    rep_train = encode(params, stats, jnp.asarray(x_train), train=False)[0]
    rep_test, emb_test, _ = encode(params, stats, jnp.asarray(x_test), train=False)
    if recipe.rectified:
        emb_test = jax.nn.relu(emb_test)
    reps = np.asarray(rep_train), np.asarray(rep_test)
    return evaluate(*reps, np.asarray(emb_test), y_train, y_test, recipe.target_law())


if __name__ == "__main__":
    _report.main(run, __doc__)
