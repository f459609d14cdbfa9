"""Forward+backward time and peak memory: sigreg against the naive materialising port.

    python benchmarks/bench.py [--quick] [--first-call-only] [--output docs/data/benchmark.md]

Times: both implementations in one process per (framework, N, K), called
alternately, best of several repeats (this 2-core VM has slow phases of up to
1.5x; alternating puts both implementations through them alike). Peak memory:
each implementation once in a fresh process (the growth of the peak resident set
over what the process held after building the inputs). Both implementations compute the same formula
(docs/numbers.md: t_max = 3, P = 17 knots on the half line), float32, D = 512.
The naive one is what public ports write: it materialises cos/sin(t_j u) as
N x K x P tensors and lets autodiff (or, for NumPy, a hand-written backward)
keep them. JAX is jit-compiled (compilation is not timed).

First call (``--first-call``, also run with ``--output``): a fresh process per framework imports
sigreg and the framework and times its first forward+backward (N=2048, K=1024), which compiles:
Numba's kernels (NumPy, torch, JAX's CPU callbacks) and JAX's jit. Once with empty compile
caches (``NUMBA_CACHE_DIR``, ``JAX_COMPILATION_CACHE_DIR`` in a new temporary folder), then
again in another fresh process with the caches the first one filled.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import busy as busy_machine

D, P, T_MAX = 512, 17, 3.0
FRAMEWORKS = ("torch", "jax", "numpy")
CONFIGS = [(n, k) for n in (512, 2048, 8192) for k in (256, 1024)]


def _grid():
    t = np.linspace(0.0, T_MAX, P)
    phi = np.exp(-0.5 * t**2)
    w = np.full(P, 2 * T_MAX / (P - 1))
    w[0] = w[-1] = T_MAX / (P - 1)
    return t, phi, w * phi


def _rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def _peak_mib() -> float:
    """The peak resident set since the last :func:`_reset_peak` (Linux's VmHWM)."""
    with open("/proc/self/status") as f:
        line = next(line for line in f if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:  # "5" resets VmHWM to the current RSS
        f.write("5")


def make_step(framework: str, impl: str, z: np.ndarray, a: np.ndarray):
    """A function computing value and gradient once and waiting for the result."""
    import sigreg

    t, phi, weight = _grid()
    if framework == "torch":
        import torch

        zt, at = torch.from_numpy(z), torch.from_numpy(a)
        tt, pt, wt = (torch.tensor(x, dtype=torch.float32) for x in (t, phi, weight))

        def naive(x):
            xt = (x @ at).unsqueeze(-1) * tt
            err = (torch.cos(xt).mean(0) - pt) ** 2 + torch.sin(xt).mean(0) ** 2
            return ((err @ wt) * x.shape[0]).mean()

        f = naive if impl == "naive" else (lambda x: sigreg.sigreg(x, directions=at))

        def step():
            x = zt.detach().requires_grad_(True)
            f(x).backward()
            return x.grad

        return step
    if framework == "jax":
        import jax
        import jax.numpy as jnp

        zj, aj = jnp.asarray(z), jnp.asarray(a)
        tj, pj, wj = (jnp.asarray(x, dtype=jnp.float32) for x in (t, phi, weight))

        def naive(x):
            xt = (x @ aj)[..., None] * tj
            err = (jnp.cos(xt).mean(0) - pj) ** 2 + jnp.sin(xt).mean(0) ** 2
            return ((err @ wj) * x.shape[0]).mean()

        f = naive if impl == "naive" else (lambda x: sigreg.sigreg(x, directions=aj))
        g = jax.jit(jax.value_and_grad(f))
        return lambda: g(zj)[1].block_until_ready()

    tn, pn, wn = (x.astype(np.float32) for x in (t, phi, weight))

    def naive_numpy():
        n = z.shape[0]
        xt = (z @ a)[..., None] * tn  # (N, K, P)
        c, s = np.cos(xt), np.sin(xt)
        cm, sm = c.mean(0), s.mean(0)
        k = a.shape[1]
        # d mean_k(EP_k) / du = (2 / K) sum_j W_j t_j (S sin... ) written on the full tensors
        gu = (2.0 / k) * ((sm * wn * tn) * c - ((cm - pn) * wn * tn) * s).sum(-1)
        return gu @ a.T, n

    if impl == "naive":
        return naive_numpy
    return lambda: sigreg.value_and_grad(z, directions=a)[1]


def _inputs(n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    z = rng.standard_normal((n, D)).astype(np.float32)
    a = rng.standard_normal((D, k)).astype(np.float32)
    return z, a / np.linalg.norm(a, axis=0)


def measure_time(framework: str, n: int, k: int, repeats: int) -> dict:
    """Both implementations in one process, timed alternately, so that the machine's
    slow phases hit both alike; the best of the repeats for each. Then the same again
    while another process keeps one core busy (``<impl>_busy``)."""
    z, a = _inputs(n, k)
    steps = {impl: make_step(framework, impl, z, a) for impl in ("sigreg", "naive")}
    for step in steps.values():
        step()  # warm-up (and JAX compilation)
    best = {impl: float("inf") for impl in steps}
    best |= {f"{impl}_busy": float("inf") for impl in steps}
    for suffix in ("", "_busy"):
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"]) if suffix else None
        try:
            for _ in range(repeats):
                for impl, step in steps.items():
                    start = time.perf_counter()
                    step()
                    best[impl + suffix] = min(best[impl + suffix], time.perf_counter() - start)
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    return {impl: 1e3 * t for impl, t in best.items()}


def count_ops(n: int, k: int) -> dict:
    """Aten compute operations of one torch forward+backward, per plan (a count, not a timing)."""
    import collections

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode

    import sigreg

    not_compute = set(
        "view _unsafe_view reshape expand permute transpose t select slice unsqueeze squeeze alias "
        "detach as_strided empty empty_like empty_strided new_empty new_empty_strided lift_fresh".split()
    )
    t, phi, weight = (torch.tensor(x, dtype=torch.float32) for x in _grid())

    def naive(x, a):
        xt = (x @ a).unsqueeze(-1) * t
        err = (torch.cos(xt).mean(0) - phi) ** 2 + torch.sin(xt).mean(0) ** 2
        return ((err @ weight.to(x.device)) * x.shape[0]).mean()

    def ours(x, a):
        return sigreg.sigreg(x, directions=a)

    counts = {}
    for name, f, device in (
        ("sigreg, CPU plan (Numba kernels when installed)", ours, "cpu"),
        ("sigreg, accelerator plan (meta)", ours, "meta"),
        ("naive", naive, "meta"),
    ):
        ops: collections.Counter = collections.Counter()

        class Count(TorchDispatchMode):
            def __torch_dispatch__(self, func, types, args=(), kwargs=None, ops=ops):
                ops[func.overloadpacket.__name__] += 1
                return func(*args, **(kwargs or {}))

        x = torch.zeros(n, D, device=device, requires_grad=True)
        a = torch.zeros(D, k, device=device)
        if device == "meta":
            t, phi, weight = (v.to(device) for v in (t, phi, weight))
        with Count():
            f(x, a).backward()
        counts[name] = sum(c for op, c in ops.items() if op not in not_compute)
    return counts


def measure_memory(framework: str, impl: str, n: int, k: int) -> float:
    """Growth of the peak resident set over one call, after a first call that compiles
    (JAX's jit, Numba's kernels) and warms the allocators."""
    z, a = _inputs(n, k)
    step = make_step(framework, impl, z, a)
    step()
    _reset_peak()
    before = _rss_mib()
    step()
    return _peak_mib() - before


def make_forward(framework: str, z: np.ndarray, a: np.ndarray):
    """A function computing sigreg's value only (no gradient) and waiting for it."""
    import sigreg

    if framework == "torch":
        import torch

        zt, at = torch.from_numpy(z), torch.from_numpy(a)
        return lambda: sigreg.sigreg(zt, directions=at)
    if framework == "jax":
        import jax
        import jax.numpy as jnp

        zj, aj = jnp.asarray(z), jnp.asarray(a)
        f = jax.jit(lambda x: sigreg.sigreg(x, directions=aj))
        return lambda: f(zj).block_until_ready()
    return lambda: sigreg.sigreg(z, directions=a)


# The rows of the busy-machine table (benchmarks/busy.py).
BUSY_ROWS = ("default", "passive", "spinning", "quiet", "quiet-spinning")
# The first-call rows: (framework, call, dtype).
FIRST_CALLS = [(fw, call, "float32") for fw in FRAMEWORKS for call in ("forward", "value and gradient")] + [
    ("numpy", "value and gradient", "float64")
]


def first_call(framework: str, call: str, dtype: str, n: int, k: int) -> dict:
    """In a fresh process: the import of sigreg and the framework, the first call (which
    compiles) and the second (which does not)."""
    start = time.perf_counter()
    import sigreg  # noqa: F401

    __import__(framework)
    imported = time.perf_counter()
    if framework == "jax" and dtype == "float64":
        import jax

        jax.config.update("jax_enable_x64", True)
    z, a = (x.astype(dtype) for x in _inputs(n, k))
    step = make_forward(framework, z, a) if call == "forward" else make_step(framework, "sigreg", z, a)
    ready, ready_cpu = time.perf_counter(), time.process_time()
    step()
    first, first_cpu = time.perf_counter(), time.process_time()
    step()
    second = time.perf_counter()
    return {
        "import_s": imported - start,
        "first_s": first - ready,
        "first_cpu_s": first_cpu - ready_cpu,
        "second_ms": 1e3 * (second - first),
    }


def _set_writable(folder: Path, writable: bool) -> None:
    for path in [folder, *folder.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | 0o200 if writable else mode & ~0o222)


def _without_write_rights() -> list[str]:
    """A command prefix for a process that cannot write a folder without write bits (as root,
    setpriv drops the capabilities that ignore them)."""
    if os.geteuid() != 0:
        return []
    return ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--"]


def first_call_table(n: int = 2048, k: int = 1024, rows: list | None = None) -> list[str]:
    """Per row, three fresh processes: empty compile caches, the caches the first one filled,
    and those caches again in a process that may not write them (chmod a-w, and as root setpriv
    without CAP_DAC_OVERRIDE: a container's non-root user, a shared install). The CPU time of
    the compiling call (all its threads) is what the compile would take on an idle machine, as
    compiling is single-threaded: on a shared machine it is the figure to read."""
    lines = [
        "| framework | call | dtype | import [s] | first call, empty caches [s] | its CPU time [s] "
        "| first call, warm caches [s] | warm caches, no write rights [s] | import + first call, warm [s] "
        "| second call [ms] |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    print(lines[0], flush=True)
    for fw, call, dtype in rows or FIRST_CALLS:
        with tempfile.TemporaryDirectory(prefix="sigreg-first-call-") as caches:
            env = {
                **os.environ,
                "NUMBA_CACHE_DIR": str(Path(caches) / "numba"),
                "JAX_COMPILATION_CACHE_DIR": str(Path(caches) / "jax"),
                "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            }
            args = ("--first-call", fw, call, dtype, str(n), str(k))
            cold, warm = _isolated(*args, env=env), _isolated(*args, env=env)
            _set_writable(Path(caches), False)
            try:
                read_only = _isolated(*args, env=env, prefix=_without_write_rights())
            finally:
                _set_writable(Path(caches), True)
        cells = [fw, call, dtype, f"{warm['import_s']:.2f}"]
        cells += [f"{cold['first_s']:.1f}", f"{cold['first_cpu_s']:.1f}"]
        cells += [f"{warm['first_s']:.2f}", f"{read_only['first_s']:.2f}"]
        cells += [f"{warm['import_s'] + warm['first_s']:.2f}"]
        line = "| " + " | ".join([*cells, f"{warm['second_ms']:.0f}"]) + " |"
        lines.append(line)
        print(line, flush=True)
    return lines


def _isolated(*args: str, env: dict[str, str] | None = None, prefix: list[str] | None = None) -> Any:
    out = subprocess.run(
        [*(prefix or []), sys.executable, __file__, *args],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--time", nargs=4, metavar=("FRAMEWORK", "N", "K", "REPEATS"))
    parser.add_argument("--memory", nargs=4, metavar=("FRAMEWORK", "IMPL", "N", "K"))
    parser.add_argument("--quick", action="store_true", help="N=2048, K=1024 only")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--first-call", nargs=5, help=argparse.SUPPRESS)
    parser.add_argument("--first-call-only", action="store_true", help="only the first-call table")
    parser.add_argument("--busy-only", action="store_true", help="only the busy-machine table")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the busy-machine table")
    parser.add_argument(
        "--suffix",
        default="",
        help="added to the names of the tables written next to --output (benchmark-first-call-before.md)",
    )
    parser.add_argument(
        "--output",
        help="also write the markdown table to this file, and the first-call table next to it "
        "(benchmark-first-call.md)",
    )
    args = parser.parse_args()
    frameworks = args.frameworks.split(",")
    first_rows = [row for row in FIRST_CALLS if row[0] in frameworks]
    if args.first_call:
        fw, call, dtype, n, k = args.first_call
        print(json.dumps(first_call(fw, call, dtype, int(n), int(k))))
        return
    if args.first_call_only:
        table = first_call_table(rows=first_rows)
        _write_next_to(args.output, f"benchmark-first-call{args.suffix}.md", table)
        return
    if args.busy_only:
        table = busy_machine.run(args.rounds, rows=BUSY_ROWS)
        _write_next_to(args.output, f"benchmark-busy{args.suffix}.md", table)
        return
    if args.time:
        fw, n, k, r = args.time
        print(json.dumps(measure_time(fw, int(n), int(k), int(r))))
        return
    if args.memory:
        fw, impl, n, k = args.memory
        print(json.dumps(measure_memory(fw, impl, int(n), int(k))))
        return
    configs = [(2048, 1024)] if args.quick else CONFIGS
    lines = [
        "| framework | N | K | sigreg [ms] | naive [ms] | speed-up | speed-up, one core busy |"
        " sigreg peak [MiB] | naive peak [MiB] | memory ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    print(lines[0], flush=True)
    results = {}
    for fw in args.frameworks.split(","):
        for n, k in configs:
            repeats = 7 if n * k <= 2048 * 1024 else 4
            times = _isolated("--time", fw, str(n), str(k), str(repeats))
            ours = {
                "time_ms": times["sigreg"],
                "peak_mib": _isolated("--memory", fw, "sigreg", str(n), str(k)),
            }
            naive = {
                "time_ms": times["naive"],
                "peak_mib": _isolated("--memory", fw, "naive", str(n), str(k)),
            }
            results[(fw, n, k)] = (ours, naive)
            busy = times["naive_busy"] / times["sigreg_busy"]
            line = (
                f"| {fw} | {n} | {k} | {ours['time_ms']:.1f} | {naive['time_ms']:.1f} | "
                f"{naive['time_ms'] / ours['time_ms']:.1f}x | {busy:.1f}x | {ours['peak_mib']:.0f} | "
                f"{naive['peak_mib']:.0f} | "
                f"{ours['peak_mib'] / max(naive['peak_mib'], 1e-9):.2f} |"
            )
            lines.append(line)
            print(line, flush=True)
    if "torch" in args.frameworks and "jax" in args.frameworks and (2048, 1024) in configs:
        jt, tt = results[("jax", 2048, 1024)][0]["time_ms"], results[("torch", 2048, 1024)][0]["time_ms"]
        summary = f"jax-jit / torch time at N=2048, K=1024: {jt / tt:.2f}"
        lines += ["", summary]
        print(summary)
    if "torch" in args.frameworks:
        lines += [
            "",
            "Aten compute operations of one torch forward+backward (views and allocations not counted):",
            "",
        ]
        lines += ["| N | K | " + " | ".join(count_ops(8192, 512)) + " |", "|---|---|---|---|---|"]
        for n, k in ((2048, 1024), (8192, 512)):
            lines.append(f"| {n} | {k} | " + " | ".join(str(c) for c in count_ops(n, k).values()) + " |")
        print("\n".join(lines[-5:]))
    if args.output:
        import numpy
        import torch

        header = [
            f"Machine: {platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores, "
            f"Python {platform.python_version()}, numpy {numpy.__version__}, torch {torch.__version__}",
            "",
        ]
        with open(args.output, "w") as f:
            f.write("\n".join(header + lines) + "\n")
    print()
    rounds = 3 if args.quick else args.rounds
    _write_next_to(args.output, "benchmark-busy.md", busy_machine.run(rounds, rows=BUSY_ROWS))
    print()
    _write_next_to(args.output, "benchmark-first-call.md", first_call_table(rows=first_rows))


def _write_next_to(output: str | None, name: str, lines: list[str]) -> None:
    """``lines`` as a markdown file called ``name`` in the folder of ``output`` (if given)."""
    print("\n".join(lines))
    if output:
        path = Path(output).with_name(name)
        header = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores", ""]
        path.write_text("\n".join(header + lines) + "\n")


if __name__ == "__main__":
    main()
