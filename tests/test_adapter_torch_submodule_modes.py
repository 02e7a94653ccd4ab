"""The torch Monitor reads the train/eval mode of the dropout / batch-norm submodules, not only
the top-level flag: ``model.training = True`` after ``model.eval()`` leaves them in eval mode
(qa_real38's `model.training = True` pair), and CTX004 (train_mode_not_set) reads the fact."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
from digits import scaled_digits  # noqa: E402
from torch import nn  # noqa: E402

import traindx  # noqa: E402
from traindx.adapters.torch import Monitor  # noqa: E402

pytestmark = pytest.mark.torch
BS = 64


def _run(tmp_path, back_to_train: str):
    torch.manual_seed(0)
    x, y = (torch.from_numpy(a) for a in scaled_digits(640))
    model = nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    crit = nn.CrossEntropyLoss()
    with Monitor(model, opt, loss_fn=crit, logdir=tmp_path) as mon:
        for _epoch in range(6):
            if back_to_train == "train()":
                model.train()
            else:
                model.training = True  # the bug: the top flag only
            for i in range(0, 512, BS):
                opt.zero_grad()
                loss = crit(model(x[i : i + BS]), y[i : i + BS])
                loss.backward()
                mon.step(loss, inputs=x[i : i + BS], targets=y[i : i + BS])
                opt.step()
            model.eval()
            with torch.no_grad():
                mon.log(val_loss=float(crit(model(x[512:]), y[512:])))
    (run,) = traindx.read(tmp_path)
    return run


@pytest.mark.parametrize(("back", "share", "fires"), [("train()", 0.0, False), ("training = True", 5 / 6, True)])
def test_submodules_left_in_eval_are_recorded_and_fire_ctx004(tmp_path, back, share, fires):
    run = _run(tmp_path, back)
    f = run.context.flags
    assert run.context.model.training_mode is True  # the top flag says training either way
    assert f["mode_layers"] == 2.0 and f["mode_layers_checked"] == 48.0  # every step
    assert f["mode_layers_eval_share"] == pytest.approx(share, abs=1e-3)
    codes = {s.code for s in traindx.diagnose(run)[0].symptoms}
    assert ("CTX004" in codes) is fires
