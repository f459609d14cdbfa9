"""``sigreg test PATH``: files on disk give the in-memory values; bad files one line, exit 2, nothing written.

The oracle is ``sigreg.sigreg`` on the same array in memory, with the same
directions (seed). Run by the ``tests(backend='dask')`` nox session.
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

pytest.importorskip("dask.array", reason="dask is not installed (the dask nox session installs it)")

import sigreg
from sigreg.__main__ import main

N, D, K = 1500, 6, 16


def _run(capsys, *argv):
    status = main(["test", *map(str, argv), "--no-progress"])
    out, err = capsys.readouterr()
    return status, out, err


def _report(capsys, *argv):
    status, out, err = _run(capsys, *argv, "--json")
    assert status == 0, err
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
    report = json.loads(done.stdout)
    assert {"statistic", "num_slices", "seed", "n", "dim", "pvalue"} <= set(report)
    assert (report["n"], report["dim"], report["num_slices"], report["seed"]) == (N, D, 8, 0)


def test_text_output_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="matplotlib is not installed")
    rng = np.random.default_rng(2)
    np.save(tmp_path / "skewed.npy", rng.exponential(size=(N, D)))
    status, out, err = _run(
        capsys, tmp_path / "skewed.npy", "--num-slices", K, "--plot", tmp_path / "out.png"
    )
    assert status == 0, err
    assert "p-value" in out and "worst slices" in out and "slice" in out
    assert (tmp_path / "out.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(os.listdir(tmp_path)) == ["out.png", "skewed.npy"]


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
    ]


@pytest.mark.parametrize("case", range(15))
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


def test_bad_options(tmp_path, capsys):
    np.save(tmp_path / "z.npy", _data())
    status, out, err = _run(capsys, tmp_path / "z.npy", "--statistic", "anderson_darling")
    assert status == 2 and out == "" and "'anderson_darling'" in err and "not a function of sums" in err
    status, _, err = _run(capsys, tmp_path / "z.npy", "--num-slices", 0)
    assert status == 2 and "--num-slices must be >= 1" in err
    status, _, err = _run(capsys, tmp_path / "z.npy", "--key", "a")
    assert status == 2 and "--key is only for" in err


def test_zip_without_arrays_is_refused(tmp_path, capsys):
    with zipfile.ZipFile(tmp_path / "none.npz", "w") as archive:
        archive.writestr("readme.txt", "no arrays")
    status, _, err = _run(capsys, tmp_path / "none.npz")
    assert status == 2 and "member 'readme.txt' is not a .npy array" in err


def _has(module):
    import importlib.util

    return importlib.util.find_spec(module) is not None


def test_progress_bar_on_stderr(tmp_path, capsys, monkeypatch):
    pytest.importorskip("tqdm", reason="tqdm is not installed")
    from sigreg._cli import files

    np.save(tmp_path / "z.npy", _data(np.float64))
    monkeypatch.setattr(files, "CHUNK_BYTES", 500 * D * 8)  # 3 chunks
    monkeypatch.setattr(files, "PROGRESS_DELAY", 0.0)
    status = main(["test", str(tmp_path / "z.npy"), "--num-slices", "4", "--json"])
    out, err = capsys.readouterr()
    assert status == 0 and json.loads(out)["chunks"] == 3
    assert "sigreg test" in err and re.search(r" (\d+)/\1 ", err), err  # the bar, complete, on stderr
