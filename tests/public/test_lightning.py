"""The Lightning callback under a real Trainer on the CPU for a few steps, and on bad input (NaN metrics,
named arguments)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pl = pytest.importorskip("lightning.pytorch")

import sigreg  # noqa: E402
from sigreg.lightning import SIGRegMonitor, effective_rank, embedding_scale  # noqa: E402


class _Encoder(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.net = torch.nn.Linear(6, 4)
        self.seen: list[torch.Tensor] = []

    def training_step(self, batch, batch_idx):
        (x,) = batch
        z = self.net(x)
        self.seen.append(z.detach().clone())
        loss = sigreg.sigreg(z, num_slices=16, seed=int(self.global_step))
        return {"loss": loss, "embeddings": z}

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.01)


def _data():
    x = torch.randn(5 * 32, 6, generator=torch.Generator().manual_seed(0))
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x), batch_size=32, num_workers=0)


@pytest.mark.filterwarnings("ignore::UserWarning")  # Lightning's advice (workers, loggers), not ours
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::FutureWarning")  # torch 2.13 pytree API inside Lightning
def test_monitor_logs_under_a_trainer(tmp_path):
    module = _Encoder()
    monitor = SIGRegMonitor(every_n_steps=2, num_slices=32, n_resamples=49)
    trainer = pl.Trainer(
        max_steps=4,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=[monitor],
    )
    trainer.fit(module, _data())
    metrics = trainer.callback_metrics
    assert {"sigreg/sigreg", "sigreg/pvalue", "sigreg/effective_rank", "sigreg/scale"} <= set(metrics)
    z = module.seen[3].numpy().astype(np.float64)  # step 4: the last logged one
    expected_sigreg = float(sigreg.sigreg(z, num_slices=32, seed=0))
    assert float(metrics["sigreg/sigreg"]) == pytest.approx(expected_sigreg, rel=1e-5)
    s = np.linalg.svd(z - z.mean(0), compute_uv=False)
    p = s / s.sum()
    assert float(metrics["sigreg/effective_rank"]) == pytest.approx(np.exp(-(p * np.log(p)).sum()), rel=1e-5)
    assert float(metrics["sigreg/scale"]) == pytest.approx(np.sqrt(np.mean(z**2)), rel=1e-6)
    assert 0.0 < float(metrics["sigreg/pvalue"]) <= 1.0


def test_metrics_see_collapse():
    rng = torch.Generator().manual_seed(1)
    gaussian = torch.randn(512, 8, generator=rng, dtype=torch.float64)
    line = torch.randn(512, 1, generator=rng, dtype=torch.float64) * torch.ones(1, 8, dtype=torch.float64)
    assert float(effective_rank(gaussian)) > 7.5
    assert float(effective_rank(line)) == pytest.approx(1.0, abs=1e-6)
    assert float(embedding_scale(gaussian)) == pytest.approx(1.0, abs=0.05)
    monitor = SIGRegMonitor(num_slices=32, n_resamples=99)
    assert (
        float(monitor.metrics(line)["sigreg/pvalue"])
        < 0.05
        < float(monitor.metrics(gaussian)["sigreg/pvalue"])
    )


def test_bad_arguments():
    with pytest.raises(ValueError, match="every_n_steps must be >= 1"):
        SIGRegMonitor(every_n_steps=0)
    with pytest.raises(TypeError, match="num_slices must be an integer"):
        SIGRegMonitor(num_slices=2.5)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_monitor_gives_nan_metrics_for_non_finite_embeddings(bad, dtype):
    pytest.importorskip("lightning.pytorch")

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
    pl = pytest.importorskip("lightning.pytorch")

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
    pytest.importorskip("lightning.pytorch")

    z = torch.randn(30)
    with pytest.raises(ValueError) as expected:
        sigreg.sigreg(z)
    with pytest.raises(ValueError) as got:
        SIGRegMonitor(n_resamples=0).metrics(z)
    assert str(got.value) == str(expected.value)
    assert "at least 2 dimensions" in str(got.value)
