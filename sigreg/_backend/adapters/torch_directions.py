"""Slice directions under torch.compile on the CPU: one opaque op, not Inductor code.

Inductor fuses the counter hash, the logs and cosines and the column norms into C++ kernels of
its own (the backward recomputes them in more), and compiling those is most of a cold compile of
a training step that draws its directions. As a custom op, the draw runs sigreg's eager code
(microseconds at training sizes) and the compiled step gets the eager step's directions, bit for
bit. On CUDA, Inductor's one fused Triton kernel is kept: there the eager draw's thirty small
launches would cost every step.
"""

from __future__ import annotations

from typing import Any

import torch
from array_api_compat import torch as _xp

from ..._core import draws


@torch.library.custom_op("sigreg::directions", mutates_args=())
def _from_int_keys(
    dim: int, num_slices: int, keys: list[int], device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """The directions of a Python int seed (its four keys)."""
    out: torch.Tensor = draws.from_keys(dim, num_slices, list(keys), _xp, device, dtype)
    return out


@_from_int_keys.register_fake
def _(dim: int, num_slices: int, keys: list[int], device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    return torch.empty((dim, num_slices), device=device, dtype=dtype)


@torch.library.custom_op("sigreg::directions_of_array_seed", mutates_args=())
def _from_tensor_keys(dim: int, num_slices: int, keys: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """The directions of an array seed: its four keys, each of shape (1,), stacked."""
    out: torch.Tensor = draws.from_keys(dim, num_slices, list(keys.unbind(0)), _xp, keys.device, dtype)
    return out


@_from_tensor_keys.register_fake
def _(dim: int, num_slices: int, keys: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return keys.new_empty((dim, num_slices), dtype=dtype)


def directions(dim: int, num_slices: int, keys: list[Any], device: Any, dtype: Any) -> torch.Tensor:
    """``draws.from_keys`` with torch; under torch.compile on the CPU, as one of the ops above."""
    on_cpu = torch.device(device if device is not None else "cpu").type == "cpu"
    if not (torch.compiler.is_compiling() and on_cpu):
        out: torch.Tensor = draws.from_keys(dim, num_slices, keys, _xp, device, dtype)
        return out
    if all(isinstance(k, int) for k in keys):
        return _from_int_keys(dim, num_slices, keys, torch.device("cpu"), dtype)  # type: ignore[no-any-return]
    return _from_tensor_keys(dim, num_slices, torch.stack(keys), dtype)  # type: ignore[no-any-return]
