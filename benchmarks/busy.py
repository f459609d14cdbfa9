"""sigreg on a busy CPU: OpenMP's default wait policy against ``OMP_WAIT_POLICY=passive``.

    python benchmarks/busy.py [--rounds 5] [--busy 2] [--repeats 7] [--rows default,passive,quiet]

The step is benchmarks/bench.py's (forward+backward, float32, N=2048, D=512, K=1024), sigreg and
the naive port alternating call by call in one process. ``--busy`` other processes keep cores busy
(``while True: pass``) for the whole run. Each round starts one fresh process per environment,
alternately: "default" (the environment as given, ``OMP_WAIT_POLICY`` removed: what a user has)
and "passive" (``OMP_WAIT_POLICY=passive``); each prints the medians of its repeats. The table
gives the median over the rounds of each, the speed-up over the naive port in the same process,
and the ratio to passive of sigreg's times. "quiet" is the default environment with the busy
processes paused (SIGSTOP) meanwhile, so that every row meets the same phases of a shared
machine; "spinning" and "quiet-spinning" set ``GOMP_SPINCOUNT=300000``, libgomp's own default,
which turns sigreg's calming of PyTorch's OpenMP threads off (kernels/openmp.py): the two
measure what the calming gains on a busy machine and costs on a quiet one. Numba's kernels are
compiled (or loaded) before the rounds.
The processes import this checkout's sigreg, or the one ``PYTHONPATH`` names (an older
checkout, to compare).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
KEYS = ("sigreg", "naive", "sigreg_cpu")


# The rows: (label, environment variables, whether the busy processes are paused meanwhile).
ROWS = {
    "default": ("default (no OMP_WAIT_POLICY)", {}, False),
    "passive": ("OMP_WAIT_POLICY=passive", {"OMP_WAIT_POLICY": "passive"}, False),
    # libgomp's own default spin, set explicitly: sigreg then leaves OpenMP alone (kernels/openmp.py).
    "spinning": ("GOMP_SPINCOUNT=300000 (sigreg's calming off)", {"GOMP_SPINCOUNT": "300000"}, False),
    "quiet": ("default, busy processes paused", {}, True),
    "quiet-spinning": ("GOMP_SPINCOUNT=300000, busy processes paused", {"GOMP_SPINCOUNT": "300000"}, True),
}


def _environment(row: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.setdefault("PYTHONPATH", str(ROOT))  # this checkout's sigreg, unless told another
    return {**env, **ROWS[row][1]}


def measure(framework: str, n: int, k: int, repeats: int) -> dict[str, float]:
    """In this process: sigreg's and the naive port's step, alternating, median times in ms."""
    sys.path.insert(0, str(HERE))
    import bench

    z, a = bench._inputs(n, k)
    steps = {impl: bench.make_step(framework, impl, z, a) for impl in ("sigreg", "naive")}
    for step in steps.values():
        step()  # sigreg loads its kernels here, JAX compiles
    times: dict[str, list[float]] = {impl: [] for impl in steps}
    cpu: list[float] = []
    for _ in range(repeats):
        for impl, step in steps.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            step()
            times[impl].append(1e3 * (time.perf_counter() - start))
            if impl == "sigreg":
                cpu.append(1e3 * (time.process_time() - start_cpu))
    result = {impl: statistics.median(t) for impl, t in times.items()}
    return {**result, "sigreg_cpu": statistics.median(cpu)}


def run(
    rounds: int = 5,
    busy: int = 2,
    repeats: int = 7,
    framework: str = "torch",
    n: int = 2048,
    k: int = 1024,
    rows: tuple[str, ...] = ("default", "passive", "quiet"),
    echo: bool = True,
) -> list[str]:
    """The rounds; returns the markdown table (and prints each process's result as it comes)."""
    subprocess.run(
        [sys.executable, "-m", "sigreg", "warmup", "--dtype", "float32"],
        env=_environment("default"),
        check=True,
        capture_output=True,
    )
    # Each spinner stops by itself when this process is gone, however it ends.
    spin = f"import os\nwhile os.getppid() == {os.getpid()}: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", spin], stdin=subprocess.DEVNULL) for _ in range(busy)]
    results: dict[str, list[dict[str, float]]] = {row: [] for row in rows}
    args = ["--measure", framework, str(n), str(k), str(repeats)]
    try:
        for i in range(rounds):
            for row in rows:
                paused = ROWS[row][2]
                for p in spinners if paused else []:
                    p.send_signal(signal.SIGSTOP)
                try:
                    command = [sys.executable, __file__, *args]
                    out = subprocess.run(
                        command, env=_environment(row), capture_output=True, text=True, check=True
                    )
                finally:
                    for p in spinners if paused else []:
                        p.send_signal(signal.SIGCONT)
                got = json.loads(out.stdout.strip().splitlines()[-1])
                results[row].append(got)
                if echo:
                    ours = f"sigreg {got['sigreg']:7.1f} ms (CPU {got['sigreg_cpu']:6.1f})"
                    print(f"round {i + 1} {row:14s} {ours}  naive {got['naive']:7.1f} ms", flush=True)
    finally:
        for p in spinners:
            p.kill()
            p.wait()
    med = {row: {key: statistics.median(r[key] for r in results[row]) for key in KEYS} for row in rows}
    passive = med["passive"]["sigreg"] if "passive" in med else float("nan")
    lines = [
        f"| environment ({busy} busy processes, {os.cpu_count()} cores) | sigreg [ms] | naive [ms] "
        "| speed-up | sigreg / passive | sigreg, CPU time [ms] |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        s, nv, c = med[row]["sigreg"], med[row]["naive"], med[row]["sigreg_cpu"]
        lines.append(f"| {ROWS[row][0]} | {s:.1f} | {nv:.1f} | {nv / s:.1f}x | {s / passive:.2f} | {c:.0f} |")
    lines += [
        "",
        f"{framework}, float32, N={n}, D=512, K={k}, forward+backward; medians of {rounds} alternating "
        f"rounds (one fresh process per row and round), each the median of {repeats} calls. "
        "CPU time: of the whole process (all its threads) during one sigreg call; what it spends "
        "beyond the work is threads spinning.",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--busy", type=int, default=2, help="processes that keep a core busy")
    parser.add_argument("--repeats", type=int, default=7, help="calls of each step per process")
    parser.add_argument("--framework", default="torch", choices=("torch", "numpy", "jax"))
    parser.add_argument(
        "--rows",
        default="default,passive,quiet",
        help=f"comma list of {', '.join(ROWS)} (spinning: libgomp's default spin, sigreg's calming off)",
    )
    parser.add_argument("--output", help="also write the table to this file")
    parser.add_argument("--measure", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        fw, n, k, repeats = args.measure
        print(json.dumps(measure(fw, int(n), int(k), int(repeats))))
        return
    lines = run(args.rounds, args.busy, args.repeats, args.framework, rows=tuple(args.rows.split(",")))
    print("\n".join(lines))
    if args.output:
        header = [f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores", ""]
        Path(args.output).write_text("\n".join(header + lines) + "\n")


if __name__ == "__main__":
    main()
