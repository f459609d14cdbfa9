"""PyTorch adapter: autograd.Function, torch.func, torch.compile (the module: tests/public/test_torch.py)."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

torch = pytest.importorskip("torch")

import sigreg  # noqa: E402
import sigreg.torch  # noqa: E402


def _case(seed=0, n=48, d=6, k=9, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, d, generator=g, dtype=dtype) * 1.1 + 0.1
    a = torch.randn(d, k, generator=g, dtype=dtype)
    return z, a / a.norm(dim=0)


def naive_sigreg(z, a, t_max=3.0, num_points=17):
    """The materialising formula, as public ports write it, differentiated by autograd."""
    t = torch.linspace(-t_max, t_max, 2 * num_points - 1, dtype=z.dtype)
    phi = torch.exp(-0.5 * t**2)
    xt = (z @ a).unsqueeze(-1) * t  # (N, K, T)
    err = (torch.cos(xt).mean(0) - phi) ** 2 + torch.sin(xt).mean(0) ** 2
    return (torch.trapezoid(err * phi, t, dim=-1) * z.shape[0]).mean()


def test_gradcheck():
    z, a = _case(n=10, d=3, k=4)
    z.requires_grad_(True)
    for integration in ("trapezoid", "exact"):
        assert torch.autograd.gradcheck(
            lambda x, integration=integration: sigreg.sigreg(
                x, directions=a, integration=integration, reduction="none"
            ),
            (z,),
        )


def test_equals_autograd_of_naive_formula():
    z, a = _case()
    z1 = z.clone().requires_grad_(True)
    z2 = z.clone().requires_grad_(True)
    naive_sigreg(z1, a).backward()
    value = sigreg.sigreg(z2, directions=a)
    value.backward()
    assert value.item() == pytest.approx(naive_sigreg(z, a).item(), rel=1e-12)
    rel = float((z1.grad - z2.grad).abs().max() / z1.grad.abs().max())
    assert rel <= 1e-10, rel


def test_torch_func_grad_matches_backward():
    z, a = _case(seed=1)
    grad = torch.func.grad(lambda x: sigreg.sigreg(x, directions=a))(z)
    _, expected = sigreg.value_and_grad(z, directions=a)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=0)


@pytest.mark.slow
def test_torch_compile_forward_and_backward_equal_eager():
    z, _ = _case(seed=2, dtype=torch.float32)

    def loss(x):
        return sigreg.sigreg(x, num_slices=32, seed=5)

    compiled = torch.compile(loss, fullgraph=True)
    ze = z.clone().requires_grad_(True)
    zc = z.clone().requires_grad_(True)
    eager_value = loss(ze)
    eager_value.backward()
    compiled_value = compiled(zc)
    compiled_value.backward()
    torch.testing.assert_close(compiled_value, eager_value, rtol=1e-6, atol=0)
    torch.testing.assert_close(zc.grad, ze.grad, rtol=1e-5, atol=1e-5 * float(ze.grad.abs().max()))


@pytest.mark.parametrize("seed", [5, 2**40 + 3, "array"])
def test_torch_compile_draws_directions_in_one_op_with_eager_bits(seed):
    """On the CPU the draw is one custom op in the graph (Inductor spent most of a cold compile on
    its hash, logs and cosines), so the compiled draw is the eager one, bit for bit."""
    seed = torch.tensor(2**33 + 7) if seed == "array" else seed
    graphs = []

    def recording_backend(gm, example_inputs):
        graphs.append(gm)
        return gm.forward

    def draw(z):
        return z @ sigreg.directions(6, 40, seed=seed, xp=torch, dtype=z.dtype)

    z = torch.eye(6, dtype=torch.float32)
    expected = draw(z)
    assert torch.equal(torch.compile(draw, fullgraph=True, backend=recording_backend)(z), expected)
    op = (
        torch.ops.sigreg.directions_of_array_seed
        if isinstance(seed, torch.Tensor)
        else torch.ops.sigreg.directions
    )
    targets = [node.target for node in graphs[0].graph.nodes]
    assert targets.count(op.default) == 1, targets
    torch._dynamo.reset()
    assert torch.equal(torch.compile(draw, fullgraph=True)(z), expected)  # through Inductor


@pytest.mark.slow
@pytest.mark.parametrize(
    ("statistic", "options", "sizes"),
    [
        ("epps_pulley", {"fullgraph": True}, (64, 80, 20)),
        ("jarque_bera", {"fullgraph": True}, (64, 80, 20)),
        # Order statistics build tables of N on the host: a symbolic N breaks the graph there,
        # and the break runs them eagerly (fullgraph=True would refuse).
        ("anderson_darling", {}, (64, 80, 20)),
        # Its saved coefficients are a view of a gathered table (cloned for dynamo); a symbolic N
        # is refused inside dynamo (torch 2.13), so one size.
        ("shapiro_wilk", {"fullgraph": True}, (64,)),
    ],
)
def test_torch_compile_follows_the_batch_size(statistic, options, sizes):
    """A last, smaller batch: after a second shape, dynamo retraces with a symbolic N; values and
    gradients stay eager's. The sample counts are Python
    numbers, which dynamo refuses among an autograd.Function's outputs when they are symbolic."""
    torch._dynamo.reset()

    def loss(x):
        return sigreg.sigreg(x, num_slices=8, seed=3, statistic=statistic)

    compiled = torch.compile(loss, backend="eager", **options)
    for n in sizes:
        z = torch.randn(n, 16, generator=torch.Generator().manual_seed(n))
        ze, zc = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
        eager_value, compiled_value = loss(ze), compiled(zc)
        eager_value.backward()
        compiled_value.backward()
        torch.testing.assert_close(compiled_value, eager_value, rtol=1e-6, atol=0)
        torch.testing.assert_close(zc.grad, ze.grad, rtol=1e-5, atol=1e-7)


def test_torch_compile_does_not_recompile_after_an_unrelated_import():
    """A compiled step traces once: dynamo guarded on len(sys.modules) (a lookup of the torch
    namespace there), so any later import anywhere (inductor imports its own modules after the
    first compile) recompiled the step at its next call."""
    torch._dynamo.reset()
    traces = []

    def counting_backend(graph, example_inputs):
        traces.append(graph)
        return graph.forward

    step = torch.compile(
        lambda x: sigreg.sigreg(x, num_slices=8, seed=1), backend=counting_backend, fullgraph=True
    )
    z = torch.randn(32, 4)
    step(z)
    sys.modules["sigreg_test_unrelated_module"] = types.ModuleType("sigreg_test_unrelated_module")
    try:
        step(z)
    finally:
        del sys.modules["sigreg_test_unrelated_module"]
    assert len(traces) == 1


FIRST_CALL_COMPILED = """
import sys
import types
import torch
import sigreg

assert "sigreg.torch" not in sys.modules
compiled = torch.compile(lambda z: sigreg.sigreg(z, num_slices=8, seed=1), fullgraph=True, backend="eager")
z = torch.randn(32, 4, requires_grad=True)
compiled(z).backward()
torch.testing.assert_close(z.grad, sigreg.value_and_grad(z.detach(), num_slices=8, seed=1)[1])
"""


def test_torch_compile_traces_the_first_call_of_a_fresh_process():
    # The adapter modules are imported during tracing; dynamo must be able to.
    out = subprocess.run(
        [sys.executable, "-c", FIRST_CALL_COMPILED], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-3000:]


def test_backward_saves_no_n_by_k_by_p_tensor():
    n, d, k = 64, 8, 32
    z, a = _case(n=n, d=d, k=k)
    z.requires_grad_(True)
    saved = []

    def pack(t):
        saved.append(t.numel())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        sigreg.sigreg(z, directions=a).backward()
    assert saved and max(saved) <= n * k, saved


def test_bfloat16_and_float16_inputs():
    z, a = _case(seed=3, dtype=torch.float32)
    expected = sigreg.sigreg(z.to(torch.bfloat16).float(), directions=a)
    for dtype in (torch.bfloat16, torch.float16):
        zh = z.to(dtype).requires_grad_(True)
        value = sigreg.sigreg(zh, directions=a.to(dtype))
        assert value.dtype == torch.float32
        value.backward()
        assert zh.grad.dtype == dtype and torch.isfinite(zh.grad.float()).all()
        if dtype == torch.bfloat16:
            torch.testing.assert_close(value, expected, rtol=1e-2, atol=0)
    v, g = sigreg.value_and_grad(z.to(torch.bfloat16), num_slices=8)
    assert v.dtype == torch.float32 and g.dtype == torch.bfloat16


def test_gradient_flows_through_an_encoder():
    torch.manual_seed(0)
    encoder = torch.nn.Linear(5, 4).double()
    x = torch.randn(30, 5, dtype=torch.float64)
    sigreg.sigreg(encoder(x), num_slices=16).backward()
    manual_z = encoder(x)
    _, gz = sigreg.value_and_grad(manual_z.detach(), num_slices=16)
    expected = gz.T @ x
    torch.testing.assert_close(encoder.weight.grad, expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("integration", ["trapezoid", "exact"])
def test_second_derivatives(integration):
    """Double backward: gradgradcheck, and Hessian-vector products against finite differences."""
    z, a = _case(n=10, d=3, k=4)
    z.requires_grad_(True)

    def per_slice(x):
        return sigreg.sigreg(x, directions=a, integration=integration, reduction="none")

    assert torch.autograd.gradgradcheck(per_slice, (z,))

    def grad(x, create_graph=False):
        x = x if create_graph else x.detach().requires_grad_(True)
        loss = sigreg.sigreg(x, directions=a, integration=integration) ** 2
        return torch.autograd.grad(loss, x, create_graph=create_graph)[0]

    v = torch.randn(z.shape, generator=torch.Generator().manual_seed(1), dtype=z.dtype)
    hvp = torch.autograd.grad(grad(z, create_graph=True), z, v)[0]
    h = 1e-6
    numeric = (grad(z + h * v) - grad(z - h * v)) / (2 * h)
    assert float((hvp - numeric).abs().max() / numeric.abs().max()) <= 1e-7


def test_second_derivatives_with_all_reduce_raise():
    z, a = _case(n=10, d=3, k=4)
    z.requires_grad_(True)
    value = sigreg.sigreg(z, directions=a, all_reduce=lambda x: x)
    with pytest.raises(RuntimeError, match="second derivatives with all_reduce are not supported"):
        torch.autograd.grad(value, z, create_graph=True)
