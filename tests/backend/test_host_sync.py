"""No host data flows to the device in a training step (no pageable copy, no stream sync).

A forward+backward on ``meta`` tensors (PyTorch's accelerator plan, no CPU involved) runs under
a TorchFunctionMode that records every tensor built on a non-CPU device from host data
(``torch.tensor``, ``torch.asarray``, ``torch.as_tensor`` of a Python sequence or NumPy array)
and every CPU tensor copied or moved to a non-CPU device (``Tensor.to``, ``copy_``, ``cuda``),
and a TorchDispatchMode that records any aten operation reading a CPU tensor into a meta
result. On CUDA each of these is a host-to-device copy from pageable memory, which
synchronises the stream. The constants of the statistic are made once per device: the first
step may copy them, later steps copy nothing.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch", reason="the meta device is PyTorch's: torch is not installed")

from torch.overrides import TorchFunctionMode  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils._pytree import tree_leaves  # noqa: E402

import sigreg  # noqa: E402

_FROM_HOST = {"tensor", "asarray", "as_tensor"}
_MOVES = {"to", "copy_", "cuda", "_to_copy"}


def _non_cpu(device: object) -> bool:
    return device is not None and torch.device(device).type != "cpu"  # type: ignore[arg-type]


class HostToDevice(TorchFunctionMode):
    """Records each host-to-device transfer a block of code asks for (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.transfers: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", str(func))
        if name in _FROM_HOST:
            data = args[0] if args else kwargs.get("data", kwargs.get("obj"))
            if _non_cpu(kwargs.get("device")) and not isinstance(data, torch.Tensor):
                self.transfers.append(f"torch.{name}({type(data).__name__}, device={kwargs['device']})")
        elif name in _MOVES and args and isinstance(args[0], torch.Tensor):
            source = args[1] if name == "copy_" and len(args) > 1 else args[0]
            targets = [a for a in (*args[1:], *kwargs.values()) if isinstance(a, (str, torch.device))]
            destination = args[0].device if name == "copy_" else (targets[0] if targets else None)
            if name == "cuda":
                destination = "cuda"
            if isinstance(source, torch.Tensor) and source.device.type == "cpu" and _non_cpu(destination):
                self.transfers.append(f"Tensor.{name}(cpu -> {destination})")
        return func(*args, **kwargs)


class CpuInputs(TorchDispatchMode):
    """Records aten operations that read a CPU tensor and produce a meta tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.transfers: list[str] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        inputs = [a for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)]
        outputs = [a for a in tree_leaves(out) if isinstance(a, torch.Tensor)]
        # 0-d CPU tensors are scalars that PyTorch passes as kernel arguments, not copies.
        if any(a.device.type == "cpu" and a.dim() > 0 for a in inputs) and any(o.is_meta for o in outputs):
            self.transfers.append(str(func))
        return out


def _step(**kwargs) -> None:
    z = torch.randn(64, 8, device="meta", requires_grad=True)
    sigreg.sigreg(z, **kwargs).backward()
    assert z.grad is not None and z.grad.shape == z.shape


CASES = {
    "directions given": lambda: {"directions": torch.randn(8, 16, device="meta")},
    "seed": lambda: {"num_slices": 16, "seed": 3},
    "all_reduce": lambda: {"num_slices": 16, "seed": 3, "all_reduce": lambda x: x},
    "40 knots (re-anchored chunks)": lambda: {"num_slices": 16, "seed": 5, "num_points": 41},
    "simpson": lambda: {"num_slices": 16, "seed": 3, "integration": "simpson"},
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_a_training_step_copies_nothing_from_the_host(case):
    _step(**case())  # the first step on a device may make the cached constants
    functions, dispatch = HostToDevice(), CpuInputs()
    with functions, dispatch:
        _step(**case())
    assert functions.transfers == [] and dispatch.transfers == []


def test_the_detectors_see_host_to_device_copies():
    """The modes above are not blind: each kind of transfer they look for is recorded."""
    functions, dispatch = HostToDevice(), CpuInputs()
    with functions, dispatch:
        torch.tensor([1.0, 2.0], device="meta")
        torch.asarray((1.0, 2.0), device="meta")
        torch.ones(3).to("meta")
        torch.empty(3, device="meta").copy_(torch.ones(3))
    assert len(functions.transfers) == 4, functions.transfers
    assert len(dispatch.transfers) >= 2, dispatch.transfers


def test_constants_made_under_inference_mode_serve_a_later_backward():
    """A first call under torch.inference_mode() must not cache inference tensors, which a
    later training step could not save for its backward."""
    import sigreg._core.arrays

    sigreg._core.arrays._CONSTANTS.clear()
    with torch.inference_mode():
        sigreg.sigreg(torch.randn(64, 8, device="meta"), num_slices=4, seed=1, num_points=9)
    assert sigreg._core.arrays._CONSTANTS and not any(
        torch.is_inference(c) for c in sigreg._core.arrays._CONSTANTS.values()
    )
    _step(num_slices=4, seed=1, num_points=9)
