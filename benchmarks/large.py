"""Large embedding sets: peak memory and time of `sigreg test` on a big .npy, beside in-memory NumPy.

    python benchmarks/large.py [--rows 5000000] [--dim 256] [--num-slices 256]
                               [--memory-rows 500000] [--output docs/data/large.md]

1. A ``rows x dim`` float32 .npy of N(0, I) rows (5,000,000 x 256: 4.8 GiB) is written
   chunk by chunk into a temporary folder (deleted after). If the folder's disk has
   less than 12 GB free, the row count is lowered to what fits, and the table says so.
   ``python -m sigreg test FILE --json`` then runs in a fresh process; its peak
   resident set is the child's ``ru_maxrss`` (from ``os.wait4``).
2. A size that fits in memory (``--memory-rows`` x dim): ``sigreg.sigreg`` on the
   NumPy array (in a fresh process, after loading it), and ``sigreg test`` on the
   same rows saved as .npy.
3. ``benchmarks/dask_memory.py``: a lazily generated 2,000,000 x 64 float32 dask array
   on the threaded scheduler (1024 slices).

Times are wall-clock on whatever machine runs it (the table names its cores); the
evaluation time of `sigreg test` is the reduction over the chunks, without
interpreter start-up and the Monte Carlo null of the p-value (reported apart).
Not a test: it asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
NEEDED_FREE = 12e9


def write_npy(path: Path, rows: int, dim: int, seed: int = 0, chunk_rows: int = 250_000) -> None:
    """A float32 .npy of N(0, I) rows, written a chunk at a time (never all in memory)."""
    rng = np.random.default_rng(seed)
    header = {
        "descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
        "fortran_order": False,
        "shape": (rows, dim),
    }
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        for start in range(0, rows, chunk_rows):
            count = min(chunk_rows, rows - start)
            f.write(rng.standard_normal((count, dim), dtype=np.float32).tobytes())


def run_measured(argv: list[str]) -> tuple[float, float, str]:
    """(wall seconds, the child's peak RSS in MiB, stdout) of a fresh process, reaped by os.wait4."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        child = subprocess.Popen(argv, stdout=out, stderr=err, env=env, text=True)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        if child.returncode != 0:
            raise RuntimeError(f"{argv} failed ({child.returncode}): {err.read()[-2000:]}")
        return seconds, usage.ru_maxrss / 1024, out.read()


IN_MEMORY = """
import json, sys, time
import numpy as np
import sigreg
z = np.load(sys.argv[1])
k = int(sys.argv[2])
start = time.perf_counter()
sigreg.sigreg(z[:1000], num_slices=k)  # compiles the Numba kernels (if installed): not in the time
warmup = time.perf_counter() - start
start = time.perf_counter()
value = float(sigreg.sigreg(z, num_slices=k, seed=0))
print(json.dumps({"seconds": time.perf_counter() - start, "statistic": value, "warmup": warmup}))
"""


def cli(path: Path, k: int) -> tuple[float, float, dict]:
    seconds, peak, out = run_measured(
        [sys.executable, "-m", "sigreg", "test", str(path), "--json", "--num-slices", str(k)]
    )
    return seconds, peak, json.loads(out)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--num-slices", type=int, default=256)
    parser.add_argument("--memory-rows", type=int, default=500_000)
    parser.add_argument("--skip-dask", action="store_true", help="leave out benchmarks/dask_memory.py")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    k, dim = args.num_slices, args.dim
    rows_table = []
    notes = []

    with tempfile.TemporaryDirectory(prefix="sigreg-large-") as folder:
        free = shutil.disk_usage(folder).free
        rows = args.rows
        if free < NEEDED_FREE:
            rows = max(100_000, int(free * 0.4 / (dim * 4)))
            notes.append(f"only {free / 1e9:.1f} GB free in {folder}: {rows} rows instead of {args.rows}")
        # In memory: the same first rows as a .npy, loaded whole by a fresh process.
        small = Path(folder) / "small.npy"
        write_npy(small, args.memory_rows, dim)
        seconds, peak, out = run_measured([sys.executable, "-c", IN_MEMORY, str(small), str(k)])
        memory = json.loads(out)
        rows_table.append(
            ("NumPy array in memory", args.memory_rows, memory["seconds"], None, peak, memory["statistic"])
        )
        seconds, peak, report = cli(small, k)
        rows_table.append(
            ("`sigreg test` on .npy", args.memory_rows, report["seconds"], seconds, peak, report["statistic"])
        )
        small.unlink()
        notes.append(
            f"a first call on 1,000 rows took {memory['warmup']:.1f} s in a fresh process (Numba compiles "
            "its kernels, if installed): left out of the in-memory time, included in each `sigreg test` time"
        )

        big = Path(folder) / "big.npy"
        start = time.perf_counter()
        write_npy(big, rows, dim)
        written = time.perf_counter() - start
        size = big.stat().st_size
        seconds, peak, report = cli(big, k)
        rows_table.append(
            ("`sigreg test` on .npy", rows, report["seconds"], seconds, peak, report["statistic"])
        )
        notes.append(
            f"the {rows} x {dim} file: {size / 2**30:.2f} GiB, written in {written:.0f} s, then deleted"
        )

    dask_row = None
    if not args.skip_dask:
        _, _, out = run_measured([sys.executable, str(ROOT / "benchmarks" / "dask_memory.py")])
        dask_row = json.loads(out)

    cores = os.cpu_count()
    lines = [
        f"Machine: {platform.machine()}, {cores} cores, Python {platform.python_version()}, "
        f"NumPy {np.__version__}. float32, D = {dim}, {k} slices, Epps-Pulley. Command: "
        f"`python benchmarks/large.py --rows {args.rows} --dim {dim} --num-slices {k} "
        f"--memory-rows {args.memory_rows}`.",
        "",
        "| data | rows | evaluation (s) | rows / s | whole command (s) | peak RSS (MiB) | statistic |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, n, evaluation, whole, peak, statistic in rows_table:
        whole_text = "" if whole is None else f"{whole:.0f}"
        lines.append(
            f"| {name} | {n:,} | {evaluation:.1f} | {n / evaluation:,.0f} | {whole_text} | "
            f"{peak:.0f} | {statistic:.3f} |"
        )
    if dask_row is not None:
        d = dask_row
        lines += [
            "",
            f"Lazily generated dask array (`benchmarks/dask_memory.py`): {d['rows']:,} x {d['dim']} float32 "
            f"({d['data_mib']:.0f} MiB), chunks of {d['chunk_rows']:,} rows, {d['num_slices']} slices, "
            f"threaded scheduler with {dask_row['workers']} threads, {dask_row['graph_tasks']} tasks: "
            f"{dask_row['seconds']:.0f} s, peak RSS {dask_row['peak_rss_mib']:.0f} MiB (the process held "
            f"{dask_row['rss_before_mib']:.0f} MiB before computing).",
        ]
    lines += ["", *[f"- {note}" for note in notes]]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output is not None:
        args.output.write_text(text)


if __name__ == "__main__":
    main()
