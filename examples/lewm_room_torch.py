"""LeWorldModel in a 2-D room, in PyTorch: ``python examples/lewm_room_torch.py [--lam 0.1]``.

A conv encoder ending in a batch-norm projector (as LeWM's) maps each 32x32 frame to a latent;
an action-conditioned predictor maps (latent, action) to the next latent. Both train end to end
on random-policy clips with ``sigreg.lewm_loss(predicted, target, embeddings)``: next-latent
prediction plus ``lam`` times SIGReg of the latents over the batch at each time step, fresh
directions every step (seed = step). Then: a linear probe of the position, planning to a goal
frame by CEM in latent space, surprise at teleports (``examples/_room.py``).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from _room import SIZE, Model, Recipe, batches, evaluate, monitor_frames, spread
from lejepa_digits_torch import mlp
from tqdm import tqdm

import sigreg


class Encoder(torch.nn.Module):
    """Three stride-2 convolutions (32 -> 4 pixels a side), a linear layer, then the projector:
    Linear, BatchNorm, GELU, Linear (LeWM's; a LayerNorm there would fight SIGReg)."""

    def __init__(self, recipe: Recipe) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        channels = (1, *recipe.channels)
        for a, b in itertools.pairwise(channels):
            layers += [torch.nn.Conv2d(a, b, 4, stride=2, padding=1), torch.nn.GELU()]
        side = SIZE // 2 ** len(recipe.channels)
        layers += [
            torch.nn.Flatten(),
            torch.nn.Linear(channels[-1] * side * side, recipe.hidden),
            torch.nn.GELU(),
        ]
        self.backbone = torch.nn.Sequential(*layers)
        self.projector = mlp([recipe.hidden, recipe.hidden, recipe.embedding])

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(frames))


class Predictor(torch.nn.Module):
    """The next latent: ``z + f(z, a)``, f an MLP with batch norm in its hidden layers."""

    def __init__(self, recipe: Recipe) -> None:
        super().__init__()
        self.net = mlp([recipe.embedding + 2, recipe.hidden, recipe.hidden, recipe.embedding])

    def forward(self, z: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        shape = z.shape
        flat = torch.cat([z, actions], dim=-1).reshape(-1, shape[-1] + 2)
        return z + self.net(flat).reshape(shape)


def as_model(encoder: Encoder, predictor: Predictor) -> Model:
    """The evaluation's view: NumPy in and out, evaluation mode, no gradients."""
    encoder.eval()
    predictor.eval()

    @torch.no_grad()
    def encode(frames: np.ndarray) -> np.ndarray:
        return np.concatenate(
            [encoder(torch.from_numpy(f)).numpy() for f in np.array_split(frames, -(-len(frames) // 1024))]
        )

    @torch.no_grad()
    def predict(z: np.ndarray, actions: np.ndarray) -> np.ndarray:
        return predictor(torch.from_numpy(z), torch.from_numpy(actions.astype(np.float32))).numpy()

    @torch.no_grad()
    def plan_costs(start: np.ndarray, goal: np.ndarray, actions: np.ndarray) -> np.ndarray:
        a = torch.from_numpy(actions)
        z = torch.from_numpy(start).expand(a.shape[0], -1)
        for h in range(a.shape[1]):
            z = predictor(z, a[:, h])
        return (z - torch.from_numpy(goal)).square().sum(-1).numpy()

    return Model(encode, predict, plan_costs)


def train(recipe: Recipe | None = None, progress: bool = True):
    """The trained encoder and predictor, the losses, and the spread of the monitored frames'
    latents at ``recipe.checkpoints`` steps of training, the last at the end."""
    recipe = recipe or Recipe()
    torch.manual_seed(recipe.seed)
    encoder, predictor = Encoder(recipe), Predictor(recipe)
    params = [*encoder.parameters(), *predictor.parameters()]
    optimizer = torch.optim.AdamW(params, lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    monitored = monitor_frames()
    every = max(recipe.steps // max(recipe.checkpoints, 1), 1)
    losses, history = [], []
    for step, frames, actions in tqdm(batches(recipe), total=recipe.steps, disable=not progress):
        b, t = frames.shape[:2]  # batch norm sees all B * T frames of a step together
        z = encoder(torch.from_numpy(frames).reshape(b * t, 1, SIZE, SIZE)).reshape(b, t, -1)
        predicted = predictor(z[:, :-1], torch.from_numpy(actions))
        loss = sigreg.lewm_loss(predicted, z[:, 1:], z, **recipe.loss_options(step))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        if (step + 1) % every == 0 or step + 1 == recipe.steps:  # evaluation mode, then back
            history.append({"step": step + 1, **spread(as_model(encoder, predictor).encode(monitored))})
            encoder.train()
            predictor.train()
    return encoder, predictor, losses, history


def run(recipe: Recipe | None = None, progress: bool = True, planned_pairs: int = 50) -> dict:
    encoder, predictor, _, history = train(recipe, progress)
    return {**evaluate(as_model(encoder, predictor), planned_pairs), "history": history}


if __name__ == "__main__":
    import _room_report

    _room_report.main(run, __doc__)
