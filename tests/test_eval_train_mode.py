"""The torch Monitor records in which mode the model's ``no_grad`` forwards ran
(``eval_forwards``, ``eval_train_mode_share``; traindx/adapters/_torch_overlap.py). Session 43:
validations under ``torch.no_grad()`` without ``model.eval()`` (qa_small
torch_cnn_validation_dropout_on, qa_fresh41 torch_s_curve ... validated_in_train_mode) were
called healthy: the training steps are in training mode as they should be, and only the
evaluation forwards show the missing ``model.eval()``."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from traindx.adapters.torch import Monitor  # noqa: E402


def run(tmp_path, call_eval: bool) -> dict:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(320, 8, generator=g)
    y = (x[:, 0] > 0).long()
    xv, yv = torch.randn(96, 8, generator=g), torch.zeros(96, dtype=torch.long)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, crit, logdir=tmp_path / str(call_eval))
    for _ in range(3):
        model.train()
        for i in range(0, 320, 32):
            opt.zero_grad()
            loss = crit(model(x[i : i + 32]), y[i : i + 32])
            loss.backward()
            mon.step(loss)
            opt.step()
        if call_eval:
            model.eval()
        with torch.no_grad():
            mon.log(val_loss=crit(model(xv), yv).item())
    mon.close()
    return mon.context.flags


def test_validation_in_training_mode_is_recorded(tmp_path):
    bad = run(tmp_path, call_eval=False)
    assert bad["eval_forwards"] >= 1.0 and bad["eval_train_mode_share"] == 1.0
    good = run(tmp_path, call_eval=True)
    assert good["eval_forwards"] >= 1.0 and good["eval_train_mode_share"] == 0.0


def run_with_grad(tmp_path, name: str, validate: str) -> dict:
    """Three epochs of ten steps; after each, a validation of four batches: ``'train_grad'``
    in training mode with grad on (no model.eval(), no no_grad), ``'eval'`` under model.eval()
    and no_grad, ``'accumulate'`` as 'eval' with two forwards (one backward) a step."""
    g = torch.Generator().manual_seed(0)
    x, xv = torch.randn(320, 8, generator=g), torch.randn(128, 8, generator=g)
    y = (x[:, 0] > 0).long()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    crit = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, crit, logdir=tmp_path / name)
    for _ in range(3):
        model.train()
        for i in range(0, 320, 32):
            opt.zero_grad()
            loss = crit(model(x[i : i + 32]), y[i : i + 32])
            if validate == "accumulate":
                loss = loss + crit(model(x[i : i + 16]), y[i : i + 16])
            loss.backward()
            mon.step(loss)
            opt.step()
        if validate != "train_grad":
            model.eval()
            with torch.no_grad():
                vals = [model(xv[i : i + 32]) for i in range(0, 128, 32)]
        else:
            vals = [model(xv[i : i + 32]) for i in range(0, 128, 32)]
        mon.log(val_loss=float(sum(v.abs().mean().item() for v in vals)))
    mon.close()
    return mon.context.flags


def test_validation_in_training_mode_with_grad_on_is_counted(tmp_path):
    bad = run_with_grad(tmp_path, "bad", "train_grad")
    assert bad["train_forwards_per_step"] == 1.0
    assert bad["unstepped_forwards"] == 8.0 and bad["unstepped_intervals"] == 2.0  # two of three seen between steps
    good = run_with_grad(tmp_path, "good", "eval")
    assert good["train_forwards_per_step"] == 1.0 and good["unstepped_forwards"] == 0.0
    acc = run_with_grad(tmp_path, "acc", "accumulate")
    assert acc["train_forwards_per_step"] == 2.0 and acc["unstepped_forwards"] == 0.0
