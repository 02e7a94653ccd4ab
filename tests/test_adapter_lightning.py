"""The Lightning callback: a real ``Trainer.fit`` recorded, read back and diagnosed; training
left bit-identical, no random numbers drawn, internal failures contained."""

from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
L = pytest.importorskip("lightning.pytorch")
nn = torch.nn

import traindx  # noqa: E402
from traindx.adapters import _torch_callback  # noqa: E402
from traindx.adapters.lightning import DiagnosisCallback  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402

pytestmark = [
    pytest.mark.torch,
    # Lightning's advice on CPU runs (few workers, no GPU used, small logging interval)
    pytest.mark.filterwarnings("ignore::UserWarning:lightning"),
    pytest.mark.filterwarnings("ignore::UserWarning:pytorch_lightning"),
]


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class DigitsData(L.LightningDataModule):
    def __init__(self, batch_size: int = 64):
        super().__init__()
        self.save_hyperparameters()
        self.num_classes = 10
        from sklearn.datasets import load_digits

        x, y = load_digits(return_X_y=True)
        x = torch.tensor(x / 16.0, dtype=torch.float32)
        y = torch.tensor(y)
        self.train = torch.utils.data.TensorDataset(x[:512], y[:512])
        self.val = torch.utils.data.TensorDataset(x[512:768], y[512:768])

    def train_dataloader(self):
        return torch.utils.data.DataLoader(
            self.train, batch_size=self.hparams.batch_size, shuffle=True
        )

    def val_dataloader(self):
        return torch.utils.data.DataLoader(self.val, batch_size=128)


class Classifier(L.LightningModule):
    def __init__(self, lr: float = 0.05, dropout: float = 0.2):
        super().__init__()
        self.save_hyperparameters()
        self.net = nn.Sequential(
            nn.Linear(64, 32), nn.ReLU(), nn.Dropout(dropout), nn.Linear(32, 10)
        )
        self.criterion = nn.CrossEntropyLoss()

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        loss = self.criterion(logits, y)
        self.log("train_acc", (logits.argmax(1) == y).float().mean(), on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", self.criterion(logits, y))
        self.log("val_acc", (logits.argmax(1) == y).float().mean())

    def configure_optimizers(self):
        opt = torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=0.9)
        sched = torch.optim.lr_scheduler.StepLR(opt, step_size=10, gamma=0.5)
        return [opt], [{"scheduler": sched, "interval": "step"}]


def fit(callbacks, epochs=3, **kw):
    L.seed_everything(7, verbose=False)
    model = Classifier()
    dm = DigitsData()
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=callbacks, **kw)  # fmt: skip
    trainer.fit(model, datamodule=dm)
    return model


def rng_state():
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def same_weights(a, b):
    return all(
        torch.equal(p, q)
        for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True)
    )


def test_fit_is_recorded_and_diagnosed(tmp_path, capsys):
    cb = DiagnosisCallback(logdir=tmp_path, every=2)
    fit([cb], gradient_clip_val=1.0)
    assert cb.monitor is not None and not cb.enabled  # closed at the end of fit
    (run,) = traindx.read(tmp_path)
    keys = set(run.series)
    for k in ["train/loss", "train/lr", "train/grad_norm", "train/grad_norm@net.0",
              "train/update_ratio@net.3", "train/act_frac_zero@net.1", "train/input_mean",
              "train/accuracy", "val/loss", "val/accuracy"]:  # fmt: skip
        assert k in keys, k
    assert len(run.series["train/loss"]) == 3 * 8  # 512 / 64 batches, 3 epochs
    assert len(run.series["val/loss"]) == 3  # the sanity check is left out
    assert run.series["val/loss"].steps[-1] == 23
    lr = run.series["train/lr"].values
    assert lr[0] == pytest.approx(0.05, rel=1e-6) and lr[-1] == pytest.approx(0.0125, rel=1e-6)
    c = run.context
    assert (c.loss.name, c.optimizer.name, c.optimizer.clipnorm, c.optimizer.schedule) == (
        "crossentropyloss",
        "sgd",
        1.0,
        "steplr",
    )
    assert (c.epochs, c.steps_per_epoch) == (3, 8)
    assert (c.data.num_classes, c.data.batch_size, c.data.n_train, c.data.task) == (
        10,
        64,
        512,
        "classification",
    )
    assert c.hyperparameters["lr"] == 0.05 and c.hyperparameters["batch_size"] == 64
    diag = traindx.diagnose(tmp_path)[0]
    print("DIAG", diag.verdict, diag.missing, diag.headline, diag.framework)
    assert diag.framework == "torch" and not diag.missing
    from traindx.cli import main

    assert main(["diagnose", str(tmp_path)]) in (0, 1)
    out = capsys.readouterr().out
    assert str(tmp_path.name) in out or "torch" in out.lower()


def test_training_is_bit_identical_and_draws_no_random_numbers(tmp_path):
    ref = fit([])
    ref_rng = rng_state()
    model = fit([DiagnosisCallback(logdir=tmp_path, every=1)])
    rng = rng_state()
    assert same_weights(ref, model)
    assert (
        torch.equal(ref_rng[0], rng[0])
        and np.array_equal(ref_rng[1], rng[1])
        and ref_rng[2] == rng[2]
    )


@pytest.mark.parametrize("target", ["split_batch", "monitor_telemetry"])
def test_internal_failure_is_contained(tmp_path, monkeypatch, target):
    ref = fit([], epochs=1)

    def boom(*a, **kw):
        raise ValueError("boom")

    if target == "split_batch":
        import traindx.adapters.lightning as mod

        monkeypatch.setattr(mod, "split_batch", boom)
        match = "^traindx: the Lightning callback turned itself off"
    else:
        monkeypatch.setattr(Monitor, "_telemetry", boom)
        match = "^traindx: the torch monitor turned itself off"
    cb = DiagnosisCallback(logdir=tmp_path, every=1)
    with pytest.warns(RuntimeWarning, match=match) as rec:
        model = fit([cb], epochs=1)
    assert len([w for w in rec if str(w.message).startswith("traindx:")]) == 1
    assert not cb.enabled
    assert same_weights(ref, model)
    assert not any(m._forward_hooks for m in model.modules())
    assert _torch_callback is not None


def test_accumulated_loss_is_the_mean_of_the_micro_batches(tmp_path):
    cb = DiagnosisCallback(logdir=tmp_path, every=4)
    fit([cb], epochs=1, accumulate_grad_batches=2)
    (run,) = traindx.read(tmp_path)
    loss = run.series["train/loss"].values
    assert len(loss) == 4 and 1.0 < loss[0] < 3.0  # about ln(10) at the start, not half of it
    assert run.context.hyperparameters["accumulate_grad_batches"] == 2
    assert not run.context.flags.get("grad_accumulating")


def test_nonfinite_loss_stops_on_request(tmp_path):
    from traindx.adapters._common import TrainingDiverged

    class Diverging(Classifier):
        def training_step(self, batch, batch_idx):
            loss = super().training_step(batch, batch_idx)
            return loss * float("nan") if batch_idx == 2 else loss

    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False,
                        callbacks=[DiagnosisCallback(logdir=tmp_path, on_fatal="stop")])  # fmt: skip
    with warnings.catch_warnings(), pytest.raises(TrainingDiverged) as e:
        warnings.simplefilter("ignore", RuntimeWarning)
        trainer.fit(Diverging(), datamodule=DigitsData())
    assert "step 2" in str(e.value)


def test_pytorch_lightning_import_name(tmp_path):
    """The older package name gets its own class (each Trainer accepts only its own Callback)."""
    pl = pytest.importorskip("pytorch_lightning")
    from traindx.adapters.lightning import callback_class

    class Tiny(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = nn.Linear(4, 2)

        def training_step(self, batch, batch_idx):
            x, y = batch
            return nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    torch.manual_seed(0)
    ds = torch.utils.data.TensorDataset(torch.randn(64, 4), torch.randint(0, 2, (64,)))
    cb = callback_class(pl.Callback)(logdir=tmp_path, every=1)
    trainer = pl.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[cb])  # fmt: skip
    trainer.fit(Tiny(), torch.utils.data.DataLoader(ds, batch_size=16))
    (run,) = traindx.read(tmp_path)
    assert len(run.series["train/loss"]) == 4 and "train/grad_norm@net" in run.series
