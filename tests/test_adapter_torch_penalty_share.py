"""The torch Monitor's ``reg_loss_share`` (as the Keras callback's and the JAX Recorder's):
the part of the first stepped loss above the loss module's own value - a penalty added to
the objective (lam * sum(w**2)). The plain loss records 0; two calls of the loss module in a
step (an auxiliary head) say nothing of a penalty and record nothing."""

from __future__ import annotations

import json

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from traindx.adapters.torch import Monitor  # noqa: E402


def share(tmp_path, lam: float, calls: int = 1):
    torch.manual_seed(0)
    x, y = torch.randn(128, 8), torch.arange(128) % 3
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()
    mon = Monitor(model, opt, loss_fn, logdir=tmp_path, every=5)
    first = None
    for s in range(12):
        xb, yb = x[(s * 32) % 128:][:32], y[(s * 32) % 128:][:32]
        opt.zero_grad()
        out = model(xb)
        data = sum(loss_fn(out, yb) for _ in range(calls)) / calls
        pen = lam * sum((p ** 2).sum() for p in model.parameters())
        loss = data + pen
        if first is None:
            first = (float(loss.detach()), float(pen.detach()) if lam else 0.0)
        loss.backward()
        mon.step(loss, inputs=xb, targets=yb)
        opt.step()
    mon.close()
    flags = json.loads((tmp_path / "context.json").read_text())["flags"]
    return flags.get("reg_loss_share"), first[1] / first[0]


def test_an_added_l2_penalty_is_its_share_of_the_first_loss(tmp_path):
    got, want = share(tmp_path, 1.0)
    assert got is not None and want > 0.5 and abs(got - want) < 1e-3, (got, want)


def test_the_plain_loss_has_no_penalty(tmp_path):
    got, _ = share(tmp_path, 0.0)
    assert got == pytest.approx(0.0, abs=1e-4)


def test_two_loss_calls_in_a_step_record_nothing(tmp_path):
    got, _ = share(tmp_path, 1.0, calls=2)
    assert got is None
