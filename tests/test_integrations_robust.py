"""The Lightning monitor and the Equinox module on bad input: NaN metrics, named arguments."""

from __future__ import annotations

import numpy as np
import pytest

import sigreg


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_monitor_gives_nan_metrics_for_non_finite_embeddings(bad, dtype):
    torch = _torch()
    pytest.importorskip("lightning.pytorch")
    from sigreg.lightning import SIGRegMonitor, effective_rank

    z = torch.randn(40, 5, generator=torch.Generator().manual_seed(0), dtype=getattr(torch, dtype))
    z[7, 2] = bad
    metrics = SIGRegMonitor(num_slices=8, n_resamples=9).metrics(z)
    assert set(metrics) == {"sigreg/sigreg", "sigreg/pvalue", "sigreg/effective_rank", "sigreg/scale"}
    for name, value in metrics.items():
        assert value.shape == () and bool(torch.isnan(value)), name
    assert bool(torch.isnan(effective_rank(z)))
    # The finite case is untouched: a number, equal to the finite embeddings' own.
    z[7, 2] = 0.0
    finite = SIGRegMonitor(num_slices=8, n_resamples=0).metrics(z)
    assert float(finite["sigreg/sigreg"]) == pytest.approx(
        float(sigreg.sigreg(z.double().numpy(), num_slices=8)), rel=1e-5
    )
    s = np.linalg.svd(z.double().numpy() - z.double().numpy().mean(0), compute_uv=False)
    p = s / s.sum()
    assert float(finite["sigreg/effective_rank"]) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-5)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's advice (workers, loggers), not ours
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")
def test_monitor_does_not_end_a_run_that_diverged_for_a_step(tmp_path):
    torch = _torch()
    pl = pytest.importorskip("lightning.pytorch")
    from sigreg.lightning import SIGRegMonitor

    class Diverging(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Linear(3, 3)

        def training_step(self, batch, batch_idx):
            (x,) = batch
            z = self.net(x)
            loss = torch.mean(z**2)
            if batch_idx == 0:  # the logged step's embeddings are NaN
                z = z * float("nan")
            return {"loss": loss, "embeddings": z}

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.01)

    x = torch.randn(64, 3, generator=torch.Generator().manual_seed(0))
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=32)
    trainer = pl.Trainer(
        max_steps=2,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[SIGRegMonitor(every_n_steps=1, num_slices=4, n_resamples=0)],
    )
    trainer.fit(Diverging(), data)
    assert trainer.global_step == 2  # the run went on past the NaN step


def test_monitor_refuses_one_dimensional_input_as_sigreg_does():
    torch = _torch()
    pytest.importorskip("lightning.pytorch")
    from sigreg.lightning import SIGRegMonitor

    z = torch.randn(30)
    with pytest.raises(ValueError) as expected:
        sigreg.sigreg(z)
    with pytest.raises(ValueError) as got:
        SIGRegMonitor(n_resamples=0).metrics(z)
    assert str(got.value) == str(expected.value)
    assert "at least 2 dimensions" in str(got.value)


@pytest.mark.parametrize(
    ("step", "error", "words"),
    [
        (-1, ValueError, r"step must be in \[0, 2\*\*64\), got -1"),
        (2.5, TypeError, "step must be a Python int"),
    ],
)
def test_equinox_module_names_step(step, error, words):
    jax = pytest.importorskip("jax")
    pytest.importorskip("equinox")
    import sigreg.equinox

    z = jax.numpy.ones((6, 3))
    with pytest.raises(error, match=words):
        sigreg.equinox.SIGReg(num_slices=4)(z, step=step)
    # A valid step still gives sigreg.sigreg's number.
    got = sigreg.equinox.SIGReg(num_slices=4)(z + jax.numpy.arange(6.0)[:, None], step=3)
    expected = sigreg.sigreg(np.ones((6, 3)) + np.arange(6.0)[:, None], num_slices=4, seed=3)
    assert float(got) == pytest.approx(float(expected), rel=1e-5)
