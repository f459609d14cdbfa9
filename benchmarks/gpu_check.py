"""One short run on a GPU machine: tests, accuracy, speed, memory, syncs and kernel resources.

    python benchmarks/gpu_check.py [--output docs/data/benchmark-gpu.md] [--device cuda|cpu] [--quick]

Needs only torch, triton, numpy and pytest (a GPU machine may have no network), and fits in
about 8 minutes on one H200. In order:

1. The kernel and host-sync tests (``tests/backend/test_triton_ecf.py``,
   ``tests/backend/test_host_sync.py`` and anything marked ``gpu``), which run on the CUDA
   device when there is one.
2. Value and gradient of ``sigreg.sigreg`` (the Triton kernels on CUDA) against the naive
   formula evaluated in float64 by torch's autograd: float32 within 1e-5 relative, float64
   within 1e-12.
3. Paper Table 6's shapes (D = 512, 17 knots; N = 512, 2048, 8192, 32768 with K = 512 and
   N = 8192 with K = 8192): sigreg eager against the naive port, forward + backward, CUDA
   events, peak memory, through ``benchmarks/bench_gpu.py``'s own measuring code
   (``torch.compile`` is left out here: its compilations would take most of the budget).
4. Host syncs per training step: ``torch.cuda.set_sync_debug_mode("warn")`` counts them.
5. The registers and spills of every kernel variant the steps above compiled.

It writes a Markdown report naming the device to ``--output`` and exits non-zero if a test
or an accuracy check failed. ``--device cpu --quick`` is the dry run CI takes (tiny shapes,
no CUDA): every step runs except those that need CUDA, which say so.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_gpu  # noqa: E402

SHAPES = [(512, 512), (2048, 512), (8192, 512), (32768, 512), (8192, 8192)]
QUICK_SHAPES = [(64, 16), (128, 16)]
TOLERANCE = {"float32": 1e-5, "float64": 1e-12}
TESTS = ["tests/backend/test_triton_ecf.py", "tests/backend/test_host_sync.py"]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_tests(quick: bool, timeout: float) -> tuple[bool, str]:
    """The GPU-relevant tests in a fresh process; (passed, the summary line)."""
    selection = ["-k", "meta_tensors or invalid_inputs or detectors"] if quick else []
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *TESTS, *selection]
    cmd += ["-m", "gpu or not slow"]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SIGREG_TEST_BACKENDS": "torch"}
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout:.0f} s"
    lines = [line for line in done.stdout.strip().splitlines() if line.strip()]
    summary = lines[-1] if lines else done.stderr.strip()[-300:]
    if done.returncode != 0:
        log(done.stdout[-5000:])
    return done.returncode == 0, summary.strip("= ")


def naive_float64(z: Any, a: Any, num_points: int) -> Any:
    """The statistic by its definition, in float64, differentiable by autograd."""
    import torch

    t = torch.linspace(0.0, bench_gpu.T_MAX, num_points, dtype=torch.float64, device=z.device)
    phi = torch.exp(-0.5 * t**2)
    w = torch.full_like(t, 2 * bench_gpu.T_MAX / (num_points - 1))
    w[0] = w[-1] = bench_gpu.T_MAX / (num_points - 1)
    xt = (z @ a)[..., None] * t
    err = (torch.cos(xt).mean(0) - phi) ** 2 + torch.sin(xt).mean(0) ** 2
    return (err @ (w * phi)).mean() * z.shape[0]


def accuracy(device: str, quick: bool) -> list[dict[str, Any]]:
    """Relative errors of value and gradient against the float64 naive reference."""
    import torch

    import sigreg

    n, d, k = (64, 8, 16) if quick else (2048, 64, 256)
    z64 = torch.from_numpy(np.random.default_rng(1).standard_normal((n, d))).to(device)
    a64 = torch.from_numpy(np.asarray(sigreg.directions(d, k, seed=0), dtype=np.float64)).to(device)
    x = z64.clone().requires_grad_(True)
    want = naive_float64(x, a64, bench_gpu.P)
    (want_grad,) = torch.autograd.grad(want, x)
    rows = []
    for dtype in (torch.float32, torch.float64):
        x = z64.to(dtype).requires_grad_(True)
        value = sigreg.sigreg(x, directions=a64.to(dtype), num_points=bench_gpu.P)
        (grad,) = torch.autograd.grad(value, x)
        name = str(dtype).removeprefix("torch.")
        value_err = abs(float(value.detach()) - float(want.detach())) / abs(float(want.detach()))
        grad_err = float((grad.double() - want_grad).abs().max() / want_grad.abs().max())
        ok = value_err <= TOLERANCE[name] and grad_err <= TOLERANCE[name]
        rows.append({"dtype": name, "value": value_err, "grad": grad_err, "ok": ok})
        log(f"accuracy {name}: value {value_err:.1e}, gradient {grad_err:.1e}")
    return rows


def syncs_per_step(device: str, quick: bool) -> int | str:
    """Synchronising CUDA calls in one forward+backward, counted by torch's sync debug mode."""
    if device != "cuda":
        return "n/a (no CUDA)"
    import torch

    import sigreg

    n, d, k = (256, 32, 64) if quick else (8192, 512, 512)
    z_np, a_np = bench_gpu.inputs(n, k, d)
    z, a = torch.from_numpy(z_np).to(device), torch.from_numpy(a_np).to(device)

    def step() -> None:
        x = z.detach().requires_grad_(True)
        sigreg.sigreg(x, directions=a).backward()

    step()  # compiles the kernels and makes the cached constants
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return sum("synchroniz" in str(w.message).lower() for w in caught)


def timings(device: str, quick: bool) -> list[bench_gpu.Row]:
    setup = bench_gpu.Setup(
        device=device,
        quick=quick,
        warmup=1 if quick else 2,
        repeats=3 if quick else 10,
        compile_backend="aot_eager",
    )
    dim = bench_gpu.QUICK_D if quick else bench_gpu.D
    rows = []
    for n, k in QUICK_SHAPES if quick else SHAPES:
        log(f"timing N={n} K={k}")
        row = bench_gpu.Row("torch", n, k)
        bench = bench_gpu.torch_bench(*bench_gpu.inputs(n, k, dim), setup)
        bench.steps.pop("compiled")
        bench_gpu.check_agreement(bench_gpu.warm_up(bench, row, setup), row)
        bench_gpu.time_alternating(bench, row, setup)
        row.peak = {impl: bench_gpu.torch_peak(bench, row, impl, setup) for impl in ("eager", "naive")}
        bench.release()
        log("  " + bench_gpu.table_line(row))
        rows.append(row)
    return rows


def kernel_resources() -> list[str]:
    """Registers and spills of each kernel variant this process compiled (CUDA only)."""
    from sigreg._backend.kernels import triton_kernels

    module = triton_kernels()
    compiled = getattr(module, "_COMPILED_RESOURCES", {}) if module is not None else {}
    return [
        f"| {key[1]} | {', '.join(f'{k}={v}' for k, v in key[2:])} | {regs} | {spills} |"
        for key, (regs, spills) in sorted(compiled.items(), key=str)
    ]


def device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return f"{torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda})"
    return f"CPU {platform.processor() or platform.machine()} (torch {torch.__version__}, dry run)"


def report(device: str, quick: bool, timeout: float) -> tuple[list[str], bool]:
    began = time.perf_counter()
    if device == "cpu":
        # The dry run checks this script, not sigreg's CPU kernels: without Numba's first
        # compilations (a minute on a small machine) the array-API plan serves the CPU tensors.
        import sigreg._backend.kernels

        sigreg._backend.kernels._LOADED["numba"] = None
    tests_ok, tests_summary = run_tests(quick, timeout)
    log(f"tests: {tests_summary} ({time.perf_counter() - began:.0f} s so far)")
    acc = accuracy(device, quick)
    log(f"accuracy done ({time.perf_counter() - began:.0f} s so far)")
    rows = timings(device, quick)
    syncs = syncs_per_step(device, quick)
    kernels = kernel_resources()
    import triton

    lines = [
        f"Device: {device_name(device)}, Triton {triton.__version__}, Python {platform.python_version()},"
        f" {datetime.date.today().isoformat()}. Generated by `python benchmarks/gpu_check.py"
        f"{' --device cpu --quick' if quick else ''}` in {time.perf_counter() - began:.0f} s.",
        "",
        f"Tests ({', '.join(TESTS)}, and any marked gpu):"
        f" {'passed' if tests_ok else 'FAILED'} ({tests_summary}).",
        "",
        "Value and gradient against the naive formula in float64 (relative error; limit float32 1e-5,"
        " float64 1e-12):",
        "",
        "| dtype | value | gradient | within limit |",
        "|---|---|---|---|",
        *(
            f"| {r['dtype']} | {r['value']:.1e} | {r['grad']:.1e} | {'yes' if r['ok'] else 'NO'} |"
            for r in acc
        ),
        "",
        f"Forward + backward, float32, D={bench_gpu.QUICK_D if quick else bench_gpu.D}, {bench_gpu.P} knots"
        " (paper Table 6's shapes), median of timed calls with CUDA events, peak memory above the inputs;"
        " torch.compile not timed here:",
        "",
        bench_gpu.COLUMNS,
        bench_gpu.SEPARATOR,
        *map(bench_gpu.table_line, rows),
        *bench_gpu.notes(rows),
        "",
        "Host syncs in one forward+backward (N=8192, D=512, K=512;"
        f" torch.cuda.set_sync_debug_mode): {syncs}.",
        "",
        "Kernel variants compiled in this run:",
        "",
        "| kernel | constexprs | registers | spills [B] |",
        "|---|---|---|---|",
        *(kernels or ["| (none: no CUDA) | | | |"]),
    ]
    return lines, tests_ok and all(r["ok"] for r in acc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=ROOT / "docs" / "data" / "benchmark-gpu.md")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny shapes and a few tests: the CI dry run")
    parser.add_argument("--test-timeout", type=float, default=240.0, help="seconds for the tests")
    args = parser.parse_args(argv)
    lines, ok = report(args.device, args.quick, args.test_timeout)
    text = "\n".join(lines) + "\n"
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text)
    print(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
