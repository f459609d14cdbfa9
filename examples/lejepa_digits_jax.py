"""LeJEPA on scikit-learn's digits in JAX with optax: ``python examples/lejepa_digits_jax.py [--lam 0.05]``.

The same recipe as ``lejepa_digits_torch.py``: augmented views, an MLP backbone
and projector, ``sigreg.lejepa_loss`` with fresh slice directions every step
(the step is a traced seed, so the training step compiles once).
"""

from __future__ import annotations

import argparse
import itertools
import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
from _digits import Recipe, batches, evaluate, load
from tqdm import tqdm

import sigreg


def init_mlp(key: jax.Array, sizes: list[int]) -> list[tuple[jax.Array, jax.Array]]:
    """PyTorch's default initialisation: uniform in +-1/sqrt(fan_in)."""
    params = []
    for a, b in itertools.pairwise(sizes):
        key, kw, kb = jax.random.split(key, 3)
        bound = 1.0 / np.sqrt(a)
        params.append(
            (
                jax.random.uniform(kw, (a, b), minval=-bound, maxval=bound),
                jax.random.uniform(kb, (b,), minval=-bound, maxval=bound),
            )
        )
    return params


def apply_mlp(params: list[tuple[jax.Array, jax.Array]], x: jax.Array) -> jax.Array:
    for i, (w, b) in enumerate(params):
        x = x @ w + b
        if i < len(params) - 1:
            x = jax.nn.gelu(x, approximate=False)
    return x


def init(recipe: Recipe) -> dict:
    kb, kp = jax.random.split(jax.random.key(recipe.seed))
    return {
        "backbone": init_mlp(kb, [64, recipe.hidden, recipe.hidden, recipe.representation]),
        "projector": init_mlp(kp, [recipe.representation, 128, recipe.embedding]),
    }


def train(recipe: Recipe | None = None, progress: bool = True) -> tuple[dict, list[float]]:
    recipe = recipe or Recipe()
    params = init(recipe)
    optimizer = optax.adamw(recipe.learning_rate, weight_decay=recipe.weight_decay)
    state = optimizer.init(params)

    def loss_fn(params: dict, views: jax.Array, step: jax.Array) -> jax.Array:
        z = apply_mlp(params["projector"], apply_mlp(params["backbone"], views))  # (V, B, embedding)
        return sigreg.lejepa_loss(z, lam=recipe.lam, num_slices=recipe.num_slices, seed=step)

    @jax.jit
    def update(params: dict, state: optax.OptState, views: jax.Array, step: jax.Array):
        loss, grads = jax.value_and_grad(loss_fn)(params, views, step)
        updates, state = optimizer.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    x_train = load(recipe.seed)[0]
    losses = []
    bar = tqdm(batches(x_train, recipe), total=recipe.steps, disable=not progress)
    for step, views in bar:
        params, state, loss = update(params, state, jnp.asarray(views), jnp.asarray(step, dtype=jnp.int32))
        losses.append(float(loss))
        if step % 50 == 0:
            bar.set_postfix(loss=f"{losses[-1]:.4f}")
    return params, losses


def run(recipe: Recipe | None = None, progress: bool = True) -> dict[str, float]:
    recipe = recipe or Recipe()
    params, _ = train(recipe, progress)
    x_train, x_test, y_train, y_test = load(recipe.seed)
    rep_train = apply_mlp(params["backbone"], jnp.asarray(x_train))
    rep_test = apply_mlp(params["backbone"], jnp.asarray(x_test))
    emb_test = apply_mlp(params["projector"], rep_test)
    return evaluate(np.asarray(rep_train), np.asarray(rep_test), np.asarray(emb_test), y_train, y_test)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lam", type=float, default=Recipe.lam)
    parser.add_argument("--steps", type=int, default=Recipe.steps)
    args = parser.parse_args()
    print(json.dumps(run(Recipe(lam=args.lam, steps=args.steps)), indent=2))
