"""The HF Transformers callback: a real ``Trainer.train`` of a tiny model built from a config
(no downloads) recorded, read back and diagnosed; training left bit-identical, no random
numbers drawn, internal failures contained."""

from __future__ import annotations

import os
import random
import warnings

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("accelerate")
nn = torch.nn

import traindx  # noqa: E402
from traindx.adapters.hf import DiagnosisCallback  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402

pytestmark = [pytest.mark.torch, pytest.mark.slow]
VOCAB, LEN = 40, 12


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class Tokens(torch.utils.data.Dataset):
    """Label 1 when token 7 occurs in the sequence (synthetic, seeded)."""

    def __init__(self, n: int, seed: int):
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(1, VOCAB, (n, LEN), generator=g)
        self.labels = (self.ids == 7).any(1).long()

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, i):
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def bert():
    cfg = transformers.BertConfig(vocab_size=VOCAB, hidden_size=16, num_hidden_layers=1,
                                  num_attention_heads=2, intermediate_size=32,
                                  max_position_embeddings=LEN, num_labels=2)  # fmt: skip
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(cfg)


def train(tmp_path, callbacks, model=None, steps=24, **kw):
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=16,
        learning_rate=2e-3, warmup_steps=4, weight_decay=0.01, lr_scheduler_type="linear",
        logging_steps=4, eval_strategy="steps", eval_steps=8, save_strategy="no",
        report_to="none", use_cpu=True, disable_tqdm=True, seed=0, dataloader_num_workers=0,
        **kw,
    )  # fmt: skip
    model = model if model is not None else bert()
    trainer = transformers.Trainer(model=model, args=args, train_dataset=Tokens(256, 1),
                                   eval_dataset=Tokens(64, 2), callbacks=callbacks)  # fmt: skip
    trainer.train()
    return model


def rng_state():
    return torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def same_weights(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))  # fmt: skip


def test_train_is_recorded_and_diagnosed(tmp_path, capsys):
    cb = DiagnosisCallback(logdir=tmp_path / "run", every=2)
    train(tmp_path, [cb])
    (run,) = traindx.read(tmp_path / "run")
    keys = set(run.series)
    for k in ["train/loss", "train/lr", "train/grad_norm", "train/update_ratio", "val/loss",
              "train/grad_norm@classifier", "train/weight_norm@bert.encoder.layer.0.attention.self.query"]:  # fmt: skip
        assert k in keys, k
    assert len(run.series["train/loss"]) == 24 and list(run.series["train/loss"].steps) == list(
        range(24)
    )
    assert 0.4 < run.series["train/loss"].values[0] < 1.0  # about ln 2: the model's own loss
    assert list(run.series["val/loss"].steps) == [7, 15, 23]
    lr = run.series["train/lr"].values
    assert lr[0] == pytest.approx(0.0) and max(lr) == pytest.approx(2e-3, rel=1e-6)  # warmup
    c = run.context
    assert (c.max_steps, c.optimizer.name, c.optimizer.schedule, c.optimizer.clipnorm) == (
        24, "adamw", "linear", 1.0)  # fmt: skip
    assert c.optimizer.weight_decay == 0.01 and c.hyperparameters["warmup_steps"] == 4
    assert (c.loss.name, c.data.num_classes, c.data.batch_size, c.data.n_train) == (
        "crossentropyloss", 2, 16, 256)  # fmt: skip
    assert c.flags["target_distinct"] == 2.0
    diag = traindx.diagnose(tmp_path / "run")[0]
    assert diag.framework == "torch" and not diag.missing
    from traindx.cli import main

    assert main(["diagnose", str(tmp_path / "run")]) in (0, 1)
    assert "run" in capsys.readouterr().out


def test_training_is_bit_identical_and_draws_no_random_numbers(tmp_path):
    ref = train(tmp_path, [], steps=12)
    ref_rng = rng_state()
    model = train(tmp_path, [DiagnosisCallback(logdir=tmp_path / "run", every=1)], steps=12)
    rng = rng_state()
    assert same_weights(ref, model)
    assert (
        torch.equal(ref_rng[0], rng[0])
        and np.array_equal(ref_rng[1], rng[1])
        and ref_rng[2] == rng[2]
    )
    assert not model._forward_hooks and not model._forward_hooks_with_kwargs


@pytest.mark.parametrize("target", ["forward_hook", "monitor_step"])
def test_internal_failure_is_contained(tmp_path, monkeypatch, target):
    ref = train(tmp_path, [], steps=8)

    def boom(*a, **kw):
        raise ValueError("boom")

    if target == "forward_hook":
        monkeypatch.setattr(DiagnosisCallback, "_step", boom)
        match = "^traindx: the HF Trainer callback turned itself off"
    else:
        monkeypatch.setattr(Monitor, "_record", boom)
        match = "^traindx: the torch monitor turned itself off"
    cb = DiagnosisCallback(logdir=tmp_path / "run", every=1)
    with pytest.warns(RuntimeWarning, match=match) as rec:
        model = train(tmp_path, [cb], steps=8)
    assert len([w for w in rec if str(w.message).startswith("traindx:")]) == 1
    assert not cb.enabled
    assert same_weights(ref, model)
    assert not model._forward_hooks and not model._forward_hooks_with_kwargs


class Plain(nn.Module):
    """A plain torch module returning logits only: the Trainer's compute_loss_func owns the loss."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.EmbeddingBag(VOCAB, 8)
        self.out = nn.Linear(8, 2)

    def forward(self, input_ids, labels=None):
        return {"logits": self.out(self.emb(input_ids))}


def test_a_loss_outside_the_model_comes_from_the_logs(tmp_path):
    def ce(outputs, labels, num_items_in_batch=None):
        return nn.functional.cross_entropy(outputs["logits"], labels)

    cb = DiagnosisCallback(logdir=tmp_path / "run", loss_fn=nn.CrossEntropyLoss(), every=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no "training loss is nan" warning
        train_plain = transformers.Trainer(
            model=Plain(),
            args=transformers.TrainingArguments(
                output_dir=str(tmp_path / "out"),
                max_steps=12,
                per_device_train_batch_size=16,
                learning_rate=1e-2,
                logging_steps=4,
                save_strategy="no",
                report_to="none",
                use_cpu=True,
                disable_tqdm=True,
                seed=0,
            ),  # fmt: skip
            train_dataset=Tokens(128, 1),
            compute_loss_func=ce,
        )
        train_plain.add_callback(cb)
        train_plain.train()
    (run,) = traindx.read(tmp_path / "run")
    assert list(run.series["train/loss"].steps) == [3, 7, 11]  # logged every 4 steps
    assert len(run.series["train/grad_norm"]) == 12
    assert run.context.loss.name == "crossentropyloss"
