"""``sigreg test PATH``: test an embedding set on disk (.npy, .npz, Zarr) against N(0, I).

Only NumPy is needed for .npy and .npz files. A .npy file is read a chunk of rows
at a time by positioned reads (its pages then do not stay resident, as they would
through a memory map; a Fortran-ordered file goes through a memory map), so files
larger than memory work; a .npz member is decompressed into memory (zip members
cannot be read by rows); a Zarr store is read by rows through ``zarr`` (the
``sigreg[dask]`` extra). Statistics that are functions of sums (Epps-Pulley,
moments, Jarque-Bera) are reduced chunk by chunk, on ``--workers`` threads, by the
per-chunk function of the Dask path (:func:`sigreg._backend.dask_arrays.chunk_sums`); the others
need every sample of a slice at once and read the whole array, when its projections
fit in half the machine's memory. Nothing is unpickled (``allow_pickle=False``) and
nothing is written except the ``--plot`` figure. Every argument is checked before
the evaluation; a failure gets one line naming the file or the flag, and exit
status 2.

P-values and the band that the value is read against: as ``sigreg.test`` computes them. Where
the statistic has an asymptotic null law (Epps-Pulley, from N = 32), that law, per slice and for
the average over the (dependent) slices given their directions: no draws. Otherwise a Monte Carlo
null of ``--n-resamples`` N(0, I) draws with the same directions, of the file's N rows where that
is affordable: for a statistic of sums (whose null law barely depends on N), when the draws'
time, estimated from a first draw, is at most ``max(the file's own pass, NULL_SECONDS)``; else of
as many rows as fit that time (a power of two, at least 1024). Statistics without sums need every
sample at once, and their null law depends on N: their draws have N rows. ``--alpha A`` makes the
exit status 1 when the p-value is below A (a gate for CI pipelines), and puts the verdict first.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import json
import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from .._pvalues.progress import Progress

Array = Any

EXIT_REJECTED = 1  # --alpha A and a p-value below A
EXIT_BAD_FILE = 2
# Bytes of one chunk of rows read from a file: a few chunks in flight stay well under 1 GB.
CHUNK_BYTES = 64 << 20
MIN_NULL_ROWS = 1024  # rows of a Monte Carlo null draw when the file's N costs too much
NULL_SECONDS = 10.0  # a Monte Carlo null of the file's N is affordable within max(this, the file's pass)
WORST_SHOWN = 5
PLOT_SLICES = 4
PLOT_ROWS = 200_000
# Arrays of a statistic that needs every sample at once (the data and about four N x K
# arrays of projections, sorted copies and temporaries) must fit in this share of memory.
MEMORY_SHARE = 0.5
PROJECTION_COPIES = 4
SMALL_PVALUE = 1e-3
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_ZARR_MARKERS = (".zarray", ".zgroup", "zarr.json")
_INSTALL_DASK = 'pip install "sigreg[dask]"'
_INSTALL_PLOT = 'pip install "sigreg[plot]"'


def _module(name: str) -> Any:
    # Typed Any: zarr, tqdm and matplotlib are untyped or absent where mypy runs in CI.
    return importlib.import_module(name)


class BadFile(Exception):
    """A file or an argument that cannot be used: the message names it and the problem."""


def add_parser(sub: Any) -> None:
    """Register the ``test`` subcommand on ``argparse`` subparsers ``sub``."""
    parser = sub.add_parser(
        "test",
        help="test an embedding set on disk (.npy, .npz, Zarr) against N(0, I)",
        description=(
            "Test whether the rows of a 2-D float array on disk (.npy, read by chunks of rows; .npz; a Zarr "
            f"store, with {_INSTALL_DASK}) are N(0, I) samples: SIGReg's statistic, the band of N(0, I) "
            "data, the p-value and the worst slices. Exit status 0; 1 with --alpha A when the p-value is "
            "below A (a gate for CI: `sigreg test --alpha 0.01 embeddings.npy || exit 1`); 2, with one "
            "line naming the file or the flag, for anything that cannot be used."
        ),
    )
    parser.error = _one_line_error
    parser.add_argument("path", help="a .npy or .npz file, or a Zarr store (directory)")
    parser.add_argument(
        "--statistic",
        default="epps_pulley",
        help="a registered statistic (default epps_pulley); those that are functions of sums read "
        "the file by chunks, the others read it whole",
    )
    parser.add_argument(
        "--num-slices",
        type=int,
        default=_defaults().NUM_SLICES,
        help=f"random directions (default {_defaults().NUM_SLICES}, as sigreg.test)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the directions and the null (default 0)")
    parser.add_argument("--key", help="the array in a .npz file or a Zarr group")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--plot",
        metavar="OUT.png",
        help=f"histograms of the worst slices and a QQ plot (.png, .pdf, .svg...; {_INSTALL_PLOT})",
    )
    parser.add_argument(
        "--alpha",
        type=float,
        default=None,
        help="exit status 1 when the p-value is below ALPHA (default: off, exit 0), for CI pipelines; "
        "the verdict is the first line",
    )
    parser.add_argument(
        "--n-resamples",
        "--resamples",  # the earlier spelling
        dest="n_resamples",
        type=int,
        default=_defaults().N_RESAMPLES,
        help=f"Monte Carlo null draws, where there is no asymptotic law (default {_defaults().N_RESAMPLES}, "
        "as sigreg.test's n_resamples)",
    )
    parser.add_argument(
        "--null-samples",
        type=int,
        default=None,
        help="rows of each Monte Carlo null draw, at most N, for statistics that are functions of sums "
        f"(default: the file's N when its draws take at most max(the file's pass, {NULL_SECONDS:g} s), "
        f"else as many rows as fit, at least {MIN_NULL_ROWS}); the others' draws have N rows",
    )
    parser.add_argument("--workers", type=int, default=None, help="threads reading and reducing chunks")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _defaults() -> Any:
    """sigreg.test's defaults (a module imported only when the parser is built)."""
    from .._pvalues import sliced

    return sliced


def _one_line_error(message: str) -> NoReturn:
    """argparse's errors (``--num-slices abc``) as one line naming the flag, exit status 2."""
    print(f"sigreg test: {message}", file=sys.stderr)
    sys.exit(EXIT_BAD_FILE)


@dataclass
class Source:
    """An opened embedding set: its shape and dtype, and a reader of row ranges as NumPy arrays."""

    path: str
    kind: str
    shape: tuple[int, int]
    dtype: Any
    read_rows: Callable[[int, int], Array]
    chunk_rows: int

    def rows(self, start: int, stop: int) -> Array:
        """Rows ``start:stop`` as a NumPy array; :class:`BadFile` naming the file if they cannot be read."""
        import numpy as np

        try:
            return np.asarray(self.read_rows(start, stop))
        except Exception as error:  # OSError for files; zarr raises many kinds for a damaged store
            raise _fail(
                self.path, f"rows {start} to {stop} cannot be read ({type(error).__name__}: {error})"
            ) from None

    def ranges(self) -> list[tuple[int, int]]:
        """The row ranges of the chunks, in order."""
        n = self.shape[0]
        return [(start, min(n, start + self.chunk_rows)) for start in range(0, n, self.chunk_rows)]


class _NpyRows:
    """A C-order .npy file whose row ranges are read from disk by positioned reads."""

    def __init__(self, path: str, offset: int, shape: tuple[int, int], dtype: Any) -> None:
        self.path, self.offset, self.shape, self.dtype = path, offset, shape, dtype

    def __call__(self, start: int, stop: int) -> Array:
        import numpy as np

        d = self.shape[1]
        count = max(0, stop - start)
        block = np.fromfile(
            self.path, dtype=self.dtype, count=count * d, offset=self.offset + start * d * self.dtype.itemsize
        )
        if block.size != count * d:  # the file shrank after it was opened
            raise OSError(f"expected {count * d} values, read {block.size}")
        return block.reshape(count, d)


def _fail(path: str, problem: str) -> BadFile:
    return BadFile(f"{path}: {problem}")


def _check_array(path: str, shape: tuple[int, ...], dtype: Any) -> None:
    import numpy as np

    if dtype.hasobject:
        raise _fail(path, "holds Python objects (a pickled array): refused, sigreg never unpickles")
    if not np.issubdtype(dtype, np.floating):
        raise _fail(path, f"has dtype {dtype}: expected a real floating dtype (float16, float32, float64)")
    if any(size < 0 for size in shape):
        raise _fail(path, f"has shape {shape} in its header: a negative size, the header is damaged")
    if len(shape) != 2:
        raise _fail(path, f"has shape {shape}: expected a 2-D array (N samples, D features)")
    if shape[0] == 0 or shape[1] == 0:
        raise _fail(path, f"has shape {shape}: no samples or no features")


def _rows_per_chunk(dim: int, itemsize: int) -> int:
    return max(1, CHUNK_BYTES // (dim * itemsize))


def _open_npy(path: str) -> Source:
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
    shape2 = (int(shape[0]), int(shape[1]))
    if fortran:
        # Columns are contiguous: rows come from a memory map (pages stay resident as they are read).
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        reader: Callable[[int, int], Array] = lambda start, stop: mapped[start:stop]  # noqa: E731
    else:
        reader = _NpyRows(path, offset, shape2, dtype)
    return Source(path, "npy", shape2, dtype, reader, _rows_per_chunk(shape2[1], dtype.itemsize))


def _memory_bytes() -> int | None:
    """Physical memory of this machine in bytes, or None where the platform does not say."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _gib(size: float) -> str:
    return f"{size / 2**30:.1f} GiB"


def _open_npz(path: str, key: str | None) -> Source:
    import zipfile

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
    rows = _rows_per_chunk(array.shape[1], array.dtype.itemsize)
    return Source(path, "npz", array.shape, array.dtype, lambda start, stop: array[start:stop], rows)


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
    member_name = key if key in archive.zip.namelist() else f"{key}.npy"
    size, memory = archive.zip.getinfo(member_name).file_size, _memory_bytes()
    if memory is not None and size > MEMORY_SHARE * memory:
        raise _fail(
            path,
            f"array {key!r} is {_gib(size)} uncompressed, more than half this machine's memory "
            f"({_gib(memory)}): a .npz member is decompressed into memory; save it as .npy or Zarr, "
            "which are read by chunks of rows",
        )
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
    import numpy as np

    try:
        zarr = _module("zarr")
    except ImportError:
        raise _fail(path, f"is a Zarr store, and reading it needs zarr ({_INSTALL_DASK})") from None
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
        dtype = np.dtype(node.dtype)
        shape = tuple(int(s) for s in node.shape)
        stored_rows = int(node.chunks[0]) if len(node.chunks) else 1
    except BadFile:
        raise
    except Exception as error:  # zarr raises many kinds for a damaged store
        raise _fail(path, f"not a readable Zarr store ({type(error).__name__}: {error})") from None
    _check_array(path, shape, dtype)
    # Whole stored chunks per read: no stored chunk is decompressed twice.
    rows = max(stored_rows, _rows_per_chunk(shape[1], dtype.itemsize) // stored_rows * stored_rows)
    return Source(path, "zarr", (shape[0], shape[1]), dtype, lambda start, stop: node[start:stop], rows)


def _check_path(path: str) -> None:
    """The path exists and can be read: the first check of all."""
    if not os.path.exists(path):
        raise _fail(path, "no such file or directory")
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            with open(path, "rb") as f:
                f.read(1)
    except OSError as error:
        raise _fail(path, f"cannot be read ({error.strerror or error})") from None


def open_source(path: str, key: str | None = None) -> Source:
    """Open ``path`` as an (N, D) embedding set; :class:`BadFile` when it cannot be tested."""
    _check_path(path)
    try:
        if os.path.isdir(path):
            if not any(os.path.exists(os.path.join(path, m)) for m in _ZARR_MARKERS):
                raise _fail(
                    path, "is a directory but not a Zarr store (no .zarray, .zgroup or zarr.json in it)"
                )
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
    except OSError as error:
        raise _fail(path, f"cannot be read ({error.strerror or error})") from None
    if head[:1] == b"\x80":
        raise _fail(path, "is a Python pickle, not a .npy/.npz/Zarr array: refused, sigreg never unpickles")
    raise _fail(path, "not a .npy or .npz file or a Zarr store (unrecognised first bytes)")


@dataclass
class Options:
    """The checked arguments of ``sigreg test``."""

    statistic: Any
    num_slices: int
    seed: int
    n_resamples: int
    null_samples: int | None
    alpha: float | None
    workers: int
    plot: str | None
    progress: bool


def _plot_formats() -> dict[str, str]:
    try:
        _module("matplotlib")
    except ImportError:
        raise BadFile(f"--plot needs matplotlib ({_INSTALL_PLOT})") from None
    formats: dict[str, str] = _module("matplotlib.backend_bases").FigureCanvasBase.get_supported_filetypes()
    return formats


def check_plot_path(out: str) -> None:
    """``--plot OUT``: a file name (not a folder) with a suffix matplotlib writes, in a writable folder."""
    formats = _plot_formats()
    if os.path.isdir(out):
        raise BadFile(
            f"--plot {out}: is a directory; give a file name, such as {os.path.join(out, 'worst.png')}"
        )
    suffix = os.path.splitext(out)[1].lower().lstrip(".")
    if suffix not in formats:
        listed = ", ".join(f".{name}" for name in sorted(formats))
        got = f"suffix .{suffix}" if suffix else "no suffix"
        raise BadFile(f"--plot {out}: has {got}; expected one of the formats matplotlib writes ({listed})")
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise BadFile(f"--plot {out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK) or (os.path.exists(out) and not os.access(out, os.W_OK)):
        raise BadFile(f"--plot {out}: cannot be written (permission denied)")


def check_options(args: argparse.Namespace) -> Options:
    """Every argument but the path, checked before the file is read; errors name the flag."""
    from .._core import checks
    from .._statistics import registry

    try:
        statistic = registry.resolve(args.statistic, {})
    except (TypeError, ValueError) as error:
        raise BadFile(f"--statistic: {error}") from None
    workers = (os.cpu_count() or 1) if args.workers is None else checks.integer("--workers", args.workers, 1)
    try:
        seed = checks.seed(args.seed, None)
    except (TypeError, ValueError) as error:
        raise BadFile(f"--seed: {error}") from None
    if args.plot is not None:
        check_plot_path(args.plot)
    if args.alpha is not None and not 0.0 < args.alpha < 1.0:
        raise BadFile(
            f"--alpha must be between 0 and 1 (a significance level such as 0.01), got {args.alpha:g}"
        )
    null_samples = args.null_samples
    return Options(
        statistic=statistic,
        num_slices=checks.integer("--num-slices", args.num_slices, 1),
        seed=seed,
        n_resamples=checks.integer("--n-resamples", args.n_resamples, 1),
        null_samples=None if null_samples is None else checks.integer("--null-samples", null_samples, 2),
        alpha=args.alpha,
        workers=workers,
        plot=args.plot,
        progress=not args.no_progress,
    )


def _check_memory(source: Source, stat: Any, num_slices: int) -> None:
    """A statistic without sums reads the whole array: its arrays must fit in memory."""
    import numpy as np

    from .._core import dtypes

    n, dim = source.shape
    itemsize = np.dtype(dtypes.compute_dtype(source.dtype, np)).itemsize
    need = n * (dim + PROJECTION_COPIES * num_slices) * itemsize
    memory = _memory_bytes()
    if memory is not None and need > MEMORY_SHARE * memory:
        raise BadFile(
            f"--statistic {stat.name}: needs every sample of a slice at once, so the whole array and its "
            f"N x K projections ({_gib(need)} for {n} rows and {num_slices} slices) must fit in half this "
            f"machine's memory ({_gib(memory)}); use a statistic that is a function of sums "
            "(epps_pulley, moments, jarque_bera), which reads the file by chunks, or fewer --num-slices"
        )


def _nonfinite(path: str, count: int, first: int, n: int) -> BadFile:
    return _fail(path, f"{count} of {n} rows hold NaN or inf values (the first is row {first})")


def _values_by_chunks(source: Source, stat: Any, directions: Array, options: Options) -> Array:
    """Slice statistics of a statistic with sums: each chunk's sums on a thread, added in float64."""
    import numpy as np

    from .._backend import dask_arrays

    n = source.shape[0]
    k = directions.shape[1]
    num_sums = int(
        np.asarray(
            stat.local_sums(np.zeros((1, k), dtype=directions.dtype), dask_arrays.numpy_namespace())
        ).shape[-1]
    )
    kernels = n * k >= dask_arrays.KERNEL_MIN_PROJECTIONS
    # Jarque-Bera's sums are taken about a shift and scale that every chunk shares (a first
    # pass over the file), so that a large mean does not cancel its digits away, as in Dask.
    agreed = _frame_by_chunks(source, directions, options) if stat.needs_frame else None

    def chunk(rows: tuple[int, int]) -> tuple[Array, int, int]:
        block = source.rows(*rows)
        bad = ~np.isfinite(block).all(axis=1)
        count = int(bad.sum())
        first = rows[0] + int(np.argmax(bad)) if count else -1
        sums = dask_arrays.chunk_sums(block, directions, stat, kernels, num_sums, agreed=agreed)[0]
        return sums, count, first

    total = np.zeros((k, num_sums), dtype=np.float64)
    bad_count, bad_first = 0, -1
    ranges = source.ranges()
    with (
        Progress(len(ranges), "sigreg test", "chunk", options.progress) as progress,
        concurrent.futures.ThreadPoolExecutor(max_workers=options.workers) as pool,
    ):
        # In order: the first non-finite row is the first one found.
        for sums, count, first in pool.map(chunk, ranges):
            total += sums
            if count and bad_first < 0:
                bad_first = first
            bad_count += count
            progress.update()
    if bad_count:
        raise _nonfinite(source.path, bad_count, bad_first, n)
    return dask_arrays.values_from_sums(total, stat, n, directions.dtype)


def _frame_by_chunks(source: Source, directions: Array, options: Options) -> Array:
    """The first round of a statistic with ``needs_frame`` over the file's chunks: shifts and
    scales (1, 2K), by the rule of sigreg._core.frame, as in the Dask path."""
    import numpy as np

    from .._backend import dask_arrays

    totals = np.zeros((directions.shape[1], 2), dtype=np.float64)
    with concurrent.futures.ThreadPoolExecutor(max_workers=options.workers) as pool:
        for part in pool.map(
            lambda rows: dask_arrays.chunk_frame_sums(source.rows(*rows), directions), source.ranges()
        ):
            totals += part[0]
    return dask_arrays.frame_of_sums(totals, source.shape[0])


def _values_in_memory(source: Source, stat: Any, directions: Array) -> Array:
    """Slice statistics of a statistic that needs every sample of a slice: the whole array in memory."""
    import numpy as np

    from .._api.regulariser import sigreg

    n = source.shape[0]
    z = np.asarray(source.rows(0, n), dtype=directions.dtype)
    bad = ~np.isfinite(z).all(axis=1)
    if bad.any():
        raise _nonfinite(source.path, int(bad.sum()), int(np.argmax(bad)), n)
    return np.asarray(sigreg(z, statistic=stat, directions=directions, reduction="none"))


def evaluate(source: Source, options: Options) -> dict[str, Any]:
    """Slice statistics, p-values and the N(0, I) band of ``source`` (BadFile for non-finite rows)."""
    import array_api_compat.numpy as xp
    import numpy as np

    from .._backend import dask_arrays
    from .._core import checks, dtypes
    from .._pvalues import sliced

    n, dim = source.shape
    stat = options.statistic
    stat.check_samples(n, "the data")
    compute = dtypes.compute_dtype(np.dtype(source.dtype), np)
    try:
        directions = dask_arrays.host_directions(
            source.shape, options.num_slices, options.seed, None, compute, "the data"
        )
    except ValueError as error:  # more directions than sigreg's 32-bit counter of draws numbers
        raise BadFile(f"--num-slices: {error}") from None
    slice_method = sliced.slice_method(stat, "auto", n)
    if slice_method != "asymptotic":
        # The draws are numbered by one 32-bit counter: refused now if even their fewest rows overflow it.
        rows = _fewest_null_rows(stat, n, options)
        checks.count_fits(
            "--n-resamples", options.n_resamples, rows * dim, f"for null draws of {rows} rows, D={dim}"
        )
    if not stat.has_sums:
        _check_memory(source, stat, options.num_slices)
    start = time.perf_counter()
    if stat.has_sums:
        values = _values_by_chunks(source, stat, directions, options)
    else:
        values = _values_in_memory(source, stat, directions)
    if not np.all(np.isfinite(values)):
        raise _fail(source.path, "values too large for the statistic (non-finite slice statistics)")
    pass_seconds = time.perf_counter() - start
    if slice_method == "asymptotic":
        result = sliced.pvalues(
            stat, values, n, directions, options.seed, slice_method, options.n_resamples, xp
        )
        null_mean, low, high = _asymptotic_band(stat, directions, options.seed)
        null_rows = None
        null_reason = f"its large-N limit, used from N = {sliced.MIN_SAMPLES_ASYMPTOTIC}: no draws"
    else:
        null_rows, null_reason = _null_rows(stat, n, values, directions, options, pass_seconds)
        result = sliced.pvalues(
            stat,
            values,
            null_rows,
            directions,
            options.seed,
            slice_method,
            options.n_resamples,
            xp,
            progress=options.progress,
        )
        # The same Monte Carlo draws (cached by pvalues): the band that the value is read against.
        null = sliced.null_statistics(
            stat, null_rows, values, directions, options.seed, options.n_resamples, xp
        )
        averages = np.mean(np.asarray(null, dtype=np.float64), axis=-1)
        null_mean = float(np.mean(averages))
        low, high = (float(q) for q in np.quantile(averages, [0.05, 0.95]))
    seconds = time.perf_counter() - start
    slice_p = np.asarray(result.slice_pvalues)
    # Smallest p-values first; ties (p-values that underflow to 0) by the larger statistic.
    worst = [int(i) for i in np.lexsort((-values, slice_p))[:WORST_SHOWN]]
    statistic = float(result.statistic)
    pvalue = float(result.pvalue)
    carried = _carried(compute)
    return {
        "path": source.path,
        "format": source.kind,
        "n": int(n),
        "dim": int(dim),
        "dtype": str(source.dtype),
        "statistic_name": stat.name,
        "statistic": carried(statistic),
        "pvalue": carried(pvalue),
        "alpha": options.alpha,
        "verdict": None if options.alpha is None else "fail" if pvalue < options.alpha else "pass",
        "pvalue_method": result.method,
        "slice_pvalue_method": result.slice_method,
        "null_samples": null_rows,
        "null_reason": null_reason,
        "n_resamples": options.n_resamples if null_rows is not None else None,
        "null_mean": carried(null_mean),
        "null_band": [carried(low), carried(high)],
        "band": "below" if statistic < low else "above" if statistic > high else "inside",
        "num_slices": options.num_slices,
        "seed": options.seed,
        "chunks": len(source.ranges()) if stat.has_sums else 1,
        "seconds": round(seconds, 3),
        "worst": [
            {"slice": i, "statistic": carried(float(values[i])), "pvalue": carried(float(slice_p[i]))}
            for i in worst
        ],
        "plot": options.plot,
        "_directions": directions,
    }


def _carried(dtype: Any) -> Callable[[float], float]:
    """Rounds a number to the precision that ``dtype`` carries: the shortest decimal that is the same
    float32 (``0.93``, not ``0.9300000071525574``); float64 numbers are kept as they are."""
    import numpy as np

    if np.dtype(dtype).itemsize >= 8:
        return float
    return lambda x: float(str(np.float32(x)))


def _asymptotic_band(stat: Any, directions: Array, seed: int) -> tuple[float, float, float]:
    """The mean and the 5% and 95% quantiles of the asymptotic law of the average over the slices."""
    import numpy as np

    from .._pvalues import asymptotic, average, sliced

    offset = sliced.slice_law(stat)[1]
    law = sliced.average_law(stat, directions, seed, False)
    mean = float(np.sum(asymptotic.chi2_weights(*stat.null_quadrature(np)))) - offset
    return mean, average.quantile(law, 0.95) - offset, average.quantile(law, 0.05) - offset


def _fewest_null_rows(stat: Any, n: int, options: Options) -> int:
    """The fewest rows a Monte Carlo null draw of ``_null_rows`` may have."""
    if not stat.has_sums:
        return n
    return min(n, MIN_NULL_ROWS if options.null_samples is None else options.null_samples)


def _null_rows(
    stat: Any, n: int, like: Array, directions: Array, options: Options, pass_seconds: float
) -> tuple[int, str]:
    """Rows of each Monte Carlo null draw, and why: the file's N where its draws are affordable."""
    import array_api_compat.numpy as xp

    from .._core import checks
    from .._pvalues import sliced

    if not stat.has_sums:
        return n, "the file's N: the null law of this statistic depends on N"
    if options.null_samples is not None:
        rows = min(n, options.null_samples)
        return rows, f"--null-samples {options.null_samples}" + (
            ", at most the file's N" if rows == n else ""
        )
    # One draw of up to MIN_NULL_ROWS rows, timed: what a row of a draw costs.
    pilot = min(n, MIN_NULL_ROWS)
    begin = time.perf_counter()
    sliced.null_statistics(stat, pilot, like, directions, options.seed, 1, xp, progress=False)
    need = (time.perf_counter() - begin) / pilot * n * options.n_resamples
    bound = max(pass_seconds, NULL_SECONDS)
    # The draws are numbered by one 32-bit counter: at most this many rows each (evaluate checked
    # that min(n, MIN_NULL_ROWS) fit).
    most = checks.MAX_COUNTER // (directions.shape[0] * options.n_resamples)
    if n > most:
        return 1 << (most.bit_length() - 1), (
            f"not the file's N: draws of more than {most} rows would overflow sigreg's 32-bit counter "
            "of draws; the null law of a statistic of sums barely depends on N"
        )
    if need <= bound:
        return n, (
            f"the file's N: the draws take about {_seconds(need)}, at most the file's own pass or "
            f"{NULL_SECONDS:g} s"
        )
    fit = max(1, int(n * bound / need))
    rows = min(n, max(MIN_NULL_ROWS, 1 << (fit.bit_length() - 1)))
    return rows, (
        f"not the file's N: {n} rows would take about {_seconds(need)}, more than the file's own pass and "
        f"{NULL_SECONDS:g} s; the null law of a statistic of sums barely depends on N"
    )


def _seconds(x: float) -> str:
    return f"{x:.1f} s" if x < 10 else f"{x:.0f} s"


def _number(x: float) -> str:
    """A statistic with 5 significant digits: 1.0774, 1039.3, 0.00021234."""
    return f"{x:.5g}"


def pvalue_text(p: float) -> str:
    """``p < 0.001`` for small p-values (down to those that underflow to 0), else ``p = 0.0123``."""
    return f"p < {SMALL_PVALUE:g}" if p < SMALL_PVALUE else f"p = {p:.3g}"


def _pvalue_words(report: dict[str, Any]) -> tuple[str, str]:
    """The p-value, short (``p < 0.001``), and what it means in words."""
    p = report["pvalue"]
    draws = report["n_resamples"]
    if report["pvalue_method"] == "monte_carlo" and p <= 1.0 / (draws + 1) * (1 + 1e-9):
        return f"p <= {p:.2g}", (
            f"none of the {draws} N(0, I) draws scored this high; more --n-resamples resolve smaller p-values"
        )
    if p < SMALL_PVALUE:
        return pvalue_text(p), "N(0, I) data score this high less than 0.1% of the time"
    return pvalue_text(p), f"N(0, I) data score this high or higher {100 * p:.2g}% of the time"


_BAND_WORDS = {
    "inside": "inside that band: as Gaussian as N(0, I) data of this size",
    "above": "above that band: less Gaussian than 95% of N(0, I) samples",
    "below": "below that band: closer to N(0, I) than 95% of random N(0, I) samples (optimised data can be)",
}


def _format(report: dict[str, Any]) -> str:
    low, high = report["null_band"]
    short, words = _pvalue_words(report)
    lines = []
    if report["verdict"] is not None:
        alpha = report["alpha"]
        lines.append(
            f"FAIL at --alpha {alpha:g}: {short}, below {alpha:g}: these rows are not N(0, I) samples"
            if report["verdict"] == "fail"
            else f"PASS at --alpha {alpha:g}: {short}, not below {alpha:g}: nothing says these rows are not "
            "N(0, I) samples"
        )
    if report["null_samples"] is None:
        null = (
            f"N(0, I) data of {report['n']} rows, by the asymptotic law of the average over these slices "
            f"({report['null_reason']})"
        )
    else:
        null = (
            f"N(0, I) data ({report['n_resamples']} draws of {report['null_samples']} rows, same directions; "
            f"{report['null_reason']})"
        )
    lines += [
        f"{report['path']}: {report['n']} x {report['dim']} {report['dtype']} ({report['format']})",
        f"{report['statistic_name']} over {report['num_slices']} slices (seed {report['seed']}): "
        f"{_number(report['statistic'])}",
        f"  {null}",
        f"  average {_number(report['null_mean'])}; 90% of them between {_number(low)} and {_number(high)}",
        f"  this value is {_BAND_WORDS[report['band']]}",
        f"p-value: {short} ({report['pvalue_method'].replace('_', ' ')}): {words}",
        f"worst slices (p-values: {report['slice_pvalue_method'].replace('_', ' ')}):",
    ]
    lines += [
        f"  slice {w['slice']:5d}  statistic {_number(w['statistic']):>10}  {pvalue_text(w['pvalue'])}"
        for w in report["worst"]
    ]
    if report["plot"] is not None:
        lines.append(f"plot: {report['plot']} (the worst slices' projections and their QQ plot)")
    lines.append(f"{report['seconds']:.2f} s (reading, the statistic and the null)")
    return "\n".join(lines)


def _projections(source: Source, directions: Array, step: int) -> Array:
    """Every ``step``-th row projected onto ``directions``, read a chunk at a time."""
    import numpy as np

    parts = []
    for start, stop in source.ranges():
        first = -start % step  # the first row of the chunk that is a multiple of step
        block = np.asarray(source.rows(start, stop)[first::step], dtype=directions.dtype)
        parts.append(block @ directions)
    return np.concatenate(parts)


def _plot(source: Source, report: dict[str, Any], out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import statistics

    import matplotlib.pyplot as plt
    import numpy as np

    worst = [w["slice"] for w in report["worst"][:PLOT_SLICES]]
    n = source.shape[0]
    step = max(1, n // PLOT_ROWS)
    u = _projections(source, report["_directions"][:, worst], step)
    # The whole range of every projection: a collapsed set reaches far beyond +-4.
    lo, hi = min(-4.0, float(u.min())), max(4.0, float(u.max()))
    fig, axes = plt.subplots(1, len(worst) + 1, figsize=(3.2 * (len(worst) + 1), 3.2), layout="constrained")
    grid = np.linspace(lo, hi, 401)
    pdf = np.exp(-0.5 * grid**2) / math.sqrt(2 * math.pi)
    for ax, column, w in zip(axes[:-1], u.T, report["worst"], strict=False):
        ax.hist(column, bins=80, range=(lo, hi), density=True, color="#9ab", label="projections")
        ax.plot(grid, pdf, "k-", lw=1.2, label="N(0, 1)")
        ax.set_xlim(lo, hi)
        ax.set_title(f"slice {w['slice']}: {pvalue_text(w['pvalue'])}", fontsize=9)
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
        f"{os.path.basename(report['path'])}: worst slices ({u.shape[0]} of {n} rows, whole range)",
        fontsize=10,
    )
    try:
        fig.savefig(out, dpi=110, format=os.path.splitext(out)[1].lower().lstrip("."))
    except OSError as error:
        raise BadFile(f"--plot {out}: cannot be written ({error.strerror or error})") from None
    finally:
        plt.close(fig)


def run(args: argparse.Namespace) -> int:
    """Run ``sigreg test`` for parsed ``args``; the exit status."""
    try:
        _check_path(args.path)
        options = check_options(args)
        source = open_source(args.path, args.key)
        report = evaluate(source, options)
        if options.plot is not None:
            _plot(source, report, options.plot)
    except BadFile as error:
        print(f"sigreg test: {error}", file=sys.stderr)
        return EXIT_BAD_FILE
    except (TypeError, ValueError) as error:  # bad options (--num-slices...), named by their flag
        print(f"sigreg test: {error}", file=sys.stderr)
        return EXIT_BAD_FILE
    report.pop("_directions")
    print(json.dumps(report) if args.json else _format(report))
    return EXIT_REJECTED if report["verdict"] == "fail" else 0
