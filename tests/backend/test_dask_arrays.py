"""Dask arrays: chunk-by-chunk sums give NumPy's values, on the threaded and distributed schedulers.

The oracle is ``sigreg.sigreg`` on the same data as a NumPy array (itself tested
against float64 formulas elsewhere). Run by the ``tests(backend='dask')`` nox session;
skipped where dask is not installed.
"""

from __future__ import annotations

import numpy as np
import pytest

da = pytest.importorskip("dask.array", reason="dask is not installed (the dask nox session installs it)")

import dask  # noqa: E402
from dask.callbacks import Callback  # noqa: E402

import sigreg  # noqa: E402

N, D, K = 1001, 7, 48


def _data(dtype, shape=(N, D), seed=0):
    rng = np.random.default_rng(seed)
    # Not N(0, I): a statistic far from its null mean checks more than rounding noise.
    z = rng.standard_normal(shape) * np.linspace(0.5, 1.5, shape[-1]) + 0.2
    return z.astype(dtype)


# Relative tolerance against NumPy: float64 sums differ only in summation order. float32
# sums are rounded per slab here (then added in float64) and per block in NumPy: Epps-Pulley
# agrees to 4e-7; the moment statistics cancel digits (NumPy's own float32 Jarque-Bera is
# 1e-4 from float64 on this data, the dask one 2e-5).
RTOL = {np.float64: 1e-12, np.float32: 2e-4}
RTOL_EPPS_PULLEY_FLOAT32 = 1e-5


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("chunks", [300, (100, 401, 500), 1000, 1001])
@pytest.mark.parametrize("statistic", ["epps_pulley", "moments", "jarque_bera"])
def test_equals_numpy(dtype, chunks, statistic):
    z = _data(dtype)
    zd = da.from_array(z, chunks=(chunks, D))
    options = {"num_slices": K, "seed": 3, "statistic": statistic}
    rtol = RTOL_EPPS_PULLEY_FLOAT32 if (statistic, dtype) == ("epps_pulley", np.float32) else RTOL[dtype]
    want = sigreg.sigreg(z, reduction="none", **options)
    got = sigreg.sigreg(zd, reduction="none", **options)
    assert isinstance(got, da.Array) and got.shape == (K,) and got.dtype == want.dtype
    values = got.compute(scheduler="threads")
    assert values.dtype == want.dtype
    np.testing.assert_allclose(values, want, rtol=rtol)
    value = sigreg.sigreg(zd, **options).compute(scheduler="threads")
    assert value.shape == () and value.dtype == want.dtype
    np.testing.assert_allclose(value, sigreg.sigreg(z, **options), rtol=rtol)
    total = sigreg.sigreg(zd, reduction="sum", **options).compute()
    np.testing.assert_allclose(total, np.sum(want.astype(np.float64)), rtol=rtol)


def test_batch_axes_and_explicit_directions():
    z = _data(np.float64, shape=(3, N, D))
    a = sigreg.directions(D, 5, seed=9)
    zd = da.from_array(z, chunks=(2, 250, D))
    got = sigreg.sigreg(zd, directions=a, reduction="none").compute()
    np.testing.assert_allclose(got, sigreg.sigreg(z, directions=a, reduction="none"), rtol=1e-12)
    from_dask_directions = sigreg.sigreg(zd, directions=da.from_array(a), reduction="none").compute()
    np.testing.assert_allclose(from_dask_directions, got, rtol=0)


def test_feature_chunks_are_merged_with_a_warning():
    z = _data(np.float64)
    zd = da.from_array(z, chunks=(300, 3))
    with pytest.warns(UserWarning, match="chunked along its feature axis") as record:
        got = sigreg.sigreg(zd, num_slices=K, reduction="none")
    assert record[0].filename == __file__  # the warning points at the caller
    np.testing.assert_allclose(got.compute(), sigreg.sigreg(z, num_slices=K, reduction="none"), rtol=1e-12)


@pytest.mark.parametrize("statistic", ["anderson_darling", "cramer_von_mises", "shapiro_wilk", "wasserstein"])
def test_sort_based_statistics_are_refused_by_name(statistic):
    zd = da.from_array(_data(np.float64), chunks=(300, D))
    with pytest.raises(ValueError, match=f"statistic '{statistic}'.*not a function of sums"):
        sigreg.sigreg(zd, statistic=statistic, num_slices=4)


def test_exact_epps_pulley_and_bad_arguments_are_refused():
    zd = da.from_array(_data(np.float64), chunks=(300, D))
    with pytest.raises(ValueError, match=r"'epps_pulley'.*integration='exact'.*not a function of sums"):
        sigreg.sigreg(zd, integration="exact", num_slices=4)
    with pytest.raises(ValueError, match="all_reduce must be None for a dask array"):
        sigreg.sigreg(zd, num_slices=4, all_reduce=lambda x: x)
    with pytest.raises(TypeError, match="in-memory array for value_and_grad"):
        sigreg.value_and_grad(zd, num_slices=4)
    with pytest.raises(TypeError, match=r"in-memory array for sigreg\.test"):
        sigreg.test(zd, num_slices=4)
    with pytest.raises(TypeError, match="real floating"):
        sigreg.sigreg(da.from_array(np.ones((10, 3), dtype=np.int64)), num_slices=4)
    with pytest.raises(ValueError, match=r"shape \(\.\.\., N, D\)"):
        sigreg.sigreg(da.ones(10), num_slices=4)
    with pytest.raises(ValueError, match="directions must have shape"):
        sigreg.sigreg(zd, directions=np.ones((D + 1, 3)))
    with pytest.raises(TypeError, match="seed must be a Python int"):
        sigreg.sigreg(zd, seed=1.5, num_slices=4)
    np.testing.assert_allclose(  # a NumPy integer seed is the equal Python int
        sigreg.sigreg(zd, seed=np.int64(3), num_slices=4).compute(),
        sigreg.sigreg(zd, seed=3, num_slices=4).compute(),
    )
    unknown = zd[zd[:, 0] > 0]  # boolean selection: unknown chunk sizes
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        sigreg.sigreg(unknown, num_slices=4)


class _LargestResult(Callback):
    """Records the largest task result (bytes) and the names of the tasks run."""

    def __init__(self):
        super().__init__()
        self.largest, self.names = 0, set()

    def _posttask(self, key, result, dsk, state, worker_id):
        self.names.add(key[0] if isinstance(key, tuple) else key)
        self.largest = max(self.largest, int(getattr(result, "nbytes", 0)))


def test_graph_reduces_chunk_by_chunk_without_concatenation():
    n, d, rows = 40_000, 16, 1_500  # 27 chunks, the last one short
    z = da.random.default_rng(1).standard_normal((n, d), chunks=(rows, d))
    value = sigreg.sigreg(z, num_slices=32, reduction="none")
    graph = dict(value.__dask_graph__())
    layers = set(value.__dask_graph__().layers)
    chunks = len(z.chunks[0])
    assert not any("concatenate" in name or "rechunk" in name for name in layers), layers
    # Per chunk: generate it, its sums, dask's per-block sum step; then a tree of small tasks.
    assert len(graph) <= 3 * chunks + chunks // 4 + 8, len(graph)
    recorder = _LargestResult()
    with recorder:
        got = value.compute(scheduler="threads")
    chunk_bytes = rows * d * 8
    assert recorder.largest <= chunk_bytes, (recorder.largest, chunk_bytes)
    np.testing.assert_allclose(got, sigreg.sigreg(z.compute(), num_slices=32, reduction="none"), rtol=1e-12)


def test_synchronous_and_threaded_schedulers_agree():
    zd = da.from_array(_data(np.float32), chunks=(333, D))
    with dask.config.set(scheduler="synchronous"):
        one = sigreg.sigreg(zd, num_slices=K).compute()
    two = sigreg.sigreg(zd, num_slices=K).compute(scheduler="threads", num_workers=2)
    assert one == two  # the same tree of float64 partial sums


@pytest.mark.slow
def test_distributed_local_cluster_equals_numpy():
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    z = _data(np.float64, shape=(2003, D))
    zd = da.from_array(z, chunks=(400, D))
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        assert len(client.scheduler_info()["workers"]) == 2
        values = client.compute(sigreg.sigreg(zd, num_slices=K, reduction="none")).result()
        value = sigreg.sigreg(zd, num_slices=K, statistic="moments").compute()  # the default client
    np.testing.assert_allclose(values, sigreg.sigreg(z, num_slices=K, reduction="none"), rtol=1e-12)
    np.testing.assert_allclose(value, sigreg.sigreg(z, num_slices=K, statistic="moments"), rtol=1e-12)


def test_two_statistics_in_one_graph_keep_their_own_keys():
    # Dask keys name results: two sigreg graphs (other statistic, other seed) computed
    # together, or one after the other on a distributed scheduler that still holds the
    # first one's results, must not share keys.
    z = _data(np.float64)
    zd = da.from_array(z, chunks=(333, D))
    pair = dask.compute(
        sigreg.sigreg(zd, num_slices=K, statistic="moments"),
        sigreg.sigreg(zd, num_slices=K, seed=1),
    )
    expected = (
        sigreg.sigreg(z, num_slices=K, statistic="moments"),
        sigreg.sigreg(z, num_slices=K, seed=1),
    )
    np.testing.assert_allclose(pair, expected, rtol=1e-12)


@pytest.mark.parametrize("statistic", ["epps_pulley", "moments", "jarque_bera"])
def test_zero_size_chunks_give_numpy_values(statistic):
    z = _data(np.float64)
    options = {"num_slices": K, "seed": 4, "statistic": statistic, "reduction": "none"}
    want = sigreg.sigreg(z, **options)
    empty_chunks = da.from_array(z, chunks=((0, 500, 0, 0, 501), D))
    np.testing.assert_allclose(sigreg.sigreg(empty_chunks, **options).compute(), want, rtol=1e-12)
    # The remedy sigreg's own message recommends for unknown chunks: a selection that leaves
    # the first chunk empty, then compute_chunk_sizes().
    keep = np.arange(N) >= 300
    selected = da.from_array(z, chunks=(300, D))[da.from_array(keep, chunks=300)]
    selected.compute_chunk_sizes()
    assert selected.chunks[0][0] == 0
    np.testing.assert_allclose(
        sigreg.sigreg(selected, **options).compute(), sigreg.sigreg(z[keep], **options), rtol=1e-12
    )


def test_zero_size_batch_and_sample_chunks():
    z = _data(np.float64, shape=(3, 200, D))
    zd = da.from_array(z, chunks=((2, 0, 1), (120, 0, 80), D))
    got = sigreg.sigreg(zd, num_slices=8, seed=2, reduction="none").compute()
    np.testing.assert_allclose(got, sigreg.sigreg(z, num_slices=8, seed=2, reduction="none"), rtol=1e-12)
