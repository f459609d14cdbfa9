"""PyTorch Lightning extras: a callback that monitors the embeddings during training.

Needs the optional dependency ``lightning`` (``pip install lightning``); importing
``sigreg`` does not import this module.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch

from ._api import regulariser as _regulariser
from ._core import checks as _checks
from ._pvalues import sliced as _sliced

__all__ = ["SIGRegMonitor", "effective_rank", "embedding_scale"]


def effective_rank(z: torch.Tensor) -> torch.Tensor:
    """Effective rank of embeddings ``z`` (N, D) (Roy and Vetterli, 2007).

    ``exp`` of the entropy of the normalised singular values of the centred embeddings.

    Parameters
    ----------
    z : torch.Tensor of shape (N, D)
        The embeddings.

    Returns
    -------
    torch.Tensor
        A 0-d tensor in ``[1, min(N, D)]``: D for isotropic embeddings, 1 for a
        collapse onto a line; NaN if the centred embeddings hold NaN or inf.

    Examples
    --------
    >>> import torch
    >>> from sigreg.lightning import effective_rank
    >>> line = torch.arange(5.0)[:, None] * torch.ones(1, 3)  # collapsed onto a line
    >>> round(float(effective_rank(line)), 6)
    1.0
    """
    centred = z - z.mean(dim=0, keepdim=True)
    # svdvals raises on NaN or inf: such embeddings are replaced by zeros and their rank by NaN,
    # on the device (no host sync).
    finite = torch.isfinite(centred).all()
    s = torch.linalg.svdvals(torch.where(finite, centred, torch.zeros_like(centred)))
    p = s / s.sum().clamp_min(torch.finfo(s.dtype).tiny)
    entropy = -(p * torch.log(p.clamp_min(torch.finfo(p.dtype).tiny))).sum()
    return torch.where(finite, torch.exp(entropy), torch.full_like(entropy, torch.nan))


def embedding_scale(z: torch.Tensor) -> torch.Tensor:
    """Root mean square of the embeddings' entries: 1 for N(0, I), 0 at a collapse to 0.

    Parameters
    ----------
    z : torch.Tensor of shape (N, D)
        The embeddings.

    Returns
    -------
    torch.Tensor
        A 0-d tensor, ``sqrt(mean(z ** 2))``.

    Examples
    --------
    >>> import torch
    >>> from sigreg.lightning import embedding_scale
    >>> float(embedding_scale(torch.full((4, 3), 2.0)))
    2.0
    """
    return torch.sqrt(torch.mean(z * z))


class SIGRegMonitor(pl.Callback):
    """Logs SIGReg, its p-value, the effective rank and the scale of the embeddings.

    Every ``every_n_steps`` training steps it reads the embeddings from the output of
    ``training_step`` (a dict holding them under ``key``), detached, and logs
    ``{prefix}/sigreg`` (:func:`sigreg.sigreg`), ``{prefix}/pvalue``
    (:func:`sigreg.test`, Monte Carlo null of ``n_resamples`` draws),
    ``{prefix}/effective_rank`` and ``{prefix}/scale`` with ``LightningModule.log``.
    Views ``(V, N, D)`` are flattened to ``(V * N, D)``. The directions are fixed
    (``seed``), so that the logged values of different steps are comparable.

    Parameters
    ----------
    every_n_steps : int, default 50
        Log after every n-th optimizer step (``trainer.global_step`` a multiple of n).
    key : str, default "embeddings"
        Key of the embeddings in the dict returned by ``training_step``.
    num_slices : int, default 256
        Directions of the statistic and of the test.
    n_resamples : int, default 199
        Monte Carlo null draws of the p-value (cached per shape after the first call);
        0 leaves the p-value out.
    seed : int, default 0
        Seed of the directions, fixed so that logged values compare across steps. A
        training loss instead needs a fresh seed at every step (or
        :class:`sigreg.torch.SIGReg`).
    prefix : str, default "sigreg"
        Prefix of the logged names.

    Raises
    ------
    TypeError, ValueError
        If an argument has the wrong type or value.

    Examples
    --------
    >>> from sigreg.lightning import SIGRegMonitor
    >>> SIGRegMonitor(every_n_steps=10).every_n_steps
    10
    """

    def __init__(
        self,
        every_n_steps: int = 50,
        *,
        key: str = "embeddings",
        num_slices: int = 256,
        n_resamples: int = 199,
        seed: int = 0,
        prefix: str = "sigreg",
    ) -> None:
        super().__init__()
        self.every_n_steps = _checks.integer("every_n_steps", every_n_steps, 1)
        if not isinstance(key, str) or not isinstance(prefix, str):
            raise TypeError("key and prefix must be strings")
        self.key = key
        self.num_slices = _checks.integer("num_slices", num_slices, 1)
        self.n_resamples = _checks.integer("n_resamples", n_resamples, 0)
        self.seed = _checks.integer("seed", seed, 0)
        self.prefix = prefix

    def metrics(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """The logged values for embeddings ``z`` (..., N, D).

        Parameters
        ----------
        z : torch.Tensor
            The embeddings; leading axes are flattened into the samples.

        Returns
        -------
        dict of str to torch.Tensor
            0-d tensors named ``{prefix}/sigreg``, ``{prefix}/pvalue`` (unless
            ``n_resamples=0``), ``{prefix}/effective_rank`` and ``{prefix}/scale``;
            every one NaN if ``z`` holds NaN or inf (a diverged step is logged, not
            raised).

        Raises
        ------
        ValueError
            If ``z`` is not of shape (..., N, D) with at least 2 dimensions (the message
            of :func:`sigreg.sigreg`).

        Examples
        --------
        >>> import torch
        >>> from sigreg.lightning import SIGRegMonitor
        >>> sorted(SIGRegMonitor(n_resamples=0).metrics(torch.randn(64, 4)))
        ['sigreg/effective_rank', 'sigreg/scale', 'sigreg/sigreg']
        """
        if not isinstance(z, torch.Tensor):
            raise TypeError(f"z must be a torch.Tensor, got {type(z).__name__}")
        # 1-D input would otherwise be flattened into one sample of N features.
        _checks.embeddings("z", z, _checks.namespace("z", z))
        z = z.detach().reshape(-1, z.shape[-1])
        z = z if z.dtype == torch.float64 else z.float()
        out = {
            f"{self.prefix}/sigreg": _regulariser.sigreg(z, num_slices=self.num_slices, seed=self.seed),
            f"{self.prefix}/effective_rank": effective_rank(z),
            f"{self.prefix}/scale": embedding_scale(z),
        }
        if self.n_resamples:
            result = _sliced.test(z, num_slices=self.num_slices, seed=self.seed, n_resamples=self.n_resamples)
            out[f"{self.prefix}/pvalue"] = torch.as_tensor(result.pvalue, dtype=z.dtype, device=z.device)
        # Non-finite embeddings (a diverged step): every metric NaN, decided on the device.
        finite = torch.isfinite(z).all()
        return {
            name: torch.where(finite, value, torch.full_like(value, torch.nan)) for name, value in out.items()
        }

    def on_train_batch_end(  # numpydoc ignore=EX01
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        """Log the metrics every ``every_n_steps`` steps (a Lightning hook).

        Parameters
        ----------
        trainer : lightning.pytorch.Trainer
            The trainer.
        pl_module : lightning.pytorch.LightningModule
            The module being trained; its ``log`` records the values.
        outputs : dict
            What ``training_step`` returned; must hold the embeddings under ``key``.
        batch : Any
            The batch (unused).
        batch_idx : int
            The batch index (unused).

        Raises
        ------
        KeyError
            If ``outputs`` holds no tensor under ``key``.
        """
        if trainer.global_step % self.every_n_steps != 0:  # counts optimizer steps, done ones
            return
        z = outputs.get(self.key) if isinstance(outputs, dict) else None
        if not isinstance(z, torch.Tensor):
            raise KeyError(
                f"SIGRegMonitor: training_step must return a dict with the embeddings under {self.key!r}"
            )
        with torch.no_grad():
            for name, value in self.metrics(z).items():
                pl_module.log(name, value.to(torch.float32), on_step=True, on_epoch=False)
