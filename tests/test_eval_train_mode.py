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
