"""``sigreg test PATH``: files on disk give the in-memory values; bad files one line, exit 2, nothing written.

The oracle is ``sigreg.sigreg`` on the same array in memory, with the same
directions (seed). .npy and .npz need NumPy only (tests here hide Dask, zarr, tqdm
and matplotlib to prove it); Zarr, the progress bar and the plot run where their
packages are installed (the ``tests(backend='dask')`` nox session).
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import zipfile

import numpy as np
import pytest

_chosen = os.environ.get("SIGREG_TEST_BACKENDS")
if _chosen is not None and "numpy" not in _chosen.split(","):
    pytest.skip(
        "the CLI reads files with NumPy: its tests run in the numpy and dask sessions only",
        allow_module_level=True,
    )

import sigreg  # noqa: E402
from sigreg.__main__ import main  # noqa: E402

from ..support import Terminal  # noqa: E402

N, D, K = 1500, 6, 16


def _run(capsys, *argv):
    status = main(["test", *map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    return status, out, err


def _report(capsys, *argv, status=0):
    got, out, err = _run(capsys, *argv, "--json")
    assert got == status, err
    return json.loads(out)


def _data(dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, D)) * np.linspace(0.8, 1.3, D)).astype(dtype)


def _check_against_memory(report, z, seed=1, statistic="epps_pulley"):
    values = sigreg.sigreg(z, num_slices=K, seed=seed, reduction="none", statistic=statistic)
    rtol = 1e-12 if z.dtype == np.float64 else 1e-4
    assert report["n"] == z.shape[0] and report["dim"] == z.shape[1]
    assert report["num_slices"] == K and report["seed"] == seed
    np.testing.assert_allclose(report["statistic"], float(np.mean(values.astype(np.float64))), rtol=rtol)
    for worst in report["worst"]:
        np.testing.assert_allclose(worst["statistic"], values[worst["slice"]], rtol=rtol)
    assert 0.0 < report["pvalue"] <= 1.0
    pvalues = [w["pvalue"] for w in report["worst"]]
    assert pvalues == sorted(pvalues)
    low, high = report["null_band"]
    assert low < report["null_mean"] < high
    assert report["band"] == _band(report["statistic"], low, high)


def _band(value, low, high):
    return "below" if value < low else "above" if value > high else "inside"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_npy_equals_in_memory(tmp_path, capsys, dtype):
    z = _data(dtype)
    np.save(tmp_path / "z.npy", z)
    report = _report(capsys, tmp_path / "z.npy", "--num-slices", K, "--seed", 1)
    _check_against_memory(report, z)
    assert report["format"] == "npy" and report["dtype"] == np.dtype(dtype).name
    assert sorted(os.listdir(tmp_path)) == ["z.npy"]


def test_npy_chunks_that_do_not_divide_n(tmp_path, capsys, monkeypatch):
    from sigreg._cli import files

    z = _data(np.float64)
    np.save(tmp_path / "z.npy", z)
    np.save(tmp_path / "f.npy", np.asfortranarray(z))
    monkeypatch.setattr(files, "CHUNK_BYTES", 7 * D * 8 * 61)  # 427 rows a chunk: 4 chunks
    for name in ("z.npy", "f.npy"):
        report = _report(capsys, tmp_path / name, "--num-slices", K, "--seed", 1)
        assert report["chunks"] == 4
        _check_against_memory(report, z)
    report = _report(capsys, tmp_path / "z.npy", "--num-slices", K, "--seed", 1, "--statistic", "moments")
    _check_against_memory(report, z, statistic="moments")


def test_npz_one_array_or_key(tmp_path, capsys):
    z = _data(np.float64)
    np.savez(tmp_path / "one.npz", emb=z)
    _check_against_memory(_report(capsys, tmp_path / "one.npz", "--num-slices", K, "--seed", 1), z)
    np.savez_compressed(tmp_path / "two.npz", a=z, b=z[:10])
    status, out, err = _run(capsys, tmp_path / "two.npz", "--num-slices", K)
    assert status == 2 and out == "" and "holds 2 arrays (a, b): choose one with --key" in err
    _check_against_memory(
        _report(capsys, tmp_path / "two.npz", "--num-slices", K, "--seed", 1, "--key", "a"), z
    )
    status, _, err = _run(capsys, tmp_path / "two.npz", "--key", "c")
    assert status == 2 and "has no array 'c'" in err


def test_zarr_store(tmp_path, capsys):
    zarr = pytest.importorskip("zarr", reason="zarr is not installed")
    z = _data(np.float32)
    store = zarr.open(str(tmp_path / "z.zarr"), mode="w", shape=z.shape, chunks=(400, 4), dtype="float32")
    store[:] = z
    report = _report(capsys, tmp_path / "z.zarr", "--num-slices", K, "--seed", 1)
    assert report["format"] == "zarr"
    _check_against_memory(report, z)
    zarr.open_group(str(tmp_path / "g.zarr"), mode="w")
    zarr.open(str(tmp_path / "g.zarr" / "emb"), mode="w", shape=z.shape, chunks=(700, D), dtype="float32")[
        :
    ] = z
    zarr.open(str(tmp_path / "g.zarr" / "labels"), mode="w", shape=(N,), dtype="int64")[:] = 0
    status, _, err = _run(capsys, tmp_path / "g.zarr")
    assert status == 2 and "Zarr group of 2 arrays" in err and "--key" in err
    _check_against_memory(
        _report(capsys, tmp_path / "g.zarr", "--num-slices", K, "--seed", 1, "--key", "emb"), z
    )
    status, _, err = _run(capsys, tmp_path / "g.zarr", "--key", "labels")
    assert status == 2 and "has dtype int64" in err


def test_module_entry_point_prints_json(tmp_path):
    np.save(tmp_path / "z.npy", _data())
    done = subprocess.run(
        [sys.executable, "-m", "sigreg", "test", str(tmp_path / "z.npy"), "--json", "--num-slices", "8"],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # stderr is not a terminal: no progress bar, no residue
    report = json.loads(done.stdout)
    assert {"statistic", "num_slices", "seed", "n", "dim", "pvalue"} <= set(report)
    assert (report["n"], report["dim"], report["num_slices"], report["seed"]) == (N, D, 8, 0)


def _read_text(out):
    """The numbers and claims of the text report, parsed back."""
    value = float(re.search(r"slices \(seed \d+\): (\S+)", out).group(1))
    mean, low, high = map(
        float, re.search(r"average (\S+); 90% of them between (\S+) and (\S+)", out).groups()
    )
    claim = re.search(r"this value is (inside|above|below) that band", out).group(1)
    return value, mean, low, high, claim


@pytest.mark.parametrize("statistic", ["epps_pulley", "jarque_bera"])
def test_text_output_states_the_band_and_keeps_its_claims(tmp_path, capsys, statistic):
    rng = np.random.default_rng(2)
    np.save(tmp_path / "gauss.npy", rng.standard_normal((N, D)))
    np.save(tmp_path / "skewed.npy", rng.exponential(size=(N, D)))
    claims = {}
    for name in ("gauss", "skewed"):
        argv = ["--num-slices", K, "--n-resamples", 39, "--statistic", statistic]
        status, out, err = _run(capsys, tmp_path / f"{name}.npy", *argv)
        assert status == 0 and err == "", err
        value, mean, low, high, claim = _read_text(out)
        assert low < mean < high and claim == _band(value, low, high)
        claims[name] = claim
        assert not re.search(r"\bp 0\b", out)
        assert re.search(r"\d+\.\d+ s \(reading, the statistic and the null\)", out)
    assert claims["skewed"] == "above"
    if statistic == "epps_pulley":  # the asymptotic laws: the null is named, no draws
        assert f"N(0, I) data of {N} rows, by the asymptotic law of the average over these slices" in out
        assert (
            "p-value: p < 0.001 (asymptotic): N(0, I) data score this high less than 0.1% of the time" in out
        )
    else:
        # Jarque-Bera has no asymptotic law here: 39 draws of the file's N rows (cheap enough), and
        # the average's Monte Carlo p-value is the smallest 39 draws give: the report says so.
        assert f"39 draws of {N} rows, same directions; the file's N: the draws take about" in out
        assert "p-value: p <= 0.025 (monte carlo): none of the 39 N(0, I) draws scored this high" in out


def test_alpha_gates_a_pipeline_verdict_first(tmp_path, capsys):
    """The issue's check: `sigreg test --alpha 0.01 collapsed.npy` exits 1, a Gaussian file exits 0."""
    rng = np.random.default_rng(3)
    np.save(tmp_path / "gaussian.npy", rng.standard_normal((N, D)).astype(np.float32))
    collapsed = rng.standard_normal((N, 2)) @ rng.standard_normal((2, D))  # rank 2
    np.save(tmp_path / "collapsed.npy", collapsed.astype(np.float32))
    status, out, _ = _run(capsys, "--alpha", 0.01, tmp_path / "collapsed.npy")
    assert status == 1 and out.startswith("FAIL at --alpha 0.01: p < 0.001, below 0.01"), out
    status, out, _ = _run(capsys, "--alpha", 0.01, tmp_path / "gaussian.npy")
    assert status == 0 and out.startswith("PASS at --alpha 0.01: p = "), out
    report = _report(capsys, "--alpha", 0.01, tmp_path / "collapsed.npy", status=1)
    assert (report["alpha"], report["verdict"]) == (0.01, "fail")
    # Without --alpha: exit 0 whatever the p-value, and no verdict.
    status, out, _ = _run(capsys, tmp_path / "collapsed.npy")
    assert status == 0 and "FAIL" not in out and "PASS" not in out
    assert _report(capsys, tmp_path / "collapsed.npy")["verdict"] is None


def test_json_numbers_carry_the_precision_of_the_data(tmp_path, capsys):
    """float32 data: every number is the shortest decimal of its float32 (0.93, not 0.9300000071525574)."""
    np.save(tmp_path / "z.npy", _data(np.float32))
    status, out, _ = _run(capsys, tmp_path / "z.npy", "--json")
    assert status == 0
    report = json.loads(out)
    numbers = [report["statistic"], report["pvalue"], report["null_mean"], *report["null_band"]]
    numbers += [value for w in report["worst"] for value in (w["statistic"], w["pvalue"])]
    for x in numbers:
        assert repr(x) == str(np.float32(x)) or float(str(np.float32(x))) == x, x
        assert len(repr(x).lstrip("0.").replace(".", "").split("e")[0]) <= 9, x
    raw = re.findall(r"\d\.\d{10,}", out)  # no float32 noise printed as float64
    assert raw == [], raw


def _slow_null_draws(monkeypatch, seconds_of):
    """The CLI's clock made one that only the null's draws advance, each by ``seconds_of(args)``
    (the draw's positional arguments)."""
    from sigreg._cli import files
    from sigreg._pvalues import sliced

    clock = [0.0]
    draw = sliced.null_statistics

    def slow_draw(*args, **kwargs):
        clock[0] += seconds_of(args)
        return draw(*args, **kwargs)

    class FakeTime:
        @staticmethod
        def perf_counter():
            return clock[0]

    monkeypatch.setattr(files, "time", FakeTime)
    monkeypatch.setattr(sliced, "null_statistics", slow_draw)


def test_null_rows_are_the_files_n_when_affordable(tmp_path, capsys, monkeypatch):
    """Jarque-Bera's Monte Carlo null: the file's N rows when the draws, timed on a first draw, fit
    max(the file's pass, NULL_SECONDS); else the largest power of two that fits, at least 1024."""
    from sigreg._cli import files

    np.save(tmp_path / "z.npy", _data())
    argv = [tmp_path / "z.npy", "--statistic", "jarque_bera", "--n-resamples", 9, "--num-slices", 4]
    report = _report(capsys, *argv)
    assert report["null_samples"] == N and report["null_reason"].startswith("the file's N")
    monkeypatch.setattr(files, "NULL_SECONDS", 0.0)
    _slow_null_draws(monkeypatch, lambda args: args[1] * args[5])  # 1 s per row of a draw
    report = _report(capsys, *argv)
    assert report["null_samples"] == 1024 and report["null_reason"].startswith("not the file's N")
    assert _report(capsys, *argv, "--null-samples", 100)["null_samples"] == 100


def test_null_rows_fit_the_counter_of_draws(tmp_path, capsys, monkeypatch):
    """Null draws are numbered by one 32-bit counter: where draws of the file's N rows would overflow
    it, fewer rows (a power of two; evaluate checked before the pass that 1024 rows fit)."""
    from sigreg._core import checks

    np.save(tmp_path / "z.npy", _data())
    monkeypatch.setattr(checks, "MAX_COUNTER", 9 * D * (N - 1))  # a smaller counter: N rows overflow it
    argv = [tmp_path / "z.npy", "--statistic", "jarque_bera", "--n-resamples", 9, "--num-slices", 4]
    report = _report(capsys, *argv)
    assert report["null_samples"] == 1024 and "overflow" in report["null_reason"], report["null_reason"]


def test_plot_path_printed_and_whole_range(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    import matplotlib.axes

    rng = np.random.default_rng(2)
    collapsed = rng.standard_normal((N, 1)) * np.ones(D) * 3.0  # projections reach about +-12
    np.save(tmp_path / "line.npy", collapsed)
    ranges = []
    hist = matplotlib.axes.Axes.hist

    def recording_hist(ax, x, **kwargs):
        ranges.append((np.asarray(x), kwargs["range"]))
        return hist(ax, x, **kwargs)

    monkeypatch.setattr(matplotlib.axes.Axes, "hist", recording_hist)
    for name in ("out.png", "out.svg"):
        status, out, err = _run(capsys, tmp_path / "line.npy", "--num-slices", K, "--plot", tmp_path / name)
        assert status == 0, err
        assert f"plot: {tmp_path / name} " in out
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in (tmp_path / "out.svg").read_bytes()[:400]
    assert sorted(os.listdir(tmp_path)) == ["line.npy", "out.png", "out.svg"]
    assert max(float(np.ptp(x)) for x, _ in ranges) > 10  # the data do reach far out
    for x, (lo, hi) in ranges:  # every histogram spans all of its projections
        assert lo <= x.min() and x.max() <= hi
    report = _report(capsys, tmp_path / "line.npy", "--num-slices", K, "--plot", tmp_path / "j.png")
    assert report["plot"] == str(tmp_path / "j.png") and (tmp_path / "j.png").exists()


class _Marker:
    """Unpickling this creates a file: proof that a refused pickle was never unpickled."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def _bad_files(tmp_path):
    """(file name, how to make it, words the error must contain)."""
    marker = str(tmp_path / "UNPICKLED")
    objects = np.empty((2, 2), dtype=object)
    objects[:] = [[_Marker(marker)] * 2] * 2
    z = _data(np.float64)
    with_nan = z.copy()
    with_nan[[5, 17, 900], 2] = np.nan
    with_inf = z.copy()
    with_inf[[3, 4], 0] = -np.inf

    def truncated(path):
        np.save(path, z)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) - 100)

    def truncated_npz(path):
        np.savez(path, z=z)
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)

    return [
        ("missing.npy", None, "no such file or directory"),
        ("empty.npy", lambda p: p.write_bytes(b""), "empty file"),
        ("truncated.npy", truncated, "truncated"),
        ("truncated.npz", truncated_npz, "truncated"),
        ("objects.npy", lambda p: np.save(p, objects, allow_pickle=True), "pickled array"),
        ("objects.npz", lambda p: np.savez(p, z=objects), "pickled array"),
        ("pickle.npy", lambda p: p.write_bytes(pickle.dumps(_Marker(marker))), "pickle"),
        ("ints.npy", lambda p: np.save(p, np.ones((10, 3), dtype=np.int64)), "dtype int64"),
        ("complex.npy", lambda p: np.save(p, np.ones((10, 3), dtype=np.complex128)), "dtype complex128"),
        ("vector.npy", lambda p: np.save(p, np.ones(10)), "shape (10,): expected a 2-D"),
        ("cube.npy", lambda p: np.save(p, np.ones((4, 5, 3))), "shape (4, 5, 3): expected a 2-D"),
        (
            "nan.npy",
            lambda p: np.save(p, with_nan),
            "3 of 1500 rows hold NaN or inf values (the first is row 5)",
        ),
        ("inf.npz", lambda p: np.savez(p, z=with_inf), "2 of 1500 rows hold NaN or inf"),
        ("folder", lambda p: os.mkdir(p), "is a directory but not a Zarr store"),
        ("text.npy", lambda p: p.write_text("1,2,3\n"), "not a .npy or .npz file"),
        ("negative.npy", _negative_shape, "has shape (-3, 4) in its header: a negative size"),
    ]


def _negative_shape(path):
    header = np.lib.format.header_data_from_array_1_0(np.zeros((3, 4)))
    header["shape"] = (-3, 4)
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, header)
        f.write(bytes(96))


@pytest.mark.parametrize("case", range(16))
def test_bad_file_one_line_exit_2_nothing_written(tmp_path, capsys, case):
    name, make, words = _bad_files(tmp_path)[case]
    path = tmp_path / name
    if make is not None:
        make(path)
    before = sorted(os.listdir(tmp_path))
    plot = ["--plot", tmp_path / "out.png"] if _has("matplotlib") else []
    status, out, err = _run(capsys, path, "--num-slices", 4, *plot)
    assert status == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"sigreg test: {path}: "), err
    assert words in err, err
    assert sorted(os.listdir(tmp_path)) == before  # no marker file, no plot


def test_unpicklable_marker_works():
    # The refusal tests mean something only if unpickling the marker does create the file.
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        marker = os.path.join(folder, "m")
        pickle.loads(pickle.dumps(_Marker(marker))).close()
        assert os.path.exists(marker)


def _no_evaluation(monkeypatch):
    from sigreg._cli import files

    def refuse(*args, **kwargs):
        raise AssertionError("evaluated despite a bad argument")

    monkeypatch.setattr(files, "evaluate", refuse)


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--statistic", "bogus"], "--statistic: statistic must be one of"),
        (["--num-slices", "0"], "--num-slices must be >= 1"),
        (["--resamples", "0"], "--n-resamples must be >= 1"),  # the earlier spelling, still read
        (["--n-resamples", "0"], "--n-resamples must be >= 1"),
        (["--alpha", "1.5"], "--alpha must be between 0 and 1"),
        (["--null-samples", "1"], "--null-samples must be >= 2"),
        (["--workers", "0"], "--workers must be >= 1"),
        (["--seed", "-1"], "--seed: seed must be in [0, 2**64)"),
        (["--key", "a"], "--key is only for"),
    ],
)
def test_bad_options_named_before_any_evaluation(tmp_path, capsys, monkeypatch, argv, words):
    np.save(tmp_path / "z.npy", _data())
    _no_evaluation(monkeypatch)
    status, out, err = _run(capsys, tmp_path / "z.npy", *argv)
    assert status == 2 and out == "" and err.count("\n") == 1 and words in err, err


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--num-slices", str(10**12)], f"--num-slices: num_slices must be at most {(2**31 - 1) // D} "),
        # Shapiro-Wilk's null has no asymptotic law: draws of the file's N rows.
        (["--n-resamples", str(10**9), "--statistic", "shapiro_wilk"], "--n-resamples must be at most "),
    ],
)
def test_counts_beyond_the_counter_of_draws_are_named_by_their_flag(
    tmp_path, capsys, monkeypatch, argv, words
):
    """Directions and null draws are numbered by one 32-bit counter: too many is the flag's fault,
    found once the file's D is known, before any statistic is computed."""
    from sigreg._cli import files

    np.save(tmp_path / "z.npy", _data())

    def refuse(*args, **kwargs):
        raise AssertionError("computed despite a bad argument")

    monkeypatch.setattr(files, "_values_by_chunks", refuse)
    monkeypatch.setattr(files, "_values_in_memory", refuse)
    status, out, err = _run(capsys, tmp_path / "z.npy", *argv)
    assert status == 2 and out == "" and err.count("\n") == 1 and words in err, err


def test_unparsable_flag_one_line(tmp_path, capsys):
    np.save(tmp_path / "z.npy", _data())
    with pytest.raises(SystemExit) as exit_info:
        main(["test", str(tmp_path / "z.npy"), "--num-slices", "abc"])
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert err == "sigreg test: argument --num-slices: invalid int value: 'abc'\n", err


def test_bad_plot_paths_refused_before_any_evaluation(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    np.save(tmp_path / "z.npy", _data())
    os.mkdir(tmp_path / "figures")
    _no_evaluation(monkeypatch)
    cases = [
        (tmp_path / "missing" / "out.png", "the folder"),
        (tmp_path / "figures", "is a directory; give a file name"),  # not silently figures.png
        (tmp_path / "out", "has no suffix; expected one of the formats matplotlib writes"),
        (tmp_path / "out.docx", "has suffix .docx; expected one of"),
    ]
    for out_path, words in cases:
        status, out, err = _run(capsys, tmp_path / "z.npy", "--plot", out_path)
        assert status == 2 and out == "" and err.count("\n") == 1, err
        assert err.startswith(f"sigreg test: --plot {out_path}: ") and words in err, err
    assert sorted(os.listdir(tmp_path)) == ["figures", "z.npy"] and os.listdir(tmp_path / "figures") == []


def test_the_path_is_checked_first(tmp_path, capsys):
    status, _, err = _run(capsys, tmp_path / "missing.npy", "--statistic", "bogus", "--plot", tmp_path / "x")
    assert status == 2 and err == f"sigreg test: {tmp_path / 'missing.npy'}: no such file or directory\n"


def test_unreadable_file_named(tmp_path, capsys, monkeypatch):
    # Simulated: tests may run as root, who reads any file whatever its mode.
    import builtins

    from sigreg._cli import files

    np.save(tmp_path / "z.npy", _data())
    real_open = builtins.open

    def guarded(path, *args, **kwargs):
        if str(path) == str(tmp_path / "z.npy"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(files, "open", guarded, raising=False)
    status, out, err = _run(capsys, tmp_path / "z.npy")
    assert status == 2 and out == ""
    assert err == f"sigreg test: {tmp_path / 'z.npy'}: cannot be read (Permission denied)\n"


def _hide(monkeypatch, *modules):
    """Make ``import name`` fail for each of ``modules``, as if it were not installed."""
    for name in list(sys.modules):
        if name.partition(".")[0] in modules:
            monkeypatch.delitem(sys.modules, name)
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)


def test_numpy_only_install(tmp_path, capsys, monkeypatch):
    # The README's install: NumPy and array-api-compat, no Dask, zarr, tqdm or matplotlib.
    _hide(monkeypatch, "dask", "zarr", "tqdm", "matplotlib", "distributed")
    z = _data(np.float64)
    np.save(tmp_path / "z.npy", z)
    np.savez(tmp_path / "z.npz", z=z)
    for name in ("z.npy", "z.npz"):
        _check_against_memory(_report(capsys, tmp_path / name, "--num-slices", K, "--seed", 1), z)
    os.mkdir(tmp_path / "store.zarr")
    (tmp_path / "store.zarr" / ".zarray").write_text("{}")
    status, _, err = _run(capsys, tmp_path / "store.zarr")
    assert status == 2 and 'reading it needs zarr (pip install "sigreg[dask]")' in err, err
    status, _, err = _run(capsys, tmp_path / "z.npy", "--plot", tmp_path / "out.png")
    assert status == 2 and err == 'sigreg test: --plot needs matplotlib (pip install "sigreg[plot]")\n'
    assert "dask" not in sys.modules or sys.modules["dask"] is None


@pytest.mark.parametrize("statistic", sigreg.stats.available())
def test_every_statistic_on_a_small_file(tmp_path, capsys, statistic):
    # Sums statistics are reduced chunk by chunk, the others read the file whole: both give
    # the in-memory values, and the null band brackets its own mean.
    z = _data(np.float64)[:300]
    np.save(tmp_path / "z.npy", z)
    report = _report(
        capsys,
        tmp_path / "z.npy",
        "--num-slices",
        4,
        "--seed",
        1,
        "--statistic",
        statistic,
        "--resamples",
        19,
    )
    values = sigreg.sigreg(z, num_slices=4, seed=1, reduction="none", statistic=statistic)
    np.testing.assert_allclose(report["statistic"], float(np.mean(values)), rtol=1e-10)
    low, high = report["null_band"]
    assert low <= report["null_mean"] <= high and report["band"] == _band(report["statistic"], low, high)
    # Draws of the file's N rows (cheap here; the others' null law depends on N), or none: the
    # asymptotic law of Epps-Pulley.
    asymptotic = report["pvalue_method"] == "asymptotic"
    assert asymptotic == (statistic == "epps_pulley")
    assert report["null_samples"] == (None if asymptotic else 300)


def test_zip_without_arrays_is_refused(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "none.npz", "w") as archive:
        archive.writestr("readme.txt", "no arrays")
    status, _, err = _run(capsys, tmp_path / "none.npz")
    assert status == 2 and "member 'readme.txt' is not a .npy array" in err


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_progress_bar_on_a_terminal_only(tmp_path, capsys, monkeypatch):
    pytest.importorskip("tqdm", reason="tqdm is not installed")
    from sigreg._cli import files
    from sigreg._pvalues import progress

    np.save(tmp_path / "z.npy", _data(np.float64))
    monkeypatch.setattr(files, "CHUNK_BYTES", 500 * D * 8)  # 3 chunks
    monkeypatch.setattr(progress, "DELAY", 0.0)
    argv = ["test", str(tmp_path / "z.npy"), "--num-slices", "4", "--json"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["chunks"] == 3 and err == ""  # not a terminal: nothing at all
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(argv) == 0
    assert "sigreg test" in terminal.text and re.search(r" 3/3 ", terminal.text), terminal.text


def test_seconds_cover_the_monte_carlo_null(tmp_path, capsys, monkeypatch):
    """On a clock that only the null's draws advance, the reported time includes them."""
    from sigreg._pvalues import sliced

    _slow_null_draws(monkeypatch, lambda args: 100.0)
    np.save(tmp_path / "z.npy", _data())
    sliced._CACHE.clear()
    report = _report(
        capsys, tmp_path / "z.npy", "--num-slices", 4, "--seed", 11, "--statistic", "jarque_bera"
    )
    assert report["pvalue_method"] == "monte_carlo" and report["seconds"] >= 100.0


def test_jarque_bera_by_chunks_is_exact_at_a_large_mean(tmp_path, capsys, monkeypatch):
    """The chunked path's sums are taken about a shift and scale from a first pass over the file:
    float32 data at a mean of 1e4 standard deviations gives the in-memory float64 value."""
    from sigreg._cli import files

    z = _data(np.float32) + np.float32(1e4)
    np.save(tmp_path / "z.npy", z)
    monkeypatch.setattr(files, "CHUNK_BYTES", 500 * D * 4)  # 3 chunks
    report = _report(capsys, tmp_path / "z.npy", "--num-slices", K, "--seed", 1, "--statistic", "jarque_bera")
    assert report["chunks"] == 3
    # The in-memory call on the same float32 data (its projections carry float32's rounding at
    # 1e4, about 1e-4 of the statistic), and float64's value of those data.
    in_memory = sigreg.sigreg(z, num_slices=K, seed=1, statistic="jarque_bera")
    np.testing.assert_allclose(report["statistic"], float(in_memory), rtol=1e-5)
    exact = sigreg.sigreg(z.astype(np.float64), num_slices=K, seed=1, statistic="jarque_bera")
    np.testing.assert_allclose(report["statistic"], float(exact), rtol=1e-3)
