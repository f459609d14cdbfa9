"""``sigreg test PATH``: test an embedding set on disk (.npy, .npz, Zarr) against N(0, I).

The file is read chunk by chunk through Dask (:mod:`sigreg._backend.dask_arrays`): a .npy by
positioned reads of row ranges (its pages then do not stay resident, as they would
through a memory map), a Zarr array through ``dask.array.from_zarr``; a .npz member
is decompressed into memory (zip members cannot be read by rows). Nothing is
unpickled (``allow_pickle=False``) and nothing is written except the ``--plot``
figure. A bad file gets one line naming it and the problem, and exit status 2.

P-values: per slice, the statistic's asymptotic null law where it has one; for the
average over the (dependent) slices, and per slice otherwise, a Monte Carlo null of
N(0, I) draws with the same directions, of ``min(N, --null-samples)`` rows (the null
law of the statistics that are functions of sums barely depends on N).
"""

from __future__ import annotations

import argparse
import importlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

Array = Any

EXIT_BAD_FILE = 2
# Bytes of one chunk of rows read from a file: a few chunks in flight stay well under 1 GB.
CHUNK_BYTES = 64 << 20
NULL_SAMPLES = 1024
WORST_SHOWN = 5
PLOT_SLICES = 4
PLOT_ROWS = 200_000
PROGRESS_DELAY = 2.0  # seconds before the bar shows: short runs print none
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_ZARR_MARKERS = (".zarray", ".zgroup", "zarr.json")


def _module(name: str) -> Any:
    # Typed Any: dask and zarr are untyped, and absent where mypy runs in CI.
    return importlib.import_module(name)


class BadFile(Exception):
    """A file that cannot be tested: the message names the problem (the path is added)."""


def add_parser(sub: Any) -> None:
    """Register the ``test`` subcommand on ``argparse`` subparsers ``sub``."""
    parser = sub.add_parser(
        "test",
        help="test an embedding set on disk (.npy, .npz, Zarr) against N(0, I)",
        description=(
            "Test whether the rows of a 2-D float array on disk (.npy, memory-light; .npz; Zarr "
            "through Dask) are N(0, I) samples: SIGReg's statistic, its p-value and the worst slices. "
            "Exit status 2 for a file that cannot be tested."
        ),
    )
    parser.add_argument("path", help="a .npy or .npz file, or a Zarr store (directory)")
    parser.add_argument(
        "--statistic",
        default="epps_pulley",
        help="a statistic that is a function of sums (default epps_pulley)",
    )
    parser.add_argument("--num-slices", type=int, default=256, help="random directions (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the directions and the null (default 0)")
    parser.add_argument("--key", help="the array in a .npz file or a Zarr group")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--plot", metavar="OUT.png", help="histograms of the worst slices and a QQ plot")
    parser.add_argument(
        "--resamples", type=int, default=199, help="Monte Carlo null draws for the p-value (default 199)"
    )
    parser.add_argument(
        "--null-samples",
        type=int,
        default=NULL_SAMPLES,
        help=f"rows of each Monte Carlo null draw, at most N (default {NULL_SAMPLES})",
    )
    parser.add_argument("--workers", type=int, default=None, help="threads reading and reducing chunks")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


@dataclass
class Source:
    """An opened embedding set: a lazy (N, D) dask array chunked by rows, and what it is."""

    path: str
    kind: str
    z: Any
    dtype: str


class _NpyRows:
    """A C-order .npy file as an array-like whose row slices are read from disk (picklable)."""

    def __init__(self, path: str, offset: int, shape: tuple[int, int], dtype: Any) -> None:
        self.path, self.offset, self.shape, self.dtype = path, offset, shape, dtype
        self.ndim = 2

    def __getitem__(self, index: Any) -> Array:
        import numpy as np

        rows, cols = index if isinstance(index, tuple) else (index, slice(None))
        start, stop, step = rows.indices(self.shape[0])
        count = max(0, stop - start)
        d = self.shape[1]
        block = np.fromfile(
            self.path, dtype=self.dtype, count=count * d, offset=self.offset + start * d * self.dtype.itemsize
        )
        return block.reshape(count, d)[::step, cols]


def _fail(path: str, problem: str) -> BadFile:
    return BadFile(f"{path}: {problem}")


def _check_array(path: str, shape: tuple[int, ...], dtype: Any) -> None:
    import numpy as np

    if dtype.hasobject:
        raise _fail(path, "holds Python objects (a pickled array): refused, sigreg never unpickles")
    if not np.issubdtype(dtype, np.floating):
        raise _fail(path, f"has dtype {dtype}: expected a real floating dtype (float16, float32, float64)")
    if len(shape) != 2:
        raise _fail(path, f"has shape {shape}: expected a 2-D array (N samples, D features)")
    if shape[0] == 0 or shape[1] == 0:
        raise _fail(path, f"has shape {shape}: no samples or no features")


def _rows_per_chunk(dim: int, itemsize: int) -> int:
    return max(1, CHUNK_BYTES // (dim * itemsize))


def _open_npy(path: str) -> Source:
    da = _module("dask.array")
    import numpy as np

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        try:
            version = np.lib.format.read_magic(f)
            # Parsed as a literal (ast.literal_eval): nothing is unpickled.
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read(f)
        except ValueError as error:
            raise _fail(path, f"not a readable .npy header ({error})") from None
        offset = f.tell()
    _check_array(path, shape, dtype)
    need = offset + math.prod(shape) * dtype.itemsize
    if size < need:
        raise _fail(
            path,
            f"truncated: its header says shape {shape} {dtype} ({need} bytes), the file holds {size} bytes",
        )
    rows = _rows_per_chunk(shape[1], dtype.itemsize)
    if fortran:
        # Columns are contiguous: rows come from a memory map (pages stay resident as they are read).
        array: Any = np.load(path, mmap_mode="r", allow_pickle=False)
    else:
        array = _NpyRows(path, offset, (shape[0], shape[1]), dtype)
    z = da.from_array(array, chunks=(rows, shape[1]), meta=np.empty((0, 0), dtype=dtype), name=False)
    return Source(path, "npy", z, str(dtype))


def _open_npz(path: str, key: str | None) -> Source:
    import zipfile

    da = _module("dask.array")
    import numpy as np

    # The file is opened here, not by np.load, which leaks its handle when the zip is damaged.
    with open(path, "rb") as f:
        try:
            archive = np.load(f, allow_pickle=False)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
            raise _fail(path, f"not a readable .npz archive, perhaps truncated ({error})") from None
        with archive:
            array = _npz_member(path, archive, key)
    _check_array(path, array.shape, array.dtype)
    z = da.from_array(array, chunks=(_rows_per_chunk(array.shape[1], array.dtype.itemsize), array.shape[1]))
    return Source(path, "npz", z, str(array.dtype))


def _npz_member(path: str, archive: Any, key: str | None) -> Array:
    import zipfile

    names = list(archive.files)
    if key is None:
        if len(names) != 1:
            listed = ", ".join(names) or "none"
            raise _fail(path, f"holds {len(names)} arrays ({listed}): choose one with --key")
        key = names[0]
    if key not in names:
        raise _fail(path, f"has no array {key!r} (it holds {', '.join(names) or 'none'})")
    try:
        member = archive[key]
    except ValueError as error:  # object arrays, refused by allow_pickle=False
        raise _fail(
            path, f"array {key!r} holds Python objects (a pickled array): refused, sigreg never unpickles"
        ) from error
    except (zipfile.BadZipFile, OSError, EOFError) as error:
        raise _fail(path, f"array {key!r} cannot be read, perhaps truncated ({error})") from None
    if not hasattr(member, "shape"):  # a zip member that is no .npy: NumPy returns its bytes
        raise _fail(path, f"member {key!r} is not a .npy array")
    return member


def _open_zarr(path: str, key: str | None) -> Source:
    da = _module("dask.array")
    import numpy as np

    try:
        zarr = _module("zarr")
    except ImportError:
        raise _fail(path, "is a Zarr store, and reading it needs zarr (pip install zarr)") from None
    try:
        node = zarr.open(path, mode="r")
        if key is not None:
            node = node[key]
        elif not hasattr(node, "shape"):  # a group
            names = [name for name, _ in node.arrays()]
            if len(names) != 1:
                raise _fail(
                    path, f"is a Zarr group of {len(names)} arrays ({', '.join(names)}): choose with --key"
                )
            node = node[names[0]]
    except BadFile:
        raise
    except Exception as error:  # zarr raises many kinds for a damaged store
        raise _fail(path, f"not a readable Zarr store ({type(error).__name__}: {error})") from None
    dtype = np.dtype(node.dtype)
    _check_array(path, tuple(node.shape), dtype)
    z = da.from_zarr(node)
    z = z.rechunk({0: _rows_per_chunk(node.shape[1], dtype.itemsize), 1: -1})
    return Source(path, "zarr", z, str(dtype))


def open_source(path: str, key: str | None = None) -> Source:
    """Open ``path`` as an (N, D) embedding set; :class:`BadFile` when it cannot be tested."""
    if not os.path.exists(path):
        raise _fail(path, "no such file or directory")
    if os.path.isdir(path):
        if not any(os.path.exists(os.path.join(path, m)) for m in _ZARR_MARKERS):
            raise _fail(path, "is a directory but not a Zarr store (no .zarray, .zgroup or zarr.json in it)")
        return _open_zarr(path, key)
    if os.path.getsize(path) == 0:
        raise _fail(path, "empty file (0 bytes)")
    with open(path, "rb") as f:
        head = f.read(8)
    if head.startswith(_NPY_MAGIC):
        if key is not None:
            raise _fail(path, "is a .npy file: --key is only for .npz files and Zarr groups")
        return _open_npy(path)
    if head.startswith(_ZIP_MAGIC):
        return _open_npz(path, key)
    if head[:1] == b"\x80":
        raise _fail(path, "is a Python pickle, not a .npy/.npz/Zarr array: refused, sigreg never unpickles")
    raise _fail(path, "not a .npy or .npz file or a Zarr store (unrecognised first bytes)")


class _Progress:
    """A tqdm bar on stderr over the tasks of the graph, shown only for runs longer than a few seconds."""

    def __init__(self, enabled: bool) -> None:
        self.bar: Any = None
        if enabled:
            try:
                from tqdm import tqdm
            except ImportError:
                return
            self.bar = tqdm(total=0, unit="task", file=sys.stderr, delay=PROGRESS_DELAY, desc="sigreg test")

    def callback(self) -> Any:
        # Counted as dask.diagnostics.ProgressBar does: task names change when dask fuses them.
        Callback = _module("dask.callbacks").Callback
        bar = self.bar

        def start_state(dsk: Any, state: Any) -> None:
            if bar is not None:
                bar.total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
                bar.refresh()

        def posttask(key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
            if bar is not None:
                bar.update(len(state["finished"]) - bar.n)

        return Callback(start_state=start_state, posttask=posttask)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _nonfinite_rows(z: Any, workers: int | None) -> tuple[int, int]:
    """How many rows of ``z`` hold NaN or inf, and the first of them."""
    da = _module("dask.array")
    import numpy as np

    bad = ~da.isfinite(z).all(axis=1)
    count, first = _module("dask").compute(
        bad.sum(), da.argmax(bad), scheduler="threads", num_workers=workers
    )
    return int(count), int(np.asarray(first))


def evaluate(source: Source, args: argparse.Namespace) -> dict[str, Any]:
    """Slice statistics and p-values of ``source`` (raises BadFile for non-finite rows)."""
    import array_api_compat.numpy as xp
    import numpy as np

    from .._backend import dask_arrays
    from .._core import checks, dtypes
    from .._pvalues import sliced

    z = source.z
    n, dim = z.shape
    stat = dask_arrays.sums_statistic(args.statistic, {}, n, "the data")
    num_slices = checks.integer("--num-slices", args.num_slices, 1)
    compute = dtypes.compute_dtype(np.dtype(source.dtype), np)
    directions = dask_arrays.host_directions(z.shape, num_slices, args.seed, None, compute, "the data")
    values_lazy = dask_arrays.column_statistics(z, stat, directions)
    progress = _Progress(enabled=not args.no_progress)
    start = time.perf_counter()
    try:
        with progress.callback():
            values = np.asarray(values_lazy.compute(scheduler="threads", num_workers=args.workers))
    finally:
        progress.close()
    seconds = time.perf_counter() - start
    if not np.all(np.isfinite(values)):
        count, first = _nonfinite_rows(z, args.workers)
        if count:
            raise _fail(source.path, f"{count} of {n} rows hold NaN or inf values (the first is row {first})")
        raise _fail(source.path, "values too large for the statistic (non-finite slice statistics)")
    null_n = min(n, checks.integer("--null-samples", args.null_samples, 2))
    slice_method = sliced.slice_method(stat, "auto", n)
    resamples = checks.integer("--resamples", args.resamples, 1)
    result = sliced.pvalues(stat, values, null_n, directions, args.seed, slice_method, resamples, xp)
    slice_p = np.asarray(result.slice_pvalues)
    # Smallest p-values first; ties (p-values that underflow to 0) by the larger statistic.
    worst = [int(i) for i in np.lexsort((-values, slice_p))[:WORST_SHOWN]]
    return {
        "path": source.path,
        "format": source.kind,
        "n": int(n),
        "dim": int(dim),
        "dtype": source.dtype,
        "statistic_name": stat.name,
        "statistic": float(result.statistic),
        "pvalue": float(result.pvalue),
        "pvalue_method": result.method,
        "slice_pvalue_method": result.slice_method,
        "null_samples": int(null_n),
        "resamples": resamples,
        "num_slices": num_slices,
        "seed": args.seed,
        "chunks": len(z.chunks[0]),
        "seconds": round(seconds, 3),
        "worst": [{"slice": i, "statistic": float(values[i]), "pvalue": float(slice_p[i])} for i in worst],
        "_directions": directions,
    }


def _format(report: dict[str, Any]) -> str:
    lines = [
        f"{report['path']}: {report['n']} x {report['dim']} {report['dtype']} ({report['format']})",
        f"{report['statistic_name']} over {report['num_slices']} slices (seed {report['seed']}): "
        f"{report['statistic']:.4f}   (about 1 for N(0, I) data)",
        f"p-value {report['pvalue']:.4g} ({report['pvalue_method']}: {report['resamples']} N(0, I) draws of "
        f"{report['null_samples']} rows, same directions)",
        f"worst slices (p-values: {report['slice_pvalue_method']}):",
    ]
    lines += [
        f"  slice {w['slice']:5d}  statistic {w['statistic']:10.4f}  p {w['pvalue']:.3g}"
        for w in report["worst"]
    ]
    return "\n".join(lines)


def _plot(source: Source, report: dict[str, Any], out: str, workers: int | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import statistics

    import matplotlib.pyplot as plt
    import numpy as np

    worst = [w["slice"] for w in report["worst"][:PLOT_SLICES]]
    directions = report["_directions"][:, worst]
    z = source.z
    step = max(1, z.shape[0] // PLOT_ROWS)
    u = np.asarray((z[::step] @ directions.astype(z.dtype)).compute(scheduler="threads", num_workers=workers))
    fig, axes = plt.subplots(1, len(worst) + 1, figsize=(3.2 * (len(worst) + 1), 3.2), layout="constrained")
    grid = np.linspace(-4, 4, 201)
    pdf = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
    for ax, column, w in zip(axes[:-1], u.T, report["worst"], strict=False):
        ax.hist(column, bins=80, range=(-5, 5), density=True, color="#9ab", label="projections")
        ax.plot(grid, pdf, "k-", lw=1.2, label="N(0, 1)")
        ax.set_title(f"slice {w['slice']}: p {w['pvalue']:.2g}", fontsize=9)
    axes[0].legend(fontsize=7)
    qq = axes[-1]
    normal = statistics.NormalDist()
    for column, w in zip(u.T, report["worst"], strict=False):
        ordered = np.sort(column)
        probs = (np.arange(1, ordered.size + 1) - 0.5) / ordered.size
        picks = np.unique(np.linspace(0, ordered.size - 1, 400).astype(int))
        theory = np.array([normal.inv_cdf(float(p)) for p in probs[picks]])
        qq.plot(theory, ordered[picks], ".", ms=2, label=f"slice {w['slice']}")
    qq.plot([-4, 4], [-4, 4], "k-", lw=0.8)
    qq.set(title="QQ plot against N(0, 1)", xlabel="N(0, 1) quantile", ylabel="projection quantile")
    qq.legend(fontsize=7)
    fig.suptitle(
        f"{os.path.basename(report['path'])}: worst slices ({u.shape[0]} of {z.shape[0]} rows)", fontsize=10
    )
    fig.savefig(out, dpi=110)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    """Run ``sigreg test`` for parsed ``args``; the exit status."""
    try:
        if args.plot is not None:
            try:
                import matplotlib  # noqa: F401
            except ImportError:
                raise BadFile("--plot needs matplotlib (pip install matplotlib)") from None
        try:
            _module("dask.array")
        except ImportError:
            raise BadFile("reading files needs dask (pip install 'dask[array]')") from None
        source = open_source(args.path, args.key)
        report = evaluate(source, args)
        if args.plot is not None:
            _plot(source, report, args.plot, args.workers)
    except BadFile as error:
        print(f"sigreg test: {error}", file=sys.stderr)
        return EXIT_BAD_FILE
    except (TypeError, ValueError) as error:  # bad options (statistic, num_slices...)
        print(f"sigreg test: {error}", file=sys.stderr)
        return EXIT_BAD_FILE
    report.pop("_directions")
    print(json.dumps(report) if args.json else _format(report))
    return 0
