"""Forward+backward time and peak memory of SIGReg on a GPU: sigreg against the naive port.

    python benchmarks/bench_gpu.py [--output docs/data/benchmark-gpu.md] [--device cuda|cpu]
                                   [--quick] [--frameworks torch,jax] [--compile-backend NAME]

What is measured: the value and the gradient with respect to z (forward + backward) of
SIGReg, float32, D = 512, P = 17 knots on the half line, t_max = 3, on the shapes of the
LeJEPA paper's Table 6, with the same directions (``sigreg.directions(D, K, seed=0)``)
for every implementation:

- torch: ``sigreg.sigreg`` eager; ``sigreg.sigreg`` under ``torch.compile`` (the first
  call, which compiles, is not timed: its duration is reported below the table); the
  naive materialising formula that public ports write (``naive`` below), backward by
  autograd.
- JAX: ``jax.jit(jax.value_and_grad(...))`` of ``sigreg.sigreg`` and of the same naive
  formula (the JAX time goes in the "sigreg eager" column; "compiled" is "-"). On CUDA
  sigreg runs the Pallas kernels; the same step traced with them off (XLA's fusion of the
  array-API plan) is timed too, and its time is a note below the table.

How: each framework runs in a process of its own (torch and JAX load their own CUDA
libraries and keep their own memory pools). Per shape, all of its implementations run in
that one process: W warm-up calls each, then R rounds that call them alternately, so that
clock and thermal phases hit them alike; the median of the R calls is reported. The
first call's value and gradient of every implementation are checked against sigreg
eager's. On CUDA, torch calls are timed with CUDA events around the call, JAX calls with
perf_counter around the call and block_until_ready; on CPU (``--device cpu``, for smoke
tests) perf_counter. TF32 is off (torch flags; JAX default matmul precision "highest").
Peak memory, torch: one extra call between ``torch.cuda.reset_peak_memory_stats()`` and
``torch.cuda.max_memory_allocated()``, minus what was allocated before it (the inputs);
JAX cannot reset its peak, so each (implementation, shape) runs once in a fresh process:
``peak_bytes_in_use`` after the call minus ``bytes_in_use`` before it (the program is
compiled ahead of the call, with XLA's GEMM autotuning off in that process so that its
trial buffers do not count). Where the device has no memory statistics (CPU) the peak is
"n/a". An implementation that runs out of device memory is reported as "OOM", one that
fails otherwise as "failed" (the error goes to stderr).

``--quick``: D = 32, (N, K) in (256, 64), (512, 64), 1 warm-up and 3 repeats, and the
``aot_eager`` compile backend (inductor takes about a minute per shape on a small CPU),
for smoke-testing the script in seconds. Progress goes to stderr, the table to stdout
and to ``--output``.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import gc
import importlib.metadata
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

# JAX shares the GPU with torch, and JAX is imported only after this line: without it
# JAX would reserve 75% of the GPU memory when it starts.
os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"

D, P, T_MAX = 512, 17, 3.0
SHAPES = [(512, 512), (2048, 512), (8192, 512), (32768, 512), (8192, 8192), (512, 8192)]
QUICK_D, QUICK_SHAPES = 32, [(256, 64), (512, 64)]
FRAMEWORKS = ("torch", "jax")
COLUMNS = (
    "| framework | N | K | sigreg eager [ms] | sigreg compiled [ms] | naive [ms] |"
    " speed-up (naive / best sigreg) | sigreg peak [MiB] | naive peak [MiB] |"
)
SEPARATOR = "|---|---|---|---|---|---|---|---|---|"

# A measurement, or the reason there is none ("OOM", "failed", "n/a", "-").
Measured = float | str


@dataclass
class Setup:
    device: str  # "cuda" or "cpu"
    quick: bool
    warmup: int
    repeats: int
    compile_backend: str

    @property
    def dim(self) -> int:
        return QUICK_D if self.quick else D

    @property
    def shapes(self) -> list[tuple[int, int]]:
        return QUICK_SHAPES if self.quick else SHAPES

    def to_args(self) -> list[str]:
        """The command-line options that give the same setup in a child process."""
        args = ["--device", self.device, "--warmup", str(self.warmup), "--repeats", str(self.repeats)]
        return [*args, "--compile-backend", self.compile_backend] + (["--quick"] if self.quick else [])


@dataclass
class Bench:
    """One framework's implementations on one shape, ready to call."""

    steps: dict[str, Callable[[], Any]]  # impl -> one call computing (value, grad)
    timer: Callable[[Callable[[], Any]], tuple[float, Any]]  # (milliseconds, output)
    is_oom: Callable[[BaseException], bool]
    to_numpy: Callable[[Any], tuple[float, np.ndarray]]
    release: Callable[[], None] = lambda: None  # give cached device memory back


@dataclass
class Row:
    framework: str
    n: int
    k: int
    ms: dict[str, Measured] = field(default_factory=dict)
    peak: dict[str, Measured] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- inputs


def grid() -> list[np.ndarray]:
    """Knots t_j on [0, t_max], target exp(-t_j^2/2), folded trapezoid weights times the
    Gaussian window (docs/numbers.md; the same grid as bench.py)."""
    t = np.linspace(0.0, T_MAX, P)
    phi = np.exp(-0.5 * t**2)
    w = np.full(P, 2 * T_MAX / (P - 1))
    w[0] = w[-1] = T_MAX / (P - 1)
    return [x.astype(np.float32) for x in (t, phi, w * phi)]


def inputs(n: int, k: int, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian embeddings and sigreg's own directions, on the host, the same for all."""
    import sigreg

    z = np.random.default_rng(0).standard_normal((n, dim), dtype=np.float32)
    return z, np.asarray(sigreg.directions(dim, k, seed=0), dtype=np.float32)


def naive(lib: Any, z: Any, a: Any, t: Any, phi: Any, weight: Any) -> Any:
    """What public ports write, for torch or jax.numpy (``lib``): same formula as sigreg,
    but cos/sin(t_j u) are N x K x P tensors that autodiff keeps for the backward."""
    xt = (z @ a)[..., None] * t
    err = (lib.cos(xt).mean(0) - phi) ** 2 + lib.sin(xt).mean(0) ** 2
    return (err @ weight).mean() * z.shape[0]


# ---------------------------------------------------------------------------- torch


def torch_info(device: str) -> tuple[str, str]:
    import torch

    name = torch.cuda.get_device_name() if device == "cuda" else _cpu_name()
    cuda = f"CUDA {torch.version.cuda}" if torch.version.cuda else "no CUDA"
    return name, f"torch {torch.__version__} ({cuda})"


def torch_unavailable(device: str) -> str | None:
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        return "torch sees no CUDA device"
    return None


def torch_bench(z_np: np.ndarray, a_np: np.ndarray, setup: Setup) -> Bench:
    import torch

    import sigreg

    # TF32 would round z @ A to 10-bit mantissas in one implementation or another.
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    torch.compiler.reset()  # a fresh compilation per shape, no recompile limits
    z, a, *knots = (torch.from_numpy(x).to(setup.device) for x in (z_np, a_np, *grid()))

    def eager(x: torch.Tensor) -> torch.Tensor:
        return sigreg.sigreg(x, directions=a)

    funcs = {
        "eager": eager,
        "compiled": torch.compile(eager, backend=setup.compile_backend, dynamic=False),
        "naive": lambda x: naive(torch, x, a, *knots),
    }

    def step(f: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[], Any]:
        def run() -> tuple[torch.Tensor, torch.Tensor]:
            x = z.detach().requires_grad_(True)
            value = f(x)
            (grad,) = torch.autograd.grad(value, x)
            return value, grad

        return run

    cuda = setup.device == "cuda"
    return Bench(
        steps={name: step(f) for name, f in funcs.items()},
        timer=_cuda_event_timer if cuda else _perf_counter_timer(lambda out: None),
        # Errors raised inside compiled code may come wrapped; their text still says it.
        is_oom=lambda err: isinstance(err, torch.cuda.OutOfMemoryError) or "CUDA out of memory" in str(err),
        to_numpy=lambda out: (float(out[0].detach()), out[1].detach().cpu().numpy()),
        release=torch.cuda.empty_cache if cuda else lambda: None,
    )


def _cuda_event_timer(run: Callable[[], Any]) -> tuple[float, Any]:
    import torch

    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    out = run()
    end.record()
    end.synchronize()
    return start.elapsed_time(end), out


def torch_peak_mib(run: Callable[[], Any]) -> float:
    """Peak of the allocations during one call, over what was allocated before it."""
    import torch

    gc.collect()
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    out = run()
    torch.cuda.synchronize()
    del out
    return (torch.cuda.max_memory_allocated() - before) / 2**20


# ---------------------------------------------------------------------------- JAX


def jax_device(device: str) -> Any:
    import jax

    # Full float32 matmuls, as torch with TF32 off (XLA may otherwise use TF32 on GPUs).
    jax.config.update("jax_default_matmul_precision", "highest")
    try:
        return jax.devices("gpu" if device == "cuda" else "cpu")[0]
    except RuntimeError:  # no such backend
        return None


def jax_info(device: str) -> tuple[str, str]:
    import jax

    plugins = sorted(
        f"{d.metadata['Name']} {d.version}"
        for d in importlib.metadata.distributions()
        if d.metadata["Name"] and d.metadata["Name"].replace("_", "-").startswith("jax-cuda")
    )
    versions = f"JAX {jax.__version__}" + (f" ({', '.join(plugins)})" if plugins else "")
    return jax_device(device).device_kind, versions


def jax_unavailable(device: str) -> str | None:
    return None if jax_device(device) is not None else f"JAX has no {device} backend"


def jax_functions() -> dict[str, Callable[..., Any]]:
    """value_and_grad (with respect to z) of sigreg and of the naive formula, jit-compiled.
    Directions and knots are arguments, not closed-over constants that XLA would embed."""
    import jax
    import jax.numpy as jnp

    import sigreg

    funcs = {
        "eager": lambda z, a, *knots: sigreg.sigreg(z, directions=a),
        "naive": lambda z, a, *knots: naive(jnp, z, a, *knots),
        "xla": lambda z, a, *knots: without_pallas(lambda: sigreg.sigreg(z, directions=a)),
    }
    return {impl: jax.jit(jax.value_and_grad(f)) for impl, f in funcs.items()}


def without_pallas(trace: Callable[[], Any]) -> Any:
    """``trace()`` with sigreg's Pallas kernels unavailable: the plan chosen while jit traces it
    is XLA's fusion of the array-API code (the same as sigreg on CUDA before the kernels)."""
    from sigreg._backend import kernels

    saved = kernels._LOADED.get("pallas", kernels)
    kernels._LOADED["pallas"] = None
    try:
        return trace()
    finally:
        if saved is kernels:
            del kernels._LOADED["pallas"]
        else:
            kernels._LOADED["pallas"] = saved


def jax_bench(z_np: np.ndarray, a_np: np.ndarray, setup: Setup) -> Bench:
    import jax

    device = jax_device(setup.device)
    args = [jax.device_put(x, device) for x in (z_np, a_np, *grid())]
    return Bench(
        steps={impl: functools.partial(f, *args) for impl, f in jax_functions().items()},
        timer=_perf_counter_timer(jax.block_until_ready),
        is_oom=lambda err: "RESOURCE_EXHAUSTED" in str(err),
        to_numpy=lambda out: (float(out[0]), np.asarray(out[1])),
    )


def jax_peak_child(impl: str, n: int, k: int, setup: Setup) -> dict[str, Any]:
    """In a fresh process (JAX's peak counter cannot be reset): compile, then one call."""
    import jax

    device = jax_device(setup.device)
    stats = device.memory_stats()
    if not stats or "peak_bytes_in_use" not in stats:
        return {"peak_mib": "n/a"}
    args = [jax.device_put(x, device) for x in (*inputs(n, k, setup.dim), *grid())]
    try:
        compiled = jax_functions()[impl].lower(*args).compile()
        before = device.memory_stats()
        jax.block_until_ready(compiled(*args))
    except jax.errors.JaxRuntimeError as err:
        if "RESOURCE_EXHAUSTED" not in str(err):
            raise
        return {"peak_mib": "OOM"}
    after = device.memory_stats()
    return {
        "peak_mib": (after["peak_bytes_in_use"] - before["bytes_in_use"]) / 2**20,
        # The peak counter also saw the compilation: if that went higher than the call, the
        # number above is the compilation's, an upper bound of the call's.
        "compile_peak_mib": (before["peak_bytes_in_use"] - before["bytes_in_use"]) / 2**20,
        "hidden": after["peak_bytes_in_use"] == before["peak_bytes_in_use"]
        and before["peak_bytes_in_use"] > before["bytes_in_use"],
    }


# ---------------------------------------------------------------------------- measuring


def _perf_counter_timer(wait: Callable[[Any], Any]) -> Callable[[Callable[[], Any]], tuple[float, Any]]:
    def timer(run: Callable[[], Any]) -> tuple[float, Any]:
        start = time.perf_counter()
        out = run()
        wait(out)  # JAX dispatches asynchronously
        return 1e3 * (time.perf_counter() - start), out

    return timer


def _attempt(bench: Bench, impl: str, action: Callable[[], Any]) -> tuple[Any, str | None]:
    """``action()``, or the reason it gave nothing ("OOM", "failed")."""
    try:
        return action(), None
    except Exception as err:
        if bench.is_oom(err):
            log(f"  {impl}: out of memory")
            reason = "OOM"
        else:
            log(f"  {impl} failed:\n{traceback.format_exc(limit=-3)}")
            reason = "failed"
    gc.collect()  # the traceback held the failed call's tensors
    bench.release()
    return None, reason


def warm_up(bench: Bench, row: Row, setup: Setup) -> dict[str, tuple[float, np.ndarray]]:
    """W calls of each implementation; the first (compilation) is timed apart."""
    results = {}
    for impl, run in bench.steps.items():
        first, reason = _attempt(bench, impl, lambda run=run: bench.timer(run))
        for _ in range(setup.warmup - 1):
            if reason is None:
                _, reason = _attempt(bench, impl, lambda run=run: bench.timer(run))
        if reason is not None:
            row.ms[impl] = reason
            continue
        ms, out = first
        results[impl] = bench.to_numpy(out)
        if impl == "compiled":
            row.notes.append(f"torch.compile first call {ms / 1e3:.1f} s")
    return results


def time_alternating(bench: Bench, row: Row, setup: Setup) -> None:
    """R rounds calling every surviving implementation once each; median per implementation."""
    live = [impl for impl in bench.steps if impl not in row.ms]
    samples: dict[str, list[float]] = {impl: [] for impl in live}
    for _ in range(setup.repeats):
        for impl in live:
            if impl in row.ms:
                continue
            timed, reason = _attempt(bench, impl, lambda impl=impl: bench.timer(bench.steps[impl]))
            if reason is not None:
                row.ms[impl] = reason
            else:
                samples[impl].append(timed[0])
            del timed
    for impl in live:
        if impl not in row.ms:  # it did not fail half-way
            row.ms[impl] = statistics.median(samples[impl])


def check_agreement(outputs: dict[str, tuple[float, np.ndarray]], row: Row) -> None:
    """Every implementation must give sigreg eager's value and gradient (float32 rounding)."""
    if "eager" not in outputs:
        return
    value, grad = outputs["eager"]
    for impl, (v, g) in outputs.items():
        value_err = abs(v - value) / max(abs(value), 1.0)
        grad_err = float(np.max(np.abs(g - grad))) / max(float(np.max(np.abs(grad))), 1e-30)
        if value_err > 1e-3 or grad_err > 1e-3:
            message = f"{impl} disagrees with sigreg eager (value {value_err:.1e}, gradient {grad_err:.1e})"
            log(f"  WARNING: {message}")
            row.notes.append(message)


def measure(framework: str, n: int, k: int, setup: Setup) -> Row:
    """Times of every implementation on one shape and, for torch, the peaks."""
    row = Row(framework, n, k)
    make = torch_bench if framework == "torch" else jax_bench
    bench = make(*inputs(n, k, setup.dim), setup)
    check_agreement(warm_up(bench, row, setup), row)
    time_alternating(bench, row, setup)
    if framework == "torch":
        row.peak = {impl: torch_peak(bench, row, impl, setup) for impl in ("eager", "naive")}
    if "xla" in row.ms:
        row.notes.append(f"sigreg with the Pallas kernels off (XLA's plan): {fmt(row.ms['xla'])} ms")
    bench.release()
    return row


def torch_peak(bench: Bench, row: Row, impl: str, setup: Setup) -> Measured:
    if isinstance(row.ms[impl], str):  # it ran out of memory or failed already
        return row.ms[impl]
    if setup.device != "cuda":
        return "n/a"
    peak, reason = _attempt(bench, impl, lambda: torch_peak_mib(bench.steps[impl]))
    return reason or peak


# ---------------------------------------------------------------------------- output


def _cpu_name() -> str:
    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def fmt(x: Measured) -> str:
    if isinstance(x, str):
        return x
    return f"{x:.3g}" if x < 100 else f"{x:.0f}"


def speed_up(row: Row) -> str:
    ours = [row.ms[i] for i in ("eager", "compiled") if isinstance(row.ms.get(i), float)]
    if not ours or not isinstance(row.ms.get("naive"), float):
        return "-"
    ratio = row.ms["naive"] / min(ours)
    return f"{ratio:.1f}x" if ratio >= 1 else f"{ratio:.2f}x"


def table_line(row: Row) -> str:
    cells = [row.framework, str(row.n), str(row.k)]
    cells += [fmt(row.ms.get(impl, "-")) for impl in ("eager", "compiled", "naive")]
    cells += [speed_up(row), fmt(row.peak.get("eager", "n/a")), fmt(row.peak.get("naive", "n/a"))]
    return "| " + " | ".join(cells) + " |"


def header(devices: dict[str, tuple[str, str]], setup: Setup) -> list[str]:
    names = "; ".join(f"{fw}: {name}" for fw, (name, _) in devices.items())
    versions = ", ".join(v for _, v in devices.values())
    return [
        f"Device: {names}. {versions}, Python {platform.python_version()}, "
        f"{datetime.date.today().isoformat()}.",
        "",
        f"float32, D={setup.dim}, P={P} knots, t_max={T_MAX:g}; TF32 off (JAX: matmul precision "
        f"highest); median of {setup.repeats} calls after {setup.warmup} warm-up call(s), implementations "
        f"alternating; torch.compile backend {setup.compile_backend}; JAX time in the eager column "
        "(jax.jit); peak memory of sigreg eager and of naive, above the inputs.",
        "",
    ]


def notes(rows: list[Row]) -> list[str]:
    lines = [f"- {r.framework} N={r.n} K={r.k}: {'; '.join(r.notes)}" for r in rows if r.notes]
    return ["", "Notes:", *lines] if lines else []


# ---------------------------------------------------------------------------- processes


def run_child(args: list[str], env: dict[str, str] | None = None, timeout: float = 3600) -> Any:
    """This script in a fresh process; its last line of stdout, as JSON (None if it failed).
    Its stderr (progress) goes straight through."""
    cmd = [sys.executable, __file__, *args]
    try:
        out = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"  timed out after {timeout:.0f} s: {' '.join(args)}")
        return None
    lines = out.stdout.strip().splitlines()
    if out.returncode != 0 or not lines:
        log(f"  failed (exit status {out.returncode}): {' '.join(args)}")
        return None
    return json.loads(lines[-1])


def framework_child(framework: str, setup: Setup) -> dict[str, Any]:
    """Times (and torch's peaks) of one framework on every shape, in this process."""
    reason = (torch_unavailable if framework == "torch" else jax_unavailable)(setup.device)
    if reason:
        return {"skip": reason}
    name, versions = (torch_info if framework == "torch" else jax_info)(setup.device)
    rows = []
    for n, k in setup.shapes:
        log(f"{framework} N={n} K={k}: timing")
        row = measure(framework, n, k, setup)
        log("  " + table_line(row))
        rows.append(asdict(row))
    return {"device": name, "versions": versions, "rows": rows}


def jax_peak_mib(impl: str, n: int, k: int, setup: Setup) -> tuple[Measured, str | None]:
    """The peak of one call in a fresh process, and a note when it is only an upper bound."""
    env = dict(os.environ)
    # Without GEMM autotuning, compilation allocates no trial buffers that the peak would count.
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + " --xla_gpu_autotune_level=0").strip()
    result = run_child(["--jax-peak", impl, str(n), str(k), *setup.to_args()], env=env, timeout=900)
    if result is None:
        return "failed", None
    if result.get("hidden"):
        note = f"jax {impl} peak is the compilation's ({result['compile_peak_mib']:.0f} MiB), an upper bound"
        log(f"  {note}")
        return result["peak_mib"], note
    return result["peak_mib"], None


def run_framework(framework: str, setup: Setup) -> tuple[tuple[str, str], list[Row]] | None:
    """Each framework in its own process: torch and JAX load their own CUDA libraries and keep
    their own memory pools, and neither then holds GPU memory while the other runs."""
    if importlib.util.find_spec(framework) is None:
        log(f"skipping {framework}: it is not installed")
        return None
    result = run_child(["--child", framework, *setup.to_args()])
    if result is None or "skip" in result:
        log(f"skipping {framework}: {result['skip'] if result else 'its process failed'}")
        return None
    rows = [Row(**row) for row in result["rows"]]
    if framework == "jax":  # after the timing process has exited
        for row in rows:
            for impl in ("eager", "naive"):
                log(f"jax N={row.n} K={row.k} {impl}: peak memory in a fresh process")
                row.peak[impl], note = jax_peak_mib(impl, row.n, row.k, setup)
                row.notes += [note] if note else []
    return (result["device"], result["versions"]), rows


# ---------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", help="write the Markdown table to this file")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny shapes, few repeats: a smoke test")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), help="comma list of torch, jax")
    parser.add_argument("--compile-backend", help="torch.compile backend (inductor; --quick: aot_eager)")
    parser.add_argument("--warmup", type=int, help="warm-up calls per implementation (3; --quick: 1)")
    parser.add_argument("--repeats", type=int, help="timed calls per implementation (20; --quick: 3)")
    # Internal: the processes that run_framework and jax_peak_mib start.
    parser.add_argument("--child", choices=FRAMEWORKS, help=argparse.SUPPRESS)
    parser.add_argument("--jax-peak", nargs=3, metavar=("IMPL", "N", "K"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.frameworks = [f.strip() for f in args.frameworks.split(",") if f.strip()]
    unknown = set(args.frameworks) - set(FRAMEWORKS)
    if unknown:
        parser.error(f"unknown frameworks {sorted(unknown)}; choose from {', '.join(FRAMEWORKS)}")
    return args


def make_setup(args: argparse.Namespace) -> Setup:
    return Setup(
        device=args.device,
        quick=args.quick,
        warmup=max(1, args.warmup or (1 if args.quick else 3)),
        repeats=max(1, args.repeats or (3 if args.quick else 20)),
        compile_backend=args.compile_backend or ("aot_eager" if args.quick else "inductor"),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup = make_setup(args)
    if args.child:
        print(json.dumps(framework_child(args.child, setup)))
        return 0
    if args.jax_peak:
        impl, n, k = args.jax_peak
        print(json.dumps(jax_peak_child(impl, int(n), int(k), setup)))
        return 0
    rows: list[Row] = []
    devices: dict[str, tuple[str, str]] = {}
    for framework in args.frameworks:
        done = run_framework(framework, setup)
        if done is not None:
            devices[framework], framework_rows = done
            rows += framework_rows
    if not rows:
        log("nothing measured: none of the frameworks can run here")
        return 1
    lines = [*header(devices, setup), COLUMNS, SEPARATOR, *map(table_line, rows), *notes(rows)]
    print("\n".join(lines))
    if args.output:
        with open(args.output, "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
