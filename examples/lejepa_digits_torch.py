"""LeJEPA on scikit-learn's digits in PyTorch: ``python examples/lejepa_digits_torch.py [--lam 0.05]``.

Two global views (the whole image, shifted) and four local views (zoomed crops)
per image, an MLP backbone and projector (batch norm in the hidden layers, as in
LeJEPA's projector), and ``sigreg.lejepa_loss(global_views, local_views)``: the
targets are the mean of the global views, every view is pulled to them, with
fresh slice directions every step (seed = step).
"""

from __future__ import annotations

import itertools

import _report
import numpy as np
import torch
from _digits import Recipe, batches, evaluate, load
from tqdm import tqdm

import sigreg


def mlp(sizes: list[int]) -> torch.nn.Sequential:
    """Linear layers; every hidden one followed by batch norm and GELU."""
    layers: list[torch.nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers += [torch.nn.BatchNorm1d(b), torch.nn.GELU()]
    return torch.nn.Sequential(*layers)


def train(
    recipe: Recipe | None = None, progress: bool = True
) -> tuple[torch.nn.Module, torch.nn.Module, list[float]]:
    recipe = recipe or Recipe()
    torch.manual_seed(recipe.seed)
    backbone = mlp([64, recipe.hidden, recipe.hidden, recipe.representation])
    projector = mlp([recipe.representation, 128, recipe.embedding])
    params = [*backbone.parameters(), *projector.parameters()]
    optimizer = torch.optim.AdamW(params, lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    x_train = load(recipe.seed)[0]
    losses = []
    bar = tqdm(batches(x_train, recipe), total=recipe.steps, disable=not progress)
    for step, global_views, local_views in bar:
        views = torch.from_numpy(np.concatenate([global_views, local_views]))
        v, b, _ = views.shape  # batch norm sees all V * B views of a step together
        z = projector(backbone(views.reshape(v * b, -1))).reshape(v, b, -1)
        if recipe.rectified:  # Rectified LpJEPA: both terms see ReLU(z)
            z = torch.relu(z)
        z_global, z_local = z[: recipe.global_views], z[recipe.global_views :]
        loss = sigreg.lejepa_loss(z_global, z_local, lam=recipe.lam, **recipe.loss_options(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if step % 50 == 0:
            options = recipe.target_options()
            regulariser = sigreg.sigreg(z.detach(), num_slices=recipe.num_slices, seed=step, **options).item()
            bar.set_postfix(loss=f"{losses[-1]:.4f}", sigreg=f"{regulariser:.3f}")
    return backbone, projector, losses


def run(recipe: Recipe | None = None, progress: bool = True) -> dict[str, float]:
    recipe = recipe or Recipe()
    backbone, projector, _ = train(recipe, progress)
    backbone.eval()  # batch norm uses its running statistics from here on
    projector.eval()
    x_train, x_test, y_train, y_test = load(recipe.seed)
    with torch.no_grad():
        rep_train = backbone(torch.from_numpy(x_train))
        rep_test = backbone(torch.from_numpy(x_test))
        emb_test = projector(rep_test)
        if recipe.rectified:
            emb_test = torch.relu(emb_test)
    return evaluate(
        rep_train.numpy(), rep_test.numpy(), emb_test.numpy(), y_train, y_test, recipe.target_law()
    )


if __name__ == "__main__":
    _report.main(run, __doc__)
